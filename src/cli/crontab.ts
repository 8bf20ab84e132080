import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProcessOutput } from 'zx/core';
import { type BlockResult, renderCrontabBlock, spliceBlock } from '../core/crontab.js';
import type { Config } from '../core/types.js';
import { LOADER_NAME } from './build-files.js';
import { defineCommand, loadConfigFor } from './command.js';
import { CommandError, configPath, EXIT_NOT_UP, EXIT_OK, EXIT_USAGE, prepareStateDir } from './context.js';

/** The compiled CLI, relative to the package root: what the crontab lines run. */
export const COMPILED_ENTRY = `dist/scripts/${LOADER_NAME}`;

/** The directory of cronwatch's package.json, found from this file (tsx or compiled dist/). */
export function packageRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  throw new Error(`Expected a package.json above ${start}`);
}

/** The compiled entry; a `CommandError` (exit 1) saying how to build it when it is missing. */
export function compiledEntry(root: string): string {
  const entry = join(root, COMPILED_ENTRY);
  if (!existsSync(entry)) {
    throw new CommandError(
      `cronwatch: ${entry} is missing: the crontab lines run the compiled JavaScript, not tsx. ` +
        `Build it: cd ${root} && npm run build`,
      EXIT_NOT_UP,
    );
  }
  return entry;
}

/** The block for `config`, run by this node binary and the entry under `root`. */
export function crontabBlock(config: Config, root: string): BlockResult {
  return renderCrontabBlock({
    configFile: config.file,
    workDir: dirname(config.file),
    stateDir: config.stateDir,
    intervalMs: config.intervalMs,
    nodePath: process.execPath,
    entryPath: join(root, COMPILED_ENTRY),
    targets: config.targets,
    secretEnv: config.secretEnv,
  });
}

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** What the shell exits with when it finds no such command. */
const COMMAND_NOT_FOUND = 127;

/**
 * Runs `crontab -l`, `crontab -` (with `input` on its stdin) or `crontab -r` through zx, loaded only
 * here: shell work stays off the path of a healthy `check`, where zx's start-up would cost every
 * run. Fixed words, nothing interpolated: any POSIX `sh` runs them, bash or not.
 */
async function runCrontab(flag: '-l' | '-' | '-r', input: string | null): Promise<Ran> {
  const { $, quote } = await import('zx/core');
  // zx picks bash and its quoting when bash is on PATH, and refuses to run without a quote function.
  const sh = $({ nothrow: true, quiet: true, shell: '/bin/sh', prefix: '', quote, input: input ?? '' });
  let ran: ProcessOutput;
  try {
    ran = await (flag === '-l' ? sh`crontab -l` : flag === '-' ? sh`crontab -` : sh`crontab -r`);
  } catch (error) {
    throw new CommandError(`cronwatch: cannot run crontab: ${(error as Error).message}`, EXIT_NOT_UP, {
      cause: error,
    });
  }
  if (ran.exitCode === COMMAND_NOT_FOUND) {
    throw new CommandError(
      'cronwatch: the crontab command is not installed (Debian/Ubuntu: apt-get install cron)',
      EXIT_NOT_UP,
    );
  }
  if (ran.exitCode === null && ran.signal === null) {
    throw new CommandError(`cronwatch: cannot run crontab: ${ran.message}`, EXIT_NOT_UP);
  }
  return { code: ran.exitCode, stdout: ran.stdout, stderr: ran.stderr };
}

function failed(what: string, ran: Ran): CommandError {
  const said = ran.stderr.trim() || `exit code ${ran.code}`;
  return new CommandError(`cronwatch: ${what} failed: ${said}`, EXIT_NOT_UP);
}

/** The user's crontab (`crontab -l`); null when they have none. */
export async function readCrontab(): Promise<string | null> {
  const ran = await runCrontab('-l', null);
  if (ran.code === 0) return ran.stdout;
  if (/no crontab for/i.test(ran.stderr)) return null;
  throw failed('crontab -l', ran);
}

/** Replaces the user's crontab with `text` (`crontab -`); an empty text removes it (`crontab -r`). */
export async function writeCrontab(text: string): Promise<void> {
  const ran = text === '' ? await runCrontab('-r', null) : await runCrontab('-', text);
  if (ran.code !== 0 && !(text === '' && /no crontab for/i.test(ran.stderr))) {
    throw failed(text === '' ? 'crontab -r' : 'crontab -', ran);
  }
}

async function install(config: Config, block: readonly string[]): Promise<string[]> {
  const current = (await readCrontab()) ?? '';
  const spliced = spliceBlock(current, config.file, block);
  if (spliced.kind === 'broken') throw new CommandError(`cronwatch: ${spliced.reason}`, EXIT_NOT_UP);
  const user = userInfo().username;
  if (!spliced.changed)
    return [`cronwatch: the crontab of ${user} already holds this block; nothing changed`];
  // The lines append to a log in the state dir: without the dir the shell runs nothing at all.
  await prepareStateDir(config.stateDir);
  await writeCrontab(spliced.text);
  return [`cronwatch: installed in the crontab of ${user}; cron reads it within a minute`];
}

async function remove(file: string): Promise<string> {
  const current = await readCrontab();
  const user = userInfo().username;
  const spliced = current === null ? null : spliceBlock(current, file, null);
  if (spliced?.kind === 'broken') throw new CommandError(`cronwatch: ${spliced.reason}`, EXIT_NOT_UP);
  if (spliced === null || !spliced.changed) {
    return `cronwatch: the crontab of ${user} has no block for ${file}; nothing changed`;
  }
  await writeCrontab(spliced.text);
  return `cronwatch: removed the block for ${file} from the crontab of ${user}`;
}

export const command = defineCommand({
  usage: 'crontab',
  describe: 'print the crontab block for this config; --install / --remove it in your crontab',
  builder: (args) =>
    args
      .option('install', {
        type: 'boolean',
        describe: "put the block into your crontab (replacing this config's old one)",
      })
      .option('remove', {
        type: 'boolean',
        describe: "take this config's block out of your crontab",
      })
      .conflicts('install', 'remove'),
  run: async (args) => {
    if (args.remove) {
      // Works with a broken or deleted config: the markers only need its path.
      process.stdout.write(`${await remove(configPath(args.config, process.env, process.cwd()))}\n`);
      return EXIT_OK;
    }
    const config = await loadConfigFor(args, { warnUnset: true, writeCache: false });
    const root = packageRoot();
    const block = crontabBlock(config, root);
    if (block.kind === 'invalid')
      throw new CommandError(`cronwatch: ${config.file}: ${block.reason}`, EXIT_USAGE);
    compiledEntry(root);
    const said = args.install ? await install(config, block.lines) : [];
    if (args.install) {
      const due = await (await import('./healthchecks.js')).syncDueLine(config);
      if (due !== null) said.push(`cronwatch: ${due}; run: cronwatch healthchecks sync`);
    }
    process.stdout.write(`${[...block.lines, ...said].join('\n')}\n`);
    return EXIT_OK;
  },
});
