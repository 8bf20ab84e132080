/**
 * `cronwatch doctor`: checks the setup around the config, the way it will be used (by cron, with
 * cron's environment), and prints one line per check. Exits 1 when any check fails. It sends
 * nothing: Telegram is asked who the bot is and what the chat is, the other URLs only whether
 * their host answers. The one thing it records: a bot and chat that answer while alerts are held
 * after a refusal, so that the next run sends them at once.
 */
import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import {
  assignedNames,
  CRON_PATH,
  cronLogPath,
  crontabEnvNames,
  crontabLines,
  findBlock,
} from '../core/crontab.js';
import { OVERDUE_INTERVALS } from '../core/overdue.js';
import { redact, secretsOf } from '../core/redact.js';
import type { Config, TargetConfig, TelegramChannelConfig } from '../core/types.js';
import { formatDuration, formatDurationOver } from '../core/units.js';
import { describeUnset, unsetUnder } from '../core/unset-env.js';
import { liveRefusal, nextTryMs } from '../notifiers/deliver.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, describeCauses, PING_TIMEOUT_MS } from '../notifiers/http-policy.js';
import { httpRequest } from '../notifiers/node-http.js';
import { describeShared } from '../probes/match.js';
import { scanProcessTable } from '../probes/process-table.js';
import {
  type PermanentFailure,
  readChannelsWorked,
  readOutbox,
  recordChannelWorked,
} from '../store/outbox.js';
import { EMPTY_STATE, loadState } from '../store/state.js';
import { defineCommand } from './command.js';
import { CommandError, configPath, EXIT_NOT_UP, EXIT_OK, loadConfig } from './context.js';
import { COMPILED_ENTRY, crontabBlock, packageRoot, readCrontab } from './crontab.js';
import { observe } from './observe.js';

/**
 * One look at a webhook or ping host's root: a ping's attempt timeout, not a channel's request
 * timeout, since all a run needs of the host is what a ping needs.
 */
const HOST_TIMEOUT_MS = PING_TIMEOUT_MS;

type Status = 'ok' | 'fail' | 'skip';

/** One printed line: `✓ label: detail`. */
export interface CheckLine {
  readonly status: Status;
  readonly label: string;
  readonly detail: string;
}

const MARKS: Readonly<Record<'unicode' | 'ascii', Readonly<Record<Status, string>>>> = {
  unicode: { ok: '✓', fail: '✗', skip: '-' },
  ascii: { ok: 'ok  ', fail: 'FAIL', skip: '--  ' },
};

const ok = (label: string, detail: string): CheckLine => ({ status: 'ok', label, detail });
const fail = (label: string, detail: string): CheckLine => ({ status: 'fail', label, detail });
const skip = (label: string, detail: string): CheckLine => ({ status: 'skip', label, detail });

/** Whether the locale (LC_ALL, then LC_CTYPE, then LANG, as POSIX reads them) is UTF-8. */
export function localeIsUtf8(env: NodeJS.ProcessEnv): boolean {
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG || '';
  return /utf-?8/i.test(locale);
}

async function checkStateDir(config: Config): Promise<CheckLine> {
  const label = `state dir ${config.stateDir}`;
  const info = await stat(config.stateDir).catch(() => null);
  if (info === null) return fail(label, 'does not exist (cronwatch check or crontab --install creates it)');
  if (!info.isDirectory()) return fail(label, 'is not a directory');
  const mode = (info.mode & 0o777).toString(8);
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    return fail(
      label,
      `belongs to uid ${info.uid}, not to this user (uid ${uid}); cronwatch runs as its owner`,
    );
  }
  if ((info.mode & 0o022) !== 0) {
    return fail(
      label,
      `mode ${mode}: other users can write it, so cronwatch refuses to run. Fix: chmod 700 ${config.stateDir}`,
    );
  }
  if ((info.mode & 0o077) !== 0) {
    return fail(
      label,
      `mode ${mode}: other users can read its state and alerts. Fix: chmod 700 ${config.stateDir}`,
    );
  }
  try {
    await access(config.stateDir, constants.W_OK | constants.X_OK);
  } catch {
    return fail(label, `mode ${mode}: not writable by this user`);
  }
  return ok(label, `exists, writable, private (mode ${mode})`);
}

