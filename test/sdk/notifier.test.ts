import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createNotifier, type NotifierConfig } from '../../src/index.js';
import { type BotApiServer, startBotApiServer } from '../support/bot-api-server.js';
import { ROOT, runProcess, waitFor } from '../support/cli.js';

const TOKEN = '123456789:AAHnotifier-secret_token_ABCDEFGHIJKLM';
const CHAT_ID = '4242';
const HOST = 'notifier-host';

let dir: string;
let stateDir: string;
let api: BotApiServer;
const children: ChildProcess[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cronwatch-notifier-'));
  stateDir = join(dir, 'state');
  api = await startBotApiServer();
});

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await api.close();
  // The token reaches no outbox file, whatever the test did.
  for (const text of outboxTexts()) expect(text).not.toContain(TOKEN);
  rmSync(dir, { recursive: true, force: true });
});

function outboxTexts(): string[] {
  const outbox = join(stateDir, 'outbox');
  const names = (() => {
    try {
      return readdirSync(outbox);
    } catch {
      return [];
    }
  })();
  return names
    .filter((name) => name.endsWith('.json'))
    .map((name) => readFileSync(join(outbox, name), 'utf8'));
}

function notifier(config: Partial<NotifierConfig> = {}) {
  return createNotifier({
    stateDir,
    host: HOST,
    telegram: { token: TOKEN, chatId: CHAT_ID, apiRoot: api.apiRoot },
    ...config,
  });
}

function texts(): string[] {
  return api.messages().map((message) => message.text);
}

