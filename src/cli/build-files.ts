/**
 * The files `npm run build` writes to `dist/scripts` for the crontab lines (see
 * scripts/bundle.ts), named once for the build and for `doctor`, which checks they are there.
 */
export const LOADER_NAME = 'cronwatch.cjs';
export const CHECK_BUNDLE = 'cronwatch-check.cjs';
export const CLI_BUNDLE = 'cronwatch-cli.cjs';
export const YAML_BUNDLE = 'cronwatch-yaml.cjs';

/** What a crontab line needs to run, the loader first. */
export const BUILD_FILES: readonly string[] = [LOADER_NAME, CHECK_BUNDLE, CLI_BUNDLE, YAML_BUNDLE];
