import type { BigIntStats } from 'node:fs';
import { chmodSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { validateConfig } from '../core/config.js';
import type { Config } from '../core/types.js';
import { identityOf, readCachedDocument, writeCachedDocument } from '../store/config-cache.js';
import { mark } from './profile.js';

export const EXIT_OK = 0;
export const EXIT_NOT_UP = 1;
export const EXIT_USAGE = 2;
/** sysexits' EX_SOFTWARE: cronwatch itself could not do its job (state dir unusable, a bug). */
export const EXIT_SOFTWARE = 70;
export const EXIT_LOCKED = 75;

/** The first error in `error`'s cause chain that carries an errno code (ENOSPC, EROFS, ...). */
export function errnoOf(error: unknown): NodeJS.ErrnoException | null {
  let cause: unknown = error;
  for (let depth = 0; depth < 5 && cause instanceof Error; depth += 1) {
    if (typeof (cause as NodeJS.ErrnoException).code === 'string') return cause;
    cause = cause.cause;
  }
  return null;
}

/**
 * The one line that says why a run could not do its job: the error's message, then the cause
 * that carries an errno, with its code and path (fs errors name both), so a disk that is full
 * or read-only is recognisable without the stack.
 */
export function failureLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = errnoOf(error);
  if (cause === null) return message;
  const code = cause.code as string;
  const text = cause === error ? message : `${message}: ${cause.message}`;
  const withCode = text.includes(code) ? text : `${text} (${code})`;
  return cause.path === undefined || withCode.includes(cause.path) ? withCode : `${withCode}, ${cause.path}`;
}

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
  const { parseYaml } = await import('./config-yaml.js');
  return parseYaml(text);
}

function othersCanWrite(mode: number): boolean {
  return (mode & 0o022) !== 0;
}

/** How a command uses the parsed-config cache in state_dir (src/store/config-cache.ts). */
export interface ConfigCacheUse {
  /**
   * Whether a miss writes the cache: only for commands that write to the state dir anyway (a
   * real `check`, `restart`, `pause`, ...). A command that must change nothing (`status`,
   * `doctor`, `check --dry-run`) only reads it.
   */
  readonly writeCache: boolean;
}

/**
 * Reads and validates the config. Every problem is a `CommandError` with exit 2 naming the
 * file, raised before anything is touched.
 */
export async function loadConfig(file: string, env: NodeJS.ProcessEnv, use: ConfigCacheUse): Promise<Config> {
  let text: string;
  let info: BigIntStats;
  try {
    // Synchronous, as the store is (see src/store/atomic.ts).
    text = readFileSync(file, 'utf8');
    info = statSync(file, { bigint: true });
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
  const mode = Number(info.mode);
  if (othersCanWrite(mode)) {
    throw new CommandError(
      `cronwatch: config ${file} is writable by other users (mode ${(mode & 0o777).toString(8)}); ` +
        `it names commands cronwatch runs. Fix: chmod go-w ${file}`,
      EXIT_USAGE,
    );
  }
  const empty = `cronwatch: config ${file} is empty: expected a mapping with targets (see examples/cronwatch.yaml)`;
  if (text.trim() === '') throw new CommandError(empty, EXIT_USAGE);
  const identity = identityOf(info);
  // JSON parses as fast as the cache would read; only YAML is worth caching.
  const cached = file.endsWith('.json') ? null : await readCachedDocument(file, identity, text);
  let document: unknown = cached;
  if (cached === null) {
    try {
      document = await parseDocument(file, text);
    } catch (error) {
      throw new CommandError(
        `cronwatch: config ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`,
        EXIT_USAGE,
      );
    }
  }
  // Nothing but comments parses to nothing: as empty as a file of zero bytes.
  if (document === null || document === undefined) throw new CommandError(empty, EXIT_USAGE);
  mark('config parse');
  const result = validateConfig({ document, file, env, hostname: hostname() });
  mark('config validate');
  if (result.kind === 'invalid') {
    throw new CommandError(
      `cronwatch: config ${file} is invalid:\n${result.errors.map((line) => `  ${line}`).join('\n')}`,
      EXIT_USAGE,
    );
  }
  // An invalid config was refused above: only a document that validated is ever kept.
  if (use.writeCache && cached === null && !file.endsWith('.json')) {
    await writeCachedDocument(file, identity, text, document, result.config.stateDir);
  }
  return result.config;
}

/** Creates the state dir (0700) or checks an existing one; others must not be able to write it. */
export async function prepareStateDir(stateDir: string): Promise<void> {
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const info = statSync(stateDir);
    if (othersCanWrite(info.mode)) {
      throw new CommandError(
        `cronwatch: state_dir ${stateDir} is writable by other users (mode ${(info.mode & 0o777).toString(8)}). ` +
          `Fix: chmod 700 ${stateDir}`,
        EXIT_USAGE,
      );
    }
    if ((info.mode & 0o077) !== 0 && info.uid === process.getuid?.()) chmodSync(stateDir, 0o700);
  } catch (error) {
    if (error instanceof CommandError) throw error;
    throw new CommandError(
      `cronwatch: cannot use state_dir ${stateDir}: ${(error as Error).message}`,
      EXIT_SOFTWARE,
      { cause: error },
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
