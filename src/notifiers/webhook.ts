/**
 * The webhook channel: a JSON POST to a URL, shaped as a Slack (`{"text"}`) or Discord
 * (`{"content"}`) incoming webhook takes it, or as cronwatch's own envelope (`json`) for any
 * other receiver.
 *
 * Failures are classified as on the Telegram channel: a 429 waits `Retry-After` (up to
 * `maxRetryAfterMs`), 5xx, 408, timeouts and network errors are retried `retries` times with
 * backoff and, if still failing (or after `sendTimeoutMs` in all), left for the next run; 401, 403,
 * 404, 410 and a redirect make the whole channel unusable; any other 4xx refuses only that message.
 *
 * The URL is a secret: Slack and Discord put the credential in its path. Errors name only the
 * host, are built from status codes and error codes rather than from messages (fetch quotes the
 * URL of a request it cannot parse), and pass through `redact` all the same; the fingerprint is
 * a hash.
 */

import { cutMiddle, DIGEST_THRESHOLD, formatTime, type RenderOptions, renderPlain } from '../core/format.js';
import { redact } from '../core/redact.js';
import type { Alert, Envelope, WebhookChannelConfig } from '../core/types.js';
import { type Channel, fingerprintOf, type SendResult } from './channel.js';
import {
  backoffMs,
  channelLimits,
  describeCauses,
  type HttpChannelOptions,
  hasCode,
  isRetryableStatus,
  sleepUnlessAborted,
} from './http-policy.js';

/** Slack allows about one message a second per webhook; Discord a little more. */
export const DEFAULT_PACING_MS = 1000;
/** Discord refuses a `content` longer than this. */
export const DISCORD_MAX_CHARS = 2000;
/** Slack truncates `text` at 40,000 characters and asks for at most 4,000 for readability. */
export const SLACK_MAX_CHARS = 4000;

// Discord message flags: no link previews of URLs in a log tail; no sound for a silent envelope.
const DISCORD_SUPPRESS_EMBEDS = 1 << 2;
const DISCORD_SUPPRESS_NOTIFICATIONS = 1 << 12;
// What of an error answer's body is quoted (Slack says why only there: `no_service`, `invalid_payload`).
const BODY_EXCERPT_CHARS = 200;
// Room kept for a digest part's header, so the split does not depend on the part count or on
// whether the envelope is delayed (a resumed send skips the parts already accepted).
const DIGEST_HEADER_SAMPLE_SUFFIX = ' (delayed): 999 alerts (999/999)';

export type WebhookChannelOptions = HttpChannelOptions;

/** One attempt: a failure worth another try in this run says how long to wait first (null: backoff). */
type Attempt =
  | { readonly kind: 'done'; readonly result: SendResult }
  | { readonly kind: 'again'; readonly error: string; readonly waitMs: number | null };

export function createWebhookChannel(
  config: WebhookChannelConfig,
  options: WebhookChannelOptions = {},
): Channel {
  const { requestTimeoutMs, sendTimeoutMs, maxRetryAfterMs, retries, retryBackoffMs } =
    channelLimits(options);
  const target = describeTarget(config.url);
  const hide = (text: string) => redact(text, [config.url]);

  const attempt = async (body: string, deadline: AbortSignal): Promise<Attempt> => {
    let response: Response;
    try {
      response = await fetch(config.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        // A redirected POST may be replayed as a GET that "succeeds" without delivering anything.
        redirect: 'manual',
        signal: AbortSignal.any([deadline, AbortSignal.timeout(requestTimeoutMs)]),
      });
    } catch (error) {
      if (deadline.aborted) {
        return done({
          kind: 'retry',
          error: `${target} did not accept the message within ${sendTimeoutMs} ms`,
        });
      }
      if (isTimeout(error)) {
        return {
          kind: 'again',
          error: `${target} did not answer within ${requestTimeoutMs} ms`,
          waitMs: null,
        };
      }
      if (hasCode(error, 'ERR_INVALID_URL')) {
        return done({
          kind: 'permanent',
          scope: 'channel',
          error: 'channels.webhook.url is not a valid URL',
        });
      }
      return { kind: 'again', error: `Could not reach ${target}: ${describeCauses(error)}`, waitMs: null };
    }
    // Accepted is accepted: a body that fails to arrive must not make the message go out twice.
    if (response.ok) {
      await response.body?.cancel().catch(() => undefined);
      return done({ kind: 'delivered' });
    }
    const text = await response.text().catch(() => '');
    return classify(response, hide(excerpt(text)), target, maxRetryAfterMs);
  };

  const send = async (message: string, silent: boolean): Promise<SendResult> => {
    const deadline = AbortSignal.timeout(sendTimeoutMs);
    const body = bodyFor(config.format, message, silent);
    for (let tries = 0; ; tries += 1) {
      const outcome = await attempt(body, deadline);
      if (outcome.kind === 'done') return outcome.result;
      const waitMs = outcome.waitMs ?? backoffMs(retryBackoffMs, tries);
      if (tries >= retries || !(await sleepUnlessAborted(waitMs, deadline)))
        return { kind: 'retry', error: outcome.error };
    }
  };

  return {
    name: 'webhook',
    fingerprint: fingerprintOf([config.url, config.format]),
    pacingMs: options.pacingMs ?? DEFAULT_PACING_MS,
    render: (envelope, renderOptions) => renderWebhook(config.format, envelope, renderOptions),
    send: async (message, sendOptions) => {
      const result = await send(message, sendOptions.silent);
      return result.kind === 'delivered' ? result : { ...result, error: hide(result.error) };
    },
  };
}