function checkBuild(root: string): Promise<CheckLine> {
  const entry = join(root, COMPILED_ENTRY);
  return stat(entry).then(
    () => ok('build', `${entry} present (what the crontab lines run)`),
    () => fail('build', `${entry} is missing, so every crontab line fails. Fix: cd ${root} && npm run build`),
  );
}

interface CrontabFindings {
  readonly lines: CheckLine[];
  /** The crontab's lines when it could be read. */
  readonly crontab: readonly string[] | null;
}

async function checkCrontab(file: string, config: Config | null, root: string): Promise<CrontabFindings> {
  let text: string | null;
  try {
    text = await readCrontab();
  } catch (error) {
    const message =
      error instanceof CommandError ? error.message.replace(/^cronwatch: /, '') : describeCauses(error);
    return { lines: [fail('crontab', message)], crontab: null };
  }
  const lines = crontabLines(text ?? '');
  const found = findBlock(lines, file);
  const install = `Fix: cronwatch crontab --install --config ${file}`;
  if (found.kind === 'broken') return { lines: [fail('crontab', found.reason)], crontab: lines };
  if (found.kind === 'absent') {
    const none = text === null ? 'this user has no crontab' : `no cronwatch block for ${file} in the crontab`;
    return {
      lines: [fail('crontab', `${none}, so nothing runs cronwatch check. ${install}`)],
      crontab: lines,
    };
  }
  const installed = lines.slice(found.begin, found.end + 1);
  const wanted = config === null ? null : crontabBlock(config, root);
  if (wanted?.kind === 'ok' && wanted.lines.join('\n') !== installed.join('\n')) {
    return {
      lines: [
        fail('crontab', `the block for ${file} differs from what this config and build need. ${install}`),
      ],
      crontab: lines,
    };
  }
  return {
    lines: [ok('crontab', `block for ${file} installed (${installed.length} lines)`)],
    crontab: lines,
  };
}

/** Cron gives its jobs only what the crontab (or /etc/environment, through PAM) sets. */
async function checkCronEnvironment(config: Config, crontab: readonly string[]): Promise<CheckLine> {
  const label = 'cron environment';
  if (config.secretEnv.length === 0) return skip(label, 'the config reads no ${VAR} for its channels');
  const systemWide = await readFile('/etc/environment', 'utf8').then(
    (text) => assignedNames(crontabLines(text)),
    () => [],
  );
  const set = new Set([...crontabEnvNames(crontab, config.file), ...systemWide]);
  const missing = config.secretEnv.filter((name) => !set.has(name));
  if (missing.length === 0) return ok(label, `${config.secretEnv.join(', ')} set for cron jobs`);
  return fail(
    label,
    `${missing.join(', ')} not set for cron jobs, which get no shell environment, so every run would ` +
      'have its channel or ping off. Fix: crontab -e and add NAME=value lines above the cronwatch block',
  );
}

/** A process whose program is `cron` or `crond` (Debian's cron, cronie, busybox, macOS). */
export function isCronDaemon(cmdline: string): boolean {
  const words = cmdline.trim().split(/\s+/);
  const program = (words[0] ?? '').split('/').pop();
  if (program === 'busybox') return words[1] === 'crond';
  return program === 'cron' || program === 'crond';
}

async function checkCronDaemon(): Promise<CheckLine> {
  try {
    const daemon = (await scanProcessTable()).find((p) => p.state !== 'Z' && isCronDaemon(p.cmdline));
    if (daemon !== undefined) return ok('cron daemon', `running (pid ${daemon.pid}: ${daemon.cmdline})`);
    return fail(
      'cron daemon',
      'no cron or crond process is running, so the crontab runs nothing. Fix: systemctl enable --now cron (or service cron start)',
    );
  } catch (error) {
    return fail('cron daemon', `cannot read the process table: ${describeCauses(error)}`);
  }
}

