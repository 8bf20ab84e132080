import type { Alert, Config } from '../core/types.js';
import { unsetUnder } from '../core/unset-env.js';
import type { Channel } from '../notifiers/channel.js';
import { createConsoleChannel } from '../notifiers/console.js';
import { type ChannelError, type DeliveryReport, deliverOutbox } from '../notifiers/deliver.js';
import type { HttpChannelOptions } from '../notifiers/http-policy.js';
import { enqueue, newEnvelopeId, outboxIsEmpty } from '../store/outbox.js';

export type { DeliveryReport };

export interface AlertOptions {
  /** Sent without sound (planned restarts). */
  readonly silent: boolean;
  readonly nowMs: number;
}

/**
 * A configured channel that cannot send here, because a variable its config needs is unset: it
 * fails every message as a retry, so its alerts wait in the outbox (and the run ends with
 * `/fail`) until a run whose environment has the variable delivers them.
 */
function unusableChannel(name: string, variables: readonly string[]): Channel {
  const error = `${variables.join(', ')} not set in this environment (channels.${name})`;
  return {
    name,
    fingerprint: `unset:${variables.join(',')}`,
    pacingMs: 0,
    render: () => [''],
    send: async () => ({ kind: 'retry', error }),
  };
}

/**
 * The configured channels, each loaded only when there is something to send; the console (stderr)
 * only when none is configured. A channel whose variables are unset is there, unusable.
 */
export async function channelsOf(
  config: Pick<Config, 'channels' | 'unsetEnv'>,
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
  for (const name of ['telegram', 'webhook']) {
    const variables = unsetUnder(config.unsetEnv, `channels.${name}`);
    if (variables.length > 0) channels.push(unusableChannel(name, variables));
  }
  return channels.length > 0 ? channels : [createConsoleChannel()];
}

/** Records alerts in the outbox, before any send. */
export async function queueAlerts(
  config: Config,
  alerts: readonly Alert[],
  options: AlertOptions,
): Promise<void> {
  if (alerts.length === 0) return;
  await enqueue(config.stateDir, {
    id: newEnvelopeId(options.nowMs),
    host: config.host,
    createdMs: options.nowMs,
    silent: options.silent,
    alerts,
  });
}

/** Sends everything waiting in the outbox; null when nothing waits. */
export async function sendQueued(config: Config): Promise<DeliveryReport | null> {
  if (outboxIsEmpty(config.stateDir)) return null;
  return deliverOutbox(config.stateDir, await channelsOf(config));
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
  await queueAlerts(config, alerts, options);
  return sendQueued(config);
}

/**
 * Sends `alerts` straight to the channels, for a run that cannot write its outbox (disk full or
 * read-only): nothing is kept for a later run, so what a channel does not take now is lost, and
 * the report says so (`pending`). Earlier runs' alerts stay in the outbox for a run that can
 * record their delivery; sending them now would send them again later.
 */
export async function deliverDirectly(
  config: Config,
  alerts: readonly Alert[],
  options: AlertOptions,
): Promise<DeliveryReport | null> {
  if (alerts.length === 0) return null;
  const envelope = {
    id: newEnvelopeId(options.nowMs),
    host: config.host,
    createdMs: options.nowMs,
    silent: options.silent,
    alerts,
  };
  const waitingFor: string[] = [];
  const retryErrors: ChannelError[] = [];
  const permanentErrors: ChannelError[] = [];
  const notices: string[] = [];
  for (const channel of await channelsOf(config)) {
    for (const message of channel.render(envelope, { delayed: false })) {
      const result = await channel.send(message, { silent: options.silent });
      if (result.kind === 'delivered') {
        if (result.notice !== undefined && !notices.includes(result.notice)) notices.push(result.notice);
        continue;
      }
      waitingFor.push(channel.name);
      const error = { id: envelope.id, channel: channel.name, error: result.error };
      if (result.kind === 'retry') retryErrors.push(error);
      else permanentErrors.push(error);
      break;
    }
  }
  const lastError = [...retryErrors, ...permanentErrors].at(-1)?.error ?? null;
  return {
    delivered: waitingFor.length === 0 ? [envelope.id] : [],
    pending:
      waitingFor.length === 0
        ? []
        : [{ id: envelope.id, createdMs: envelope.createdMs, waitingFor, lastError, permanent: {} }],
    permanentErrors,
    retryErrors,
    notices,
    corrupt: [],
    budgetExhausted: false,
  };
}

/** What a run that could not write its outbox says of its alerts, in its one line. */
export function directLine(report: DeliveryReport | null): string | null {
  if (report === null) return null;
  const failed = report.pending[0];
  if (failed === undefined) return "this run's alerts were sent directly, not kept in the outbox";
  const why = [...report.retryErrors, ...report.permanentErrors].map((e) => `${e.channel}: ${e.error}`);
  return `this run's alerts did not reach ${failed.waitingFor.join(', ')} (${why.join('; ')}) and could not be kept for a later run`;
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
