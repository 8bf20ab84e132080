/** A Telegram bot token: `<bot id>:<35 characters>`. */
const BOT_TOKEN = /\b\d{5,}:[A-Za-z0-9_-]{30,}\b/g;

/** Hides anything shaped like a bot token, and the given secrets, in text bound for output. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(BOT_TOKEN, '<redacted>');
  for (const secret of secrets) if (secret.length >= 6) out = out.split(secret).join('<redacted>');
  return out;
}