describe('sdk', () => {
  describe('createNotifier()', () => {
    it('delivers a message to Telegram through the outbox, naming the host', async () => {
      const result = await notifier().send('disk <b>full</b> & 3 jobs lost\nsecond line');

      expect(result).toEqual({ kind: 'delivered', id: expect.any(String) });
      const [message] = api.messages();
      expect(message).toMatchObject({ chatId: CHAT_ID, parseMode: 'HTML', disableNotification: false });
      expect(message!.text).toContain(`<b>${HOST}</b>`);
      expect(message!.text).toContain('disk &lt;b&gt;full&lt;/b&gt; &amp; 3 jobs lost\nsecond line');
      expect(outboxTexts()).toEqual([]);
    });

    it('sends a silent message without sound', async () => {
      await notifier().send('nightly: all well', { silent: true });
      expect(api.messages()[0]!.disableNotification).toBe(true);
    });

    it('sends the same key once within the dedup window', async () => {
      // A window far longer than four loopback sends take, even on a loaded machine.
      const notify = notifier({ dedupWindow: 2000 });

      expect((await notify.send('3 failures in a row', { key: 'failing' })).kind).toBe('delivered');
      expect(await notify.send('4 failures in a row', { key: 'failing' })).toEqual({
        kind: 'duplicate',
        key: 'failing',
      });
      expect((await notify.send('3 failures in a row')).kind).toBe('delivered');
      expect((await notify.send('3 failures in a row')).kind).toBe('duplicate');
      await new Promise((resolve) => setTimeout(resolve, 2100));
      expect((await notify.send('5 failures in a row', { key: 'failing' })).kind).toBe('delivered');

      expect(texts().map((text) => text.split('\n').at(-1))).toEqual([
        '💬 3 failures in a row',
        '💬 3 failures in a row',
        '💬 5 failures in a row',
      ]);
    });

    it('sends the same text again when dedup is off', async () => {
      const notify = notifier({ dedupWindow: 0 });
      await notify.send('tick');
      expect((await notify.send('tick')).kind).toBe('delivered');
      expect(api.messages()).toHaveLength(2);
    });

    it('drops messages over the rate limit and says so in the next one sent', async () => {
      const notify = notifier({ rateLimit: { count: 2, per: 2000 } });
      await notify.send('one');
      await notify.send('two');

      expect(await notify.send('three')).toEqual({ kind: 'rate_limited', dropped: 1 });
      expect(await notify.send('four')).toEqual({ kind: 'rate_limited', dropped: 2 });
      await new Promise((resolve) => setTimeout(resolve, 2100));
      expect((await notify.send('five')).kind).toBe('delivered');

      expect(texts()).toHaveLength(3);
      expect(texts()[2]).toContain('five\n(2 earlier message(s) dropped by the rate limit)');
    });

    it('keeps what Telegram did not take, and delivers it, in order, on the next send or flush', async () => {
      const notify = notifier();
      api.setFault('server_error');

      const queued = await notify.send('first');

      expect(queued).toEqual({
        kind: 'queued',
        id: expect.any(String),
        reason: 'Telegram 500: Internal Server Error',
      });
      expect(outboxTexts()).toHaveLength(1);
      expect(await notify.flush()).toEqual({
        delivered: 0,
        pending: 1,
        reason: 'Telegram 500: Internal Server Error',
      });

      api.setFault(null);
      expect((await notify.send('second')).kind).toBe('delivered');
      expect(texts().map((text) => text.split('\n').at(-1))).toEqual(['💬 first', '💬 second']);
      expect(outboxTexts()).toEqual([]);
      expect(await notify.flush()).toEqual({ delivered: 0, pending: 0, reason: null });
    });

    it('delivers on flush what an earlier send left', async () => {
      const notify = notifier();
      api.setFault('server_error');
      await notify.send('held back');
      api.setFault(null);

      expect(await notify.flush()).toEqual({ delivered: 1, pending: 0, reason: null });
      expect(texts()[0]).toContain('held back');
    });

    it('says why Telegram refused for good, without the token', async () => {
      api.setFault('unauthorized');

      const result = await notifier().send('hello');

      expect(result).toMatchObject({
        kind: 'queued',
        reason: 'Telegram 401: Unauthorized (check the bot token)',
      });
      expect(JSON.stringify(result)).not.toContain(TOKEN);
    });

    it('leaves delivery to the process holding the run lock', async () => {
      mkdirSync(stateDir, { mode: 0o700 });
      const holder = spawn(
        process.execPath,
        ['--import', 'tsx', join(import.meta.dirname, 'fixtures/hold-lock.ts'), stateDir],
        {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      children.push(holder);
      let said = '';
      holder.stdout.on('data', (chunk) => {
        said += chunk;
      });
      await waitFor(() => (said.includes('held') ? true : undefined), 'the lock to be held');
      const notify = notifier();

      const result = await notify.send('while a run delivers');

      expect(result).toMatchObject({
        kind: 'queued',
        reason: `another process (pid ${holder.pid}) is delivering the outbox`,
      });
      expect(api.messages()).toEqual([]);
      holder.kill('SIGTERM');
      await new Promise((resolve) => holder.on('close', resolve));
      expect(await notify.flush()).toEqual({ delivered: 1, pending: 0, reason: null });
      expect(texts()[0]).toContain('while a run delivers');
    });

    it('delivers every message of sends made side by side, in order', async () => {
      const notify = notifier();

      const results = await Promise.all(['a', 'b', 'c'].map((text) => notify.send(text)));

      expect(results.map((result) => result.kind)).toEqual(['delivered', 'delivered', 'delivered']);
      expect(texts().map((text) => text.split('\n').at(-1))).toEqual(['💬 a', '💬 b', '💬 c']);
    });

    it('rejects a message it could not record, and does not count it as sent', async () => {
      writeFileSync(stateDir, 'a file where the state dir should be');
      const notify = notifier();

      await expect(notify.send('lost?')).rejects.toThrow(
        `Could not record the message in the outbox in ${stateDir}`,
      );

      rmSync(stateDir);
      expect((await notify.send('lost?')).kind).toBe('delivered');
    });

    it('writes to stderr when no Telegram is configured', async () => {
      const script = `import { createNotifier } from ${JSON.stringify(join(ROOT, 'src/index.ts'))};
const result = await createNotifier({ stateDir: ${JSON.stringify(stateDir)}, host: 'box' }).send('hello from a daemon');
process.stdout.write(result.kind);`;
      const { code, stdout, stderr } = await runProcess(process.execPath, [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        script,
      ]);

      expect(code).toBe(0);
      expect(stdout).toBe('delivered');
      expect(stderr).toMatch(/^cronwatch on box, .* UTC:\n {2}hello from a daemon\n$/);
    });

    it('refuses a bad config, quoting the value but never the token', () => {
      expect(() => createNotifier({} as NotifierConfig)).toThrow(
        'Expected `stateDir` to be a directory path, got `undefined`',
      );
      expect(() => notifier({ telegram: { token: TOKEN, chatId: 'general' } })).toThrow(
        'Expected `telegram.chatId` to be a chat id like -1001234 or @channel, got `general`',
      );
      expect(() => notifier({ telegram: { token: TOKEN, chatId: 1, apiRoot: 'telegram' } })).toThrow(
        'Expected `telegram.apiRoot` to be an http(s) URL, got `telegram`',
      );
      expect(() => notifier({ telegram: { token: '', chatId: 1 } })).toThrow('telegram.token');
      expect(() => notifier({ rateLimit: { count: 0, per: '1h' } })).toThrow('`rateLimit.count`');
      expect(() => notifier({ dedupWindow: 'a while' as '1h' })).toThrow('got `a while`');
      const messages: string[] = [];
      for (const chatId of ['general', '']) {
        try {
          notifier({ telegram: { token: TOKEN, chatId } });
        } catch (error) {
          messages.push((error as Error).message);
        }
      }
      expect(messages).toHaveLength(2);
      expect(messages.join('\n')).not.toContain(TOKEN);
    });

    it('refuses an empty message', async () => {
      await expect(notifier().send('  ')).rejects.toThrow('Expected the message to be a non-empty string');
    });
  });
});
