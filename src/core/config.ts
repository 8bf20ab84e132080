/**
 * Config validation: a pure function from the parsed document to a `Config` or a list of
 * errors, each naming the key path and what was expected. Hand-written rather than a schema
 * library: cron starts this 288 times a day, and the messages are the product.
 */
import { checkSlug, hostSlug, OWN_CHECK_NAME, SLUG_MAX_LENGTH, slugPingUrl } from './healthchecks.js';
import type {
  Config,
  HealthchecksConfig,
  TargetConfig,
  TelegramChannelConfig,
  UnsetVariable,
  WebhookChannelConfig,
} from './types.js';
import { parseDurationMs, parseSizeBytes } from './units.js';
import { LENIENT_SECTIONS, unsetUnder } from './unset-env.js';

export interface ConfigInput {
  /** The parsed YAML or JSON document. */
  readonly document: unknown;
  /** Absolute path of the file, named in errors; its directory anchors relative paths. */
  readonly file: string;
  /** For `${VAR}` expansion. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Default for `host`. */
  readonly hostname: string;
}

export type ConfigResult =
  | { readonly kind: 'valid'; readonly config: Config }
  | { readonly kind: 'invalid'; readonly errors: readonly string[] };

export const DEFAULT_INTERVAL_MS = 5 * 60_000;
export const DEFAULT_START_GRACE_MS = 3000;
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;
export const DEFAULT_STOP_SIGNAL = 'SIGTERM';
export const DEFAULT_API_ROOT = 'https://api.telegram.org';
export const DEFAULT_STATE_DIR = '.cronwatch';
export const DEFAULT_REMINDER_MS = 6 * 3_600_000;
/** PM2-like: a crash loop backs off instead of restarting every run forever. */
export const DEFAULT_RESTART_LIMIT = { count: 5, windowMs: 3_600_000 } as const;

const TARGET_NAME = /^[a-z0-9_-]+$/;

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

const TOP_KEYS = [
  'state_dir',
  'interval',
  'host',
  'channels',
  'alerts',
  'heartbeat',
  'healthchecks',
  'metrics',
  'defaults',
  'targets',
] as const;
const HEALTHCHECKS_KEYS = ['url', 'ping_url', 'ping_key', 'api_key'] as const;
const TELEGRAM_KEYS = ['token', 'chat_id', 'api_root', 'thread_id'] as const;
const WEBHOOK_KEYS = ['url', 'format'] as const;
const WEBHOOK_FORMATS = ['slack', 'discord', 'json'] as const;
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

type Dict = Readonly<Record<string, unknown>>;

