/**
 * What every alert channel offers the delivery loop: its own rendering of an envelope and a send
 * that never throws, only reports how the message fared.
 */

import { createHash } from 'node:crypto';
import type { RenderOptions } from '../core/format.js';
import type { Envelope } from '../core/types.js';

/** How one message fared on a channel. Every `error` is free of secrets (the bot token). */
export type SendResult =
  | {
      readonly kind: 'delivered';
      /** Something the owner should fix though the message went out (e.g. a migrated chat id). */
      readonly notice?: string;
    }
  | {
      /** Transient (rate limit, 5xx, timeout, network): keep it queued, try again later. */
      readonly kind: 'retry';
      readonly error: string;
    }
  | {
      /** Refused for good; retrying the same message to the same config will not help. */
      readonly kind: 'permanent';
      readonly error: string;
      /**
       * `channel`: the channel itself is unusable (bad token, bot blocked, chat not found), so
       * every other message would fail too; `message`: only this message was refused.
       */
      readonly scope: 'channel' | 'message';
    };

export interface SendOptions {
  /** Deliver without sound (Telegram `disable_notification`). */
  readonly silent: boolean;
}

export interface Channel {
  /** Stable name recorded in the outbox, e.g. `telegram`. */
  readonly name: string;
  /**
   * Changes whenever the channel's config changes; holds no secret. A message this channel
   * refused for good is tried again as soon as the fingerprint differs.
   */
  readonly fingerprint: string;
  /** Least time between two messages on this channel (Telegram allows about one a second per chat). */
  readonly pacingMs: number;
  /** Most messages in one minute (Telegram: 20 per group); beyond it the rest wait for a later run. */
  readonly perMinute?: number;
  /** The messages for an envelope, in order. Their number must not depend on `options`. */
  render(envelope: Envelope, options: RenderOptions): readonly string[];
  /** Sends one rendered message. Never throws. */
  send(message: string, options: SendOptions): Promise<SendResult>;
}

/** A `Channel.fingerprint`: a hash of the channel's whole config, revealing nothing of its secrets. */
export function fingerprintOf(material: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(material)).digest('hex').slice(0, 16);
}
