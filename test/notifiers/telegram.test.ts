import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTelegramChannel } from '../../src/notifiers/telegram.js';
import { type BotApiServer, startBotApiServer } from '../support/bot-api-server.js';

const TOKEN = '987654321:AAFsecret_Token-value_QRSTUVWXYZabcdefg';
const run = promisify(execFile);
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));

let api: BotApiServer;

beforeEach(async () => {
  api = await startBotApiServer();
});

afterEach(async () => {
  await api.close();
});

function channel(threadId: number | null = null) {
  return createTelegramChannel(
    { token: TOKEN, chatId: '-100200', apiRoot: api.apiRoot, threadId },
    { requestTimeoutMs: 300, sendTimeoutMs: 2000, retries: 1, retryBackoffMs: 10, pacingMs: 0 },
  );
}

describe('notifiers/telegram', () => {
  describe('createTelegramChannel()', () => {
    it('sends one message with the params the Bot API expects', async () => {
      const result = await channel(7).send('<b>hi</b> &amp; bye', { silent: true });
      expect(result).toEqual({ kind: 'delivered' });
      expect(api.requests).toHaveLength(1);
      expect(api.requests[0]).toMatchObject({
        method: 'sendMessage',
        token: TOKEN,
        params: {
          chat_id: '-100200',
          text: '<b>hi</b> &amp; bye',
          parse_mode: 'HTML',
          disable_notification: 'true',
          message_thread_id: '7',
        },
      });
    });

    it('classifies refusals that no retry can fix as permanent for the whole channel', async () => {
      for (const fault of ['unauthorized', 'forbidden', 'chat_not_found'] as const) {
        api.failNext(fault);
        const result = await channel().send('x', { silent: false });
        expect(result).toMatchObject({ kind: 'permanent', scope: 'channel' });
      }
      expect(api.requests).toHaveLength(3);
    });

    it('classifies rate limits, 5xx, dropped connections and silence as worth retrying', async () => {
      api.setFault({ kind: 'rate_limit', retryAfterS: 3600 });
      expect(await channel().send('x', { silent: false })).toMatchObject({ kind: 'retry' });
      for (const fault of ['server_error', 'close', 'hang'] as const) {
        api.setFault(fault);
        expect(await channel().send('x', { silent: false })).toMatchObject({ kind: 'retry' });
      }
    });

    it('reports an empty token as a permanent config problem, without a request', async () => {
      const empty = createTelegramChannel({ token: '', chatId: '1', apiRoot: api.apiRoot, threadId: null });
      expect(await empty.send('x', { silent: false })).toEqual({
        kind: 'permanent',
        scope: 'channel',
        error: 'Telegram bot token is empty',
      });
      expect(api.requests).toEqual([]);
    });

    it('gives a fingerprint that changes with the config and does not contain the token', () => {
      const config = { token: TOKEN, chatId: '1', apiRoot: api.apiRoot, threadId: null };
      const a = createTelegramChannel(config).fingerprint;
      expect(createTelegramChannel({ ...config }).fingerprint).toBe(a);
      expect(createTelegramChannel({ ...config, chatId: '2' }).fingerprint).not.toBe(a);
      expect(createTelegramChannel({ ...config, token: `${TOKEN}x` }).fingerprint).not.toBe(a);
      expect(a).not.toContain(TOKEN.split(':')[1]!.slice(0, 6));
    });

    it('does not load the Telegram client on a run with nothing to send', { timeout: 60_000 }, async () => {
      const stateDir = await mkdtemp(join(tmpdir(), 'cronwatch-lazy-'));
      try {
        const args = [
          '--import',
          'tsx',
          '--import',
          join(fixtures, 'forbid-client.mjs'),
          join(fixtures, 'quiet-run.ts'),
        ];
        const quiet = await run(process.execPath, [...args, stateDir, 'quiet'], { cwd: root });
        expect(JSON.parse(quiet.stdout)).toMatchObject({ delivered: [], pending: [] });
        // The control: sending does reach for the client, and the forbidding hook is in force.
        const sending = await run(process.execPath, [...args, stateDir, 'send'], { cwd: root });
        expect(JSON.parse(sending.stdout).retryErrors[0].error).toMatch(
          /Could not set up the Telegram client/,
        );
      } finally {
        await rm(stateDir, { recursive: true, force: true });
      }
    });
  });
});
