/**
 * The cron path's bundle (`dist/scripts/cronwatch-check.cjs`): a plain `check` line and nothing
 * else, so that the run cron starts 288 times a day loads and compiles only its own code. The
 * loader (scripts/bundle.ts) hands every other argv to the full CLI's bundle.
 */

import { command } from './check.js';
import { parseCheckArgv } from './check-argv.js';
import { runEntry } from './entry.js';
import { mark } from './profile.js';

export async function runCli(argv: readonly string[]): Promise<void> {
  await runEntry(argv, async (args) => {
    mark('module load');
    const check = parseCheckArgv(args);
    if (check === null) throw new Error(`Expected a plain check line, got: ${args.join(' ')}`);
    return command.run(check);
  });
}
