/**
 * The target keys: one target's mapping, with `defaults` filled in for the keys it does not give,
 * its paths resolved in its `cwd`, and its restart limit, restart schedule and environment.
 */
import type { TargetConfig } from '../types.js';
import { parseDurationMs } from '../units.js';
import { type Dict, isDict, type Reader, resolvePath, show } from './reader.js';

const DEFAULT_START_GRACE_MS = 3000;
const DEFAULT_STOP_TIMEOUT_MS = 10_000;
const DEFAULT_STOP_SIGNAL = 'SIGTERM';
/** PM2-like: a crash loop backs off instead of restarting every run forever. */
const DEFAULT_RESTART_LIMIT = { count: 5, windowMs: 3_600_000 } as const;

const TARGET_NAME = /^[a-z0-9_-]+$/;
/** Names JavaScript objects already have: the state keyed by them would lose or misread the target. */
const RESERVED_NAMES: ReadonlySet<string> = new Set(['__proto__', 'constructor']);

const SIGNALS = new Set([
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGKILL',
  'SIGUSR1',
  'SIGUSR2',
  'SIGTERM',
  'SIGCONT',
  'SIGSTOP',
  'SIGTSTP',
  'SIGWINCH',
  'SIGPWR',
]);

const TARGET_KEYS = [
  'name',
  'match',
  'pidfile',
  'start',
  'stop',
  'cwd',
  'env',
  'log',
  'start_grace',
  'stop_signal',
  'stop_timeout',
  'state_file',
  'max_age',
  'max_memory',
  'max_cpu',
  'for',
  'restart_limit',
  'restart_schedule',
  'ping_url',
  'instances',
  'restart_on_error',
] as const;

/** A target as read, with its key path and its own keys (those not taken from `defaults`). */
export interface PlacedTarget {
  readonly path: string;
  readonly target: TargetConfig;
  readonly own: Dict;
}

/** `5 in 1h`; `off` (or false) for no limit. */
function readRestartLimit(reader: Reader, value: unknown, path: string): TargetConfig['restartLimit'] {
  if (value === undefined || value === null) return DEFAULT_RESTART_LIMIT;
  if (value === false || value === 'off') return null;
  const found = typeof value === 'string' ? /^\s*(\d+)\s+in\s+(\S+)\s*$/.exec(value) : null;
  const windowMs = found === null ? null : parseDurationMs(found[2]!);
  if (found === null || windowMs === null || Number(found[1]) < 1) {
    reader.fail(path, `expected a limit like "5 in 1h" (or off), got ${show(value)}`);
    return DEFAULT_RESTART_LIMIT;
  }
  return { count: Number(found[1]), windowMs };
}

const CRON_FIELD = /^(\*|\d+(-\d+)?)(\/\d+)?(,(\*|\d+(-\d+)?)(\/\d+)?)*$/;

/** Five cron fields, checked for shape only; cron itself reads them. */
function readSchedule(reader: Reader, value: unknown, path: string): string | null {
  const text = reader.string(value, path);
  if (text === null) return null;
  const fields = text.trim().split(/\s+/);
  const named = /^(\*|[a-z]{3}(-[a-z]{3})?)(,[a-z]{3})*$/i;
  if (
    fields.length !== 5 ||
    !fields.every((field, index) => CRON_FIELD.test(field) || (index >= 3 && named.test(field)))
  ) {
    reader.fail(path, `expected five cron fields like '0 3 * * *', got ${show(text)}`);
    return null;
  }
  return fields.join(' ');
}

function readEnv(reader: Reader, value: unknown, path: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isDict(value)) {
    reader.fail(path, `expected a mapping of variable names to values, got ${show(value)}`);
    return {};
  }
  const env: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean')
      env[key] = String(item);
    else reader.fail(`${path}.${key}`, `expected a string, got ${show(item)}`);
  }
  return env;
}

