import { existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BotApiServer, startBotApiServer } from '../support/bot-api-server.js';
import { type CliResult, cronwatch, workspace } from '../support/cli.js';
import { startWebhookServer, type WebhookServer } from '../support/webhook-server.js';

const TOKEN = '555444333:AAEtestAlertToken_secret-value_XYZabcd';
const HOOK_PATH = '/api/webhooks/123456789012345678/hookTOKENsecret_abcdefghijklmnop';

let space: ReturnType<typeof workspace>;
let api: BotApiServer;
let hook: WebhookServer;

beforeEach(async () => {
  space = workspace('cronwatch-test-alert-');
  api = await startBotApiServer();
  hook = await startWebhookServer();
});

afterEach(async () => {
  await Promise.all([api.close(), hook.close()]);
  space.remove();
});

function writeConfig(channels: { telegram?: boolean; webhook?: boolean }): string {
  const lines = ['state_dir: ./state', 'host: test-host'];
  if (channels.telegram || channels.webhook) lines.push('channels:');
  if (channels.telegram) {
    lines.push(
      '  telegram:',
      '    token: ${TG_TOKEN}',
      "    chat_id: '4242'",
      `    api_root: ${api.apiRoot}`,
    );
  }
  if (channels.webhook) lines.push('  webhook:', '    url: ${HOOK_URL}', '    format: discord');
  lines.push('targets: []');
  return space.writeConfig(`${lines.join('\n')}\n`);
}

async function testAlert(file: string): Promise<CliResult> {
  const result = await cronwatch(['test-alert', '--config', file], {
    env: { TG_TOKEN: TOKEN, HOOK_URL: hook.url(HOOK_PATH) },
  });
  for (const secret of [TOKEN, HOOK_PATH, 'hookTOKENsecret_abcdefghijklmnop']) {
    expect(result.stdout).not.toContain(secret);
    expect(result.stderr).not.toContain(secret);
  }
  return result;
}

describe('cli/test-alert', () => {
  it('sends one test message through each configured channel and says each was delivered', async () => {
    const result = await testAlert(writeConfig({ telegram: true, webhook: true }));
    expect(result.stdout).toBe('telegram: delivered\nwebhook: delivered\n');
    expect(result.code).toBe(0);
    expect(api.messages()).toHaveLength(1);
    expect(api.messages()[0]?.text).toContain('Test alert from cronwatch');
    expect(hook.accepted()).toMatchObject([
      { content: expect.stringContaining('Test alert from cronwatch') },
    ]);
  });

  it('says which channel failed and why, exits 1, and leaves nothing queued to be sent later', async () => {
    api.setFault('forbidden');
    hook.setReply({ status: 404, body: '{"message": "Unknown Webhook", "code": 10015}' });
    const result = await testAlert(writeConfig({ telegram: true, webhook: true }));
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^telegram: failed: Telegram 403: Forbidden: bot was blocked by the user/);
    expect(lines[1]).toMatch(
      /^webhook: failed: Webhook \(127\.0\.0\.1:\d+\) answered 404: .*Unknown Webhook/,
    );
    expect(result.code).toBe(1);
    expect(existsSync(space.path('state/outbox'))).toBe(false);
  });

  it('with no channel configured, says alerts go to stderr and prints the test message there', async () => {
    const result = await testAlert(writeConfig({}));
    expect(result.stdout).toMatch(/^no channel configured: alerts go to stderr/);
    expect(result.stdout).toContain('console: delivered');
    expect(result.stderr).toContain('Test alert from cronwatch: this channel works.');
    expect(result.code).toBe(0);
  });
});
