import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REDACTED } from '../../src/core/redact.js';
import type { HealthchecksConfig } from '../../src/core/types.js';
import { HealthchecksApiError, listChecks } from '../../src/notifiers/healthchecks-api.js';
import { startWebhookServer, type WebhookServer } from '../support/webhook-server.js';

const API_KEY = '6f1e3a9b2c4d8e0f7a5b3c1d9e2f4a6b';
const PING_KEY = 'Zq8Lm2Nx5Rt7Vw9Yb4Kp1s';

describe('notifiers', () => {
  describe('listChecks()', () => {
    // A proxy in front of healthchecks: any answer, echoing what it was sent.
    let proxy: WebhookServer;
    let hc: HealthchecksConfig;
    beforeEach(async () => {
      proxy = await startWebhookServer();
      hc = { url: proxy.url(''), pingUrl: proxy.url('/ping'), pingKey: PING_KEY, apiKey: API_KEY };
    });
    afterEach(() => proxy.close());

    it('quotes an error answer with the keys hidden, naming the origin only', async () => {
      proxy.replyNext({
        status: 401,
        body: JSON.stringify({ error: `no project for X-Api-Key ${API_KEY} (ping key ${PING_KEY})` }),
      });
      const error = await listChecks(hc).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(HealthchecksApiError);
      expect((error as HealthchecksApiError).status).toBe(401);
      expect((error as Error).message).toBe(
        `GET ${proxy.url('')}/api/v3/checks/: HTTP 401 (no project for X-Api-Key ${REDACTED} (ping key ${REDACTED}))`,
      );
      expect(proxy.requests[0]?.headers['x-api-key']).toBe(API_KEY);
    });

    it('says what went wrong when the connection drops, with no status', async () => {
      proxy.replyNext('close');
      const error = (await listChecks(hc).catch((caught: unknown) => caught)) as HealthchecksApiError;
      expect(error.status).toBeNull();
      expect(error.message).toBe(`GET ${proxy.url('')}/api/v3/checks/: ECONNRESET`);
    });
  });
});
