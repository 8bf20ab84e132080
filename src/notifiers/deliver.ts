/**
 * Sends what waits in the outbox, oldest first, to every channel that has not accepted it yet.
 *
 * Order is kept per channel: once a channel fails in a way worth retrying (rate limit, 5xx,
 * timeout, network), nothing more is sent on it in this call, so a later alert never overtakes
 * an earlier one. An envelope leaves the outbox only when every given channel accepted it.
 *
 * A permanent refusal (bad token, bot blocked, chat not found) is recorded in the envelope's
 * file and reported once, then the envelope is kept but not sent to that channel again until
 * the channel's config changes (its fingerprint differs) or `permanentRetryAfterMs` (a day) has
 * passed. Kept, because an alert is never dropped and the fix (unblocking the bot, adding it back
 * to the group) usually happens outside our config; a daily retry notices that fix without
 * hammering, 288 times a day, an API that has said no. Newer envelopes are still tried once each,
 * which is also how a fix is noticed early. Meanwhile the held envelopes keep the outbox
 * non-empty, so the run's end-of-run ping reports `/fail` and `status`/`doctor` can show why.
 */

import type { Envelope } from '../core/types.js';
import { type OutboxEntry, readOutbox, remove, save } from '../store/outbox.js';
import type { Channel, SendResult } from './channel.js';

/** An envelope sent this much later than it was raised says so ("delayed, raised at ..."). */
export const DELAYED_AFTER_MS = 2 * 60_000;
/** A channel's permanent refusal of an envelope is tried again after this long. */
export const PERMANENT_RETRY_AFTER_MS = 24 * 60 * 60_000;
/** No new message is started after this long, so a large backlog cannot hold the run's lock for long. */
export const DEFAULT_DELIVERY_BUDGET_MS = 60_000;

export interface DeliverOptions {
  /** The clock; default `Date.now`. */
  readonly now?: () => number;
  /** How to wait between messages; default a timer. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Default `DELAYED_AFTER_MS`. */
  readonly delayedAfterMs?: number;
  /** Default `PERMANENT_RETRY_AFTER_MS`. */
  readonly permanentRetryAfterMs?: number;
  /** Default `DEFAULT_DELIVERY_BUDGET_MS`. */
  readonly budgetMs?: number;
}

/** A channel's failure on one envelope; `error` is token-free. */
export interface ChannelError {
  readonly id: string;
  readonly channel: string;
  readonly error: string;
}

/** An envelope still in the outbox after this call. */
export interface PendingEnvelope {
  readonly id: string;
  readonly createdMs: number;
  /** Channels that have not accepted it yet. */
  readonly waitingFor: readonly string[];
  readonly lastError: string | null;
  /** Channels holding it after a permanent refusal, with that refusal. */
  readonly permanent: OutboxEntry['permanent'];
}

