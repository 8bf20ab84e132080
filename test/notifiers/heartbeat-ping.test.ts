import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VERSION } from '../../src/core/version.js';
import {
  announcedLimit,
  createPingSession,
  cutBody,
  DEFAULT_PING_BODY_LIMIT_BYTES,
  pingUrl,
  sendPings,
} from '../../src/notifiers/heartbeat-ping.js';
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
      expect(pingUrl('https://hc.example/ping/key/slug', 'log', null)).toBe(
        'https://hc.example/ping/key/slug/log',
      );
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

    it('counts a surrogate pair as one character, and a lone surrogate as the 3 bytes it is sent as', () => {
      const text = `A${'😀'.repeat(12)}\uD800Z`;
      expect(cutBody(text, 36)).toBe('A😀\n[… 12 characters cut …]\nZ');
      expect(cutBody(text, 40)).toBe('A😀\n[… 11 characters cut …]\n\uD800Z');
      expect(cutBody(text, 44)).toBe('A😀😀\n[… 10 characters cut …]\n\uD800Z');
      expect(cutBody(text, 48)).toBe('A😀😀\n[… 9 characters cut …]\n😀\uD800Z');
    });
  });

  describe('announcedLimit()', () => {
    it('reads a positive whole number and nothing else', () => {
      expect(announcedLimit('2000')).toBe(2000);
      expect(announcedLimit(undefined)).toBeNull();
      expect(announcedLimit('0')).toBeNull();
      expect(announcedLimit('lots')).toBeNull();
    });
  });

  describe('createPingSession()', () => {
    let hc: PingServer;
    afterEach(() => hc.close());

    it('sends every ping as a POST with its User-Agent, so a POST-only check ignores none', async () => {
      hc = await startPingServer();
      hc.addCheck({ name: 'own', methods: 'POST' });
      const rid = randomUUID();
      const session = createPingSession();
      void session.send([{ url: hc.url('own'), kind: 'start', rid, body: '' }]);
      void session.send([{ url: hc.url('own'), kind: 'success', rid, body: 'all 2 targets up' }]);
      const results = await session.drain();
      expect(results.map((result) => result.ok)).toEqual([true, true]);
      expect(hc.pings.map((p) => [p.method, p.kind, p.rid, p.body, p.userAgent])).toEqual([
        ['POST', 'start', rid, '', `cronwatch/${VERSION}`],
        ['POST', 'success', rid, 'all 2 targets up', `cronwatch/${VERSION}`],
      ]);
      expect(hc.pings[1]?.contentType).toMatch(/^text\/plain/);
      // The start and end paired by rid: healthchecks measured the run and left "started".
      expect(hc.checks[0]).toMatchObject({ status: 'up', started: false });
    });

    it('cuts a body, head and tail, to the Ping-Body-Limit the server announced', async () => {
      hc = await startPingServer({ pingBodyLimit: 2000 });
      const session = createPingSession();
      expect(session.bodyLimitBytes).toBe(DEFAULT_PING_BODY_LIMIT_BYTES);
      void session.send([
        { url: hc.url('own'), kind: 'start', rid: null, body: '' },
        { url: hc.url('own'), kind: 'fail', rid: null, body: `head\n${'x'.repeat(50_000)}\nhow it ended` },
      ]);
      await session.drain();
      expect(session.bodyLimitBytes).toBe(2000);
      const end = hc.pings[1]!;
      expect(end.receivedBytes).toBeLessThanOrEqual(2000);
      expect(end.body.startsWith('head')).toBe(true);
      expect(end.body.endsWith('how it ended')).toBe(true);
    });

    it('cuts to 10,000 bytes when the server announces no limit', async () => {
      hc = await startPingServer({ pingBodyLimit: null });
      await sendPings([
        { url: hc.url('own'), kind: 'fail', rid: null, body: `head\n${'x'.repeat(50_000)}\ntail` },
      ]);
      expect(hc.pings[0]!.receivedBytes).toBeLessThanOrEqual(DEFAULT_PING_BODY_LIMIT_BYTES);
      expect(hc.pings[0]!.body.endsWith('tail')).toBe(true);
    });
  });

  describe('sendPings()', () => {
    let hc: PingServer;
    beforeEach(async () => {
      hc = await startPingServer();
    });
    afterEach(() => hc.close());

    it('retries a server error, and not a refusal', async () => {
      hc.failNext(503);
      const [retried] = await sendPings([{ url: hc.url('a'), kind: 'success', rid: null, body: 'ok' }], FAST);
      expect(retried).toMatchObject({ ok: true, attempts: 2 });
      const missing = `${hc.pingEndpoint}/${randomUUID()}`;
      const [refused] = await sendPings([{ url: missing, kind: 'success', rid: null, body: 'ok' }], FAST);
      expect(refused).toMatchObject({ ok: false, status: 404, attempts: 1 });
      // The URL is a credential of sorts: only its origin is named.
      expect(refused?.error).toBe(`success ping to ${hc.origin}: HTTP 404`);
    });

    it('is refused 404 for no such slug and 409 for a slug two checks share', async () => {
      hc.addCheck({ name: 'one', slug: 'web-1-bot' });
      hc.addCheck({ name: 'two', slug: 'web-1-bot' });
      const base = `${hc.pingEndpoint}/${hc.pingKey}`;
      const results = await sendPings(
        [
          { url: `${base}/web-1-bot`, kind: 'success', rid: null, body: '' },
          { url: `${base}/web-1-nothing`, kind: 'success', rid: null, body: '' },
        ],
        FAST,
      );
      expect(results.map((result) => result.status)).toEqual([409, 404]);
    });

    it('gives up on a server that does not answer within the budget, without throwing', async () => {
      hc.setMode('hang');
      const session = createPingSession(FAST);
      void session.send([{ url: hc.url('a'), kind: 'start', rid: null, body: '' }]);
      void session.send([
        { url: hc.url('a'), kind: 'fail', rid: null, body: 'down' },
        { url: hc.url('b'), kind: 'success', rid: null, body: 'up' },
      ]);
      const results = await session.drain();
      expect(results.map((result) => result.ok)).toEqual([false, false, false]);
      expect(results[0]?.error).toContain('no answer');
      // Once the run waits for its pings, a start is not tried again: after the end it would
      // show the check as running.
      expect(hc.pingsOf('a').filter((ping) => ping.kind === 'start')).toHaveLength(1);
    });

    it('gives up on a server that is down, without throwing', async () => {
      await hc.close();
      const [result] = await sendPings([{ url: hc.url('a'), kind: 'success', rid: null, body: 'x' }], FAST);
      expect(result).toMatchObject({ ok: false, status: null, attempts: 3 });
      expect(result?.error).toContain('ECONNREFUSED');
    });
  });
});