async function checkTelegram(telegram: TelegramChannelConfig | null): Promise<CheckLine[]> {
  if (telegram === null) {
    return [skip('telegram', 'not configured (alerts are printed, so they land in the cron log)')];
  }
  const secrets = [telegram.token];
  const lib = await import('node-telegram-bot-api');
  const api = new lib.Api(telegram.token, {
    apiRoot: telegram.apiRoot,
    // A channel's request timeout, without its retries: a slow answer is itself worth a line.
    timeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
    maxRetries: 0,
  });
  const why = (error: unknown, hint: string): string => {
    if (error instanceof lib.TelegramApiError) {
      return redact(`Telegram answered ${error.errorCode}: ${error.description}${hint}`, secrets);
    }
    if (error instanceof lib.TimeoutError)
      return `no answer from ${telegram.apiRoot} within ${DEFAULT_REQUEST_TIMEOUT_MS} ms`;
    return redact(`cannot reach ${telegram.apiRoot}: ${describeCauses(error)}`, secrets);
  };
  const chatLabel = `telegram chat ${telegram.chatId}`;
  try {
    const me = await api.getMe();
    const bot = ok(
      'telegram bot',
      `@${me.username ?? me.first_name} (id ${me.id}) answers at ${telegram.apiRoot}`,
    );
    try {
      const chat = await api.getChat({ chat_id: telegram.chatId });
      const name = chat.title ?? chat.username ?? chat.first_name;
      return [bot, ok(chatLabel, `reachable (${chat.type}${name === undefined ? '' : ` "${name}"`})`)];
    } catch (error) {
      return [bot, fail(chatLabel, why(error, ' (check chat_id, and that the bot was added to the chat)'))];
    }
  } catch (error) {
    const hint =
      error instanceof lib.TelegramApiError && error.errorCode === 401 ? ' (check the bot token)' : '';
    return [fail('telegram bot', why(error, hint)), skip(chatLabel, 'not checked: the bot did not answer')];
  }
}

/** The URL's origin only: a webhook's path is its secret. */
function originOf(url: string): string {
  return new URL(url).origin;
}

async function answers(url: string, method: 'HEAD' | 'GET'): Promise<{ status: number } | { error: string }> {
  try {
    // node:http follows no redirect: a 3xx is an answer from this host.
    const { status } = await httpRequest(url, { method, timeoutMs: HOST_TIMEOUT_MS });
    return { status };
  } catch (error) {
    return { error: describeCauses(error) };
  }
}

async function checkWebhook(config: Config): Promise<CheckLine> {
  const webhook = config.channels.webhook;
  if (webhook === null) return skip('webhook', 'not configured');
  const label = `webhook ${originOf(webhook.url)}`;
  // A HEAD sends no message; any answer below 500 shows the host takes requests there.
  const result = await answers(webhook.url, 'HEAD');
  if ('error' in result) return fail(label, result.error);
  if (result.status >= 500) return fail(label, `answered HTTP ${result.status} to a HEAD request`);
  return ok(label, `answers (HTTP ${result.status} to a HEAD request; no message sent)`);
}

/**
 * The heartbeat URL and the targets' ping URLs. The healthchecks protocol counts a HEAD, GET or
 * POST to a ping URL as a ping (a success, or a start with /start), so doctor asks only the root
 * of each ping host: DNS, TCP and TLS working is what a run needs.
 */
async function checkPingHosts(config: Config): Promise<CheckLine[]> {
  const urls = [config.heartbeatUrl, ...config.targets.map((target) => target.pingUrl)].filter(
    (url): url is string => url !== null,
  );
  if (urls.length === 0) return [skip('heartbeat URL', 'not configured')];
  const origins = [...new Set(urls.map(originOf))];
  return Promise.all(
    origins.map(async (origin) => {
      const label = `heartbeat host ${origin}`;
      const result = await answers(`${origin}/`, 'GET');
      if ('error' in result) return fail(label, result.error);
      if (result.status >= 500) return fail(label, `answered HTTP ${result.status}`);
      return ok(label, `answers (HTTP ${result.status} at its root; no ping sent)`);
    }),
  );
}

/**
 * Slug mode: each check cronwatch pings must exist, once, and not be paused, or its pings are
 * refused (404, 409) or alert no one. With an API key the project's list says so; without one,
 * a `/log` ping (which changes no check's state) to each shows it is accepted.
 */
