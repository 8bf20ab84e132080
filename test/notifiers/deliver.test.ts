import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert, Envelope, TelegramChannelConfig } from '../../src/core/types.js';
import type { Channel } from '../../src/notifiers/channel.js';
import { createConsoleChannel } from '../../src/notifiers/console.js';
import {
  type DeliveryReport,
  deliverOutbox,
  HOLD_MAX_RETRY_MS,
  nextTryMs,
} from '../../src/notifiers/deliver.js';
import { createTelegramChannel } from '../../src/notifiers/telegram.js';
import { enqueue, newEnvelopeId, recordChannelWorked } from '../../src/store/outbox.js';
import { type BotApiServer, startBotApiServer } from '../support/bot-api-server.js';
import { pending } from '../support/outbox.js';

const TOKEN = '123456789:AAHsecret-token_value_ABCDEFGHIJKLMNOPQ';
const CHAT_ID = '4242';

let stateDir: string;
let api: BotApiServer;
/** Every report a test got, checked for the token after each test. */
const reports: DeliveryReport[] = [];

beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'cronwatch-deliver-'));
  api = await startBotApiServer();
  reports.length = 0;
});

afterEach(async () => {
  await api.close();
  // The token never reaches a report or the outbox, whatever the test did.
  const files = await readdir(join(stateDir, 'outbox')).catch(() => [] as string[]);
  const contents = await Promise.all(files.map((name) => readFile(join(stateDir, 'outbox', name), 'utf8')));
  for (const text of [JSON.stringify(reports), ...contents]) {
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(encodeURIComponent(TOKEN));
  }
  await rm(stateDir, { recursive: true, force: true });
});

function telegramConfig(overrides: Partial<TelegramChannelConfig> = {}): TelegramChannelConfig {
  return { token: TOKEN, chatId: CHAT_ID, apiRoot: api.apiRoot, threadId: null, ...overrides };
}

/** Short client limits, so a hung or failing server costs a test well under a second or two. */
function telegram(overrides: Partial<TelegramChannelConfig> = {}): Channel {
  return createTelegramChannel(telegramConfig(overrides), {
    requestTimeoutMs: 300,
    sendTimeoutMs: 2000,
    retries: 1,
    retryBackoffMs: 10,
    maxRetryAfterMs: 2000,
    pacingMs: 0,
  });
}

async function deliver(channels: Channel[], options: Parameters<typeof deliverOutbox>[2] = {}) {
  const report = await deliverOutbox(stateDir, channels, options);
  reports.push(report);
  return report;
}

function problem(target: string, logTail: string[] = ['boom']): Alert {
  return {
    kind: 'problem',
    target,
    status: 'down',
    reason: 'no process matches',
    outcome: { kind: 'start_failed', exitCode: 1, signal: null, error: null, logTail },
    atMs: Date.now(),
  };
}

async function queue(alerts: Alert[], fields: Partial<Envelope> = {}): Promise<Envelope> {
  const nowMs = Date.now();
  const envelope: Envelope = {
    id: newEnvelopeId(nowMs),
    host: 'web-1',
    createdMs: nowMs,
    silent: false,
    alerts,
    ...fields,
  };
  await enqueue(stateDir, envelope);
  return envelope;
}