export interface DeliveryReport {
  /** Ids of envelopes every channel has now accepted; they left the outbox. */
  readonly delivered: readonly string[];
  /** Envelopes still queued, oldest first. */
  readonly pending: readonly PendingEnvelope[];
  /** Permanent refusals that happened in this call (earlier ones are in `pending[].permanent`). */
  readonly permanentErrors: readonly ChannelError[];
  /** Transient failures in this call: what is left for the next run and why. */
  readonly retryErrors: readonly ChannelError[];
  /** Things to fix though the message went out (e.g. a Telegram chat id that moved). */
  readonly notices: readonly string[];
  /** Outbox files that could not be read, now renamed `*.corrupt`. */
  readonly corrupt: readonly string[];
  /** The time budget ran out before every envelope was tried. */
  readonly budgetExhausted: boolean;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Sends every pending envelope, in order, to each channel that has not accepted it, and records
 * the outcome in the outbox. Throws only when the outbox cannot be read or written, or when
 * `channels` is empty (with no channel every envelope would count as delivered: pass the
 * console channel when nothing is configured).
 */
export async function deliverOutbox(
  stateDir: string,
  channels: readonly Channel[],
  options: DeliverOptions = {},
): Promise<DeliveryReport> {
  if (channels.length === 0) throw new TypeError('Expected at least one channel to deliver the outbox to');
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const delayedAfterMs = options.delayedAfterMs ?? DELAYED_AFTER_MS;
  const permanentRetryAfterMs = options.permanentRetryAfterMs ?? PERMANENT_RETRY_AFTER_MS;
  const budgetMs = options.budgetMs ?? DEFAULT_DELIVERY_BUDGET_MS;

  const startMs = now();
  const { entries, corrupt } = await readOutbox(stateDir);
  const delivered: string[] = [];
  const pending: PendingEnvelope[] = [];
  const permanentErrors: ChannelError[] = [];
  const retryErrors: ChannelError[] = [];
  const notices: string[] = [];
  // Channels that must not be used again in this call, to keep the order or spare a dead end.
  const stopped = new Set<string>();
  const lastSentMs = new Map<string, number>();
  const sendTimes = new Map<string, number[]>();
  let budgetExhausted = false;

  const pace = async (channel: Channel) => {
    const last = lastSentMs.get(channel.name);
    if (last === undefined) return;
    const wait = channel.pacingMs - (now() - last);
    if (wait > 0) await sleep(wait);
  };

  const isHeld = (entry: OutboxEntry, channel: Channel): boolean => {
    const held = entry.permanent[channel.name];
    return (
      held !== undefined &&
      held.fingerprint === channel.fingerprint &&
      now() - held.atMs < permanentRetryAfterMs
    );
  };
  // A channel with something new to send is tried anyway; then the held envelopes go first, so
  // once the owner has fixed the channel (unblocked the bot) the old alerts arrive before the new.
  const freshWork = new Set(
    channels
      .filter((channel) =>
        entries.some((entry) => !entry.delivered.includes(channel.name) && !isHeld(entry, channel)),
      )
      .map((channel) => channel.name),
  );

  for (const original of entries) {
    let entry = original;
    for (const channel of channels) {
      if (budgetExhausted || stopped.has(channel.name) || entry.delivered.includes(channel.name)) continue;
      if (isHeld(entry, channel) && !freshWork.has(channel.name)) continue;
      if (now() - startMs >= budgetMs) {
        budgetExhausted = true;
        continue;
      }
      const parts = channel.render(envelopeOf(entry), { delayed: now() - entry.createdMs > delayedAfterMs });
      let sent = entry.sentParts[channel.name] ?? 0;
      let failure: Exclude<SendResult, { kind: 'delivered' }> | null = null;
      while (sent < parts.length) {
        const sentTimes = (sendTimes.get(channel.name) ?? []).filter((at) => now() - at < 60_000);
        if (channel.perMinute !== undefined && sentTimes.length >= channel.perMinute) {
          // Over the chat's per-minute limit: the rest waits, in order, for the next run.
          failure = {
            kind: 'retry',
            error: `more than ${channel.perMinute} messages in a minute; the rest waits`,
          };
          break;
        }
        await pace(channel);
        sendTimes.set(channel.name, [...sentTimes, now()]);
        const result = await sendSafely(channel, parts[sent]!, entry.silent);
        const attemptMs = now();
        lastSentMs.set(channel.name, attemptMs);
        entry = { ...entry, attempts: entry.attempts + 1, lastAttemptMs: attemptMs };
        if (result.kind !== 'delivered') {
          failure = result;
          break;
        }
        sent += 1;
        if (result.notice !== undefined && !notices.includes(result.notice)) notices.push(result.notice);
        // Saved after every part: a run that dies now resends at most the part in flight.
        entry = { ...entry, sentParts: { ...entry.sentParts, [channel.name]: sent } };
        await save(stateDir, entry);
      }
      if (failure === null) {
        const { [channel.name]: _parts, ...sentParts } = entry.sentParts;
        const { [channel.name]: _held, ...permanent } = entry.permanent;
        entry = { ...entry, delivered: [...entry.delivered, channel.name], sentParts, permanent };
        await save(stateDir, entry);
        continue;
      }
      const error = { id: entry.id, channel: channel.name, error: failure.error };
      entry = { ...entry, lastError: failure.error };
      if (failure.kind === 'retry') {
        retryErrors.push(error);
        stopped.add(channel.name);
      } else {
        permanentErrors.push(error);
        const refusal = { error: failure.error, atMs: now(), fingerprint: channel.fingerprint };
        entry = { ...entry, permanent: { ...entry.permanent, [channel.name]: refusal } };
        if (failure.scope === 'channel') stopped.add(channel.name);
      }
      await save(stateDir, entry);
    }
    const waitingFor = channels
      .map((channel) => channel.name)
      .filter((name) => !entry.delivered.includes(name));
    if (waitingFor.length === 0) {
      await remove(stateDir, entry.id);
      delivered.push(entry.id);
    } else {
      pending.push({
        id: entry.id,
        createdMs: entry.createdMs,
        waitingFor,
        lastError: entry.lastError,
        permanent: entry.permanent,
      });
    }
  }
  return { delivered, pending, permanentErrors, retryErrors, notices, corrupt, budgetExhausted };
}

function envelopeOf(entry: OutboxEntry): Envelope {
  return {
    id: entry.id,
    host: entry.host,
    createdMs: entry.createdMs,
    silent: entry.silent,
    alerts: entry.alerts,
  };
}

/** A channel that breaks its never-throw promise is retried later; its message may hold a secret. */
async function sendSafely(channel: Channel, message: string, silent: boolean): Promise<SendResult> {
  try {
    return await channel.send(message, { silent });
  } catch (error) {
    const name = error instanceof Error ? error.name : typeof error;
    return { kind: 'retry', error: `The ${channel.name} channel failed unexpectedly (${name})` };
  }
}