async function checkHealthchecks(config: Config): Promise<CheckLine[]> {
  const hc = config.healthchecks;
  if (hc === null) return [];
  const { checksOf, syncDueLine } = await import('./healthchecks.js');
  const desired = checksOf(config);
  const due = await syncDueLine(config);
  const lines: CheckLine[] = due === null ? [] : [fail('healthchecks sync', due)];
  if (hc.apiKey !== null) {
    const { listChecks } = await import('../notifiers/healthchecks-api.js');
    let existing: Awaited<ReturnType<typeof listChecks>>;
    try {
      existing = await listChecks(hc);
    } catch (error) {
      // The API client's errors say what failed, their causes included.
      return [...lines, fail(`healthchecks ${originOf(hc.url)}`, (error as Error).message)];
    }
    for (const check of desired) {
      const same = existing.filter((candidate) => candidate.slug === check.slug);
      const label = `healthchecks check ${check.slug}`;
      if (same.length === 0) lines.push(fail(label, 'does not exist (run cronwatch healthchecks sync)'));
      else if (same.length > 1)
        lines.push(fail(label, `${same.length} checks have this slug: pings are refused (409)`));
      else if (same[0]!.status === 'paused') lines.push(fail(label, 'is paused in healthchecks'));
      else lines.push(ok(label, `exists, ${same[0]!.status}`));
    }
    return lines;
  }
  if (config.heartbeatUrl === null) {
    const unset = unsetUnder(config.unsetEnv, 'healthchecks');
    return [...lines, skip('healthchecks pings', `off: ${unset.join(', ')} not set (see environment)`)];
  }
  const { sendPings } = await import('../notifiers/heartbeat-ping.js');
  const own = [config.heartbeatUrl];
  const urls = [...own, ...config.targets.map((target) => target.pingUrl ?? '')];
  const results = await sendPings(
    urls.map((url) => ({
      url,
      kind: 'log' as const,
      rid: null,
      body: 'cronwatch doctor: is this check there?',
    })),
  );
  results.forEach((result, index) => {
    const label = `healthchecks check ${desired[index]?.slug ?? '?'}`;
    if (result.ok) lines.push(ok(label, 'accepts pings (a /log ping was sent)'));
    else if (result.status === 404)
      lines.push(fail(label, 'does not exist (404; give healthchecks.api_key and run sync)'));
    else if (result.status === 409) lines.push(fail(label, 'two checks have this slug (409)'));
    else lines.push(fail(label, result.error ?? 'not accepted'));
  });
  return lines;
}

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

/** A process two targets find: each would count it, and neither could tell it from its own. */
async function checkSharedProcesses(config: Config): Promise<CheckLine[]> {
  const watched = config.targets.filter((target) => target.match !== null || target.pidfile !== null);
  if (watched.length < 2) return [];
  // Unreadable or corrupt, the state settles nothing, and each such process reads as undecided.
  const { state } = await loadState(config.stateDir, Date.now(), { moveAside: false }).catch(() => ({
    state: EMPTY_STATE,
  }));
  const { shared } = await observe(watched, watched, state);
  if (shared.length === 0) return [ok('processes', 'each running process is found by one target at most')];
  return shared.map((entry) => fail(`process ${entry.pid}`, describeShared(entry)));
}

async function checkLastRun(config: Config, nowMs: number): Promise<CheckLine> {
  const label = 'last run';
  try {
    const loaded = await loadState(config.stateDir, nowMs, { moveAside: false });
    if (loaded.kind === 'corrupt') return fail(label, `the state file is corrupt (${loaded.error})`);
    const lastRunMs = loaded.state.lastRunMs;
    const limitMs = OVERDUE_INTERVALS * config.intervalMs;
    if (lastRunMs === null) {
      return fail(
        label,
        `cronwatch check has not run with this state dir yet (see ${cronLogPath(config.stateDir)})`,
      );
    }
    const ago = `${formatDuration(nowMs - lastRunMs)} ago (${new Date(lastRunMs).toISOString()})`;
    if (nowMs - lastRunMs > limitMs) {
      return fail(
        label,
        `${formatDurationOver(nowMs - lastRunMs, limitMs)} ago (${new Date(lastRunMs).toISOString()}): more than ${OVERDUE_INTERVALS} × interval ${formatDuration(config.intervalMs)}; ` +
          `is cron running it? See ${cronLogPath(config.stateDir)}`,
      );
    }
    return ok(label, `${ago}, within ${OVERDUE_INTERVALS} × interval ${formatDuration(config.intervalMs)}`);
  } catch (error) {
    return fail(label, `cannot read the state: ${describeCauses(error)}`);
  }
}

