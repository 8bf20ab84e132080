/**
 * The one exit point every entry shares: the full CLI (main.ts) and the cron path's own bundle
 * (check-main.ts), which must not load the other commands to get it.
 */
import { redact } from '../core/redact.js';
import { CommandError, EXIT_SOFTWARE, errnoOf, failureLine } from './context.js';

/** Runs `dispatch`; a `CommandError` prints its message and gives its exit code. */
export async function runCommand(
  argv: readonly string[],
  dispatch: (argv: readonly string[]) => Promise<number>,
): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (error) {
    if (error instanceof CommandError) {
      process.stderr.write(`${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
}

/**
 * Runs `dispatch` and sets the exit code. A failure of cronwatch itself (a disk, a bug) exits 70
 * with one line naming what failed; cron mails it, so the stack, which only a developer reads,
 * comes only with `--verbose`. Exit 1 stays "a target is not up".
 */
export async function runEntry(
  argv: readonly string[],
  dispatch: (argv: readonly string[]) => Promise<number>,
): Promise<void> {
  try {
    process.exitCode = await runCommand(argv, dispatch);
  } catch (error) {
    const what = errnoOf(error) === null ? 'internal error' : 'could not do its job';
    const hint = argv.includes('--verbose') ? '' : ' (--verbose prints the stack)';
    process.stderr.write(`cronwatch: ${what}: ${redact(failureLine(error))}${hint}\n`);
    if (argv.includes('--verbose') && error instanceof Error && error.stack !== undefined) {
      process.stderr.write(`${redact(error.stack)}\n`);
    }
    process.exitCode = EXIT_SOFTWARE;
  }
}
