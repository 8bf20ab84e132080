/**
 * Pings in the healthchecks.io protocol (also self-hosted healthchecks, and services that copy
 * it), as its docs and runitor send them: `<url>/start` when a run begins, `<url>` when it ends
 * well, `<url>/fail` when it could not do its job, `<url>/log` for an event that changes nothing,
 * with `?rid=<uuid>` pairing a start with its end so the service measures the run's duration.
 *
 * - Every ping is a POST. healthchecks records a GET to a check set to "only POST" as ignored
 *   (hc/api/views.py: `if check.methods == "POST" and method != "POST": action = "ign"`), so a
 *   GET /start there would give no duration, no "started" state and no alert on an overrun.
 * - `User-Agent: cronwatch/<version>`: the service's log shows who pinged.
 * - A body is cut to the `Ping-Body-Limit` the server announced in an earlier answer of the
 *   session, 10,000 bytes before it says anything (healthchecks' default `PING_BODY_LIMIT`).
 *   The server keeps only the head (`body = request.body[: settings.PING_BODY_LIMIT]`); cut here,
 *   head and tail, the end of a report, which says how the run ended, survives.
 * - One budget for all of a session's pings: `drain()` waits at most what is left of
 *   `PING_BUDGET_MS`, then abandons what is still pending. Pings sent earlier (the start, while
 *   the run works) run in the background and cost the run nothing unless drain waits for them.
 *
 * A ping never fails nor throws: the outcome is returned. A ping URL is a secret of sorts
 * (anyone holding it can ping; in slug mode its path holds the project's ping key), so results
 * name only its origin, and pass through `redact` with the URL and the session's secrets all the
 * same.
 *
 * Timeouts, retries and backoff are http-policy.ts's: the retries and backoff a channel's, the
 * attempt's timeout and the budget the pings' own.
 */
import type { Agent } from 'node:http';
import { redact } from '../core/redact.js';
import {
  backoffMs,
  DEFAULT_RETRIES,
  DEFAULT_RETRY_BACKOFF_MS,
  describeCauses,
  isRetryableStatus,
  PING_BUDGET_MS,
  PING_TIMEOUT_MS,
  sleepUnlessAborted,
} from './http-policy.js';
import { httpRequest, transportFor } from './node-http.js';

/** What a body is cut to until the server announces its `Ping-Body-Limit`. */
export const DEFAULT_PING_BODY_LIMIT_BYTES = 10_000;

/** start: a run began; success: it did its job; fail: it could not; log: an event only. */
export type PingKind = 'start' | 'success' | 'fail' | 'log';

export interface Ping {
  /** The check's ping URL, e.g. `https://hc-ping.com/<uuid>` or `<ping_url>/<ping_key>/<slug>`. */
  readonly url: string;
  readonly kind: PingKind;
  /** Run id pairing a start with its end; null: none. */
  readonly rid: string | null;
  /** Sent as text/plain, cut to the server's limit; empty for a start. */
  readonly body: string;
}

export interface PingResult {
  readonly ping: Ping;
  readonly ok: boolean;
  /** The last HTTP status received; null when none was. */
  readonly status: number | null;
  readonly attempts: number;
  /** What went wrong, naming only the URL's origin, redacted; null when ok. */
  readonly error: string | null;
}

export interface PingOptions {
  /** Default `PING_TIMEOUT_MS`. */
  readonly timeoutMs?: number;
  /** Default `DEFAULT_RETRIES`. */
  readonly retries?: number;
  /** Default `DEFAULT_RETRY_BACKOFF_MS`. */
  readonly backoffMs?: number;
  /** Default `PING_BUDGET_MS`. */
  readonly budgetMs?: number;
  /** Hidden from every error besides the ping's own URL (`secretsOf(config)`: the ping key...). */
  readonly secrets?: readonly string[];
}

