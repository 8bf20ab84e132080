import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/core/config.js';
import { REDACTED, redact, secretsOf } from '../../src/core/redact.js';

const TOKEN = '987654321:AAFsecret_Token-value_QRSTUVWXYZabcdefg';
// Shaped like a Slack webhook: the last three segments are the credential.
const SLACK_PATH = '/services/T0SECRET01/B0SECRET02/xoxbTOKENdoNotLeak4242abcd';
const SLACK_URL = `https://hooks.slack.com${SLACK_PATH}`;
const QUERY_URL = 'https://hooks.example.net/alert?token=abcdef123456&team=ops';
const PING_URL = 'https://hc-ping.com/5f1c2a44-8d3e-4b7a-9c61-0e2f3a4b5c6d';
// healthchecks' ping keys are 22 URL-safe characters; API keys 32.
const PING_KEY = 'x7Rk2mQp9LwZ4vT8nB3cYd';
const API_KEY = '0f3a9c1e7b2d4f6a8c0e2b4d6f8a1c3e';

/** Each leak shape: the secrets configured, the text that would go out, what must not appear in it. */
const LEAKS: readonly {
  readonly shape: string;
  readonly secrets: readonly string[];
  readonly text: string;
  readonly hidden: readonly string[];
}[] = [
  { shape: 'the bot token', secrets: [TOKEN], text: `token ${TOKEN} refused`, hidden: [TOKEN] },
  {
    shape: 'the bot token URL-encoded',
    secrets: [TOKEN],
    text: `GET /bot${encodeURIComponent(TOKEN)}/getMe`,
    hidden: [encodeURIComponent(TOKEN), TOKEN.split(':')[1]!],
  },
  {
    shape: 'a URL with the token in its path',
    secrets: [TOKEN],
    text: `Failed to parse URL from http://127.0.0.1:notaport/bot${TOKEN}/sendMessage`,
    hidden: [TOKEN],
  },
  {
    shape: 'a bot token that is not among the secrets',
    secrets: [],
    text: 'other 1234567:ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 and 1234567%3AABCDEFGHIJKLMNOPQRSTUVWXYZ0123',
    hidden: ['ABCDEFGHIJKLMNOPQRSTUVWXYZ0123'],
  },
  {
    shape: 'a webhook URL with a secret in its path, whole, encoded or in parts',
    secrets: [SLACK_URL],
    text: [SLACK_URL, encodeURIComponent(SLACK_URL), SLACK_PATH, 'xoxbTOKENdoNotLeak4242abcd alone'].join(
      ' | ',
    ),
    hidden: ['T0SECRET01', 'B0SECRET02', 'xoxbTOKENdoNotLeak4242abcd', 'hooks.slack.com/services'],
  },
  {
    shape: 'a webhook URL with a secret in its query',
    secrets: [QUERY_URL],
    text: `POST ${QUERY_URL} answered 500; echo: token=abcdef123456 (${encodeURIComponent('abcdef123456')})`,
    hidden: ['abcdef123456', 'token=abcdef123456'],
  },
  {
    shape: 'a URL with credentials in its user info',
    secrets: ['https://alerts:hunter2secret@hooks.example.net/x'],
    text: 'cannot reach https://alerts:hunter2secret@hooks.example.net/x: ECONNREFUSED; password hunter2secret',
    hidden: ['hunter2secret'],
  },
  {
    shape: 'a ping URL whose uuid is the credential',
    secrets: [PING_URL],
    text: `ping to ${PING_URL}/fail failed; uuid 5f1c2a44-8d3e-4b7a-9c61-0e2f3a4b5c6d`,
    hidden: ['5f1c2a44-8d3e-4b7a-9c61-0e2f3a4b5c6d'],
  },
  {
    shape: 'a slug ping URL with the ping key in its path',
    secrets: [PING_KEY],
    text: `fail ping to https://hc.example.net/ping/${PING_KEY}/web-1-backup/fail?rid=1 and ${encodeURIComponent(PING_KEY)}`,
    hidden: [PING_KEY],
  },
  {
    shape: 'the API key echoed by a proxy',
    secrets: [API_KEY],
    text: `GET https://hc.example.net/api/v3/checks/: HTTP 401 (bad X-Api-Key: ${API_KEY})`,
    hidden: [API_KEY],
  },
];

describe('core', () => {
  describe('redact()', () => {
    it.each(LEAKS)('hides $shape', ({ secrets, text, hidden }) => {
      const out = redact(text, secrets);
      for (const secret of hidden) expect(out).not.toContain(secret);
      expect(out).toContain(REDACTED);
    });

    it('keeps the host and plain words a reader needs', () => {
      const out = redact(`POST to hooks.slack.com: services and webhooks refused ${SLACK_URL}`, [SLACK_URL]);
      expect(out).toBe(`POST to hooks.slack.com: services and webhooks refused ${REDACTED}`);
    });

    it('hides a slug ping URL by its key and keeps the slug that names the check', () => {
      const result = validateConfig({
        document: {
          healthchecks: { url: 'https://hc.example.net', ping_key: PING_KEY, api_key: API_KEY },
          targets: [{ name: 'backup-2024', state_file: '/srv/backup.stamp', max_age: '1h' }],
        },
        file: '/srv/cronwatch.yaml',
        env: {},
        hostname: 'web-1',
      });
      if (result.kind !== 'valid') throw new Error(result.errors.join('\n'));
      const out = redact(
        `fail ping to https://hc.example.net/ping/${PING_KEY}/web-1-backup-2024: HTTP 404; key ${API_KEY}`,
        secretsOf(result.config),
      );
      expect(out).toBe(
        `fail ping to https://hc.example.net/ping/${REDACTED}/web-1-backup-2024: HTTP 404; key ${REDACTED}`,
      );
    });

    it('leaves text without secrets alone, and ignores secrets too short to be one', () => {
      const text = 'Telegram answered 400: Bad Request: chat not found (check chat_id)';
      expect(redact(text, ['', 'chat'])).toBe(text);
    });
  });
});
