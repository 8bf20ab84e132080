/**
 * The package's version, as a constant: the cron path names it in every ping's User-Agent and
 * must not read and parse package.json for it. `test/core/version.test.ts` holds it equal to
 * package.json's, so a release that bumps one and not the other fails the suite.
 */
export const VERSION = '0.1.0';