export interface PingSession {
  /**
   * Sends `pings` now, without waiting for them. The pings of one check go out one after the
   * other, in the order sent (a start before its end, a `/log` before the end); different checks
   * in parallel. The promise resolves with these pings' results; it never rejects.
   */
  send(pings: readonly Ping[]): Promise<PingResult[]>;
  /**
   * Waits for every ping sent so far, at most what is left of the budget, then abandons the rest
   * and closes the connections. Resolves with every result of the session, in the order sent.
   */
  drain(): Promise<PingResult[]>;
  /** The body limit in force: the server's last `Ping-Body-Limit`, or the default. */
  readonly bodyLimitBytes: number;
}

const SUFFIXES: { readonly [K in PingKind]: string } = {
  start: '/start',
  success: '',
  fail: '/fail',
  log: '/log',
};

/** The URL to request for a ping: the kind's suffix on the path, the rid in the query. */
export function pingUrl(base: string, kind: PingKind, rid: string | null): string {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${SUFFIXES[kind]}`;
  if (rid !== null) url.searchParams.set('rid', rid);
  return url.toString();
}

/**
 * `text` cut to at most `maxBytes` of UTF-8, keeping its start and its end (a report's first
 * line says what happened, its last lines how it ended), with a marker where it was cut.
 */
export function cutBody(text: string, maxBytes = DEFAULT_PING_BODY_LIMIT_BYTES): string {
  const encoder = new TextEncoder();
  if (encoder.encode(text).length <= maxBytes) return text;
  // Walked a character (code point) at a time by index, in place: an array of every character
  // and an encoding of each cost a 1,000-target report (20 KB) ~12 ms.
  const chars = text.length - (text.match(SURROGATE_PAIRS)?.length ?? 0);
  const marker = (cut: number) => `\n[… ${cut} characters cut …]\n`;
  const budget = maxBytes - encoder.encode(marker(chars)).length;
  let head = 0;
  let tail = text.length;
  let kept = 0;
  let used = 0;
  for (let turn = 0; head < tail; turn += 1) {
    const at = turn % 2 === 0 ? head : pairs(text, tail - 2) ? tail - 2 : tail - 1;
    const code = text.codePointAt(at)!;
    const size = utf8Bytes(code);
    if (used + size > budget) break;
    used += size;
    kept += 1;
    if (turn % 2 === 0) head += code > 0xffff ? 2 : 1;
    else tail = at;
  }
  return `${text.slice(0, head)}${marker(chars - kept)}${text.slice(tail)}`;
}

/** A high surrogate followed by a low one: one character, two UTF-16 code units. */
const SURROGATE_PAIRS = /[\uD800-\uDBFF][\uDC00-\uDFFF]/g;

/** Whether the code units at `index` and after it are a surrogate pair. */
function pairs(text: string, index: number): boolean {
  const high = text.charCodeAt(index);
  const low = text.charCodeAt(index + 1);
  return high >= 0xd800 && high <= 0xdbff && low >= 0xdc00 && low <= 0xdfff;
}

/** UTF-8 bytes of one code point; a lone surrogate is encoded as U+FFFD, also 3 bytes. */
function utf8Bytes(code: number): number {
  return code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
}

/** The announced limit, when the header holds a positive whole number (runitor reads it so). */
export function announcedLimit(header: string | string[] | undefined): number | null {
  const text = Array.isArray(header) ? header[0] : header;
  if (text === undefined || !/^\d+$/.test(text.trim())) return null;
  const bytes = Number(text);
  return bytes > 0 && Number.isSafeInteger(bytes) ? bytes : null;
}

/** Starts a session; its budget is spent only while `drain` waits. */
export function createPingSession(options: PingOptions = {}): PingSession {
  const timeoutMs = options.timeoutMs ?? PING_TIMEOUT_MS;
  const retries = options.retries ?? DEFAULT_RETRIES;
  const retryBackoffMs = options.backoffMs ?? DEFAULT_RETRY_BACKOFF_MS;
  const secrets = options.secrets ?? [];
  let budgetLeftMs = options.budgetMs ?? PING_BUDGET_MS;
  let bodyLimitBytes = DEFAULT_PING_BODY_LIMIT_BYTES;
  /** Set while drain waits: nothing may go on past it. */
  let deadlineMs: number | null = null;
  let giveUp = new AbortController();
  const agents = new Map<string, Agent>();
  const chains = new Map<string, Promise<unknown>>();
  const all: Promise<PingResult>[] = [];

  const agentFor = async (url: URL): Promise<Agent> => {
    let agent = agents.get(url.protocol);
    if (agent === undefined) {
      agent = new (await transportFor(url)).Agent({ keepAlive: true });
      agents.set(url.protocol, agent);
    }
    return agent;
  };

  const failed = (ping: Ping, status: number | null, attempts: number, error: string): PingResult => ({
    ping,
    ok: false,
    status,
    attempts,
    error: redact(error, [ping.url, ...secrets]),
  });

  const sendOne = async (ping: Ping): Promise<PingResult> => {
    const where = new URL(ping.url).origin;
    const target = pingUrl(ping.url, ping.kind, ping.rid);
    let status: number | null = null;
    let error = 'not sent: the time for pings ran out';
    let attempts = 0;
    for (let attempt = 0; attempt <= retries; attempt += 1) {
      if (attempt > 0) {
        // A start that arrived after the run's end would show the check as running again.
        if (deadlineMs !== null && ping.kind === 'start') break;
        await sleepUnlessAborted(backoffMs(retryBackoffMs, attempt - 1), giveUp.signal);
      }
      if (giveUp.signal.aborted) break;
      const remainingMs = deadlineMs === null ? timeoutMs : Math.min(timeoutMs, deadlineMs - Date.now());
      if (remainingMs <= 0) break;
      attempts += 1;
      try {
        const url = new URL(target);
        const answer = await httpRequest(target, {
          method: 'POST',
          headers: { 'content-type': 'text/plain; charset=utf-8' },
          body: cutBody(ping.body, bodyLimitBytes),
          timeoutMs: remainingMs,
          signal: giveUp.signal,
          agent: await agentFor(url),
        });
        status = answer.status;
        bodyLimitBytes = announcedLimit(answer.headers['ping-body-limit']) ?? bodyLimitBytes;
        // healthchecks answers 201 to a ping that created its check (`?create=1`).
        if (status === 200 || status === 201) return { ping, ok: true, status, attempts, error: null };
        error = `HTTP ${status}`;
        if (!isRetryableStatus(status)) break;
      } catch (caught) {
        error = giveUp.signal.aborted
          ? 'no answer before the time for pings ran out'
          : describeCauses(caught);
      }
    }
    return failed(ping, status, attempts, `${ping.kind} ping to ${where}: ${error}`);
  };

  const session: PingSession = {
    send(pings) {
      const results = pings.map((ping) => {
        const before = chains.get(ping.url) ?? Promise.resolve();
        const result = before.then(() =>
          sendOne(ping).catch((caught: unknown) =>
            failed(ping, null, 0, `${ping.kind} ping: ${describeCauses(caught)}`),
          ),
        );
        chains.set(ping.url, result);
        all.push(result);
        return result;
      });
      return Promise.all(results);
    },
    async drain() {
      const startedMs = Date.now();
      deadlineMs = startedMs + Math.max(0, budgetLeftMs);
      const timer = setTimeout(() => giveUp.abort(), Math.max(0, budgetLeftMs));
      try {
        return await Promise.all(all);
      } finally {
        clearTimeout(timer);
        budgetLeftMs -= Date.now() - startedMs;
        deadlineMs = null;
        giveUp = new AbortController();
        for (const agent of agents.values()) agent.destroy();
        agents.clear();
      }
    },
    get bodyLimitBytes() {
      return bodyLimitBytes;
    },
  };
  return session;
}

/** Sends `pings` in one session and waits for them, at most about `budgetMs`. Never rejects. */
export async function sendPings(pings: readonly Ping[], options: PingOptions = {}): Promise<PingResult[]> {
  const session = createPingSession(options);
  void session.send(pings);
  return session.drain();
}
