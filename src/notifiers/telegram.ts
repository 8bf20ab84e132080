/**
 * The Telegram channel: one rendered message per `send`, through the Bot API client
 * (`node-telegram-bot-api`), loaded only when a message is actually sent so a quiet run does not
 * pay for it.
 *
 * The client retries 429 (honouring `retry_after` up to `maxRetryAfterMs`), 5xx, timeouts and
 * network errors `retries` times with backoff; whatever is still failing after that, or after
 * `sendTimeoutMs` in all, is left for the next run. Errors handed back never contain the token:
 * they are rebuilt from structured fields, never from the client's messages or causes (a URL
 * parse error quotes the request URL, token included), and then redacted all the same.
 */

import type { Api, SendMessageParams } from 'node-telegram-bot-api';
import { cutMiddle, htmlToPlainText, renderTelegram, TELEGRAM_MAX_CHARS } from '../core/format.js';
import { redact } from '../core/redact.js';
import type { TelegramChannelConfig } from '../core/types.js';
import { type Channel, fingerprintOf, type SendResult } from './channel.js';
import { channelLimits, describeCauses, type HttpChannelOptions, hasCode } from './http-policy.js';

/** Telegram allows about one message a second per chat. */
export const DEFAULT_PACING_MS = 1100;
/** Telegram allows a bot about 20 messages a minute in one group. */
const TELEGRAM_PER_MINUTE = 20;

// A message Telegram still finds too long is resent as plain text this long.
const TRUNCATED_MAX_CHARS = TELEGRAM_MAX_CHARS - 96;

export type TelegramChannelOptions = HttpChannelOptions;

type ClientModule = typeof import('node-telegram-bot-api');

export function createTelegramChannel(
  config: TelegramChannelConfig,
  options: TelegramChannelOptions = {},
): Channel {
  const limits = channelLimits(options);
  const { requestTimeoutMs, sendTimeoutMs } = limits;
  let client: Promise<{ api: Api; lib: ClientModule }> | null = null;
  // A group upgraded to a supergroup gets a new id; follow it for the rest of this run.
  let chatId: string = config.chatId;

  const connect = () => {
    client ??= import('node-telegram-bot-api').then((lib) => ({
      lib,
      api: new lib.Api(config.token, {
        apiRoot: config.apiRoot,
        // The client's own default is five minutes.
        timeoutMs: requestTimeoutMs,
        maxRetries: limits.retries,
        retryBackoffMs: limits.retryBackoffMs,
        maxRetryAfterMs: limits.maxRetryAfterMs,
      }),
    }));
    return client;
  };

  const send = async (message: string, silent: boolean): Promise<SendResult> => {
    const deadline = AbortSignal.timeout(sendTimeoutMs);
    let text = message;
    let html = true;
    let migratedNotice: string | undefined;
    const tried = { plain: false, truncated: false, migrated: false };
    let lib: ClientModule;
    let api: Api;
    try {
      ({ lib, api } = await connect());
    } catch (error) {
      client = null;
      return setupFailure(error, config.token);
    }
    for (;;) {
      const params: SendMessageParams = {
        chat_id: chatId,
        text,
        ...(html ? { parse_mode: 'HTML' } : {}),
        ...(silent ? { disable_notification: true } : {}),
        ...(config.threadId === null ? {} : { message_thread_id: config.threadId }),
      };
      try {
        await api.sendMessage(params, deadline);
        return migratedNotice === undefined
          ? { kind: 'delivered' }
          : { kind: 'delivered', notice: migratedNotice };
      } catch (error) {
        if (error instanceof lib.TelegramApiError) {
          const migrateTo = error.migrateToChatId;
          if (migrateTo !== undefined && !tried.migrated) {
            tried.migrated = true;
            migratedNotice = redact(
              `Telegram chat ${chatId} became supergroup ${migrateTo}: set channels.telegram.chat_id to ${migrateTo}`,
              [config.token],
            );
            chatId = String(migrateTo);
            continue;
          }
          if (
            error.errorCode === 400 &&
            html &&
            !tried.plain &&
            /can't parse entities/i.test(error.description)
          ) {
            tried.plain = true;
            html = false;
            text = htmlToPlainText(text);
            continue;
          }
          if (error.errorCode === 400 && !tried.truncated && /message is too long/i.test(error.description)) {
            tried.truncated = true;
            text = cutMiddle(html ? htmlToPlainText(text) : text, TRUNCATED_MAX_CHARS);
            html = false;
            continue;
          }
        }
        const result = classify(error, lib, deadline.aborted, { requestTimeoutMs, sendTimeoutMs });
        return { ...result, error: redact(result.error, [config.token]) };
      }
    }
  };

  return {
    name: 'telegram',
    fingerprint: fingerprintOf([config.token, config.chatId, config.apiRoot, config.threadId]),
    pacingMs: options.pacingMs ?? DEFAULT_PACING_MS,
    perMinute: TELEGRAM_PER_MINUTE,
    render: renderTelegram,
    send: (message, sendOptions) => send(message, sendOptions.silent),
  };
}

