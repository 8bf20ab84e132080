import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cutBody, PING_BODY_MAX_BYTES, pingUrl, sendPings } from '../../src/notifiers/heartbeat-ping.js';
import { type PingServer, startPingServer } from '../support/ping-server.js';

// Short waits so that retries and timeouts do not slow the suite; the defaults are tested end to end.
const FAST = { backoffMs: 20, timeoutMs: 500, budgetMs: 3000 };

describe('notifiers', () => {
  describe('pingUrl()', () => {
    it('puts the kind on the path and the run id in the query', () => {
      expect(pingUrl('https://hc-ping.com/abc', 'start', 'r-1')).toBe(
        'https://hc-ping.com/abc/start?rid=r-1',
      );
      expect(pingUrl('https://hc-ping.com/abc/', 'success', 'r-1')).toBe('https://hc-ping.com/abc?rid=r-1');
      expect(pingUrl('https://hc.example/ping/key/slug?create=1', 'fail', null)).toBe(
        'https://hc.example/ping/key/slug/fail?create=1',
      );
    });
  });

  describe('cutBody()', () => {
    it('keeps the start and the end within the byte limit, multi-byte characters whole', () => {
      const text = `first line\n${'é€😀'.repeat(5000)}\nlast line`;
      const cut = cutBody(text, 1000);
      expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(1000);
      expect(cut.startsWith('first line')).toBe(true);
      expect(cut.endsWith('last line')).toBe(true);
      expect(cut).toContain('characters cut');
      expect(cut).not.toContain('\uFFFD');
      expect(cutBody('short', 1000)).toBe('short');
    });
  });

  describe('sendPings()', () => {
    let hc: PingServer;
    beforeEach(async () => {
      hc = await startPingServer();
    });
    afterEach(() => hc.close());

    it('sends a start by GET and an end by POST with a text body, with the same rid', async () => {
      const rid = randomUUID();
      const [start] = await sendPings([{ url: hc.url('own'), kind: 'start', rid, body: null }]);
      const [end] = await sendPings([{ url: hc.url('own'), kind: 'success', rid, body: 'all 2 targets up' }]);
      expect(start).toMatchObject({ ok: true, status: 200, attempts: 1, error: null });
      expect(end).toMatchObject({ ok: true, status: 200 });
      expect(hc.pings.map((p) => [p.method, p.kind, p.rid, p.body])).toEqual([
        ['GET', 'start', rid, ''],
        ['POST', 'success', rid, 'all 2 targets up'],
      ]);
      expect(hc.pings[1]?.contentType).toMatch(/^text\/plain/);
    });

    it('cuts a long body to 10 kB', async () => {
      const body = `head\n${'x'.repeat(50_000)}\ntail`;
      await sendPings([{ url: hc.url('own'), kind: 'fail', rid: null, body }]);
      const received = hc.pings[0]!.body;
      expect(Buffer.byteLength(received)).toBeLessThanOrEqual(PING_BODY_MAX_BYTES);
      expect(received.startsWith('head')).toBe(true);
      expect(received.endsWith('tail')).toBe(true);
    });

    it('retries a server error, and not a refusal', async () => {
      hc.failNext(503);
      const [retried] = await sendPings([{ url: hc.url('a'), kind: 'success', rid: null, body: 'ok' }], FAST);
      expect(retried).toMatchObject({ ok: true, attempts: 2 });
      hc.setMode({ status: 404 });
      const [refused] = await sendPings(
        [{ url: hc.url('secret-uuid'), kind: 'success', rid: null, body: 'ok' }],
        FAST,
      );
      expect(refused).toMatchObject({ ok: false, status: 404, attempts: 1 });
      // The URL is a credential of sorts: only its origin is named.
      expect(refused?.error).toBe(`success ping to ${hc.origin}: HTTP 404`);
    });

    it('gives up on a server that does not answer, without throwing', async () => {
      hc.setMode('hang');
      const results = await sendPings(
        [
          { url: hc.url('a'), kind: 'start', rid: null, body: null },
          { url: hc.url('b'), kind: 'fail', rid: null, body: 'down' },
        ],
        FAST,
      );
      expect(results.map((result) => result.ok)).toEqual([false, false]);
      expect(results[0]?.error).toContain('no answer in time');
      expect(hc.pingsOf('a').length).toBeGreaterThanOrEqual(1);
    });

    it('gives up on a server that is down, without throwing', async () => {
      await hc.close();
      const [result] = await sendPings([{ url: hc.url('a'), kind: 'success', rid: null, body: 'x' }], FAST);
      expect(result).toMatchObject({ ok: false, status: null, attempts: 3 });
      expect(result?.error).toContain('ECONNREFUSED');
    });
  });
});