/** Joins path segments the POSIX way; the core stays free of `node:path`. */
export function resolvePath(base: string, path: string): string {
  const joined = path.startsWith('/') ? path : `${base}/${path}`;
  const out: string[] = [];
  for (const part of joined.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}

function dirOf(file: string): string {
  const index = file.lastIndexOf('/');
  return index <= 0 ? '/' : file.slice(0, index);
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Collects errors while reading one document; every getter returns a usable fallback. */
class Reader {
  readonly errors: string[] = [];
  /** Variables expanded under a lenient section: secrets, kept from the targets' environment. */
  readonly secretEnv = new Set<string>();
  /** Unset variables under a lenient section, with the key that uses each. */
  readonly unset: UnsetVariable[] = [];
  private readonly failed = new Set<string>();

  constructor(private readonly env: Readonly<Record<string, string | undefined>>) {}

  /** Records the first problem of a key; what follows from it would only repeat it. */
  fail(path: string, message: string): void {
    if (this.failed.has(path)) return;
    // A value that rests on an unset variable is unknown, not wrong: its part is unusable instead.
    if (this.unset.some((unset) => path === unset.path || path.startsWith(`${unset.path}.`))) return;
    this.failed.add(path);
    this.errors.push(`${path}: ${message}`);
  }

  /**
   * Replaces `${VAR}` everywhere in the document. An unset variable is an error naming its key,
   * except in a lenient section, where the value becomes null and the variable is recorded.
   */
  expand(value: unknown, path: string): unknown {
    if (typeof value === 'string') {
      const lenient = LENIENT_SECTIONS.includes(path.split(/[.[]/, 1)[0]!);
      const missing: string[] = [];
      const expanded = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_whole, name: string) => {
        const found = this.env[name];
        if (lenient) this.secretEnv.add(name);
        if (found === undefined) {
          missing.push(name);
          if (!lenient) this.fail(path, `environment variable ${name} is not set`);
          return '';
        }
        return found;
      });
      if (!lenient || missing.length === 0) return expanded;
      for (const variable of missing) this.unset.push({ path, variable });
      return null;
    }
    if (Array.isArray(value)) return value.map((item, index) => this.expand(item, `${path}[${index}]`));
    if (isDict(value)) {
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [key, this.expand(item, path ? `${path}.${key}` : key)]),
      );
    }
    return value;
  }

  dict(value: unknown, path: string, keys: readonly string[]): Dict {
    if (value === undefined || value === null) return {};
    if (!isDict(value)) {
      this.fail(path, `expected a mapping, got ${show(value)}`);
      return {};
    }
    for (const key of Object.keys(value)) {
      if (!keys.includes(key)) {
        const prefix = path === '' ? key : `${path}.${key}`;
        this.fail(prefix, `unknown key (expected one of: ${keys.join(', ')})`);
      }
    }
    return value;
  }

  string(value: unknown, path: string): string | null {
    if (value === undefined || value === null) return null;
    if (typeof value === 'string' && value.trim() !== '') return value;
    this.fail(path, `expected a non-empty string, got ${show(value)}`);
    return null;
  }

  url(value: unknown, path: string): string | null {
    const text = this.string(value, path);
    if (text !== null && !/^https?:\/\/[^\s/]+/.test(text)) {
      // Webhook and ping URLs embed secrets: quote only enough to recognise the value.
      this.fail(path, `expected an http(s) URL, got ${show(`${text.slice(0, 8)}...`)}`);
      return null;
    }
    return text;
  }

  size(value: unknown, path: string): number | null {
    if (value === undefined || value === null) return null;
    const bytes = typeof value === 'string' ? parseSizeBytes(value) : null;
    if (bytes === null) this.fail(path, `expected a size like 512KB, 500MB, 2GB, got ${show(value)}`);
    return bytes;
  }

  percent(value: unknown, path: string): number | null {
    if (value === undefined || value === null) return null;
    const found = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(value) : null;
    const percent = found === null ? (typeof value === 'number' ? value : Number.NaN) : Number(found[1]);
    if (!Number.isFinite(percent) || percent <= 0) {
      this.fail(path, `expected a percentage of one core like 90%, got ${show(value)}`);
      return null;
    }
    return percent;
  }

  count(value: unknown, path: string, fallback: number): number {
    if (value === undefined || value === null) return fallback;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 1) return value;
    this.fail(path, `expected a whole number of at least 1, got ${show(value)}`);
    return fallback;
  }

  boolean(value: unknown, path: string, fallback: boolean): boolean {
    if (value === undefined || value === null) return fallback;
    if (typeof value === 'boolean') return value;
    this.fail(path, `expected true or false, got ${show(value)}`);
    return fallback;
  }

  duration(value: unknown, path: string): number | null {
    if (value === undefined || value === null) return null;
    const ms = typeof value === 'string' ? parseDurationMs(value) : null;
    if (ms === null) this.fail(path, `expected a duration like 30s, 5m, got ${show(value)}`);
    return ms;
  }
}

