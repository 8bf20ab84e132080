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

import { createHash } from 'node:crypto';
import type { Api, SendMessageParams } from 'node-telegram-bot-api';
import { cutMiddle, htmlToPlainText, renderTelegram, TELEGRAM_MAX_CHARS } from '../core/format.js';
import type { TelegramChannelConfig } from '../core/types.js';
import type { Channel, SendResult } from './channel.js';

/** One HTTP request to the Bot API; the client's own default is five minutes. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** One `send`, retries and rate-limit waits included. */
export const DEFAULT_SEND_TIMEOUT_MS = 30_000;
/** Longer 429 waits are not sat out: the message is left for the next run. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 15_000;
/** In-run retries of a 429, 5xx, timeout or network error. */
export const DEFAULT_RETRIES = 2;
/** Base of the exponential backoff between in-run retries. */
export const DEFAULT_RETRY_BACKOFF_MS = 1000;
/** Telegram allows about one message a second per chat. */
export const DEFAULT_PACING_MS = 1100;
/** Telegram allows a bot about 20 messages a minute in one group. */
export const TELEGRAM_PER_MINUTE = 20;

// A message Telegram still finds too long is resent as plain text this long.
const TRUNCATED_MAX_CHARS = TELEGRAM_MAX_CHARS - 96;

export interface TelegramChannelOptions {
  /** Per-request client timeout; default `DEFAULT_REQUEST_TIMEOUT_MS`. */
  readonly requestTimeoutMs?: number;
  /** Bound on one `send`, retries and waits included; default `DEFAULT_SEND_TIMEOUT_MS`. */
  readonly sendTimeoutMs?: number;
  /** Longest 429 `retry_after` waited for; default `DEFAULT_MAX_RETRY_AFTER_MS`. */
  readonly maxRetryAfterMs?: number;
  /** In-run retries of transient failures; default `DEFAULT_RETRIES`. */
  readonly retries?: number;
  /** Backoff base between in-run retries; default `DEFAULT_RETRY_BACKOFF_MS`. */
  readonly retryBackoffMs?: number;
  /** Least time between two messages; default `DEFAULT_PACING_MS`. */
  readonly pacingMs?: number;
}

type ClientModule = typeof import('node-telegram-bot-api');

export function createTelegramChannel(
  config: TelegramChannelConfig,
  options: TelegramChannelOptions = {},
): Channel {
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const sendTimeoutMs = options.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
  let client: Promise<{ api: Api; lib: ClientModule }> | null = null;
  // A group upgraded to a supergroup gets a new id; follow it for the rest of this run.
  let chatId: string = config.chatId;

  const connect = () => {
    client ??= import('node-telegram-bot-api').then((lib) => ({
      lib,
      api: new lib.Api(config.token, {
        apiRoot: config.apiRoot,
        timeoutMs: requestTimeoutMs,
        maxRetries: options.retries ?? DEFAULT_RETRIES,
        retryBackoffMs: options.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF_MS,
        maxRetryAfterMs: options.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS,
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
              config.token,
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
        return { ...result, error: redact(result.error, config.token) };
      }
    }
  };

  return {
    name: 'telegram',
    fingerprint: fingerprint(config),
    pacingMs: options.pacingMs ?? DEFAULT_PACING_MS,
    perMinute: TELEGRAM_PER_MINUTE,
    render: renderTelegram,
    send: (message, sendOptions) => send(message, sendOptions.silent),
  };
}

/** Replaces the bot token (raw or URL-encoded), and anything shaped like one, by `<token>`. */
export function redactToken(text: string, token: string): string {
  let result = text;
  for (const form of new Set([token, encodeURIComponent(token)])) {
    if (form.length > 0) result = result.split(form).join('<token>');
  }
  // Telegram tokens are `<bot id>:<35 characters>`; catch one that is not ours, or mangled.
  return result.replace(/\d{5,}(:|%3A)[A-Za-z0-9_-]{20,}/gi, '<token>');
}

const redact = redactToken;

/** A hash of the whole config: shows that it changed, reveals nothing of the token. */
function fingerprint(config: TelegramChannelConfig): string {
  const material = JSON.stringify([config.token, config.chatId, config.apiRoot, config.threadId]);
  return createHash('sha256').update(material).digest('hex').slice(0, 16);
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

/** `fetch failed: ECONNREFUSED`: the error's message and its causes' codes or messages. */
function describeCauses(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth += 1) {
    if (current instanceof Error) {
      const code = (current as NodeJS.ErrnoException).code;
      // The client's own codes (EFETCH) say nothing its class did not already.
      parts.push(typeof code === 'string' && !code.startsWith('EFETCH') ? code : current.message);
      current = current.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.join(': ');
}

function hasCode(error: unknown, code: string): boolean {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth += 1) {
    if ((current as NodeJS.ErrnoException).code === code) return true;
    current = current.cause;
  }
  return false;
}

/** An empty token is a config problem; a client that fails to load may be fixed by the next run. */
function setupFailure(error: unknown, token: string): Failure {
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  if (code === 'EPARAM') return { kind: 'permanent', scope: 'channel', error: 'Telegram bot token is empty' };
  return {
    kind: 'retry',
    error: redact(`Could not set up the Telegram client: ${describeCauses(error)}`, token),
  };
}
