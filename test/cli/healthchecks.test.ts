/**
 * A fleet host against healthchecks, end to end: the real CLI in its own process, the
 * healthchecks stand-in (test/support/ping-server.ts) on 127.0.0.1, slug mode, `healthchecks
 * sync` through the Management API, and the ping protocol as the server sees it.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { VERSION } from '../../src/core/version.js';
import { type CliResult, cronwatch, FIXTURES, killAll, workspace } from '../support/cli.js';
import { type PingServer, type RecordedRequest, startPingServer } from '../support/ping-server.js';

const DAEMON = join(FIXTURES, 'cli-daemon.mjs');
const RID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Fleet {
  readonly hc: PingServer;
  readonly marker: string;
  readonly dir: string;
  configure(options: {
    interval?: string;
    apiKey?: string | null;
    targets: string[];
    extra?: string[];
  }): void;
  run(...args: string[]): Promise<CliResult>;
  /** The requests received since `from`, as `METHOD path`, the rid and ping key masked. */
  said(from?: number): string[];
  cleanup(): Promise<void>;
}

async function fleet(label: string, options: { pingBodyLimit?: number | null } = {}): Promise<Fleet> {
  const ws = workspace(`cronwatch-hc-${label}-`);
  const hc = await startPingServer(options);
  const marker = `cw-hc-${label}-${randomUUID().slice(0, 8)}`;
  const configFile = ws.path('cronwatch.yaml');
  return {
    hc,
    marker,
    dir: ws.dir,
    configure({ interval = '5m', apiKey = hc.apiKey, targets, extra = [] }) {
      ws.writeConfig(
        [
          'state_dir: ./state',
          'host: Web.1',
          `interval: ${interval}`,
          'healthchecks:',
          `  url: ${hc.origin}`,
          `  ping_key: ${hc.pingKey}`,
          ...(apiKey === null ? [] : [`  api_key: ${apiKey}`]),
          ...extra,
          'targets:',
          ...targets.map((line) => `  ${line}`),
          '',
        ].join('\n'),
      );
    },
    run: (...args) => cronwatch([...args, '--config', configFile]),
    said: (from = 0) =>
      hc.requests
        .slice(from)
        .map((request: RecordedRequest) =>
          `${request.method} ${request.url}`
            .replace(hc.pingKey, '<ping-key>')
            .replace(/rid=[0-9a-f-]{36}/, 'rid=<rid>'),
        ),
    async cleanup() {
      killAll(marker);
      await hc.close();
      ws.remove();
    },
  };
}

const jobTarget = (dir: string, name: string) => [
  `- name: ${name}`,
  `  state_file: ${join(dir, `${name}.stamp`)}`,
  '  max_age: 1h',
];

