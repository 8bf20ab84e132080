/**
 * `createNotifier`: the watched program's own way to tell its owner something, through cronwatch's
 * alert path: each message is written to the outbox in `stateDir` before it is sent, sent to
 * Telegram (or stderr), and what could not be sent is retried on the next `send` or `flush`, or
 * by cronwatch's next run when both use the same state dir.
 *
 * Dedup and the rate limit are kept in memory, per notifier: they protect the chat from a loop in
 * one process; a crash loop is cronwatch's to report.
 */

import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { channelsOf } from '../cli/alerting.js';
import type { TelegramChannelConfig } from '../core/types.js';
import { deliverOutbox } from '../notifiers/deliver.js';
import { acquireLock } from '../store/lock.js';
import { enqueue, newEnvelopeId, readOutbox } from '../store/outbox.js';
import { type Duration, durationMs } from './duration.js';

/** Messages with the same key within this window are sent once. */
export const DEFAULT_DEDUP_WINDOW: Duration = '1h';
/** At most this many messages per notifier in `per`; more are dropped and counted. */
export const DEFAULT_RATE_LIMIT = { count: 20, per: '1h' } as const satisfies RateLimit;

const DEFAULT_API_ROOT = 'https://api.telegram.org';
// The run lock is held while delivering, and a cronwatch run that finds it held gives up (exit 75):
// keep a delivery short, and leave what did not fit for the next call.
const SEND_TIMEOUT_MS = 10_000;
const DELIVERY_BUDGET_MS = 10_000;

export interface NotifierTelegramConfig {
  /** The bot token; it never appears in a result, an error or the outbox. */
  readonly token: string;
  /** A chat id (`-1001234567890`) or `@channelname`. */
  readonly chatId: string | number;
  /** Bot API root; default `https://api.telegram.org`. */
  readonly apiRoot?: string;
  /** A forum topic to post in. */
  readonly threadId?: number;
}

export interface RateLimit {
  readonly count: number;
  readonly per: Duration;
}

export interface NotifierConfig {
  /**
   * Where the outbox (and the lock that keeps two processes from delivering it at once) lives;
   * created 0700. Use cronwatch's `state_dir` so that its runs also deliver what this process left
   * behind, but only when both send to the same channels: an envelope counts as delivered to
   * `telegram` whichever process's chat took it.
   */
  readonly stateDir: string;
  /** Named in every message; default the host name. */
  readonly host?: string;
  /** Without it, messages are written to stderr. */
  readonly telegram?: NotifierTelegramConfig;
  /** Default `DEFAULT_DEDUP_WINDOW` (1h); 0 turns dedup off. */
  readonly dedupWindow?: Duration;
  /** Default `DEFAULT_RATE_LIMIT` (20 per hour). */
  readonly rateLimit?: RateLimit;
}

export interface NotifyOptions {
  /**
   * Messages with the same key within the dedup window are sent once (a failure reported on
   * every attempt reaches the chat once). Default: the text itself.
   */
  readonly key?: string;
  /** Delivered without sound (a routine health line). */
  readonly silent?: boolean;
}

/** How one `send` ended. */
export type NotifyResult =
  /** Every channel accepted it. */
  | { readonly kind: 'delivered'; readonly id: string }
  /** In the outbox, to be retried; `reason` says why it is not sent yet. */
  | { readonly kind: 'queued'; readonly id: string; readonly reason: string }
  /** The same key was sent within the dedup window; nothing was recorded. */
  | { readonly kind: 'duplicate'; readonly key: string }
  /** Over the rate limit; dropped, and counted in the next message that goes out. */
  | { readonly kind: 'rate_limited'; readonly dropped: number };

/** What a `flush` did. */
export interface FlushResult {
  /** Envelopes delivered by this call. */
  readonly delivered: number;
  /** Envelopes still in the outbox. */
  readonly pending: number;
  /** Why some are still pending; null when none are. */
  readonly reason: string | null;
}

export interface Notifier {
  /**
   * Records `text` in the outbox, then delivers everything waiting there. Rejects only when the
   * message could not be recorded; a failed delivery resolves as `queued`.
   */
  send(text: string, options?: NotifyOptions): Promise<NotifyResult>;
  /** Delivers what is waiting in the outbox (call it now and then, e.g. with a periodic health line). */
  flush(): Promise<FlushResult>;
}

type Delivery =
  | {
      readonly kind: 'done';
      readonly delivered: number;
      /** Why each envelope still pending is, by id. */
      readonly reasons: ReadonlyMap<string, string>;
    }
  | { readonly kind: 'skipped'; readonly reason: string };

/**
 * A notifier on cronwatch's alert path.
 * @throws TypeError on a bad config value, quoting it (never the token).
 */