async function checkOutbox(config: Config, secrets: readonly string[]): Promise<CheckLine[]> {
  let contents: Awaited<ReturnType<typeof readOutbox>>;
  try {
    contents = await readOutbox(config.stateDir, { moveAside: false });
  } catch (error) {
    return [fail('outbox', `cannot read it: ${describeCauses(error)}`)];
  }
  const { entries, corrupt } = contents;
  if (entries.length === 0 && corrupt.length === 0) {
    // The console channel "delivers" by printing: that is not a message anyone received.
    const printed = config.channels.telegram === null && config.channels.webhook === null;
    return [
      ok(
        'outbox',
        printed
          ? `empty: no channel is configured, so every alert was printed to stderr (by cron, into ${cronLogPath(config.stateDir)}), not sent`
          : 'empty: every alert was delivered',
      ),
    ];
  }
  const lines: CheckLine[] = [];
  if (entries.length > 0) {
    const oldest = new Date(entries[0]!.createdMs).toISOString();
    const last = [...entries].reverse().find((entry) => entry.lastError !== null)?.lastError;
    const why = last === undefined || last === null ? '' : ` (last error: ${redact(last, secrets)})`;
    lines.push(fail('outbox', `${entries.length} alert(s) not delivered, the oldest from ${oldest}${why}`));
  }
  const refusals = new Map<string, { count: number; latest: PermanentFailure }>();
  for (const entry of entries) {
    for (const [channel, failure] of Object.entries(entry.permanent)) {
      const seen = refusals.get(channel);
      const newer = seen === undefined || failure.atMs >= seen.latest.atMs;
      refusals.set(channel, { count: (seen?.count ?? 0) + 1, latest: newer ? failure : seen.latest });
    }
  }
  for (const [channel, { count, latest }] of refusals) {
    lines.push(
      fail(
        `outbox ${channel}`,
        `${count} alert(s) held after a refusal at ${new Date(latest.atMs).toISOString()}: ${redact(latest.error, secrets)}; ` +
          `next try ${new Date(nextTryMs(latest)).toISOString()}, or at once when test-alert or doctor sees the channel work`,
      ),
    );
  }
  if (corrupt.length > 0)
    lines.push(fail('outbox', `${corrupt.length} unreadable file(s): ${corrupt.join(', ')}`));
  return lines;
}

/**
 * The bot and chat answered: alerts a Telegram refusal held go out with the next run. Returns
 * the line saying so, or null when nothing was held.
 */
async function releaseHeldTelegram(config: Config): Promise<CheckLine | null> {
  const telegram = config.channels.telegram;
  if (telegram === null) return null;
  const { createTelegramChannel } = await import('../notifiers/telegram.js');
  const channel = createTelegramChannel(telegram);
  try {
    const { entries } = await readOutbox(config.stateDir, { moveAside: false });
    const worked = (await readChannelsWorked(config.stateDir))[channel.name];
    const held = entries.filter((entry) => liveRefusal(entry, channel, worked) !== null).length;
    if (held === 0) return null;
    await recordChannelWorked(config.stateDir, channel.name, {
      atMs: Date.now(),
      fingerprint: channel.fingerprint,
    });
    return ok('outbox telegram', `the bot and chat answer now: the next check sends the held alert(s)`);
  } catch (error) {
    return fail('outbox telegram', `cannot record that the channel works: ${describeCauses(error)}`);
  }
}

export interface DoctorOptions {
  /** Check the crontab and the cron daemon; false when a systemd timer or launchd runs check. */
  readonly cron: boolean;
}

const NOT_CRON = 'not checked (--no-cron: another scheduler runs check)';