type Failure = Exclude<SendResult, { kind: 'delivered' }>;

function classify(
  error: unknown,
  lib: ClientModule,
  deadlineReached: boolean,
  limits: { requestTimeoutMs: number; sendTimeoutMs: number },
): Failure {
  if (error instanceof lib.TelegramApiError) {
    const what = `Telegram ${error.errorCode}: ${error.description}`;
    if (error.errorCode === 429) {
      const after = error.retryAfter === undefined ? '' : `, retry after ${error.retryAfter}s`;
      return { kind: 'retry', error: `Telegram rate limit${after} (${what})` };
    }
    if (error.errorCode >= 500) return { kind: 'retry', error: what };
    if (error.errorCode === 401)
      return { kind: 'permanent', scope: 'channel', error: `${what} (check the bot token)` };
    if (error.errorCode === 403) {
      return { kind: 'permanent', scope: 'channel', error: `${what} (the bot cannot write to this chat)` };
    }
    if (error.errorCode === 404) {
      return { kind: 'permanent', scope: 'channel', error: `${what} (check the bot token and api_root)` };
    }
    if (/chat not found|thread not found|topic/i.test(error.description)) {
      return { kind: 'permanent', scope: 'channel', error: `${what} (check chat_id and thread_id)` };
    }
    if (error.errorCode >= 400 && error.errorCode < 500)
      return { kind: 'permanent', scope: 'message', error: what };
    return { kind: 'retry', error: what };
  }
  if (deadlineReached) {
    return { kind: 'retry', error: `Telegram did not accept the message within ${limits.sendTimeoutMs} ms` };
  }
  if (error instanceof lib.TimeoutError) {
    return { kind: 'retry', error: `Telegram did not answer within ${limits.requestTimeoutMs} ms` };
  }
  if (error instanceof lib.ParseError)
    return { kind: 'retry', error: 'Telegram answered with something not JSON' };
  if (error instanceof lib.NetworkError) {
    // The client's own message ("Network request failed: sendMessage") adds nothing to its cause.
    const causes = describeCauses(error.cause ?? error);
    if (hasCode(error, 'ERR_INVALID_URL')) {
      return { kind: 'permanent', scope: 'channel', error: `Invalid Telegram api_root: ${causes}` };
    }
    return { kind: 'retry', error: `Could not reach Telegram: ${causes}` };
  }
  return { kind: 'retry', error: `Sending to Telegram failed: ${describeCauses(error)}` };
}

/** An empty token is a config problem; a client that fails to load may be fixed by the next run. */
function setupFailure(error: unknown, token: string): Failure {
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  if (code === 'EPARAM') return { kind: 'permanent', scope: 'channel', error: 'Telegram bot token is empty' };
  return {
    kind: 'retry',
    error: redact(`Could not set up the Telegram client: ${describeCauses(error)}`, [token]),
  };
}