/**
 * The messages for an envelope in a webhook's format. Slack and Discord get plain text, one
 * message per alert or, with more than `DIGEST_THRESHOLD` alerts, a digest split only to stay
 * within the service's limit; an over-long message is cut in the middle, keeping start and end.
 * `json` gets the whole envelope in one message.
 */
export function renderWebhook(
  format: WebhookChannelConfig['format'],
  envelope: Envelope,
  options: RenderOptions,
): string[] {
  if (envelope.alerts.length === 0) return [];
  switch (format) {
    case 'slack':
      return renderText(envelope, options, SLACK_MAX_CHARS, escapeSlack);
    case 'discord':
      return renderText(envelope, options, DISCORD_MAX_CHARS, escapeDiscord);
    case 'json':
      return [renderJson(envelope, options)];
  }
}

function renderJson(envelope: Envelope, options: RenderOptions): string {
  const body = {
    source: 'cronwatch',
    // Delivery is at least once (a run that dies mid-send sends again): receivers can dedupe on it.
    id: envelope.id,
    host: envelope.host,
    createdMs: envelope.createdMs,
    createdAt: new Date(envelope.createdMs).toISOString(),
    delayed: options.delayed,
    silent: envelope.silent,
    alerts: envelope.alerts,
    text: renderPlain(envelope, options),
  };
  // A process identity carries the full command line, which may hold a secret passed as an
  // argument; the other channels never show it either. The pid stays.
  return JSON.stringify(body, (key, value: unknown) => (key === 'identity' ? undefined : value));
}

function renderText(
  envelope: Envelope,
  options: RenderOptions,
  maxChars: number,
  markup: (text: string) => string,
): string[] {
  const head = `cronwatch on ${envelope.host}, ${formatTime(envelope.createdMs)}${options.delayed ? ' (delayed)' : ''}`;
  const blocks = envelope.alerts.map((alert) => alertText(envelope, alert));
  if (blocks.length <= DIGEST_THRESHOLD) {
    return blocks.map((block) => fitEscaped(`${head}:\n${block}`, maxChars, markup));
  }
  const count = `: ${blocks.length} alerts`;
  const sampleHead = `cronwatch on ${envelope.host}, ${formatTime(envelope.createdMs)}${DIGEST_HEADER_SAMPLE_SUFFIX}`;
  // Blocks are joined by a blank line: two newlines, after the header and between blocks.
  const room = maxChars - markup(sampleHead).length - 2;
  const parts: string[][] = [];
  let current: string[] = [];
  let used = 0;
  for (const block of blocks) {
    const fitted = fitEscaped(block, room, markup);
    if (current.length > 0 && used + 2 + fitted.length > room) {
      parts.push(current);
      current = [];
      used = 0;
    }
    used += (current.length > 0 ? 2 : 0) + fitted.length;
    current.push(fitted);
  }
  parts.push(current);
  return parts.map((part, index) => {
    const suffix = parts.length > 1 ? ` (${index + 1}/${parts.length})` : '';
    return [markup(`${head}${count}${suffix}`), ...part].join('\n\n');
  });
}