export function createNotifier(config: NotifierConfig): Notifier {
  if (typeof config?.stateDir !== 'string' || config.stateDir.trim() === '') {
    throw new TypeError(`Expected \`stateDir\` to be a directory path, got \`${String(config?.stateDir)}\``);
  }
  const stateDir = resolve(config.stateDir);
  const host = config.host ?? hostname();
  const dedupWindowMs = durationMs(config.dedupWindow ?? DEFAULT_DEDUP_WINDOW, 'dedupWindow');
  const rateLimit = config.rateLimit ?? DEFAULT_RATE_LIMIT;
  if (!Number.isInteger(rateLimit.count) || rateLimit.count < 1) {
    throw new TypeError(
      `Expected \`rateLimit.count\` to be a whole number of at least 1, got \`${rateLimit.count}\``,
    );
  }
  const rateWindowMs = durationMs(rateLimit.per, 'rateLimit.per');
  const telegram = config.telegram === undefined ? null : telegramConfig(config.telegram);
  // Built on the first delivery: a notifier that never sends never loads a channel.
  let channels: ReturnType<typeof channelsOf> | undefined;

  const lastSentMs = new Map<string, number>();
  let recentMs: number[] = [];
  let dropped = 0;
  // One delivery at a time in this process; each waits for the one before, then sends all that waits.
  let deliveries: Promise<unknown> = Promise.resolve();

  const deliverOnce = async (): Promise<Delivery> => {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const lock = await acquireLock(stateDir, Date.now());
    if (lock.kind === 'held') {
      return { kind: 'skipped', reason: `another process (pid ${lock.pid}) is delivering the outbox` };
    }
    try {
      channels ??= channelsOf(
        { channels: { telegram, webhook: null }, unsetEnv: [] },
        { sendTimeoutMs: SEND_TIMEOUT_MS },
      );
      const report = await deliverOutbox(stateDir, await channels, { budgetMs: DELIVERY_BUDGET_MS });
      const reasons = new Map<string, string>();
      const latest = report.retryErrors.at(-1)?.error ?? null;
      for (const entry of report.pending) {
        const refusal = Object.values(entry.permanent)[0]?.error;
        reasons.set(
          entry.id,
          refusal ?? entry.lastError ?? latest ?? 'not tried yet (delivery time budget used up)',
        );
      }
      return { kind: 'done', delivered: report.delivered.length, reasons };
    } finally {
      await lock.release();
    }
  };

  const deliver = (): Promise<Delivery> => {
    const next = deliveries
      .then(deliverOnce)
      .catch((error: Error): Delivery => ({ kind: 'skipped', reason: `delivery failed: ${error.message}` }));
    deliveries = next;
    return next;
  };

  return {
    async send(text, options = {}) {
      if (typeof text !== 'string' || text.trim() === '') {
        throw new TypeError(`Expected the message to be a non-empty string, got \`${String(text)}\``);
      }
      const key = options.key ?? text;
      const nowMs = Date.now();
      for (const [seen, atMs] of lastSentMs) if (nowMs - atMs >= dedupWindowMs) lastSentMs.delete(seen);
      if (lastSentMs.has(key)) return { kind: 'duplicate', key };
      recentMs = recentMs.filter((atMs) => nowMs - atMs < rateWindowMs);
      if (recentMs.length >= rateLimit.count) {
        dropped += 1;
        return { kind: 'rate_limited', dropped };
      }
      // Counted before the first await, so that sends made side by side see each other.
      if (dedupWindowMs > 0) lastSentMs.set(key, nowMs);
      recentMs.push(nowMs);
      const droppedBefore = dropped;
      dropped = 0;
      const note =
        droppedBefore === 0 ? '' : `\n(${droppedBefore} earlier message(s) dropped by the rate limit)`;
      const id = newEnvelopeId(nowMs);
      try {
        await enqueue(stateDir, {
          id,
          host,
          createdMs: nowMs,
          silent: options.silent ?? false,
          alerts: [{ kind: 'message', text: `${text}${note}`, atMs: nowMs }],
        });
      } catch (error) {
        // Not sent: a retry of the same message must not count as a duplicate.
        lastSentMs.delete(key);
        recentMs.splice(recentMs.lastIndexOf(nowMs), 1);
        dropped += droppedBefore;
        throw new Error(
          `Could not record the message in the outbox in ${stateDir}: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      const delivery = await deliver();
      if (delivery.kind === 'skipped') return { kind: 'queued', id, reason: delivery.reason };
      const reason = delivery.reasons.get(id);
      // Not pending after a delivery under the lock: it left the outbox, which only delivery does.
      return reason === undefined ? { kind: 'delivered', id } : { kind: 'queued', id, reason };
    },

    async flush() {
      const waiting = (await readOutbox(stateDir)).entries.length;
      if (waiting === 0) return { delivered: 0, pending: 0, reason: null };
      const delivery = await deliver();
      if (delivery.kind === 'skipped') return { delivered: 0, pending: waiting, reason: delivery.reason };
      const reasons = [...delivery.reasons.values()];
      return { delivered: delivery.delivered, pending: reasons.length, reason: reasons.at(-1) ?? null };
    },
  };
}

function telegramConfig(telegram: NotifierTelegramConfig): TelegramChannelConfig {
  if (typeof telegram.token !== 'string' || telegram.token.trim() === '') {
    throw new TypeError('Expected `telegram.token` to be the bot token, got an empty value');
  }
  const chatId = String(telegram.chatId ?? '').trim();
  if (!/^(-?\d+|@\w+)$/.test(chatId)) {
    throw new TypeError(
      `Expected \`telegram.chatId\` to be a chat id like -1001234 or @channel, got \`${chatId}\``,
    );
  }
  const apiRoot = telegram.apiRoot ?? DEFAULT_API_ROOT;
  if (!/^https?:\/\/[^\s/]+/.test(apiRoot)) {
    throw new TypeError(`Expected \`telegram.apiRoot\` to be an http(s) URL, got \`${apiRoot}\``);
  }
  const threadId = telegram.threadId ?? null;
  if (threadId !== null && !(Number.isInteger(threadId) && threadId > 0)) {
    throw new TypeError(`Expected \`telegram.threadId\` to be a positive whole number, got \`${threadId}\``);
  }
  return { token: telegram.token, chatId, apiRoot: apiRoot.replace(/\/+$/, ''), threadId };
}
