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
 * (anyone holding it can ping), so results name only its origin.
 */
import type { Agent } from 'node:http';
import { VERSION } from '../core/version.js';
import { httpRequest, transportFor } from './node-http.js';

/** Each attempt is given up after this long (runitor's default too). */
export const PING_TIMEOUT_MS = 5000;
/** Attempts after the first, on a network error, a timeout, a 408, a 429 or a 5xx. */
export const PING_RETRIES = 2;
/** Waits before the retries, doubled each time. */
export const PING_BACKOFF_MS = 1000;
/** All of a session's pings together hold the run at most this long. */
export const PING_BUDGET_MS = 15_000;
/** What a body is cut to until the server announces its `Ping-Body-Limit`. */
export const DEFAULT_PING_BODY_LIMIT_BYTES = 10_000;
export const USER_AGENT = `cronwatch/${VERSION}`;

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
  /** What went wrong, naming only the URL's origin; null when ok. */
  readonly error: string | null;
}

export interface PingOptions {
  /** Default `PING_TIMEOUT_MS`. */
  readonly timeoutMs?: number;
  /** Default `PING_RETRIES`. */
  readonly retries?: number;
  /** Default `PING_BACKOFF_MS`. */
  readonly backoffMs?: number;
  /** Default `PING_BUDGET_MS`. */
  readonly budgetMs?: number;
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
  const chars = Array.from(text);
  const bytes = chars.map((char) => encoder.encode(char).length);
  const marker = (cut: number) => `\n[… ${cut} characters cut …]\n`;
  const budget = maxBytes - encoder.encode(marker(chars.length)).length;
  let head = 0;
  let tail = chars.length;
  let used = 0;
  for (let turn = 0; head < tail; turn += 1) {
    const size = turn % 2 === 0 ? bytes[head]! : bytes[tail - 1]!;
    if (used + size > budget) break;
    used += size;
    if (turn % 2 === 0) head += 1;
    else tail -= 1;
  }
  return `${chars.slice(0, head).join('')}${marker(tail - head)}${chars.slice(tail).join('')}`;
}

/** The announced limit, when the header holds a positive whole number (runitor reads it so). */
export function announcedLimit(header: string | string[] | undefined): number | null {
  const text = Array.isArray(header) ? header[0] : header;
  if (text === undefined || !/^\d+$/.test(text.trim())) return null;
  const bytes = Number(text);
  return bytes > 0 && Number.isSafeInteger(bytes) ? bytes : null;
}

function describeError(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'no answer in time';
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
}

/** runitor's list: request timeout, rate limit, server errors. */
function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Starts a session; its budget is spent only while `drain` waits. */
export function createPingSession(options: PingOptions = {}): PingSession {
  const timeoutMs = options.timeoutMs ?? PING_TIMEOUT_MS;
  const retries = options.retries ?? PING_RETRIES;
  const backoffMs = options.backoffMs ?? PING_BACKOFF_MS;
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

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      if (giveUp.signal.aborted) {
        resolve();
        return;
      }
      const timer = setTimeout(resolve, ms);
      giveUp.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
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
        await pause(backoffMs * 2 ** (attempt - 1));
      }
      if (giveUp.signal.aborted) break;
      const remainingMs = deadlineMs === null ? timeoutMs : Math.min(timeoutMs, deadlineMs - Date.now());
      if (remainingMs <= 0) break;
      attempts += 1;
      try {
        const url = new URL(target);
        const answer = await httpRequest(target, {
          method: 'POST',
          headers: { 'content-type': 'text/plain; charset=utf-8', 'user-agent': USER_AGENT },
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
        if (!retryable(status)) break;
      } catch (caught) {
        error = giveUp.signal.aborted ? 'no answer before the time for pings ran out' : describeError(caught);
      }
    }
    return { ping, ok: false, status, attempts, error: `${ping.kind} ping to ${where}: ${error}` };
  };

  const session: PingSession = {
    send(pings) {
      const results = pings.map((ping) => {
        const before = chains.get(ping.url) ?? Promise.resolve();
        const result = before.then(() =>
          sendOne(ping).catch(
            (caught: unknown): PingResult => ({
              ping,
              ok: false,
              status: null,
              attempts: 0,
              error: `${ping.kind} ping: ${describeError(caught)}`,
            }),
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
