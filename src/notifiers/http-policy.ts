/**
 * What every HTTP sender shares (the Telegram and webhook channels, the pings, the healthchecks
 * Management API): how long a request may take, how often and how soon a failure is tried again,
 * which answers are worth another try, and the one description of a failed request, built from
 * codes, never from messages that may quote a secret URL.
 */

/** One HTTP request of a channel or of the Management API. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** One `send`, retries and rate-limit waits included. */
export const DEFAULT_SEND_TIMEOUT_MS = 30_000;
/** Longer 429 waits are not sat out: the message is left for the next run. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 15_000;
/** In-run retries of a 408, 429, 5xx, timeout or network error: a channel's and a ping's. */
export const DEFAULT_RETRIES = 2;
/** Base of the exponential backoff between in-run retries: a channel's and a ping's. */
export const DEFAULT_RETRY_BACKOFF_MS = 1000;
/**
 * One ping attempt (runitor's default too). Shorter than a channel's request: a ping holds every
 * cron run, healthy ones included, and its three attempts with their backoff must fit the budget.
 */
export const PING_TIMEOUT_MS = 5000;
/**
 * All of a run's pings together hold it at most this long. A channel's bound is per `send`
 * (`DEFAULT_SEND_TIMEOUT_MS`) because an alert is worth waiting for; a ping is not: a missing
 * ping is itself what the service alerts on.
 */
export const PING_BUDGET_MS = 15_000;

/** How hard an HTTP channel tries within one run. */
export interface HttpChannelOptions {
  /** Per-request timeout; default `DEFAULT_REQUEST_TIMEOUT_MS`. */
  readonly requestTimeoutMs?: number;
  /** Bound on one `send`, retries and waits included; default `DEFAULT_SEND_TIMEOUT_MS`. */
  readonly sendTimeoutMs?: number;
  /** Longest 429 wait sat out; default `DEFAULT_MAX_RETRY_AFTER_MS`. */
  readonly maxRetryAfterMs?: number;
  /** In-run retries of transient failures; default `DEFAULT_RETRIES`. */
  readonly retries?: number;
  /** Backoff base between in-run retries; default `DEFAULT_RETRY_BACKOFF_MS`. */
  readonly retryBackoffMs?: number;
  /** Least time between two messages; the default is the channel's. */
  readonly pacingMs?: number;
}

/** The limits of an HTTP channel's `send`: `options` with every default filled in. */
export type ChannelLimits = Required<Omit<HttpChannelOptions, 'pacingMs'>>;

export function channelLimits(options: HttpChannelOptions): ChannelLimits {
  return {
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    sendTimeoutMs: options.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS,
    maxRetryAfterMs: options.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS,
    retries: options.retries ?? DEFAULT_RETRIES,
    retryBackoffMs: options.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF_MS,
  };
}

/** An answer worth another try: request timeout, rate limit, server error (runitor's list too). */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** The wait before retry number `retry` (0: the first): `baseMs`, doubled each time. */
export function backoffMs(baseMs: number, retry: number): number {
  return baseMs * 2 ** retry;
}

/** Waits `ms`; false, at once, when `signal` aborts first (or already has). */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve(false);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Whether `error` or one of its causes carries the Node error code `code`. */
export function hasCode(error: unknown, code: string): boolean {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth += 1) {
    if ((current as NodeJS.ErrnoException).code === code) return true;
    current = current.cause;
  }
  return false;
}

/** The Telegram client's own codes (EFETCH) say nothing its message does not. */
const VAGUE_CODE_PREFIX = 'EFETCH';

/**
 * `fetch failed: ECONNREFUSED`, `ECONNRESET`, `no answer within 5000 ms`: the error's code or
 * message and its causes' codes or messages.
 */
export function describeCauses(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth += 1) {
    if (current instanceof Error) {
      const code = (current as NodeJS.ErrnoException).code;
      parts.push(typeof code === 'string' && !code.startsWith(VAGUE_CODE_PREFIX) ? code : current.message);
      current = current.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.join(': ');
}
