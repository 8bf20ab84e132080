import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert, Envelope, WebhookChannelConfig } from '../../src/core/types.js';
import type { SendResult } from '../../src/notifiers/channel.js';
import { type DeliveryReport, deliverOutbox } from '../../src/notifiers/deliver.js';
import {
  createWebhookChannel,
  DISCORD_MAX_CHARS,
  escapeDiscord,
  renderWebhook,
  SLACK_MAX_CHARS,
} from '../../src/notifiers/webhook.js';
import { enqueue, newEnvelopeId } from '../../src/store/outbox.js';
import { pending } from '../support/outbox.js';
import { startWebhookServer, type WebhookServer } from '../support/webhook-server.js';

// Shaped like a Slack webhook: the last segment is the credential.
const SECRET_PATH = '/services/T0SECRET01/B0SECRET02/xoxbTOKENdoNotLeak4242abcd';
const SECRET_PARTS = ['T0SECRET01', 'B0SECRET02', 'xoxbTOKENdoNotLeak4242abcd'];

let stateDir: string;
let hook: WebhookServer;
/** Every error and report a test saw, checked for the URL after each test. */
const seen: string[] = [];

beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'cronwatch-webhook-'));
  hook = await startWebhookServer();
  seen.length = 0;
});

afterEach(async () => {
  await hook.close();
  const files = await readdir(join(stateDir, 'outbox')).catch(() => [] as string[]);
  const contents = await Promise.all(files.map((name) => readFile(join(stateDir, 'outbox', name), 'utf8')));
  for (const text of [...seen, ...contents]) {
    for (const secret of [SECRET_PATH, encodeURIComponent(SECRET_PATH), ...SECRET_PARTS]) {
      expect(text).not.toContain(secret);
    }
  }
  await rm(stateDir, { recursive: true, force: true });
});

function config(format: WebhookChannelConfig['format'], url = hook.url(SECRET_PATH)): WebhookChannelConfig {
  return { url, format };
}

/** Short limits, so a hung or failing receiver costs a test a second or two at most. */
function channel(format: WebhookChannelConfig['format'] = 'slack', url?: string) {
  return createWebhookChannel(config(format, url), {
    requestTimeoutMs: 300,
    sendTimeoutMs: 3000,
    retries: 1,
    retryBackoffMs: 10,
    maxRetryAfterMs: 2000,
    pacingMs: 0,
  });
}

async function send(
  format: WebhookChannelConfig['format'],
  message: string,
  url?: string,
): Promise<SendResult> {
  const result = await channel(format, url).send(message, { silent: false });
  seen.push(JSON.stringify(result));
  return result;
}

async function deliver(format: WebhookChannelConfig['format'] = 'slack'): Promise<DeliveryReport> {
  const report = await deliverOutbox(stateDir, [channel(format)]);
  seen.push(JSON.stringify(report));
  return report;
}

function problem(target: string, logTail: string[] = ['boom'], reason = 'no process matches'): Alert {
  return {
    kind: 'problem',
    target,
    status: 'down',
    reason,
    outcome: { kind: 'start_failed', exitCode: 1, signal: null, error: null, logTail },
    atMs: Date.UTC(2026, 0, 2, 3, 4),
  };
}

function started(target: string, pid: number): Alert {
  return {
    kind: 'problem',
    target,
    status: 'down',
    reason: 'no process matches',
    outcome: {
      kind: 'started',
      pid,
      identity: { pid, startTicks: 1, startTimeMs: 1, cmdline: 'node bot.js --api-key=sekrit-in-argv' },
    },
    atMs: Date.UTC(2026, 0, 2, 3, 4),
  };
}

function envelope(alerts: Alert[], fields: Partial<Envelope> = {}): Envelope {
  const nowMs = Date.now();
  return { id: newEnvelopeId(nowMs), host: 'web-1', createdMs: nowMs, silent: false, alerts, ...fields };
}

async function queue(alerts: Alert[]): Promise<Envelope> {
  const queued = envelope(alerts);
  await enqueue(stateDir, queued);
  return queued;
}

