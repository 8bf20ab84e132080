/**
 * The one rule for keeping secrets out of output: every channel error, ping body, printed line and
 * crash report passes through `redact` before it is printed, stored or sent.
 */
import type { Config, HealthchecksConfig } from './types.js';

/** What a hidden secret reads as. */
export const REDACTED = '<redacted>';

/**
 * A Telegram bot token, `<bot id>:<35 characters>`, raw or URL-encoded; caught even when it is not
 * one of the given secrets (another bot's, or ours mangled by a client's message).
 */
const BOT_TOKEN = /\d{5,}(?::|%3A)[A-Za-z0-9_-]{20,}/gi;
/** Shorter strings would hide ordinary words. */
const MIN_SECRET_CHARS = 6;
/** A URL's path segment or query value this long and not a plain word is a credential (Slack, Discord). */
const MIN_URL_PART_CHARS = 8;
const URL_SHAPE = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * Replaces by `<redacted>` each secret and its URL-encoded form; for a secret that is a URL also its
 * path, query, user info and every long path segment or query value (raw, decoded and encoded),
 * but not its host, which errors name; and anything shaped like a bot token.
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    for (const part of partsOf(secret)) forms.add(part).add(encodeURIComponent(part));
  }
  // Longest first, so that a whole URL is replaced before its parts are.
  const ordered = [...forms]
    .filter((form) => form.length >= MIN_SECRET_CHARS)
    .sort((a, b) => b.length - a.length);
  let out = text;
  for (const form of ordered) out = out.split(form).join(REDACTED);
  return out.replace(BOT_TOKEN, REDACTED);
}

/** Every secret in `config`: the bot token, the webhook URL, the heartbeat and ping URLs, the healthchecks keys. */
export function secretsOf(config: Config): string[] {
  const hc = config.healthchecks;
  const pingUrls = [config.heartbeatUrl, ...config.targets.map((target) => target.pingUrl)];
  const secrets = [
    config.channels.telegram?.token,
    config.channels.webhook?.url,
    ...(hc === null ? [] : healthchecksSecrets(hc)),
    // A slug URL (`<ping_url>/<ping_key>/<slug>`) hides nothing but the key, listed above: its
    // slug names a check in every line that speaks of it, and a whole URL would hide it too.
    ...pingUrls.filter((url) => hc === null || !url?.includes(`/${hc.pingKey}/`)),
  ];
  return secrets.filter((secret): secret is string => typeof secret === 'string' && secret !== '');
}

/** The healthchecks project's keys: the ping key (in every slug ping URL's path) and the API key. */
export function healthchecksSecrets(hc: HealthchecksConfig): string[] {
  return [hc.pingKey, hc.apiKey].filter((secret): secret is string => secret !== null && secret !== '');
}

function partsOf(secret: string): string[] {
  if (!URL_SHAPE.test(secret)) return [secret];
  let url: URL;
  try {
    url = new URL(secret);
  } catch {
    return [secret];
  }
  const parts = [secret, url.href, url.username, url.password];
  if (url.pathname.length > 1) parts.push(`${url.pathname}${url.search}`, url.pathname);
  if (url.search.length > 1) parts.push(url.search.slice(1));
  // Words like `services` or `webhooks` are not secret; ids and tokens are long and mixed.
  for (const part of [...url.pathname.split('/'), ...url.searchParams.values()]) {
    if (part.length >= MIN_URL_PART_CHARS && !/^[a-z-]+$/.test(part)) parts.push(part, safeDecode(part));
  }
  return parts;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