/**
 * One alert as the console shows it, without the console's header line: the plain rendering is
 * the one every alert kind has, so a new kind needs no code here.
 */
function alertText(envelope: Envelope, alert: Alert): string {
  const text = renderPlain({ ...envelope, alerts: [alert] }, { delayed: false });
  return text.slice(text.indexOf('\n') + 1).trimEnd();
}

/** Escapes `text` and, when that is too long, cuts the raw text in the middle until it fits. */
function fitEscaped(text: string, maxChars: number, markup: (text: string) => string): string {
  let out = markup(text);
  for (let keep = text.length; out.length > maxChars && keep > 0; ) {
    keep = Math.max(0, keep - (out.length - maxChars));
    out = markup(cutMiddle(text, keep));
  }
  return out;
}

/** Slack mrkdwn: `&`, `<` and `>` are control characters (`<!channel>` would ping everyone). */
function escapeSlack(text: string): string {
  return text.replace(/[&<>]/g, (char) => SLACK_ESCAPES[char as keyof typeof SLACK_ESCAPES]);
}

const SLACK_ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;' } as const;

/**
 * Discord markdown: a backslash before each markup character shows it as typed, so a log's
 * `__init__` or `*` stays as it was. Mentions are disarmed by `allowed_mentions` instead.
 */
export function escapeDiscord(text: string): string {
  return text.replace(/[\\*_~`|]/g, '\\$&').replace(/^(\s*)([>#-])/gm, '$1\\$2');
}

function bodyFor(format: WebhookChannelConfig['format'], message: string, silent: boolean): string {
  switch (format) {
    case 'slack':
      return JSON.stringify({ text: message });
    case 'discord':
      return JSON.stringify({
        content: message,
        // A log line with @everyone must not ping a whole server.
        allowed_mentions: { parse: [] },
        flags: DISCORD_SUPPRESS_EMBEDS | (silent ? DISCORD_SUPPRESS_NOTIFICATIONS : 0),
      });
    case 'json':
      return message;
  }
}

function done(result: SendResult): Attempt {
  return { kind: 'done', result };
}

function classify(response: Response, body: string, target: string, maxRetryAfterMs: number): Attempt {
  const status = response.status;
  const what = `${target} answered ${status}${body.length > 0 ? `: ${body}` : ''}`;
  if (status === 429) {
    const waitMs = retryAfterMs(response.headers.get('retry-after'));
    const after = waitMs === null ? '' : `, retry after ${Math.ceil(waitMs / 1000)}s`;
    const error = `${target} rate limit${after} (${what})`;
    if (waitMs !== null && waitMs > maxRetryAfterMs) return done({ kind: 'retry', error });
    return { kind: 'again', error, waitMs };
  }
  if (isRetryableStatus(status)) return { kind: 'again', error: what, waitMs: null };
  if (status === 401 || status === 403) {
    return done({ kind: 'permanent', scope: 'channel', error: `${what} (check channels.webhook.url)` });
  }
  if (status === 404 || status === 410) {
    return done({
      kind: 'permanent',
      scope: 'channel',
      error: `${what} (the webhook is gone: check channels.webhook.url)`,
    });
  }
  if (status >= 300 && status < 400) {
    // The Location header is not quoted: it may hold the secret as well.
    return done({
      kind: 'permanent',
      scope: 'channel',
      error: `${what} (a redirect: set channels.webhook.url to where it points)`,
    });
  }
  if (status >= 400) return done({ kind: 'permanent', scope: 'message', error: what });
  return { kind: 'again', error: what, waitMs: null };
}

/** `Retry-After` as seconds or as an HTTP date; null when absent or unreadable. */
function retryAfterMs(header: string | null): number | null {
  if (header === null || header.trim() === '') return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

/** `Webhook (hooks.slack.com)`: the host only, never the path that holds the credential. */
function describeTarget(url: string): string {
  try {
    return `Webhook (${new URL(url).host})`;
  } catch {
    return 'Webhook';
  }
}

/** A short one-line excerpt of an answer's body. */
function excerpt(body: string): string {
  return cutMiddle(body.replace(/\s+/g, ' ').trim(), BODY_EXCERPT_CHARS).replace(/\n/g, ' ');
}

function isTimeout(error: unknown): boolean {
  return (
    error instanceof Error && (error.name === 'TimeoutError' || hasCode(error, 'UND_ERR_HEADERS_TIMEOUT'))
  );
}
