import type { Alert, Config } from '../core/types.js';
import type { Channel } from '../notifiers/channel.js';
import { createConsoleChannel } from '../notifiers/console.js';
import { type DeliveryReport, deliverOutbox } from '../notifiers/deliver.js';
import type { HttpChannelOptions } from '../notifiers/http-policy.js';
import { enqueue, newEnvelopeId, outboxDir } from '../store/outbox.js';

export type { DeliveryReport };

export interface AlertOptions {
  /** Sent without sound (planned restarts). */
  readonly silent: boolean;
  readonly nowMs: number;
}

/**
 * The configured channels, each loaded only when there is something to send; the console (stderr)
 * only when none is configured.
 */
export async function channelsOf(
  config: Pick<Config, 'channels'>,
  options: HttpChannelOptions = {},
): Promise<Channel[]> {
  const { telegram, webhook } = config.channels;
  const channels: Channel[] = [];
  if (telegram !== null) {
    const { createTelegramChannel } = await import('../notifiers/telegram.js');
    channels.push(createTelegramChannel(telegram, options));
  }
  if (webhook !== null) {
    const { createWebhookChannel } = await import('../notifiers/webhook.js');
    channels.push(createWebhookChannel(webhook, options));
  }
  return channels.length > 0 ? channels : [createConsoleChannel()];
}

async function outboxIsEmpty(stateDir: string): Promise<boolean> {
  const { readdir } = await import('node:fs/promises');
  const names = await readdir(outboxDir(stateDir)).catch(() => [] as string[]);
  return !names.some((name) => name.endsWith('.json') && !name.startsWith('.'));
}

/**
 * Records the run's alerts in the outbox (before any send), then sends everything waiting there,
 * this run's and earlier runs'. Returns null when there was nothing to send.
 */
export async function deliverAlerts(
  config: Config,
  alerts: readonly Alert[],
  options: AlertOptions,
): Promise<DeliveryReport | null> {
  if (alerts.length > 0) {
    await enqueue(config.stateDir, {
      id: newEnvelopeId(options.nowMs),
      host: config.host,
      createdMs: options.nowMs,
      silent: options.silent,
      alerts,
    });
  } else if (await outboxIsEmpty(config.stateDir)) {
    return null;
  }
  return deliverOutbox(config.stateDir, await channelsOf(config));
}

/**
 * What a person should know of a delivery: nothing when everything went out. With `sinceMs`,
 * alerts still waiting are mentioned only if one of them was raised at or after it.
 */
export function deliveryLines(
  report: DeliveryReport | null,
  options: { readonly sinceMs?: number } = {},
): string[] {
  if (report === null) return [];
  const lines: string[] = [];
  for (const error of report.permanentErrors) {
    lines.push(
      `cronwatch: ${error.channel} refused an alert: ${error.error}; it is held and goes out once the channel works (cronwatch test-alert), retried meanwhile from 5m, doubling to 6h`,
    );
  }
  // Cron mails every line: say it once, in the run whose alerts are stuck, not every 5 minutes
  // of an outage (status, doctor and the heartbeat's /fail keep saying it).
  const sinceMs = options.sinceMs ?? Number.NEGATIVE_INFINITY;
  if (report.pending.some((entry) => entry.createdMs >= sinceMs)) {
    const why = report.retryErrors.at(-1)?.error ?? report.pending[0]?.lastError;
    lines.push(
      `cronwatch: ${report.pending.length} alert(s) not delivered yet${why ? ` (${why})` : ''}; kept in the outbox for the next run`,
    );
  }
  for (const notice of report.notices) lines.push(`cronwatch: ${notice}`);
  for (const path of report.corrupt) lines.push(`cronwatch: unreadable outbox file moved aside: ${path}`);
  return lines;
}
