import type { Argv } from 'yargs';
import type { Config } from '../core/types.js';
import { describeUnset } from '../core/unset-env.js';
import { type ConfigCacheUse, configPath, loadConfig } from './context.js';

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

/**
 * The config named by `--config`, `CRONWATCH_CONFIG` or `./cronwatch.yaml`; exit 2 when unusable.
 * A channel or ping whose `${VAR}` is unset here is said in one line on stderr, unless the
 * command says it its own way (`warnUnset: false`: a real `check`, `test-alert`). `writeCache`:
 * whether the command writes to the state dir anyway, and so may keep the parsed config there.
 */
export async function loadConfigFor(
  args: GlobalArgs,
  options: ConfigCacheUse & { readonly warnUnset: boolean },
): Promise<Config> {
  const config = await loadConfig(configPath(args.config, process.env, process.cwd()), process.env, options);
  const unset = describeUnset(config.unsetEnv);
  if (options.warnUnset && unset !== null) process.stderr.write(`cronwatch: warning: ${unset}\n`);
  return config;
}
