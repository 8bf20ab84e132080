/**
 * The top-level sections besides the targets: where alerts go (`channels`), how often they repeat
 * (`alerts`), where cronwatch pings (`heartbeat`, `healthchecks`) and the metrics file (`metrics`).
 * A channel, or healthchecks' sync, that rests on an unset variable is read as absent.
 */
import type { Config, HealthchecksConfig, TelegramChannelConfig, WebhookChannelConfig } from '../types.js';
import { type Dict, HTTP_URL, type Reader, show } from './reader.js';

const DEFAULT_API_ROOT = 'https://api.telegram.org';
const DEFAULT_REMINDER_MS = 6 * 3_600_000;

const TELEGRAM_KEYS = ['token', 'chat_id', 'api_root', 'thread_id'] as const;
const WEBHOOK_KEYS = ['url', 'format'] as const;
const WEBHOOK_FORMATS = ['slack', 'discord', 'json'] as const;
const HEALTHCHECKS_KEYS = ['url', 'ping_url', 'ping_key', 'api_key'] as const;

/**
 * The sections' part of `Config`, with only the channels usable in this environment, except
 * `heartbeat.url` as given: slug mode refuses it, and an unset variable under it turns it off.
 */
export interface Sections
  extends Pick<Config, 'channels' | 'reminderMs' | 'healthchecks' | 'metricsTextfile'> {
  readonly heartbeatUrl: string | null;
}

function withoutTrailingSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function readTelegram(reader: Reader, value: unknown): TelegramChannelConfig | null {
  if (value === undefined || value === null) return null;
  const raw = reader.dict(value, 'channels.telegram', TELEGRAM_KEYS);
  const token = reader.string(raw.token, 'channels.telegram.token');
  reader.required(raw, 'token', 'channels.telegram', 'the bot token');
  let chatId: string | null = null;
  if (typeof raw.chat_id === 'number' && Number.isInteger(raw.chat_id)) chatId = String(raw.chat_id);
  else if (typeof raw.chat_id === 'string' && /^(-?\d+|@\w+)$/.test(raw.chat_id.trim()))
    chatId = raw.chat_id.trim();
  else
    reader.fail(
      'channels.telegram.chat_id',
      `expected a chat id like -1001234 or @channel, got ${show(raw.chat_id)}`,
    );
  const apiRoot = reader.string(raw.api_root, 'channels.telegram.api_root') ?? DEFAULT_API_ROOT;
  if (!HTTP_URL.test(apiRoot)) {
    reader.fail('channels.telegram.api_root', `expected an http(s) URL, got ${show(apiRoot)}`);
  }
  let threadId: number | null = null;
  if (raw.thread_id !== undefined && raw.thread_id !== null) {
    if (typeof raw.thread_id === 'number' && Number.isInteger(raw.thread_id) && raw.thread_id > 0) {
      threadId = raw.thread_id;
    } else {
      reader.fail(
        'channels.telegram.thread_id',
        `expected a positive whole number, got ${show(raw.thread_id)}`,
      );
    }
  }
  if (token === null || chatId === null) return null;
  return { token, chatId, apiRoot: withoutTrailingSlash(apiRoot), threadId };
}

function readWebhook(reader: Reader, value: unknown): WebhookChannelConfig | null {
  if (value === undefined || value === null) return null;
  const raw = reader.dict(value, 'channels.webhook', WEBHOOK_KEYS);
  const url = reader.url(raw.url, 'channels.webhook.url');
  reader.required(raw, 'url', 'channels.webhook', 'the webhook URL');
  const format = raw.format ?? 'json';
  if (!WEBHOOK_FORMATS.includes(format as WebhookChannelConfig['format'])) {
    reader.fail(
      'channels.webhook.format',
      `expected one of ${WEBHOOK_FORMATS.join(', ')}, got ${show(format)}`,
    );
    return null;
  }
  return url === null ? null : { url, format: format as WebhookChannelConfig['format'] };
}

function readHealthchecks(reader: Reader, value: unknown): HealthchecksConfig | null {
  if (value === undefined || value === null) return null;
  const raw = reader.dict(value, 'healthchecks', HEALTHCHECKS_KEYS);
  const url = reader.url(raw.url, 'healthchecks.url');
  reader.required(raw, 'url', 'healthchecks', 'the instance URL, e.g. https://healthchecks.io');
  const pingUrl = reader.url(raw.ping_url, 'healthchecks.ping_url');
  const pingKey = reader.string(raw.ping_key, 'healthchecks.ping_key');
  reader.required(raw, 'ping_key', 'healthchecks', "the project's ping key (Project Settings)");
  if (pingKey !== null && !/^[A-Za-z0-9_-]+$/.test(pingKey)) {
    reader.fail('healthchecks.ping_key', 'expected letters, digits, - and _ only (a ping key)');
  }
  const apiKey = reader.string(raw.api_key, 'healthchecks.api_key');
  if (url === null) return null;
  const root = withoutTrailingSlash(url);
  // A ping key left empty by an unset variable keeps the section for sync; its pings are off.
  return {
    url: root,
    pingUrl: withoutTrailingSlash(pingUrl ?? `${root}/ping`),
    pingKey: pingKey ?? '',
    apiKey: reader.usable('healthchecks.api_key') ? apiKey : null,
  };
}

/** Reads the sections of the top-level mapping `top`, in the order their errors are reported. */
export function readSections(reader: Reader, top: Dict, configDir: string): Sections {
  const channels = reader.dict(top.channels, 'channels', ['telegram', 'webhook']);
  const telegram = readTelegram(reader, channels.telegram);
  const webhook = readWebhook(reader, channels.webhook);
  const { reminder } = reader.dict(top.alerts, 'alerts', ['reminder']);
  const reminderMs =
    reminder === 0 || reminder === '0'
      ? 0
      : (reader.duration(reminder, 'alerts.reminder') ?? DEFAULT_REMINDER_MS);
  const heartbeatUrl = reader.url(reader.dict(top.heartbeat, 'heartbeat', ['url']).url, 'heartbeat.url');
  const healthchecks = readHealthchecks(reader, top.healthchecks);
  const { textfile } = reader.dict(top.metrics, 'metrics', ['textfile']);
  return {
    channels: {
      telegram: reader.usable('channels.telegram') ? telegram : null,
      webhook: reader.usable('channels.webhook') ? webhook : null,
    },
    reminderMs,
    heartbeatUrl,
    healthchecks,
    metricsTextfile: reader.path(textfile, 'metrics.textfile', configDir),
  };
}