// Side by side: two tests wait out the ping budget (15 s) and more, which the others use
// meanwhile. Each test has its own stand-in, workspace and marker, and cleans them up itself.
describe.concurrent('cli', () => {
  const begin = async (context: TestContext, label: string, options?: { pingBodyLimit?: number | null }) => {
    const f = await fleet(label, options);
    context.onTestFinished(() => f.cleanup());
    return f;
  };

  describe('healthchecks sync', () => {
    it('creates the host check and one per target, then finds them unchanged', async (context) => {
      const f = await begin(context, 'sync');
      f.configure({ targets: [...jobTarget(f.dir, 'backup'), ...jobTarget(f.dir, 'site-monitor')] });
      const first = await f.run('healthchecks', 'sync');
      expect(first).toMatchObject({ code: 0, stderr: '' });
      expect(first.stdout.trimEnd().split('\n')).toEqual([
        'created web-1-cronwatch (timeout 300s, grace 300s, tags cronwatch web-1)',
        'created web-1-backup (timeout 300s, grace 300s, tags cronwatch web-1)',
        'created web-1-site-monitor (timeout 300s, grace 300s, tags cronwatch web-1)',
      ]);
      expect(f.said()).toEqual([
        'GET /api/v3/checks/',
        'POST /api/v3/checks/',
        'POST /api/v3/checks/',
        'POST /api/v3/checks/',
      ]);
      const post = JSON.parse(f.hc.requests[1]!.body);
      expect(post).toMatchObject({
        name: 'Web.1 cronwatch',
        slug: 'web-1-cronwatch',
        tags: 'cronwatch web-1',
        timeout: 300,
        grace: 300,
        methods: 'POST',
        channels: '*',
        unique: ['slug'],
      });
      expect(f.hc.requests[1]!.headers['x-api-key']).toBe(f.hc.apiKey);
      expect(f.hc.checks.map((check) => [check.slug, check.tags, check.timeout, check.methods])).toEqual([
        ['web-1-cronwatch', 'cronwatch web-1', 300, 'POST'],
        ['web-1-backup', 'cronwatch web-1', 300, 'POST'],
        ['web-1-site-monitor', 'cronwatch web-1', 300, 'POST'],
      ]);
      // The key is a secret: no output names it.
      expect(first.stdout).not.toContain(f.hc.apiKey);

      const second = await f.run('healthchecks', 'sync');
      expect(second).toMatchObject({ code: 0, stderr: '' });
      expect(second.stdout.trimEnd().split('\n')).toEqual([
        'unchanged web-1-cronwatch',
        'unchanged web-1-backup',
        'unchanged web-1-site-monitor',
      ]);
      expect(f.said(4)).toEqual(['GET /api/v3/checks/']);
    });

    it('updates the period and grace after the interval changed; --dry-run only says so', async (context) => {
      const f = await begin(context, 'update');
      f.configure({ targets: jobTarget(f.dir, 'backup') });
      expect((await f.run('healthchecks', 'sync')).code).toBe(0);
      f.configure({ interval: '10m', targets: jobTarget(f.dir, 'backup') });
      const before = f.hc.requests.length;
      const dry = await f.run('healthchecks', 'sync', '--dry-run');
      expect(dry.code).toBe(0);
      expect(dry.stdout.trimEnd().split('\n')).toEqual([
        'would update web-1-cronwatch: timeout 300s -> 600s, grace 300s -> 600s, description',
        'would update web-1-backup: timeout 300s -> 600s, grace 300s -> 600s, description',
        'dry run: nothing was sent',
      ]);
      expect(f.said(before)).toEqual(['GET /api/v3/checks/']);
      expect(f.hc.checks.map((check) => check.timeout)).toEqual([300, 300]);

      const real = await f.run('healthchecks', 'sync');
      expect(real.stdout).toContain('updated web-1-backup: timeout 300s -> 600s, grace 300s -> 600s');
      expect(f.hc.checks.map((check) => [check.timeout, check.grace])).toEqual([
        [600, 600],
        [600, 600],
      ]);
      // An update leaves the channels their owner chose.
      expect(JSON.parse(f.hc.requests.at(-1)!.body)).not.toHaveProperty('channels');
    });

    it('raises the period to the API minimum and says so; the grace covers a slow start', async (context) => {
      const f = await begin(context, 'minimum');
      f.configure({
        interval: '30s',
        targets: ['- name: bot', `  match: 'never-${f.marker}'`, '  start: sleep 1', '  stop_timeout: 2m'],
      });
      const result = await f.run('healthchecks', 'sync', '--dry-run');
      expect(result.stdout).toContain(
        "note: interval 30s is below healthchecks' shortest period; the checks get 60s",
      );
      // stop_timeout 2m + start_grace 3s + stop_timeout 2m (a failed start's leftovers) + 15 s of
      // pings + 30 s of delivery.
      expect(result.stdout).toContain('would create web-1-bot (timeout 60s, grace 288s');
    });

    it('exits 2 without an api_key, and with a read-only one', async (context) => {
      const f = await begin(context, 'nokey');
      f.configure({ apiKey: null, targets: jobTarget(f.dir, 'backup') });
      const none = await f.run('healthchecks', 'sync');
      expect(none.code).toBe(2);
      expect(none.stderr).toContain('healthchecks sync needs healthchecks.api_key in');
      expect(f.hc.requests).toEqual([]);

      f.configure({ apiKey: f.hc.readOnlyApiKey, targets: jobTarget(f.dir, 'backup') });
      const readOnly = await f.run('healthchecks', 'sync');
      expect(readOnly.code).toBe(2);
      expect(readOnly.stderr).toContain('HTTP 401 (wrong api key)');
      expect(readOnly.stderr).not.toContain(f.hc.readOnlyApiKey);
      expect(f.hc.checks).toEqual([]);
    });

    it('exits 70 with one line when the API does not answer', async (context) => {
      const f = await begin(context, 'apidown');
      f.configure({ targets: jobTarget(f.dir, 'backup') });
      f.hc.setMode('down');
      const result = await f.run('healthchecks', 'sync');
      expect(result.code).toBe(70);
      expect(result.stderr.trimEnd().split('\n')).toEqual([
        expect.stringMatching(
          /^cronwatch: healthchecks sync failed: GET http:\/\/127\.0\.0\.1:\d+\/api\/v3\/checks\/: ECONNRESET$/,
        ),
      ]);
    });
  });

  describe('doctor', () => {
    const healthchecksLines = (result: CliResult) =>
      result.stdout.split('\n').filter((line) => line.includes('healthchecks'));

    it('says sync is due, then that each check exists, and fails a paused one', async (context) => {
      const f = await begin(context, 'doctor');
      f.configure({ targets: jobTarget(f.dir, 'backup') });
      expect(healthchecksLines(await f.run('doctor', '--no-cron', '--ascii'))).toEqual([
        expect.stringMatching(
          /healthchecks sync: healthchecks sync is due: 2 check\(s\) not provisioned yet \(web-1-cronwatch, web-1-backup\)$/,
        ),
        expect.stringMatching(
          /healthchecks check web-1-cronwatch: does not exist \(run cronwatch healthchecks sync\)$/,
        ),
        expect.stringMatching(/healthchecks check web-1-backup: does not exist/),
      ]);
      expect((await f.run('healthchecks', 'sync')).code).toBe(0);
      f.hc.checks[1]!.status = 'paused';
      const after = await f.run('doctor', '--no-cron', '--ascii');
      expect(after.code).toBe(1);
      expect(healthchecksLines(after)).toEqual([
        expect.stringMatching(/healthchecks check web-1-cronwatch: exists, new$/),
        expect.stringMatching(/healthchecks check web-1-backup: is paused in healthchecks$/),
      ]);
    });

    it('without an API key, sends each check a /log ping and fails a 404', async (context) => {
      const f = await begin(context, 'doctorping');
      f.hc.addCheck({ name: 'own', slug: 'web-1-cronwatch' });
      f.configure({ apiKey: null, targets: jobTarget(f.dir, 'backup') });
      const result = await f.run('doctor', '--no-cron', '--ascii');
      expect(healthchecksLines(result).slice(1)).toEqual([
        expect.stringMatching(/healthchecks check web-1-cronwatch: accepts pings \(a \/log ping was sent\)$/),
        expect.stringMatching(
          /healthchecks check web-1-backup: does not exist \(404; give healthchecks.api_key and run sync\)$/,
        ),
      ]);
      expect(f.hc.pings.map((ping) => [ping.kind, ping.check])).toEqual([
        ['log', 'own'],
        ['log', ''],
      ]);
    });
  });

  describe('secrets', () => {
    it('keeps the ping key and the API key out of check, doctor and sync when the server fails', {
      timeout: 180_000,
    }, async (context) => {
      const f = await begin(context, 'secrets');
      // A key the server does not know: refused 401, and still a secret of this config.
      const wrongKey = randomUUID().replaceAll('-', '');
      const outputs: string[] = [];
      const run = async (...args: string[]) => {
        const result = await f.run(...args);
        outputs.push(`${args.join(' ')}: ${result.stdout}${result.stderr}`);
        return result;
      };
      f.configure({ targets: jobTarget(f.dir, 'backup') });
      expect((await run('healthchecks', 'sync')).code).toBe(0);
      f.hc.setMode('down');
      expect((await run('doctor', '--no-cron', '--ascii')).stdout).toMatch(/ECONNRESET/);
      expect((await run('healthchecks', 'sync')).stderr).toMatch(/ECONNRESET/);
      await run('check');
      f.hc.setMode({ status: 400 });
      expect((await run('check')).stderr).toMatch(/ ping to http:\/\/127\.0\.0\.1:\d+: HTTP 400/);
      f.hc.setMode('ok');
      f.configure({ apiKey: wrongKey, targets: jobTarget(f.dir, 'backup') });
      expect((await run('healthchecks', 'sync')).stderr).toMatch(/HTTP 401 \(wrong api key\)/);
      expect((await run('doctor', '--no-cron', '--ascii')).stdout).toMatch(/HTTP 401 \(wrong api key\)/);
      f.hc.setMode('hang');
      f.configure({ apiKey: null, targets: jobTarget(f.dir, 'backup') });
      expect((await run('doctor', '--no-cron', '--ascii')).stdout).toMatch(/time for pings ran out/);
      for (const output of outputs) {
        expect(output).not.toContain(f.hc.pingKey);
        expect(output).not.toContain(f.hc.apiKey);
        expect(output).not.toContain(wrongKey);
      }
    });
  });

  describe('check in slug mode', () => {
    it('pings the host check and each target check by slug, every ping a POST', async (context) => {
      const f = await begin(context, 'healthy');
      f.configure({ targets: jobTarget(f.dir, 'backup') });
      expect((await f.run('healthchecks', 'sync')).code).toBe(0);
      for (const check of f.hc.checks) check.methods = 'POST';
      (await import('node:fs')).writeFileSync(join(f.dir, 'backup.stamp'), 'ok');
      const before = f.hc.requests.length;
      const result = await f.run('check');
      expect(result).toMatchObject({ code: 0, stdout: '', stderr: '' });
      const said = f.said(before);
      expect(said[0]).toBe('POST /ping/<ping-key>/web-1-cronwatch/start?rid=<rid>');
      expect([...said.slice(1)].sort()).toEqual([
        'POST /ping/<ping-key>/web-1-backup',
        'POST /ping/<ping-key>/web-1-cronwatch?rid=<rid>',
      ]);
      const pings = f.hc.pings;
      expect(pings.every((ping) => ping.userAgent === `cronwatch/${VERSION}` && ping.kind !== 'ign')).toBe(
        true,
      );
      expect(pings[0]?.rid).toMatch(RID);
      expect(f.hc.checks.map((check) => [check.slug, check.status, check.started])).toEqual([
        ['web-1-cronwatch', 'up', false],
        ['web-1-backup', 'up', false],
      ]);
    });

    it("shows a restart in the target's own check: /log, then success", async (context) => {
      const f = await begin(context, 'restart');
      f.configure({
        targets: [
          '- name: daemon',
          `  match: 'cli-daemon\\.mjs ${f.marker}\\b'`,
          `  start: node ${DAEMON} ${f.marker}`,
          '  start_grace: 700ms',
        ],
      });
      expect((await f.run('healthchecks', 'sync')).code).toBe(0);
      const before = f.hc.pings.length;
      const result = await f.run('check');
      expect(result.code).toBe(0);
      const daemon = f.hc.pings.slice(before).filter((ping) => ping.address.endsWith('/web-1-daemon'));
      expect(daemon.map((ping) => ping.kind)).toEqual(['log', 'success']);
      expect(daemon[0]?.body).toMatch(/^daemon: down \(.*\); restarted, pid \d+$/);
      expect(daemon[1]?.body).toMatch(/^daemon: up, pid \d+$/);
      const own = f.hc.pings.slice(before).filter((ping) => ping.address.endsWith('/web-1-cronwatch'));
      expect(own.map((ping) => ping.kind)).toEqual(['start', 'success']);
    });

    it("ends a target's check with /log then /fail when its start fails", async (context) => {
      const f = await begin(context, 'failstart');
      f.configure({
        targets: [
          '- name: broken',
          `  match: 'never-${f.marker}'`,
          "  start: echo 'cannot bind port 8080'; exit 3",
          '  start_grace: 300ms',
        ],
      });
      expect((await f.run('healthchecks', 'sync')).code).toBe(0);
      const result = await f.run('check');
      expect(result.code).toBe(1);
      const broken = f.hc.pings.filter((ping) => ping.address.endsWith('/web-1-broken'));
      expect(broken.map((ping) => ping.kind)).toEqual(['log', 'fail']);
      expect(broken[0]?.body).toContain('start failed: exit code 3');
      expect(broken[0]?.body).toContain('cannot bind port 8080');
      expect(f.hc.checks.find((check) => check.slug === 'web-1-broken')?.status).toBe('down');
    });

    it("keeps a paused target's check up with a success ping that says it is paused", async (context) => {
      const f = await begin(context, 'paused');
      // No state file: watched, the target would be down and its check sent /fail.
      f.configure({ targets: jobTarget(f.dir, 'backup') });
      expect((await f.run('healthchecks', 'sync')).code).toBe(0);
      expect((await f.run('pause', 'backup', '--for', '2h', '--reason', 'disk migration')).code).toBe(0);
      const before = f.hc.pings.length;
      const result = await f.run('check');
      expect(result).toMatchObject({ code: 0, stdout: '', stderr: '' });
      const backup = f.hc.pings.slice(before).filter((ping) => ping.address.endsWith('/web-1-backup'));
      expect(backup.map((ping) => ping.kind)).toEqual(['success']);
      expect(backup[0]?.body).toMatch(
        /^backup: paused by \S+ \(disk migration\), until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z; not watched, its health was not checked$/,
      );
      expect(f.hc.checks.find((check) => check.slug === 'web-1-backup')?.status).toBe('up');
    });

    it('keeps the tail of a long report within the Ping-Body-Limit the server announced', async (context) => {
      const f = await begin(context, 'limit', { pingBodyLimit: 2000 });
      const names = Array.from({ length: 40 }, (_, index) => `job-${String(index).padStart(2, '0')}`);
      f.configure({ targets: names.flatMap((name) => jobTarget(f.dir, name)) });
      expect((await f.run('healthchecks', 'sync')).code).toBe(0);
      const result = await f.run('check');
      expect(result.code).toBe(1);
      const end = f.hc.pings.find(
        (ping) => ping.address.endsWith('/web-1-cronwatch') && ping.kind !== 'start',
      );
      expect(end?.receivedBytes).toBeLessThanOrEqual(2000);
      expect(end?.body).toMatch(/^cronwatch check on Web\.1, .*: 40 of 40 target\(s\) not up, exit 1/);
      expect(end?.body).toContain('characters cut');
      expect(end?.body).toMatch(
        /job-39: down \(state file .*job-39\.stamp is missing\)\n40 alert\(s\) raised$/,
      );
    });

    it('says which check a ping was refused for (404 before sync)', async (context) => {
      const f = await begin(context, 'unsynced');
      f.configure({ targets: jobTarget(f.dir, 'backup') });
      const result = await f.run('check');
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('ping to http://127.0.0.1');
      expect(result.stderr).toContain('HTTP 404 (check the ping URL, or run healthchecks sync)');
      expect(result.stderr).not.toContain(f.hc.pingKey);
    });

    it('holds the run at most 15 s against a server that accepts and never answers', {
      timeout: 120_000,
    }, async (context) => {
      const f = await begin(context, 'hang');
      f.configure({ targets: jobTarget(f.dir, 'backup') });
      expect((await f.run('healthchecks', 'sync')).code).toBe(0);
      (await import('node:fs')).writeFileSync(join(f.dir, 'backup.stamp'), 'ok');
      f.hc.setMode('hang');
      const startedMs = Date.now();
      const result = await f.run('check');
      const tookMs = Date.now() - startedMs;
      expect(result).toMatchObject({ code: 0, stdout: '', stderr: '' });
      // Per check: the start, not tried again once the run waits (after the end it would show
      // the check as running), then the end, tried while the 15 s last: at 5 s per attempt and
      // 1 s, 2 s between them, never more than its three tries.
      const kinds = (slug: string) =>
        f.hc.pings.filter((ping) => ping.address.endsWith(`/${slug}`)).map((ping) => ping.kind);
      expect(kinds('web-1-cronwatch')[0]).toBe('start');
      expect(kinds('web-1-cronwatch').filter((kind) => kind === 'start')).toHaveLength(1);
      expect(kinds('web-1-cronwatch').filter((kind) => kind === 'success').length).toBeGreaterThanOrEqual(1);
      expect(kinds('web-1-cronwatch').length).toBeLessThanOrEqual(3);
      expect(kinds('web-1-backup').length).toBeGreaterThanOrEqual(1);
      expect(kinds('web-1-backup').every((kind) => kind === 'success')).toBe(true);
      expect(kinds('web-1-backup').length).toBeLessThanOrEqual(3);
      process.stderr.write(`check against a hanging healthchecks took ${tookMs} ms\n`);
    });
  });
});
