import type { Argv } from 'yargs';
import { configPath, loadConfig } from './context.js';

/** Options every command takes. */
export interface GlobalArgs {
  readonly config: string | undefined;
}

/**
 * One CLI command, in a module of its own that is loaded only when that command runs: a
 * healthy `check` from cron must not pay for the code of `doctor` or `crontab`.
 */
export interface Command<A> {
  /** yargs usage, e.g. `check [names..]`. */
  readonly usage: string;
  readonly describe: string;
  readonly builder: (args: Argv<GlobalArgs>) => Argv<A>;
  /** Runs the command; returns the exit code. */
  readonly run: (args: A & GlobalArgs) => Promise<number>;
}

/** Lets each module declare its command with its argument types checked. */
export function defineCommand<A>(command: Command<A>): Command<A> {
  return command;
}

/** The config named by `--config`, `CRONWATCH_CONFIG` or `./cronwatch.yaml`; exit 2 when unusable. */
export function loadConfigFor(args: GlobalArgs) {
  return loadConfig(configPath(args.config, process.env, process.cwd()), process.env);
}
