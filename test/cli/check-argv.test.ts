import { describe, expect, it } from 'vitest';
import { type CheckArgv, parseCheckArgv } from '../../src/cli/check-argv.js';
import { buildCli } from '../../src/cli/main.js';

/** What the full yargs CLI gives `check`, in the fast path's terms; null when yargs would not run it. */
async function viaYargs(argv: readonly string[]): Promise<CheckArgv | null> {
  let parsed: CheckArgv | null = null;
  let failed = false;
  const cli = await buildCli(argv, {
    chosen: (command, args) => {
      expect(command.usage).toBe('check [names..]');
      parsed = {
        config: args.config,
        names: args.names as string[],
        'dry-run': args['dry-run'] as boolean,
        json: args.json as boolean,
        verbose: args.verbose as boolean,
      };
    },
    fail: () => {
      failed = true;
    },
  });
  await cli.parseAsync();
  return failed ? null : parsed;
}

/** Spellings a crontab line uses: all read without yargs. */
const PLAIN: readonly (readonly string[])[] = [
  ['check'],
  ['check', '--config', 'cronwatch.yaml'],
  ['check', '-c', '/etc/cronwatch/cronwatch.yaml'],
  ['check', '--config=a.yaml'],
  ['check', '--config=with=equals.yaml'],
  ['check', '-c', 'with space.yaml'],
  ['check', '-c', 'c.json', '--dry-run', '--json', '--verbose'],
  ['check', '--verbose', 'web', '-c', 'c.yaml'],
  ['check', 'web', 'worker-2', '--json'],
  ['check', 'a', '--dry-run', 'b'],
  ['check', '10', 'true', 'false'],
];

/** Everything else is yargs' to interpret, or to refuse. */
const OTHER: readonly (readonly string[])[] = [
  [],
  ['status'],
  ['--version'],
  ['-c', 'x.yaml', 'check'],
  ['check', '--help'],
  ['check', '-h'],
  ['check', '--version'],
  ['check', '--json', 'true'],
  ['check', '--verbose', 'false', 'web'],
  ['check', '--json=false'],
  ['check', '--no-json'],
  ['check', '--dryRun'],
  ['check', '--json', '--json'],
  ['check', '-c'],
  ['check', '-c', ''],
  ['check', '--config='],
  ['check', '--config', '--json'],
  ['check', '-c', 'a.yaml', '--config', 'b.yaml'],
  ['check', '-cfoo.yaml'],
  ['check', '--', 'web'],
  ['check', '--bogus'],
  ['check', '-v'],
  ['check', ''],
];

describe('parseCheckArgv()', () => {
  for (const argv of PLAIN) {
    it(`reads \`${argv.join(' ')}\` exactly as yargs gives it to check`, async () => {
      const fast = parseCheckArgv(argv);
      expect(fast).not.toBeNull();
      expect(fast).toStrictEqual(await viaYargs(argv));
    });
  }

  it('hands every other spelling to yargs', () => {
    for (const argv of OTHER) expect(parseCheckArgv(argv), argv.join(' ')).toBeNull();
  });
});