function readTelegram(reader: Reader, value: unknown): TelegramChannelConfig | null {
  if (value === undefined || value === null) return null;
  const raw = reader.dict(value, 'channels.telegram', TELEGRAM_KEYS);
  const token = reader.string(raw.token, 'channels.telegram.token');
  if (raw.token === undefined) reader.fail('channels.telegram.token', 'expected the bot token, got nothing');
  let chatId: string | null = null;
  if (typeof raw.chat_id === 'number' && Number.isInteger(raw.chat_id)) chatId = String(raw.chat_id);
  else if (typeof raw.chat_id === 'string' && /^(-?\d+|@\w+)$/.test(raw.chat_id.trim()))
    chatId = raw.chat_id.trim();
  else
    reader.fail(
      'channels.telegram.chat_id',
      `expected a chat id like -1001234 or @channel, got ${show(raw.chat_id)}`,
    );
  const apiRoot = reader.string(raw.api_root, 'channels.telegram.api_root') ?? DEFAULT_API_ROOT;
  if (!/^https?:\/\/[^\s/]+/.test(apiRoot)) {
    reader.fail('channels.telegram.api_root', `expected an http(s) URL, got ${show(apiRoot)}`);
  }
  let threadId: number | null = null;
  if (raw.thread_id !== undefined && raw.thread_id !== null) {
    if (typeof raw.thread_id === 'number' && Number.isInteger(raw.thread_id) && raw.thread_id > 0) {
      threadId = raw.thread_id;
    } else {
      reader.fail(
        'channels.telegram.thread_id',
        `expected a positive whole number, got ${show(raw.thread_id)}`,
      );
    }
  }
  if (token === null || chatId === null) return null;
  return { token, chatId, apiRoot: apiRoot.replace(/\/+$/, ''), threadId };
}

function readWebhook(reader: Reader, value: unknown): WebhookChannelConfig | null {
  if (value === undefined || value === null) return null;
  const raw = reader.dict(value, 'channels.webhook', WEBHOOK_KEYS);
  const url = reader.url(raw.url, 'channels.webhook.url');
  if (raw.url === undefined) reader.fail('channels.webhook.url', 'expected the webhook URL, got nothing');
  const format = raw.format ?? 'json';
  if (!WEBHOOK_FORMATS.includes(format as WebhookChannelConfig['format'])) {
    reader.fail(
      'channels.webhook.format',
      `expected one of ${WEBHOOK_FORMATS.join(', ')}, got ${show(format)}`,
    );
    return null;
  }
  return url === null ? null : { url, format: format as WebhookChannelConfig['format'] };
}

function readHealthchecks(reader: Reader, value: unknown): HealthchecksConfig | null {
  if (value === undefined || value === null) return null;
  const raw = reader.dict(value, 'healthchecks', HEALTHCHECKS_KEYS);
  const url = reader.url(raw.url, 'healthchecks.url');
  if (raw.url === undefined) {
    reader.fail('healthchecks.url', 'expected the instance URL, e.g. https://healthchecks.io, got nothing');
  }
  const pingUrl = reader.url(raw.ping_url, 'healthchecks.ping_url');
  const pingKey = reader.string(raw.ping_key, 'healthchecks.ping_key');
  if (raw.ping_key === undefined) {
    reader.fail('healthchecks.ping_key', "expected the project's ping key (Project Settings), got nothing");
  } else if (pingKey !== null && !/^[A-Za-z0-9_-]+$/.test(pingKey)) {
    reader.fail('healthchecks.ping_key', 'expected letters, digits, - and _ only (a ping key)');
  }
  const apiKey = reader.string(raw.api_key, 'healthchecks.api_key');
  if (url === null) return null;
  const root = url.replace(/\/+$/, '');
  // A ping key left empty by an unset variable keeps the section for sync; its pings are off.
  return {
    url: root,
    pingUrl: (pingUrl ?? `${root}/ping`).replace(/\/+$/, ''),
    pingKey: pingKey ?? '',
    apiKey,
  };
}

/**
 * Slug mode names every check after the host: the host must give a slug, no target may take
 * cronwatch's own check, and a check given both by URL and by slug is refused, naming both keys.
 */
