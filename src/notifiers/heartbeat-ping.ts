/**
 * Pings in the healthchecks.io protocol (also self-hosted healthchecks, and services that copy
 * it): `<url>/start` when a run begins, `<url>` when it ends well, `<url>/fail` when it could not
 * do its job, each with `?rid=<uuid>` so the service pairs a run's start with its end and
 * measures its duration. The end pings carry a short text body the service shows in its log.
 *
 * A ping never fails nor holds up the run: each attempt has a timeout, failures are retried a
 * couple of times while a batch's time budget lasts, and the outcome is returned, not thrown.
 * A ping URL is a secret of sorts (anyone holding it can ping), so results name only its origin.
 */

/** Each attempt is given up after this long. */
export const PING_TIMEOUT_MS = 10_000;
/** Attempts after the first, on a network error, a timeout, a 429 or a 5xx. */
export const PING_RETRIES = 2;
/** Waits before the retries, doubled each time. */
export const PING_BACKOFF_MS = 1000;
/** A batch of pings, sent in parallel, ends after this long whatever is still pending. */
export const PING_BUDGET_MS = 15_000;
/** healthchecks keeps 100 kB of a body by default; a short report is what a reader scans. */
export const PING_BODY_MAX_BYTES = 10_000;

/** start: a run began; success: it did its job; fail: it could not. */
export type PingKind = 'start' | 'success' | 'fail';

export interface Ping {
  /** The check's ping URL, e.g. `https://hc-ping.com/<uuid>`. */
  readonly url: string;
  readonly kind: PingKind;
  /** Run id pairing a start with its end; null: none. */
  readonly rid: string | null;
  /** Sent by POST as text/plain, cut to `PING_BODY_MAX_BYTES`; null: a GET. */
  readonly body: string | null;
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

const SUFFIXES: { readonly [K in PingKind]: string } = { start: '/start', success: '', fail: '/fail' };

/** The URL to request for a ping: the kind's suffix on the path, the rid in the query. */
export function pingUrl(base: string, kind: PingKind, rid: string | null): string {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${SUFFIXES[kind]}`;
  if (rid !== null) url.searchParams.set('rid', rid);
  return url.toString();
}

/**
 * `text` cut to at most `maxBytes` of UTF-8, keeping its start and its end (a report's first
 * line says what happened, its last lines what was left), with a marker where it was cut.
 */
export function cutBody(text: string, maxBytes = PING_BODY_MAX_BYTES): string {
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

function describeError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return 'no answer in time';
  }
  return cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
}

function retryable(status: number): boolean {
  return status === 429 || status >= 500;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function sendOne(ping: Ping, deadlineMs: number, options: Required<PingOptions>): Promise<PingResult> {
  const url = pingUrl(ping.url, ping.kind, ping.rid);
  const where = new URL(ping.url).origin;
  let status: number | null = null;
  let error = 'not sent';
  let attempts = 0;
  for (let attempt = 0; attempt <= options.retries; attempt += 1) {
    if (attempt > 0) {
      const waitMs = options.backoffMs * 2 ** (attempt - 1);
      if (Date.now() + waitMs >= deadlineMs) break;
      await sleep(waitMs);
    }
    const remainingMs = deadlineMs - Date.now();
    if (remainingMs <= 0) break;
    attempts += 1;
    try {
      const signal = AbortSignal.timeout(Math.min(options.timeoutMs, remainingMs));
      const response = await fetch(url, {
        method: ping.body === null ? 'GET' : 'POST',
        headers: ping.body === null ? {} : { 'content-type': 'text/plain; charset=utf-8' },
        body: ping.body === null ? null : cutBody(ping.body),
        signal,
      });
      status = response.status;
      // Read to the end, so the connection is free again and nothing is left open.
      await response.text();
      if (response.ok) return { ping, ok: true, status, attempts, error: null };
      error = `HTTP ${status}`;
      if (!retryable(status)) break;
    } catch (caught) {
      error = describeError(caught);
    }
  }
  return { ping, ok: false, status, attempts, error: `${ping.kind} ping to ${where}: ${error}` };
}

/**
 * Sends `pings` in parallel and resolves when every one has succeeded or given up, at most
 * about `budgetMs` after the call. Never rejects.
 */
export async function sendPings(pings: readonly Ping[], options: PingOptions = {}): Promise<PingResult[]> {
  const resolved: Required<PingOptions> = {
    timeoutMs: options.timeoutMs ?? PING_TIMEOUT_MS,
    retries: options.retries ?? PING_RETRIES,
    backoffMs: options.backoffMs ?? PING_BACKOFF_MS,
    budgetMs: options.budgetMs ?? PING_BUDGET_MS,
  };
  const deadlineMs = Date.now() + resolved.budgetMs;
  return Promise.all(
    pings.map((ping) =>
      sendOne(ping, deadlineMs, resolved).catch(
        (error: unknown): PingResult => ({
          ping,
          ok: false,
          status: null,
          attempts: 0,
          error: `${ping.kind} ping: ${describeError(error)}`,
        }),
      ),
    ),
  );
}