describe('notifiers/deliver', () => {
  describe('deliverOutbox() with Telegram', () => {
    it('sends a queued alert as HTML to the chat and empties the outbox', async () => {
      const envelope = await queue([problem('site-monitor')]);
      const report = await deliver([telegram()]);
      expect(report).toMatchObject({
        delivered: [envelope.id],
        pending: [],
        permanentErrors: [],
        retryErrors: [],
      });
      const [message, ...others] = api.messages();
      expect(others).toEqual([]);
      expect(message).toMatchObject({
        token: TOKEN,
        chatId: CHAT_ID,
        parseMode: 'HTML',
        disableNotification: false,
      });
      expect(message!.text).toContain('<b>site-monitor</b> is down, restart failed');
      expect(await pending(stateDir)).toEqual([]);
    });

    it('sends a silent envelope without sound, to the configured forum topic', async () => {
      await queue([problem('a')], { silent: true });
      await deliver([telegram({ threadId: 12 })]);
      expect(api.messages()[0]).toMatchObject({ disableNotification: true, messageThreadId: 12 });
    });

    it('keeps the order of several envelopes', async () => {
      await queue([problem('first')]);
      await queue([problem('second')]);
      await queue([problem('third')]);
      await deliver([telegram()]);
      expect(api.messages().map((message) => /<b>(\w+)<\/b> is down/.exec(message.text)?.[1])).toEqual([
        'first',
        'second',
        'third',
      ]);
    });

    it('waits out a 429 and delivers once', async () => {
      const envelope = await queue([problem('a')]);
      api.failNext({ kind: 'rate_limit', retryAfterS: 1 });
      const report = await deliver([telegram()]);
      expect(report.delivered).toEqual([envelope.id]);
      expect(api.requests.map((request) => request.outcome)).toEqual(['rate_limit', 'ok']);
      expect(api.messages()).toHaveLength(1);
    });

    it('leaves the envelope for the next run when retry_after is longer than it will wait', async () => {
      const envelope = await queue([problem('a')]);
      api.failNext({ kind: 'rate_limit', retryAfterS: 600 });
      const report = await deliver([telegram()]);
      expect(report.pending.map((entry) => entry.id)).toEqual([envelope.id]);
      expect(report.retryErrors[0]?.error).toMatch(/rate limit, retry after 600s/);
      expect(api.requests).toHaveLength(1);
    });

    it('keeps an alert while Telegram is unreachable and delivers it once, marked delayed, when it is back', async () => {
      const port = api.port;
      await api.close();
      const envelope = await queue([problem('site-monitor')]);
      const channel = telegram();

      const down = await deliver([channel]);
      expect(down.delivered).toEqual([]);
      expect(down.retryErrors[0]?.error).toMatch(/^Could not reach Telegram: .*ECONNREFUSED/);
      const [queued] = await pending(stateDir);
      expect(queued).toMatchObject({ id: envelope.id, delivered: [], attempts: 1 });
      expect(queued!.lastError).toMatch(/ECONNREFUSED/);

      api = await startBotApiServer({ port });
      const later = () => envelope.createdMs + 10 * 60_000;
      const back = await deliver([channel], { now: later });
      expect(back.delivered).toEqual([envelope.id]);
      const [message, ...others] = api.messages();
      expect(others).toEqual([]);
      expect(message!.text).toMatch(/<i>delayed, raised at \d{4}-\d\d-\d\d \d\d:\d\d UTC<\/i>/);

      await deliver([channel], { now: later });
      expect(api.messages()).toHaveLength(1);
    });

    it('keeps the envelope through 5xx errors and sends it once they stop', async () => {
      const envelope = await queue([problem('a')]);
      api.setFault('server_error');
      const failing = await deliver([telegram()]);
      expect(failing.pending.map((entry) => entry.id)).toEqual([envelope.id]);
      expect(failing.retryErrors[0]?.error).toBe('Telegram 500: Internal Server Error');
      // The client's own in-run retry: one attempt plus `retries`.
      expect(api.requests).toHaveLength(2);
      expect((await pending(stateDir))[0]?.lastError).toBe('Telegram 500: Internal Server Error');

      api.setFault(null);
      const recovered = await deliver([telegram()]);
      expect(recovered.delivered).toEqual([envelope.id]);
      expect(api.messages()).toHaveLength(1);
    });

    it('stops sending on a channel that must be retried, so no later alert overtakes an earlier one', async () => {
      const first = await queue([problem('first')]);
      const second = await queue([problem('second')]);
      api.failNext('server_error', 2);
      const report = await deliver([telegram()]);
      expect(report.pending.map((entry) => entry.id)).toEqual([first.id, second.id]);
      expect(api.requests).toHaveLength(2);
      expect(api.messages()).toEqual([]);

      await deliver([telegram()]);
      expect(api.messages().map((message) => /<b>(\w+)<\/b>/.exec(message.text)?.[1])).toEqual([
        'first',
        'second',
      ]);
    });

    it('records a 403 as permanent and does not retry it in a loop', async () => {
      const envelope = await queue([problem('a')]);
      api.setFault('forbidden');
      const report = await deliver([telegram()]);
      expect(report.permanentErrors).toEqual([
        {
          id: envelope.id,
          channel: 'telegram',
          error: 'Telegram 403: Forbidden: bot was blocked by the user (the bot cannot write to this chat)',
        },
      ]);
      expect(api.requests).toHaveLength(1);
      const [held] = await pending(stateDir);
      expect(held!.permanent.telegram?.error).toMatch(/^Telegram 403/);

      const again = await deliver([telegram()]);
      expect(again.permanentErrors).toEqual([]);
      expect(again.pending[0]).toMatchObject({ id: envelope.id, waitingFor: ['telegram'] });
      expect(again.pending[0]?.permanent.telegram?.error).toMatch(/^Telegram 403/);
      expect(api.requests).toHaveLength(1);
    });

    it('tries a refused channel again at once when its config changed', async () => {
      await queue([problem('a')]);
      api.setFault('chat_not_found');
      await deliver([telegram()]);
      expect(api.requests).toHaveLength(1);
      api.setFault(null);
      await deliver([telegram({ chatId: '777' })]);
      expect(api.messages().map((message) => message.chatId)).toEqual(['777']);
    });

    it('retries a refused channel on a backoff, 5m doubling, without any sign that it works', async () => {
      const first = await queue([problem('a')]);
      const second = await queue([problem('b')]);
      const t0 = Date.now();
      api.setFault('forbidden');
      await deliver([telegram()], { now: () => t0 });
      const tries: number[] = [];
      // Every minute for 40 minutes: the refusals come 5, 10 and 20 minutes apart.
      for (let minute = 1; minute <= 40; minute += 1) {
        const before = api.requests.length;
        const report = await deliver([telegram()], { now: () => t0 + minute * 60_000 + 1 });
        if (api.requests.length > before) tries.push(minute);
        expect(report.permanentErrors).toEqual([]);
      }
      expect(tries).toEqual([5, 15, 35]);
      const [held] = await pending(stateDir);
      expect(held!.permanent.telegram).toMatchObject({ tries: 4, scope: 'channel' });
      expect(nextTryMs({ atMs: 0, tries: 20 })).toBe(HOLD_MAX_RETRY_MS);

      api.setFault(null);
      const report = await deliver([telegram()], { now: () => t0 + 75 * 60_000 + 2 });
      expect(report.delivered).toEqual([first.id, second.id]);
      expect(api.messages().map((message) => /<b>(\w)<\/b>/.exec(message.text)?.[1])).toEqual(['a', 'b']);
    });

    it('sends held alerts as soon as the channel is seen to work, in order and once each', async () => {
      const first = await queue([problem('a')]);
      const second = await queue([problem('b')]);
      api.setFault('unauthorized');
      await deliver([telegram()]);
      api.setFault(null);
      expect((await deliver([telegram()])).delivered).toEqual([]);
      // test-alert (or doctor) saw the channel work with this config.
      await recordChannelWorked(stateDir, 'telegram', {
        atMs: Date.now(),
        fingerprint: telegram().fingerprint,
      });
      const report = await deliver([telegram()]);
      expect(report.delivered).toEqual([first.id, second.id]);
      expect((await deliver([telegram()])).delivered).toEqual([]);
      expect(api.messages().map((message) => /<b>(\w)<\/b>/.exec(message.text)?.[1])).toEqual(['a', 'b']);
    });

    it('sends a held envelope before a newer one once the chat accepts messages again', async () => {
      const old = await queue([problem('a')]);
      api.setFault('forbidden');
      await deliver([telegram()]);
      // The owner unblocks the bot; the next run has a new alert to send. Raised after the
      // refusal: here both can fall in one millisecond, where a real next run comes minutes later.
      api.setFault(null);
      const fresh = await queue([problem('b')], { createdMs: Date.now() + 1 });
      const report = await deliver([telegram()]);
      expect(report.delivered).toEqual([old.id, fresh.id]);
      expect(api.messages().map((message) => /<b>(\w)<\/b>/.exec(message.text)?.[1])).toEqual(['a', 'b']);
    });

    it("keeps within Telegram's 20 messages a minute and leaves the rest queued, in order", async () => {
      const queued: Envelope[] = [];
      for (let index = 0; index < 23; index += 1) queued.push(await queue([problem(`t${index}`)]));
      const report = await deliver([telegram()]);
      expect(report.delivered).toEqual(queued.slice(0, 20).map((envelope) => envelope.id));
      expect(report.pending.map((entry) => entry.id)).toEqual(
        queued.slice(20).map((envelope) => envelope.id),
      );
      const later = await deliver([telegram()], { now: () => Date.now() + 61_000 });
      expect(later.delivered).toEqual(queued.slice(20).map((envelope) => envelope.id));
      expect(api.messages()).toHaveLength(23);
    });

    it('does not send further envelopes to a chat that refused one for good in the same run', async () => {
      await queue([problem('a')]);
      await queue([problem('b')]);
      api.setFault('unauthorized');
      const report = await deliver([telegram()]);
      expect(report.permanentErrors).toHaveLength(1);
      expect(report.pending).toHaveLength(2);
      expect(api.requests).toHaveLength(1);
    });

    it("resends once as plain text when Telegram can't parse the HTML", async () => {
      const envelope = await queue([problem('<b>&')]);
      api.failNext('cant_parse_entities');
      const report = await deliver([telegram()]);
      expect(report.delivered).toEqual([envelope.id]);
      expect(api.requests.map((request) => request.params.parse_mode)).toEqual(['HTML', undefined]);
      const [message] = api.messages();
      expect(message!.parseMode).toBeNull();
      expect(message!.text).toContain('<b>& is down, restart failed');
      expect(message!.text).not.toContain('&amp;');
    });

    it('gives up on a message Telegram cannot parse even as plain text, without looping', async () => {
      await queue([problem('a')]);
      api.failNext('cant_parse_entities', 5);
      const report = await deliver([telegram()]);
      expect(report.permanentErrors[0]?.error).toMatch(/can't parse entities/);
      expect(api.requests).toHaveLength(2);
    });

    it('resends a message Telegram finds too long, cut to fit, as plain text', async () => {
      await queue([problem('a', ['x'.repeat(3000)])]);
      api.failNext('too_long');
      await deliver([telegram()]);
      expect(api.messages()).toHaveLength(1);
      expect(api.messages()[0]!.parseMode).toBeNull();
    });

    it('follows a group migrated to a supergroup once and says to update chat_id', async () => {
      await queue([problem('a')]);
      api.failNext({ kind: 'migrate', toChatId: -1009999 });
      const report = await deliver([telegram()]);
      expect(api.messages().map((message) => message.chatId)).toEqual(['-1009999']);
      expect(report.notices).toEqual([
        `Telegram chat ${CHAT_ID} became supergroup -1009999: set channels.telegram.chat_id to -1009999`,
      ]);
    });

    it('ends in bounded time when Telegram never answers, and keeps the envelope', async () => {
      const envelope = await queue([problem('a')]);
      api.setFault('hang');
      const report = await deliver([telegram()]);
      expect(report.pending.map((entry) => entry.id)).toEqual([envelope.id]);
      expect(report.retryErrors[0]?.error).toMatch(/did not (answer|accept the message) within \d+ ms/);
      expect(api.messages()).toEqual([]);
    });

    it('keeps the envelope when the connection is dropped', async () => {
      const envelope = await queue([problem('a')]);
      api.setFault('close');
      const report = await deliver([telegram()]);
      expect(report.pending.map((entry) => entry.id)).toEqual([envelope.id]);
      expect(report.retryErrors[0]?.error).toMatch(/^Could not reach Telegram/);
    });

    it('resumes a split digest after the last part accepted, without resending earlier parts', async () => {
      const log = Array.from({ length: 20 }, (_, i) => `${i} ${'y'.repeat(150)}`);
      const envelope = await queue(Array.from({ length: 8 }, (_, i) => problem(`target-${i}`, log)));
      const real = telegram();
      // The server starts failing right after the first part went through.
      const flaky: Channel = {
        ...real,
        send: async (message, options) => {
          const result = await real.send(message, options);
          api.setFault('server_error');
          return result;
        },
      };
      await deliver([flaky]);
      expect(api.messages()).toHaveLength(1);
      expect((await pending(stateDir))[0]?.sentParts).toEqual({ telegram: 1 });

      api.setFault(null);
      const report = await deliver([real]);
      expect(report.delivered).toEqual([envelope.id]);
      const texts = api.messages().map((message) => message.text);
      expect(texts.length).toBeGreaterThan(2);
      texts.forEach((text, index) => {
        expect(text).toContain(`8 alerts (${index + 1}/${texts.length})`);
      });
    });

    it('never puts the token in an error, even when the client quotes the request URL', async () => {
      await queue([problem('a')]);
      const broken = createTelegramChannel(telegramConfig({ apiRoot: 'http://127.0.0.1:notaport' }), {
        retries: 0,
        pacingMs: 0,
      });
      const report = await deliver([broken]);
      expect(report.permanentErrors[0]?.error).toMatch(
        /^Invalid Telegram api_root: .*bot<redacted>\/sendMessage/,
      );
      expect(report.permanentErrors[0]?.error).not.toContain(TOKEN);
    });
  });

  describe('deliverOutbox() with several channels', () => {
    it('removes an envelope only when every channel accepted it, and sends each channel its share once', async () => {
      const stream = new PassThrough();
      let written = '';
      stream.on('data', (chunk: Buffer) => {
        written += chunk.toString();
      });
      const envelope = await queue([problem('site-monitor')]);
      api.setFault('server_error');
      const first = await deliver([createConsoleChannel({ stream }), telegram()]);
      expect(first.pending[0]).toMatchObject({ id: envelope.id, waitingFor: ['telegram'] });
      expect(written).toContain('site-monitor is down, restart failed');

      api.setFault(null);
      const second = await deliver([createConsoleChannel({ stream }), telegram()]);
      expect(second.delivered).toEqual([envelope.id]);
      expect(written.match(/site-monitor is down/g)).toHaveLength(1);
      expect(api.messages()).toHaveLength(1);
    });

    it('refuses to run with no channel, which would drop every alert', async () => {
      await queue([problem('a')]);
      await expect(deliverOutbox(stateDir, [])).rejects.toThrow(/at least one channel/);
      expect(await pending(stateDir)).toHaveLength(1);
    });
  });
});