function checkSlugMode(
  reader: Reader,
  host: string,
  heartbeatUrl: string | null,
  targets: readonly PlacedTarget[],
): void {
  if (hostSlug(host) === '') {
    reader.fail(
      'host',
      `expected a host name with a letter or digit (healthchecks slugs), got ${show(host)}`,
    );
    return;
  }
  if (heartbeatUrl !== null) {
    reader.fail(
      'heartbeat.url',
      `cronwatch's own check is given twice: by heartbeat.url and by healthchecks.ping_key (slug ${checkSlug(host, OWN_CHECK_NAME)}); keep one`,
    );
  }
  for (const { target, path, own } of targets) {
    const pingKey = 'ping_url' in own ? `${path}.ping_url` : 'defaults.ping_url';
    const slug = checkSlug(host, target.name);
    if (target.name === OWN_CHECK_NAME) {
      reader.fail(
        `${path}.name`,
        `the name cronwatch is cronwatch's own healthchecks check (slug ${slug}); choose another`,
      );
    } else if (slug.length > SLUG_MAX_LENGTH) {
      reader.fail(
        `${path}.name`,
        `expected a slug of at most ${SLUG_MAX_LENGTH} characters with the host, got ${slug}`,
      );
    }
    if (target.pingUrl !== null) {
      reader.fail(
        pingKey,
        `the check of ${target.name} is given twice: by ${pingKey} and by healthchecks.ping_key (slug ${slug}); keep one`,
      );
    }
  }
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
  if (own.name === undefined) reader.fail(`${path}.name`, 'expected a name like my-bot, got nothing');
  else if (name !== null && !TARGET_NAME.test(name)) {
    reader.fail(`${path}.name`, `expected lowercase letters, digits, _ and - only, got ${show(name)}`);
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
  const cwd = resolvePath(configDir, reader.string(pick('cwd'), at('cwd')) ?? '.');
  const inCwd = (key: string): string | null => {
    const given = reader.string(pick(key), at(key));
    return given === null ? null : resolvePath(cwd, given);
  };
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

/** A target as read, with its key path and its own keys (those not taken from `defaults`). */
interface PlacedTarget {
  readonly path: string;
  readonly target: TargetConfig;
  readonly own: Dict;
}

/**
 * Two targets with the same pid file, or the same match where one of them has no pid file to
 * tell their processes apart, would claim one process: each would start a copy of it, then both
 * would see two. Compared after `defaults` are applied and paths resolved.
 */
function checkOneClaimEach(reader: Reader, placed: readonly PlacedTarget[]): void {
  const byPidfile = new Map<string, PlacedTarget>();
  const byMatch = new Map<string, PlacedTarget>();
  const same = (key: 'match' | 'pidfile', value: string, first: PlacedTarget, second: PlacedTarget) => {
    const inherited = !(key in first.own) && !(key in second.own) ? `, from defaults.${key}` : '';
    reader.fail(
      `${second.path}.${key}`,
      `the same as ${first.path}.${key} (${show(value)}${inherited}): two targets would claim one process`,
    );
  };
  for (const entry of placed) {
    const { match, pidfile } = entry.target;
    if (pidfile !== null) {
      const first = byPidfile.get(pidfile);
      if (first === undefined) byPidfile.set(pidfile, entry);
      else same('pidfile', pidfile, first, entry);
    }
    if (match !== null) {
      const first = byMatch.get(match);
      if (first === undefined) byMatch.set(match, entry);
      else if (first.target.pidfile === null || pidfile === null) same('match', match, first, entry);
    }
  }
}

/** Validates a parsed config document. Errors are `<key path>: <what was expected>`. */
export function validateConfig(input: ConfigInput): ConfigResult {
  const reader = new Reader(input.env);
  const document = reader.expand(input.document, '');
  if (!isDict(document)) {
    return {
      kind: 'invalid',
      errors: [`(top level): expected a mapping with targets, got ${show(document)}`],
    };
  }
  const top = reader.dict(document, '', TOP_KEYS);
  const configDir = dirOf(input.file);
  const stateDir = resolvePath(configDir, reader.string(top.state_dir, 'state_dir') ?? DEFAULT_STATE_DIR);
  const intervalMs = reader.duration(top.interval, 'interval') ?? DEFAULT_INTERVAL_MS;
  const host = reader.string(top.host, 'host') ?? input.hostname;
  const channels = reader.dict(top.channels, 'channels', ['telegram', 'webhook']);
  const usable = (part: string) => unsetUnder(reader.unset, part).length === 0;
  // Slug pings need the instance, its ping endpoint and the project's ping key; api_key only sync.
  const pingsUsable = ['url', 'ping_url', 'ping_key'].every((key) => usable(`healthchecks.${key}`));
  const telegram = readTelegram(reader, channels.telegram);
  const webhook = readWebhook(reader, channels.webhook);
  const alerts = reader.dict(top.alerts, 'alerts', ['reminder']);
  const reminderMs =
    alerts.reminder === 0 || alerts.reminder === '0'
      ? 0
      : (reader.duration(alerts.reminder, 'alerts.reminder') ?? DEFAULT_REMINDER_MS);
  const heartbeatUrl = reader.url(reader.dict(top.heartbeat, 'heartbeat', ['url']).url, 'heartbeat.url');
  const healthchecks = readHealthchecks(reader, top.healthchecks);
  const textfile = reader.string(
    reader.dict(top.metrics, 'metrics', ['textfile']).textfile,
    'metrics.textfile',
  );
  const defaults = reader.dict(
    top.defaults,
    'defaults',
    TARGET_KEYS.filter((key) => key !== 'name'),
  );

  const targets: TargetConfig[] = [];
  const placed: PlacedTarget[] = [];
  if (!Array.isArray(top.targets)) {
    reader.fail('targets', `expected a list of targets, got ${show(top.targets)}`);
  } else {
    const seen = new Set<string>();
    top.targets.forEach((raw, index) => {
      const target = readTarget(reader, raw, `targets[${index}]`, defaults, configDir, stateDir);
      if (target === null) return;
      if (seen.has(target.name))
        reader.fail(`targets[${index}].name`, `expected a unique name, got ${show(target.name)} again`);
      seen.add(target.name);
      targets.push(target);
      placed.push({ path: `targets[${index}]`, target, own: isDict(raw) ? raw : {} });
    });
    checkOneClaimEach(reader, placed);
  }
  if (healthchecks !== null) checkSlugMode(reader, host, heartbeatUrl, placed);
  if (reader.errors.length > 0) return { kind: 'invalid', errors: reader.errors };
  return {
    kind: 'valid',
    config: {
      file: input.file,
      stateDir,
      intervalMs,
      host,
      channels: {
        telegram: usable('channels.telegram') ? telegram : null,
        webhook: usable('channels.webhook') ? webhook : null,
      },
      reminderMs,
      heartbeatUrl:
        healthchecks === null
          ? usable('heartbeat')
            ? heartbeatUrl
            : null
          : pingsUsable
            ? slugPingUrl(healthchecks.pingUrl, healthchecks.pingKey, checkSlug(host, OWN_CHECK_NAME))
            : null,
      healthchecks:
        healthchecks === null
          ? null
          : { ...healthchecks, apiKey: usable('healthchecks.api_key') ? healthchecks.apiKey : null },
      metricsTextfile: textfile === null ? null : resolvePath(configDir, textfile),
      targets:
        healthchecks === null
          ? targets
          : targets.map((target) => ({
              ...target,
              pingUrl: pingsUsable
                ? slugPingUrl(healthchecks.pingUrl, healthchecks.pingKey, checkSlug(host, target.name))
                : null,
            })),
      secretEnv: [...reader.secretEnv],
      unsetEnv: reader.unset,
    },
  };
}