/** Every check, in the order printed. With a config that does not load, those that need none. */
export async function runDoctor(
  file: string,
  env: NodeJS.ProcessEnv,
  options: DoctorOptions,
): Promise<CheckLine[]> {
  const root = packageRoot();
  const crontabOf = (config: Config | null): Promise<CrontabFindings> =>
    options.cron
      ? checkCrontab(file, config, root)
      : Promise.resolve({ lines: [skip('crontab', NOT_CRON)], crontab: null });
  const cronDaemon = (): Promise<CheckLine> =>
    options.cron ? checkCronDaemon() : Promise.resolve(skip('cron daemon', NOT_CRON));
  let config: Config | null = null;
  let configLine: CheckLine;
  try {
    config = await loadConfig(file, env);
    configLine = ok(
      `config ${file}`,
      `valid: ${config.targets.length} target(s), interval ${formatDuration(config.intervalMs)}`,
    );
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    configLine = fail(
      `config ${file}`,
      error.message.replace(`cronwatch: config ${file} `, '').replace(/^cronwatch: /, ''),
    );
  }
  const nowMs = Date.now();
  if (config === null) {
    const [build, crontab, daemon] = await Promise.all([checkBuild(root), crontabOf(null), cronDaemon()]);
    return [configLine, build, ...crontab.lines, daemon];
  }
  const loaded = config;
  const unset = describeUnset(loaded.unsetEnv);
  const environment =
    unset === null ? [] : [fail('environment', `${unset}. Fix: export it, and set it for cron (crontab -e)`)];
  // A part whose variable is unset is configured, though null in the config: not "not configured".
  const off = (line: CheckLine, part: string): CheckLine => {
    const variables = unsetUnder(loaded.unsetEnv, part);
    if (line.status !== 'skip' || variables.length === 0) return line;
    return skip(line.label, `off: ${variables.join(', ')} not set (see environment)`);
  };
  const secrets = secretsOf(loaded);
  const [
    stateDir,
    build,
    crontab,
    daemon,
    telegram,
    webhook,
    pings,
    healthchecks,
    targets,
    shared,
    lastRun,
    outbox,
  ] = await Promise.all([
    checkStateDir(loaded),
    checkBuild(root),
    crontabOf(loaded),
    cronDaemon(),
    checkTelegram(loaded.channels.telegram),
    checkWebhook(loaded),
    checkPingHosts(loaded),
    checkHealthchecks(loaded),
    Promise.all(loaded.targets.map(checkTarget)),
    checkSharedProcesses(loaded),
    checkLastRun(loaded, nowMs),
    checkOutbox(loaded, secrets),
  ]);
  const telegramWorks = telegram.every((line) => line.status === 'ok');
  const released = telegramWorks ? await releaseHeldTelegram(loaded) : null;
  const cronEnv =
    crontab.crontab === null
      ? []
      : findBlock(crontab.crontab, file).kind === 'found'
        ? [await checkCronEnvironment(loaded, crontab.crontab)]
        : [];
  const lines = [
    configLine,
    ...environment,
    stateDir,
    build,
    ...crontab.lines,
    ...cronEnv,
    daemon,
    ...telegram.map((line) => off(line, 'channels.telegram')),
    off(webhook, 'channels.webhook'),
    ...pings.map((line) => off(line, 'heartbeat')),
    ...healthchecks.map((line) => off(line, 'healthchecks')),
    ...targets,
    ...shared,
    lastRun,
    ...outbox,
    ...(released === null ? [] : [released]),
  ];
  // Each check names origins only; this catches what one quotes from a server or a client.
  return lines.map((line) => ({
    ...line,
    label: redact(line.label, secrets),
    detail: redact(line.detail, secrets),
  }));
}

/** The report as printed: one line per check, then a count. */
export function formatDoctor(lines: readonly CheckLine[], ascii: boolean): string {
  const marks = MARKS[ascii ? 'ascii' : 'unicode'];
  const failed = lines.filter((line) => line.status === 'fail').length;
  const checked = lines.filter((line) => line.status !== 'skip').length;
  const body = lines.map(
    (line) => `${marks[line.status]} ${line.label}: ${line.detail.split('\n').join('\n    ')}`,
  );
  const verdict =
    failed === 0 ? `doctor: all ${checked} checks passed` : `doctor: ${failed} of ${checked} checks failed`;
  return `${[...body, verdict].join('\n')}\n`;
}

export const command = defineCommand({
  usage: 'doctor',
  describe: 'check the setup, one line per check; exits 1 when any fails',
  builder: (args) =>
    args
      .option('ascii', {
        type: 'boolean',
        describe: 'mark lines ok / FAIL instead of ✓ / ✗ (the default outside a UTF-8 locale)',
      })
      .option('cron', {
        type: 'boolean',
        default: true,
        describe: 'check the crontab and the cron daemon (--no-cron: a systemd timer or launchd runs check)',
      }),
  run: async (args) => {
    const file = configPath(args.config, process.env, process.cwd());
    const lines = await runDoctor(file, process.env, { cron: args.cron });
    const ascii = args.ascii ?? !localeIsUtf8(process.env);
    process.stdout.write(formatDoctor(lines, ascii));
    return lines.some((line) => line.status === 'fail') ? EXIT_NOT_UP : EXIT_OK;
  },
});
