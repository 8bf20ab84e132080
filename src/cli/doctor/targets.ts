/**
 * The targets: each one's cwd and the program its start runs, found as cron's shell would find
 * it; and no running process found by two targets.
 */

import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { CRON_PATH } from '../../core/crontab.js';
import type { Config, TargetConfig } from '../../core/types.js';
import { describeShared } from '../../probes/match.js';
import { EMPTY_STATE, loadState } from '../../store/state.js';
import { observe } from '../observe.js';
import { type CheckLine, type DoctorCheck, fail, ok } from './check-line.js';

const SHELL_BUILTINS = new Set(['cd', '.', 'source', 'export', 'set', 'eval', 'if', 'for', 'while', 'case']);

/** The words of a shell command line as `sh` splits them, quotes and backslashes undone. */
function shellWords(command: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: string | null = null;
  for (let index = 0; index < command.length; index += 1) {
    const char = command[index]!;
    if (quote === "'") {
      if (char === "'") quote = null;
      else word += char;
    } else if (quote === '"') {
      if (char === '"') quote = null;
      else if (char === '\\' && index + 1 < command.length) word += command[++index];
      else word += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      inWord = true;
    } else if (char === '\\' && index + 1 < command.length) {
      word += command[++index];
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/**
 * The program a `/bin/sh -c` command runs first, past `VAR=value` words and `exec`; null when
 * that cannot be known without running it (a builtin, a group, an expansion).
 */
export function firstProgram(command: string): string | null {
  const words = shellWords(command);
  let index = 0;
  while (index < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[index]!)) index += 1;
  if (words[index] === 'exec') index += 1;
  const word = words[index] ?? '';
  if (word === '' || SHELL_BUILTINS.has(word) || /^[({]|[$`]/.test(word)) return null;
  return word;
}

/**
 * What `execve` needs, and what dash's and bash's PATH search skip past: a regular file this user
 * may execute. Checked with stat and access, not by asking a shell (`command -v`): same answer,
 * without a shell per target.
 */
async function executable(path: string): Promise<boolean> {
  const info = await stat(path).catch(() => null);
  if (info === null || !info.isFile()) return false;
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

async function onPath(program: string, path: string): Promise<string | null> {
  for (const dir of path.split(delimiter)) {
    if (dir !== '' && (await executable(join(dir, program)))) return join(dir, program);
  }
  return null;
}

async function checkTarget(target: TargetConfig): Promise<CheckLine> {
  const label = `target ${target.name}`;
  const cwd = await stat(target.cwd).catch(() => null);
  if (cwd === null || !cwd.isDirectory()) return fail(label, `cwd ${target.cwd} does not exist`);
  if (target.start === null) return ok(label, `cwd ${target.cwd} exists; nothing to start (heartbeat only)`);
  const program = firstProgram(target.start);
  if (program === null)
    return ok(label, `cwd ${target.cwd} exists; start begins with a shell builtin, not checked`);
  if (program.includes('/')) {
    const path = isAbsolute(program) ? program : resolve(target.cwd, program);
    return (await executable(path))
      ? ok(label, `cwd ${target.cwd} exists; program ${path} is executable`)
      : fail(label, `program ${path} of start is missing or not executable`);
  }
  // Under cron, start runs with cron's PATH unless the target's env sets one.
  const cronPath = target.env.PATH ?? CRON_PATH;
  const found = await onPath(program, cronPath);
  if (found !== null) return ok(label, `cwd ${target.cwd} exists; program ${program} is ${found}`);
  const here = await onPath(program, process.env.PATH ?? '');
  if (here !== null) {
    return fail(
      label,
      `program ${program} is ${here}, which is not on the PATH start gets under cron (${cronPath}). ` +
        `Fix: write ${here} in start, or set env: { PATH: ... } on the target`,
    );
  }
  return fail(label, `program ${program} of start is not on the PATH (${cronPath})`);
}

/**
 * A process two targets find. Where the record decides whose it is, check and status count it
 * for that target alone, so it is a note (the patterns still overlap); where it does not, each
 * finder counts it and none can tell it from its own: that fails.
 */
async function checkSharedProcesses(config: Config): Promise<CheckLine[]> {
  const watched = config.targets.filter((target) => target.match !== null || target.pidfile !== null);
  if (watched.length < 2) return [];
  // Unreadable or corrupt, the state settles nothing, and each such process reads as undecided.
  const { state } = await loadState(config.stateDir, Date.now(), { moveAside: false }).catch(() => ({
    state: EMPTY_STATE,
  }));
  const { shared } = await observe(watched, watched, state);
  if (shared.length === 0) return [ok('processes', 'each running process is found by one target at most')];
  return shared.map((entry) =>
    (entry.recordedAs === null ? fail : ok)(`process ${entry.pid}`, describeShared(entry)),
  );
}

export const TARGET_CHECKS: readonly DoctorCheck[] = [
  {
    name: 'targets',
    needs: 'config',
    run: (_context, config) => Promise.all(config.targets.map(checkTarget)),
  },
  { name: 'shared processes', needs: 'config', run: (_context, config) => checkSharedProcesses(config) },
];
