/**
 * Sends what waits in the outbox, oldest first, to every channel that has not accepted it yet.
 *
 * Order is kept per channel: once a channel fails in a way worth retrying (rate limit, 5xx,
 * timeout, network), nothing more is sent on it in this call, so a later alert never overtakes
 * an earlier one. An envelope leaves the outbox only when every given channel accepted it.
 *
 * A permanent refusal (bad token, bot blocked, chat not found) holds the channel's alerts: they
 * are kept (an alert is never dropped) and the channel is left alone, not hammered 288 times a
 * day. The hold ends as soon as the channel is seen to work — a delivery on it, a `test-alert`
 * that got through, `doctor` finding the bot and chat (see `recordChannelWorked`), or a change of
 * its config (fingerprint) — and in any case the channel is tried again on a backoff: 5 minutes
 * after the refusal, doubling with each refusal in a row, at most 6 hours apart. An alert raised
 * after the refusal also gets one try, which is how a fix made outside cronwatch (the bot
 * unblocked) is noticed early; the held alerts go first, so they arrive before the new one.
 * A refusal of one message only (`scope: message`) holds that envelope alone, on the same backoff.
 */

import type { Envelope } from '../core/types.js';
import {
  type ChannelWorked,
  type OutboxEntry,
  type PermanentFailure,
  readChannelsWorked,
  readOutbox,
  recordChannelWorked,
  remove,
  save,
} from '../store/outbox.js';
import type { Channel, SendResult } from './channel.js';

/** An envelope sent this much later than it was raised says so ("delayed, raised at ..."). */
export const DELAYED_AFTER_MS = 2 * 60_000;
/** A channel that refused for good is tried again this long after the refusal... */
export const HOLD_FIRST_RETRY_MS = 5 * 60_000;
/** ...doubling with each refusal in a row, up to this. */
export const HOLD_MAX_RETRY_MS = 6 * 3_600_000;
/** No new message is started after this long, so a large backlog cannot hold the run's lock for long. */
export const DEFAULT_DELIVERY_BUDGET_MS = 60_000;

export interface DeliverOptions {
  /** The clock; default `Date.now`. */
  readonly now?: () => number;
  /** How to wait between messages; default a timer. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Default `DELAYED_AFTER_MS`. */
  readonly delayedAfterMs?: number;
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

  const worked = await readChannelsWorked(stateDir);
  const holds = new Map(
    channels.map((channel) => [channel.name, holdOf(entries, channel, worked[channel.name], startMs)]),
  );
  const workedNow = new Set<string>();

  for (const original of entries) {
    let entry = original;
    for (const channel of channels) {
      if (budgetExhausted || stopped.has(channel.name) || entry.delivered.includes(channel.name)) continue;
      const hold = holds.get(channel.name)!;
      if (!hold.due) continue;
      const refusal = liveRefusal(entry, channel, worked[channel.name]);
      if (refusal?.scope === 'message' && now() < nextTryMs(refusal)) continue;
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
        workedNow.add(channel.name);
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
        // A refusal that begins a hold is news; one met by a retry is already known (status, doctor).
        const before = failure.scope === 'channel' ? hold.refusal : refusal;
        if (before === null) permanentErrors.push(error);
        const next: PermanentFailure = {
          error: failure.error,
          atMs: now(),
          fingerprint: channel.fingerprint,
          scope: failure.scope,
          tries: (before?.tries ?? 0) + 1,
        };
        entry = { ...entry, permanent: { ...entry.permanent, [channel.name]: next } };
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
  // Only a channel that held alerts needs the record: a healthy delivery costs no extra write.
  for (const channel of channels) {
    if (workedNow.has(channel.name) && holds.get(channel.name)!.held > 0) {
      await recordChannelWorked(stateDir, channel.name, { atMs: now(), fingerprint: channel.fingerprint });
    }
  }
  return { delivered, pending, permanentErrors, retryErrors, notices, corrupt, budgetExhausted };
}

/** When a refusal that met `refusal.tries` tries in a row is tried again. */
export function nextTryMs(refusal: Pick<PermanentFailure, 'atMs' | 'tries'>): number {
  const waitMs = HOLD_FIRST_RETRY_MS * 2 ** Math.max(0, refusal.tries - 1);
  return refusal.atMs + Math.min(waitMs, HOLD_MAX_RETRY_MS);
}

/**
 * The refusal holding `entry` on `channel`, if any still does: made with the channel's current
 * config, and after the channel was last seen to work.
 */
export function liveRefusal(
  entry: OutboxEntry,
  channel: Pick<Channel, 'name' | 'fingerprint'>,
  worked: ChannelWorked | undefined,
): PermanentFailure | null {
  if (entry.delivered.includes(channel.name)) return null;
  const refusal = entry.permanent[channel.name];
  if (refusal === undefined || refusal.fingerprint !== channel.fingerprint) return null;
  if (worked !== undefined && worked.fingerprint === channel.fingerprint && worked.atMs >= refusal.atMs) {
    return null;
  }
  return refusal;
}

/** What holds a channel's alerts after a permanent refusal. */
export interface ChannelHold {
  readonly channel: string;
  /** The latest refusal of the whole channel still holding it; null: the channel is not held. */
  readonly refusal: PermanentFailure | null;
  /** Envelopes waiting on the channel that are held (all of them while the channel is held). */
  readonly held: number;
  /** When the held envelopes are tried next, epoch ms; null when none is held. */
  readonly nextTryMs: number | null;
  /** Whether the channel may be tried now (not held, its retry is due, or an alert came after the refusal). */
  readonly due: boolean;
}

/** The hold on one channel, from the refusals recorded in the outbox and when it last worked. */
export function holdOf(
  entries: readonly OutboxEntry[],
  channel: Pick<Channel, 'name' | 'fingerprint'>,
  worked: ChannelWorked | undefined,
  nowMs: number,
): ChannelHold {
  const waiting = entries.filter((entry) => !entry.delivered.includes(channel.name));
  const refusals = waiting.map((entry) => liveRefusal(entry, channel, worked));
  let refusal: PermanentFailure | null = null;
  for (const candidate of refusals) {
    if (candidate?.scope === 'channel' && (refusal === null || candidate.atMs >= refusal.atMs))
      refusal = candidate;
  }
  if (refusal !== null) {
    const since = refusal.atMs;
    const fresh = waiting.some((entry, index) => refusals[index] === null && entry.createdMs > since);
    const next = nextTryMs(refusal);
    return {
      channel: channel.name,
      refusal,
      held: waiting.length,
      nextTryMs: next,
      due: fresh || nowMs >= next,
    };
  }
  const messageHolds = refusals.filter((candidate): candidate is PermanentFailure => candidate !== null);
  return {
    channel: channel.name,
    refusal: null,
    held: messageHolds.length,
    nextTryMs: messageHolds.length === 0 ? null : Math.min(...messageHolds.map(nextTryMs)),
    due: true,
  };
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
