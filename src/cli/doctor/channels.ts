/**
 * The alert channels, asked without sending anything: Telegram who the bot is and what the chat
 * is, the webhook's host whether it answers. And the one thing doctor records: a bot and chat
 * that answer while alerts are held after a refusal, so that the next run sends them at once.
 */

import { redact } from '../../core/redact.js';
import type { Config } from '../../core/types.js';
import { liveRefusal } from '../../notifiers/deliver.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, describeCauses } from '../../notifiers/http-policy.js';
import { readChannelsWorked, readOutbox, recordChannelWorked } from '../../store/outbox.js';
import {
  answers,
  type CheckLine,
  type DoctorCheck,
  type DoctorContext,
  fail,
  offWhenUnset,
  ok,
  originOf,
  skip,
} from './check-line.js';

/** The bot and the chat, once for their lines and for releasing held alerts. */
async function checkTelegram(context: DoctorContext): Promise<CheckLine[]> {
  const telegram = context.config?.channels.telegram ?? null;
  if (telegram === null) {
    return [skip('telegram', 'not configured (alerts are printed, so they land in the cron log)')];
  }
  const secrets = [telegram.token];
  const lib = await import('node-telegram-bot-api');
  const api = new lib.Api(telegram.token, {
    apiRoot: telegram.apiRoot,
    // A channel's request timeout, without its retries: a slow answer is itself worth a line.
    timeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
    maxRetries: 0,
  });
  const why = (error: unknown, hint: string): string => {
    if (error instanceof lib.TelegramApiError) {
      return redact(`Telegram answered ${error.errorCode}: ${error.description}${hint}`, secrets);
    }
    if (error instanceof lib.TimeoutError)
      return `no answer from ${telegram.apiRoot} within ${DEFAULT_REQUEST_TIMEOUT_MS} ms`;
    return redact(`cannot reach ${telegram.apiRoot}: ${describeCauses(error)}`, secrets);
  };
  const chatLabel = `telegram chat ${telegram.chatId}`;
  try {
    const me = await api.getMe();
    const bot = ok(
      'telegram bot',
      `@${me.username ?? me.first_name} (id ${me.id}) answers at ${telegram.apiRoot}`,
    );
    try {
      const chat = await api.getChat({ chat_id: telegram.chatId });
      const name = chat.title ?? chat.username ?? chat.first_name;
      return [bot, ok(chatLabel, `reachable (${chat.type}${name === undefined ? '' : ` "${name}"`})`)];
    } catch (error) {
      return [bot, fail(chatLabel, why(error, ' (check chat_id, and that the bot was added to the chat)'))];
    }
  } catch (error) {
    const hint =
      error instanceof lib.TelegramApiError && error.errorCode === 401 ? ' (check the bot token)' : '';
    return [fail('telegram bot', why(error, hint)), skip(chatLabel, 'not checked: the bot did not answer')];
  }
}

async function checkWebhook(config: Config): Promise<CheckLine> {
  const webhook = config.channels.webhook;
  if (webhook === null) return skip('webhook', 'not configured');
  const label = `webhook ${originOf(webhook.url)}`;
  // A HEAD sends no message; any answer below 500 shows the host takes requests there.
  const result = await answers(webhook.url, 'HEAD');
  if ('error' in result) return fail(label, result.error);
  if (result.status >= 500) return fail(label, `answered HTTP ${result.status} to a HEAD request`);
  return ok(label, `answers (HTTP ${result.status} to a HEAD request; no message sent)`);
}

/**
 * The bot and chat answered: alerts a Telegram refusal held go out with the next run. The line
 * saying so, or none when nothing was held.
 */
async function releaseHeldTelegram(context: DoctorContext, config: Config): Promise<CheckLine[]> {
  const telegram = config.channels.telegram;
  if (telegram === null) return [];
  const lines = await context.once(checkTelegram);
  if (!lines.every((line) => line.status === 'ok')) return [];
  const { createTelegramChannel } = await import('../../notifiers/telegram.js');
  const channel = createTelegramChannel(telegram);
  try {
    const { entries } = await readOutbox(config.stateDir, { moveAside: false });
    const worked = (await readChannelsWorked(config.stateDir))[channel.name];
    const held = entries.filter((entry) => liveRefusal(entry, channel, worked) !== null).length;
    if (held === 0) return [];
    await recordChannelWorked(config.stateDir, channel.name, {
      atMs: Date.now(),
      fingerprint: channel.fingerprint,
    });
    return [ok('outbox telegram', `the bot and chat answer now: the next check sends the held alert(s)`)];
  } catch (error) {
    return [fail('outbox telegram', `cannot record that the channel works: ${describeCauses(error)}`)];
  }
}

export const CHANNEL_CHECKS: readonly DoctorCheck[] = [
  {
    name: 'telegram',
    needs: 'config',
    run: async (context, config) =>
      offWhenUnset(config, 'channels.telegram', await context.once(checkTelegram)),
  },
  {
    name: 'webhook',
    needs: 'config',
    run: async (_context, config) => offWhenUnset(config, 'channels.webhook', [await checkWebhook(config)]),
  },
];

/** Printed after everything else: it says what doctor itself did, not what it found. */
export const HELD_ALERT_CHECKS: readonly DoctorCheck[] = [
  { name: 'held-alert release', needs: 'config', run: releaseHeldTelegram },
];
