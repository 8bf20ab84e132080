import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { validateConfig } from '../core/config.js';
import type { Config } from '../core/types.js';
import { mark } from './profile.js';

export const EXIT_OK = 0;
export const EXIT_NOT_UP = 1;
export const EXIT_USAGE = 2;
export const EXIT_LOCKED = 75;

/** A failure that ends a command with `exitCode` after printing `message` (one exit point). */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** `--config`, then `CRONWATCH_CONFIG`, then `./cronwatch.yaml`. */
export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string {
  return resolve(cwd, flag ?? env.CRONWATCH_CONFIG ?? 'cronwatch.yaml');
}

async function parseDocument(file: string, text: string): Promise<unknown> {
  if (file.endsWith('.json')) return JSON.parse(text);
  // Loaded only for YAML configs; JSON users skip its start-up cost.
  const { parse } = await import('yaml');
  return parse(text, { prettyErrors: true });
}

function othersCanWrite(mode: number): boolean {
  return (mode & 0o022) !== 0;
}

/**
 * Reads and validates the config. Every problem is a `CommandError` with exit 2 naming the
 * file, raised before anything is touched.
 */
export async function loadConfig(file: string, env: NodeJS.ProcessEnv): Promise<Config> {
  let text: string;
  let mode: number;
  try {
    text = await readFile(file, 'utf8');
    mode = (await stat(file)).mode;
    mark('config read');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new CommandError(
      `cronwatch: cannot read config ${file}: ${why} (give --config FILE or set CRONWATCH_CONFIG)`,
      EXIT_USAGE,
    );
  }
  // cronwatch runs the commands this file names, so a file others can edit is refused.
  if (othersCanWrite(mode)) {
    throw new CommandError(
      `cronwatch: config ${file} is writable by other users (mode ${(mode & 0o777).toString(8)}); ` +
        `it names commands cronwatch runs. Fix: chmod go-w ${file}`,
      EXIT_USAGE,
    );
  }
  let document: unknown;
  try {
    document = await parseDocument(file, text);
    mark('config parse');
  } catch (error) {
    throw new CommandError(
      `cronwatch: config ${file} is not valid YAML/JSON: ${(error as Error).message}`,
      EXIT_USAGE,
    );
  }
  const result = validateConfig({ document, file, env, hostname: hostname() });
  mark('config validate');
  if (result.kind === 'invalid') {
    throw new CommandError(
      `cronwatch: config ${file} is invalid:\n${result.errors.map((line) => `  ${line}`).join('\n')}`,
      EXIT_USAGE,
    );
  }
  return result.config;
}

/** Creates the state dir (0700) or checks an existing one; others must not be able to write it. */
export async function prepareStateDir(stateDir: string): Promise<void> {
  try {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const info = await stat(stateDir);
    if (othersCanWrite(info.mode)) {
      throw new CommandError(
        `cronwatch: state_dir ${stateDir} is writable by other users (mode ${(info.mode & 0o777).toString(8)}). ` +
          `Fix: chmod 700 ${stateDir}`,
        EXIT_USAGE,
      );
    }
    if ((info.mode & 0o077) !== 0 && info.uid === process.getuid?.()) await chmod(stateDir, 0o700);
  } catch (error) {
    if (error instanceof CommandError) throw error;
    throw new CommandError(
      `cronwatch: cannot use state_dir ${stateDir}: ${(error as Error).message}`,
      EXIT_USAGE,
      {
        cause: error,
      },
    );
  }
}

/** The targets named on the command line, or all of them; an unknown name is a usage error. */
export function selectTargets(config: Config, names: readonly string[]): Config['targets'] {
  if (names.length === 0) return config.targets;
  const unknown = names.filter((name) => !config.targets.some((target) => target.name === name));
  if (unknown.length > 0) {
    const known = config.targets.map((target) => target.name).join(', ');
    throw new CommandError(
      `cronwatch: no target named ${unknown.join(', ')} in ${config.file} (targets: ${known})`,
      EXIT_USAGE,
    );
  }
  return config.targets.filter((target) => names.includes(target.name));
}