function readTarget(
  reader: Reader,
  value: unknown,
  path: string,
  defaults: Dict,
  configDir: string,
  stateDir: string,
): TargetConfig | null {
  const own = reader.dict(value, path, TARGET_KEYS);
  // A key given in `defaults` is reported under `defaults`, so the user edits the right line.
  const at = (key: string): string => (key in own ? `${path}.${key}` : `defaults.${key}`);
  const pick = (key: string): unknown => (key in own ? own[key] : defaults[key]);

  const name = reader.string(own.name, `${path}.name`);
  reader.required(own, 'name', path, 'a name like my-bot');
  if (name !== null && !TARGET_NAME.test(name)) {
    reader.fail(`${path}.name`, `expected lowercase letters, digits, _ and - only, got ${show(name)}`);
  } else if (name !== null && RESERVED_NAMES.has(name)) {
    reader.fail(
      `${path}.name`,
      `expected a name other than ${show(name)}, which cronwatch's state cannot key`,
    );
  }
  const match = reader.string(pick('match'), at('match'));
  if (match !== null) {
    try {
      new RegExp(match);
    } catch (error) {
      reader.fail(
        at('match'),
        `expected a regular expression, got ${show(match)} (${(error as Error).message})`,
      );
    }
  }
  const cwd = reader.path(pick('cwd'), at('cwd'), configDir) ?? configDir;
  const inCwd = (key: string): string | null => reader.path(pick(key), at(key), cwd);
  const pidfile = inCwd('pidfile');
  const start = reader.string(pick('start'), at('start'));
  const stop = reader.string(pick('stop'), at('stop'));
  const stateFile = inCwd('state_file');
  const maxAgeMs = reader.duration(pick('max_age'), at('max_age'));
  const stopSignalRaw = reader.string(pick('stop_signal'), at('stop_signal')) ?? DEFAULT_STOP_SIGNAL;
  const stopSignal = stopSignalRaw.toUpperCase().startsWith('SIG')
    ? stopSignalRaw.toUpperCase()
    : `SIG${stopSignalRaw.toUpperCase()}`;
  if (!SIGNALS.has(stopSignal)) {
    reader.fail(
      at('stop_signal'),
      `expected a signal name like SIGTERM or SIGINT, got ${show(stopSignalRaw)}`,
    );
  }

  if (match === null && pidfile === null && stateFile === null) {
    reader.fail(path, 'expected at least one of match, pidfile (a process) or state_file (a heartbeat)');
  }
  if (start !== null && match === null && pidfile === null) {
    reader.fail(`${path}.start`, 'a target with start needs match or pidfile, to find what it started');
  }
  if (stateFile !== null && maxAgeMs === null) {
    reader.fail(`${path}.max_age`, 'expected a duration like 20m with state_file, got nothing');
  }
  if (maxAgeMs !== null && stateFile === null) {
    reader.fail(`${path}.state_file`, 'expected the file whose age max_age limits, got nothing');
  }
  if (name === null) return null;
  return {
    name,
    match,
    pidfile,
    start,
    stop,
    cwd,
    env: readEnv(reader, pick('env'), at('env')),
    log: inCwd('log') ?? `${stateDir}/logs/${name}.log`,
    startGraceMs: reader.duration(pick('start_grace'), at('start_grace')) ?? DEFAULT_START_GRACE_MS,
    stopSignal,
    stopTimeoutMs: reader.duration(pick('stop_timeout'), at('stop_timeout')) ?? DEFAULT_STOP_TIMEOUT_MS,
    stateFile,
    maxAgeMs,
    maxMemoryBytes: reader.size(pick('max_memory'), at('max_memory')),
    maxCpuPercent: reader.percent(pick('max_cpu'), at('max_cpu')),
    forRuns: reader.count(pick('for'), at('for'), 1),
    restartLimit: readRestartLimit(reader, pick('restart_limit'), at('restart_limit')),
    restartSchedule: readSchedule(reader, pick('restart_schedule'), at('restart_schedule')),
    pingUrl: reader.url(pick('ping_url'), at('ping_url')),
    instances: reader.count(pick('instances'), at('instances'), 1),
    restartOnError: reader.boolean(pick('restart_on_error'), at('restart_on_error'), false),
  };
}

/**
 * Reads `defaults` and the `targets` list: each target in order, named uniquely, with its place
 * in the document. Paths resolve beside the config file (`configDir`); logs default into `stateDir`.
 */
export function readTargets(
  reader: Reader,
  top: Dict,
  configDir: string,
  stateDir: string,
): readonly PlacedTarget[] | null {
  const defaults = reader.dict(
    top.defaults,
    'defaults',
    TARGET_KEYS.filter((key) => key !== 'name'),
  );
  if (!Array.isArray(top.targets)) {
    reader.fail('targets', `expected a list of targets, got ${show(top.targets)}`);
    return null;
  }
  const placed: PlacedTarget[] = [];
  const seen = new Set<string>();
  // Every target's default cwd, resolved once.
  const baseDir = resolvePath(configDir, '.');
  top.targets.forEach((raw, index) => {
    const target = readTarget(reader, raw, `targets[${index}]`, defaults, baseDir, stateDir);
    if (target === null) return;
    if (seen.has(target.name))
      reader.fail(`targets[${index}].name`, `expected a unique name, got ${show(target.name)} again`);
    seen.add(target.name);
    placed.push({ path: `targets[${index}]`, target, own: isDict(raw) ? raw : {} });
  });
  return placed;
}
