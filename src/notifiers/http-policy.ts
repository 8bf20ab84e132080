/**
 * What the HTTP channels (Telegram, webhook) share: the limits of one `send`, and the helpers that
 * turn a failed request into an error text built from codes, never from messages that may quote a
 * secret URL.
 */

import { createHash } from 'node:crypto';

/** One HTTP request. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** One `send`, retries and rate-limit waits included. */
export const DEFAULT_SEND_TIMEOUT_MS = 30_000;
/** Longer 429 waits are not sat out: the message is left for the next run. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 15_000;
/** In-run retries of a 429, 5xx, timeout or network error. */
export const DEFAULT_RETRIES = 2;
/** Base of the exponential backoff between in-run retries. */
export const DEFAULT_RETRY_BACKOFF_MS = 1000;

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

/** Whether `error` or one of its causes carries the Node error code `code`. */
export function hasCode(error: unknown, code: string): boolean {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth += 1) {
    if ((current as NodeJS.ErrnoException).code === code) return true;
    current = current.cause;
  }
  return false;
}

/**
 * `fetch failed: ECONNREFUSED`: the error's message and its causes' codes or messages. A code
 * starting with `vagueCodePrefix` says nothing the message does not, so the message stands for it.
 */
export function describeCauses(error: unknown, vagueCodePrefix?: string): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth += 1) {
    if (current instanceof Error) {
      const code = (current as NodeJS.ErrnoException).code;
      const telling =
        typeof code === 'string' && (vagueCodePrefix === undefined || !code.startsWith(vagueCodePrefix));
      parts.push(telling ? code : current.message);
      current = current.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.join(': ');
}

/** A hash of a channel's whole config: shows that it changed, reveals nothing of its secrets. */
export function fingerprintOf(material: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(material)).digest('hex').slice(0, 16);
}