describe('notifiers/webhook', () => {
  describe('renderWebhook()', () => {
    it('gives Slack plain text with & < > escaped, so a log cannot ping the channel', () => {
      const [text, ...others] = renderWebhook(
        'slack',
        envelope([problem('bot', ['<!channel> & <b>bold</b>'], 'reason with <b>&')]),
        { delayed: false },
      );
      expect(others).toEqual([]);
      expect(text).toContain('bot is down, restart failed');
      expect(text).toContain('Reason: reason with &lt;b&gt;&amp;');
      expect(text).toContain('&lt;!channel&gt; &amp; &lt;b&gt;bold&lt;/b&gt;');
      expect(text).not.toMatch(/<|>/);
    });

    it('escapes Discord markdown so a log shows as it was written', () => {
      expect(escapeDiscord('__init__ *x* `y` ~z~ a|b \\')).toBe(
        '\\_\\_init\\_\\_ \\*x\\* \\`y\\` \\~z\\~ a\\|b \\\\',
      );
      expect(escapeDiscord('> quote\n  # heading\n- item')).toBe('\\> quote\n  \\# heading\n\\- item');
    });

    it('cuts a Discord message over 2000 characters in the middle, keeping its start and its end', () => {
      const log = ['first line of the log', 'x'.repeat(10_000), 'last line of the log'];
      const [text, ...others] = renderWebhook('discord', envelope([problem('bot', log)]), { delayed: true });
      expect(others).toEqual([]);
      expect(text!.length).toBeLessThanOrEqual(DISCORD_MAX_CHARS);
      expect(text).toContain('(delayed)');
      expect(text).toContain('bot is down, restart failed');
      expect(text).toContain('first line of the log');
      expect(text).toContain('last line of the log');
      expect(text).toMatch(/characters cut/);
    });

    it('puts more than three alerts in one digest, split only to stay within the limit', () => {
      const many = Array.from({ length: 8 }, (_, i) => problem(`target-${i}`, ['y'.repeat(600)]));
      for (const [format, limit] of [
        ['discord', DISCORD_MAX_CHARS],
        ['slack', SLACK_MAX_CHARS],
      ] as const) {
        const parts = renderWebhook(format, envelope(many), { delayed: false });
        expect(parts.length).toBeGreaterThan(1);
        expect(parts.length).toBeLessThan(many.length);
        for (const part of parts) expect(part.length).toBeLessThanOrEqual(limit);
        const all = parts.join('\n');
        for (let i = 0; i < 8; i += 1) {
          expect(all.split(`target-${i} is down`)).toHaveLength(2);
        }
        expect(parts[0]).toContain(`8 alerts (1/${parts.length})`);
      }
      const small = Array.from({ length: 8 }, (_, i) => problem(`target-${i}`));
      expect(renderWebhook('discord', envelope(small), { delayed: false })).toHaveLength(1);
    });

    it('gives the envelope as JSON, without the command line of a started process', () => {
      const queued = envelope([started('bot', 4321)], { silent: true });
      const [text, ...others] = renderWebhook('json', queued, { delayed: true });
      expect(others).toEqual([]);
      const body = JSON.parse(text!);
      expect(body).toMatchObject({
        source: 'cronwatch',
        id: queued.id,
        host: 'web-1',
        createdMs: queued.createdMs,
        delayed: true,
        silent: true,
        alerts: [{ kind: 'problem', target: 'bot', outcome: { kind: 'started', pid: 4321 } }],
      });
      expect(body.text).toContain('bot was down, restarted, new pid 4321');
      expect(text).not.toContain('sekrit-in-argv');
    });
  });

  describe('createWebhookChannel()', () => {
    it('posts Slack {"text"} as JSON to the URL', async () => {
      expect(await send('slack', 'hello &amp; bye')).toEqual({ kind: 'delivered' });
      const [request] = hook.requests;
      expect(request).toMatchObject({ method: 'POST', path: SECRET_PATH });
      expect(request!.headers['content-type']).toBe('application/json');
      expect(hook.accepted()).toEqual([{ text: 'hello &amp; bye' }]);
    });

    it('posts Discord {"content"} with mentions disarmed, link previews off and silence as asked', async () => {
      hook.setReply({ status: 204 });
      const discord = channel('discord');
      expect(await discord.send('@everyone look', { silent: false })).toEqual({ kind: 'delivered' });
      expect(await discord.send('quiet', { silent: true })).toEqual({ kind: 'delivered' });
      expect(hook.accepted()).toEqual([
        { content: '@everyone look', allowed_mentions: { parse: [] }, flags: 4 },
        { content: 'quiet', allowed_mentions: { parse: [] }, flags: 4 | 4096 },
      ]);
    });

    it('waits out a 429 for its Retry-After and delivers once', async () => {
      hook.replyNext({ status: 429, headers: { 'retry-after': '1' }, body: 'slow down' });
      expect(await send('slack', 'x')).toEqual({ kind: 'delivered' });
      expect(hook.requests.map((request) => request.status)).toEqual([429, 200]);
      expect(hook.accepted()).toHaveLength(1);
    });

    it('leaves the message for the next run when Retry-After is longer than it will wait', async () => {
      hook.replyNext({ status: 429, headers: { 'retry-after': '600' } });
      const result = await send('slack', 'x');
      expect(result).toMatchObject({ kind: 'retry' });
      expect(result.kind === 'retry' && result.error).toMatch(/rate limit, retry after 600s/);
      expect(hook.requests).toHaveLength(1);
    });

    it('retries a 5xx and reports it for the next run when it persists', async () => {
      hook.setReply({ status: 503, body: 'maintenance' });
      const result = await send('slack', 'x');
      expect(result).toEqual({
        kind: 'retry',
        error: `Webhook (127.0.0.1:${hook.port}) answered 503: maintenance`,
      });
      expect(hook.requests).toHaveLength(2);
    });

    it('gives up on a hung receiver within its timeouts', async () => {
      hook.setReply('hang');
      const result = await send('slack', 'x');
      expect(result).toMatchObject({ kind: 'retry' });
      expect(result.kind === 'retry' && result.error).toMatch(/did not answer within 300 ms/);
    });

    it('reports an unreachable receiver by host and error code', async () => {
      const url = hook.url(SECRET_PATH);
      await hook.close();
      const result = await send('slack', 'x', url);
      expect(result).toMatchObject({ kind: 'retry' });
      expect(result.kind === 'retry' && result.error).toMatch(
        /^Could not reach Webhook \(127\.0\.0\.1:\d+\): .*ECONNREFUSED/,
      );
    });

    it('treats 401, 403, 404 and 410 as the whole channel refused, other 4xx as this message only', async () => {
      for (const status of [401, 403, 404, 410]) {
        hook.replyNext({ status, body: 'no_service' });
        expect(await send('slack', 'x')).toMatchObject({ kind: 'permanent', scope: 'channel' });
      }
      hook.replyNext({ status: 400, body: 'invalid_payload' });
      expect(await send('slack', 'x')).toEqual({
        kind: 'permanent',
        scope: 'message',
        error: `Webhook (127.0.0.1:${hook.port}) answered 400: invalid_payload`,
      });
      hook.replyNext({ status: 408 });
      expect(await send('slack', 'x')).toEqual({ kind: 'delivered' });
    });

    it('does not follow a redirect, which would replay the POST as a GET', async () => {
      hook.replyNext({ status: 302, headers: { location: `${hook.url(SECRET_PATH)}/moved` } });
      const result = await send('slack', 'x');
      expect(result).toMatchObject({ kind: 'permanent', scope: 'channel' });
      expect(hook.requests).toHaveLength(1);
    });

    it('refuses a URL it cannot parse without quoting it', async () => {
      const result = await send('slack', 'x', `http://exa mple.com${SECRET_PATH}`);
      expect(result).toEqual({
        kind: 'permanent',
        scope: 'channel',
        error: 'channels.webhook.url is not a valid URL',
      });
    });

    it('keeps the URL out of errors even when the receiver echoes it', async () => {
      hook.setReply({ status: 500, body: `bad request to ${hook.url(SECRET_PATH)} (${SECRET_PATH})` });
      const result = await send('slack', 'x');
      expect(result.kind === 'retry' && result.error).toContain('<redacted>');
    });
  });

  describe('deliverOutbox() with a webhook', () => {
    it('keeps an alert queued through a 500 and delivers it once when the receiver is back', async () => {
      const queued = await queue([problem('bot')]);
      hook.setReply({ status: 500 });
      const first = await deliver();
      expect(first.pending.map((entry) => entry.id)).toEqual([queued.id]);
      expect(first.retryErrors[0]?.error).toMatch(/answered 500/);
      expect(hook.accepted()).toEqual([]);

      hook.setReply(null);
      const second = await deliver();
      expect(second.delivered).toEqual([queued.id]);
      expect(hook.accepted()).toHaveLength(1);
      expect(await pending(stateDir)).toEqual([]);
      await deliver();
      expect(hook.accepted()).toHaveLength(1);
    });

    it('records a 404 as a permanent refusal of the channel and does not retry it', async () => {
      const queued = await queue([problem('bot')]);
      hook.setReply({ status: 404, body: 'no_service' });
      const first = await deliver();
      expect(first.permanentErrors).toEqual([
        {
          id: queued.id,
          channel: 'webhook',
          error: `Webhook (127.0.0.1:${hook.port}) answered 404: no_service (the webhook is gone: check channels.webhook.url)`,
        },
      ]);
      expect(first.pending[0]?.permanent.webhook?.error).toMatch(/answered 404/);
      await deliver();
      expect(hook.requests).toHaveLength(1);
    });

    it('sends a JSON envelope marked delayed when it waited in the outbox', async () => {
      const queued = envelope([problem('bot')], { createdMs: Date.now() - 10 * 60_000 });
      await enqueue(stateDir, queued);
      await deliver('json');
      expect(hook.accepted()).toMatchObject([{ id: queued.id, delayed: true, host: 'web-1' }]);
    });
  });
});
