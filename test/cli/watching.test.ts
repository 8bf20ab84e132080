/**
 * Watching the watcher, end to end: the real CLI in its own process, a healthchecks ping
 * stand-in and a Bot API stand-in on 127.0.0.1, real files.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import type { CronwatchEvent } from '../../src/core/events.js';
import { type BotApiServer, startBotApiServer } from '../support/bot-api-server.js';
import { type CliResult, cronwatch, FIXTURES, killAll, workspace } from '../support/cli.js';
import { type PingServer, startPingServer } from '../support/ping-server.js';
import { parsePrometheusText } from '../support/prometheus-text.js';

const TOKEN = '123456:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr';
const ENV = { TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_CHAT_ID: '4242' };
const DAEMON = join(FIXTURES, 'cli-daemon.mjs');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

interface Setup {
  readonly dir: string;
  readonly stateDir: string;
  readonly marker: string;
  readonly api: BotApiServer;
  readonly hc: PingServer;
  run(...args: string[]): Promise<CliResult>;
  /** Writes the config; `targets` are YAML lines under `targets:`. */
  configure(options: { targets: string[]; heartbeat?: boolean; metrics?: boolean }): void;
  /** A heartbeat-only target whose state file is fresh (up) or missing (down). */
  heartbeatTarget(name: string, fresh: boolean): string[];
  events(): CronwatchEvent[];
  cleanup(): Promise<void>;
}

async function setup(label: string): Promise<Setup> {
  const ws = workspace(`cronwatch-watching-${label}-`);
  const api = await startBotApiServer();
  const hc = await startPingServer();
  const marker = `cw-watch-${label}-${randomUUID().slice(0, 8)}`;
  const configFile = ws.path('cronwatch.yaml');
  return {
    dir: ws.dir,
    stateDir: ws.path('state'),
    marker,
    api,
    hc,
    run: (...args) => cronwatch([...args, '--config', configFile], { env: ENV }),
    configure({ targets, heartbeat = true, metrics = false }) {
      const lines = [
        'state_dir: ./state',
        'host: e2e-host',
        'interval: 5m',
        'channels:',
        '  telegram:',
        '    token: ${TELEGRAM_BOT_TOKEN}',
        '    chat_id: ${TELEGRAM_CHAT_ID}',
        `    api_root: ${api.apiRoot}`,
        ...(heartbeat ? ['heartbeat:', `  url: ${hc.url('cronwatch')}`] : []),
        ...(metrics ? ['metrics:', '  textfile: ./metrics/cronwatch.prom'] : []),
        'targets:',
        ...targets.map((line) => `  ${line}`),
      ];
      ws.writeConfig(`${lines.join('\n')}\n`);
    },
    heartbeatTarget(name, fresh) {
      const file = ws.path(`${name}.stamp`);
      if (fresh) writeFileSync(file, 'ok');
      return [`- name: ${name}`, `  state_file: ${file}`, '  max_age: 1h', `  ping_url: ${hc.url(name)}`];
    },
    events() {
      return readFileSync(join(ws.path('state'), 'events.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as CronwatchEvent);
    },
    async cleanup() {
      killAll(marker);
      await Promise.all([api.close(), hc.close()]);
      ws.remove();
    },
  };
}

// Side by side: one test waits out the ping budget (15 s), which the others use meanwhile. Each
// test has its own stand-ins, workspace and marker, and cleans them up itself.
describe.concurrent('cli', () => {
  const begin = async (context: TestContext, label: string) => {
    const s = await setup(label);
    context.onTestFinished(() => s.cleanup());
    return s;
  };

  describe('check: heartbeat pings', () => {
    it('pings start, then success with the same rid, on a healthy run; and logs the run', async (context) => {
      const s = await begin(context, 'healthy');
      s.configure({ targets: s.heartbeatTarget('job', true) });
      const result = await s.run('check');
      expect(result).toMatchObject({ code: 0, stdout: '' });
      const own = s.hc.pingsOf('cronwatch');
      expect(own.map((ping) => [ping.method, ping.kind])).toEqual([
        ['POST', 'start'],
        ['POST', 'success'],
      ]);
      expect(own.map((ping) => ping.answered)).toEqual([200, 200]);
      expect(own[0]?.rid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(own[1]?.rid).toBe(own[0]?.rid);
      expect(own[1]?.body).toContain('all 1 target(s) up or paused, exit 0');
      expect(own[1]?.body).toContain('job: up');
      const runEvents = s.events().filter((event) => event.kind === 'run_start' || event.kind === 'run_end');
      expect(runEvents).toMatchObject([
        { kind: 'run_start', rid: own[0]?.rid },
        { kind: 'run_end', rid: own[0]?.rid, ok: true, exitCode: 0 },
      ]);
    });

    it('ends with /fail when the run could not deliver its alerts', async (context) => {
      const s = await begin(context, 'undelivered');
      s.configure({ targets: s.heartbeatTarget('backup', false) });
      await s.api.close();
      const result = await s.run('check');
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('not delivered yet');
      const own = s.hc.pingsOf('cronwatch');
      expect(own.map((ping) => ping.kind)).toEqual(['start', 'fail']);
      expect(own[0]?.rid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(own[1]?.rid).toBe(own[0]?.rid);
      expect(own[1]?.body).toContain('1 alert(s) not delivered');
      expect(own[1]?.body).toContain('backup: down');
      expect(s.events().find((event) => event.kind === 'run_end')).toMatchObject({ ok: false, exitCode: 1 });
    });

    it('ends with /fail when the state cannot be read', async (context) => {
      const s = await begin(context, 'badstate');
      s.configure({ targets: s.heartbeatTarget('job', true) });
      mkdirSync(join(s.stateDir, 'state.json'), { recursive: true, mode: 0o700 });
      const result = await s.run('check');
      expect(result.code).not.toBe(0);
      const own = s.hc.pingsOf('cronwatch');
      expect(own.map((ping) => ping.kind)).toEqual(['start', 'fail']);
      expect(own[1]?.body).toContain('cannot read state file');
    });

    it('pings /fail alone when the state dir is refused before the run begins', async (context) => {
      const s = await begin(context, 'baddir');
      s.configure({ targets: s.heartbeatTarget('job', true) });
      mkdirSync(s.stateDir, { mode: 0o700 });
      chmodSync(s.stateDir, 0o777);
      const result = await s.run('check');
      expect(result.code).toBe(2);
      expect(s.hc.pingsOf('cronwatch').map((ping) => [ping.kind, ping.body])).toEqual([
        ['fail', expect.stringContaining('is writable by other users')],
      ]);
    });

    it('pings nothing when another run holds the lock', async (context) => {
      const s = await begin(context, 'locked');
      s.configure({ targets: s.heartbeatTarget('job', true) });
      mkdirSync(s.stateDir, { mode: 0o700 });
      // This test's process is alive, so its lock is not taken over.
      writeFileSync(
        join(s.stateDir, 'lock'),
        JSON.stringify({ pid: process.pid, startTicks: null, sinceMs: Date.now() }),
      );
      const result = await s.run('check');
      expect(result.code).toBe(75);
      expect(s.hc.pings).toEqual([]);
    });

    it('finishes and exits 0 when the ping service is down', async (context) => {
      const s = await begin(context, 'pingdown');
      s.configure({ targets: s.heartbeatTarget('job', true) });
      await s.hc.close();
      const result = await s.run('check');
      expect(result).toMatchObject({ code: 0, stdout: '', stderr: '' });
    });

    it('finishes and exits 0 when the ping service never answers', { timeout: 150_000 }, async (context) => {
      const s = await begin(context, 'pinghang');
      s.configure({ targets: s.heartbeatTarget('job', true) });
      s.hc.setMode('hang');
      const result = await s.run('check');
      expect(result).toMatchObject({ code: 0, stdout: '', stderr: '' });
      const kinds = s.hc.pingsOf('cronwatch').map((ping) => ping.kind);
      expect(kinds[0]).toBe('start');
      expect(kinds).toContain('success');
      expect(new Set(s.hc.pingsOf('cronwatch').map((ping) => ping.rid)).size).toBe(1);
    });

    it("relays each target's health to its ping_url: up as success, down as /fail with the reason", async (context) => {
      const s = await begin(context, 'targets');
      s.configure({
        heartbeat: false,
        targets: [...s.heartbeatTarget('job', true), ...s.heartbeatTarget('backup', false)],
      });
      const result = await s.run('check');
      expect(result.code).toBe(1);
      expect(s.hc.pingsOf('cronwatch')).toEqual([]);
      expect(s.hc.pingsOf('job').map((ping) => [ping.method, ping.kind, ping.body])).toEqual([
        ['POST', 'success', 'job: up'],
      ]);
      const [backup] = s.hc.pingsOf('backup');
      expect(backup?.kind).toBe('fail');
      expect(backup?.body).toMatch(/^backup: down: state file .*backup\.stamp is missing/);
    });
  });

  describe('check: overdue', () => {
    it('alerts once about cronwatch itself when the previous run is more than 3 intervals old', async (context) => {
      const s = await begin(context, 'overdue');
      s.configure({ heartbeat: false, targets: s.heartbeatTarget('job', true) });
      expect((await s.run('check')).code).toBe(0);
      const statePath = join(s.stateDir, 'state.json');
      const state = JSON.parse(readFileSync(statePath, 'utf8'));
      state.lastRunMs -= 2 * HOUR;
      writeFileSync(statePath, JSON.stringify(state), { mode: 0o600 });

      const late = await s.run('check');
      expect(late.code).toBe(0);
      expect(late.stdout).toMatch(/^cronwatch: no run for 2h \(previous run .*, interval 5m\)/);
      const messages = s.api.messages();
      expect(messages).toHaveLength(1);
      expect(messages[0]?.text).toContain('cronwatch did not run for 2h');
      expect(s.events().filter((event) => event.kind === 'alert')).toMatchObject([
        { alert: 'overdue', target: null },
      ]);

      expect(await s.run('check')).toMatchObject({ code: 0, stdout: '' });
      expect(s.api.messages()).toHaveLength(1);
    });
  });

  describe('check: metrics textfile', () => {
    it('writes metrics a strict parser reads, with the right values for one up and one down target', async (context) => {
      const s = await begin(context, 'metrics');
      s.configure({
        heartbeat: false,
        metrics: true,
        targets: [
          '- name: daemon',
          `  match: 'cli-daemon\\.mjs ${s.marker}\\b'`,
          `  start: node ${DAEMON} ${s.marker}`,
          '  start_grace: 700ms',
          ...s.heartbeatTarget('backup', false),
        ],
      });
      mkdirSync(join(s.dir, 'metrics'));
      const file = join(s.dir, 'metrics', 'cronwatch.prom');
      // The first run starts the daemon (an incident restart); the second finds it up.
      expect((await s.run('check')).code).toBe(1);
      const first = parsePrometheusText(readFileSync(file, 'utf8'));
      expect(first.get('cronwatch_target_resident_memory_bytes')).toBeUndefined();
      expect((await s.run('check')).code).toBe(1);

      expect(statSync(file).mode & 0o777).toBe(0o644);
      const families = parsePrometheusText(readFileSync(file, 'utf8'));
      const value = (name: string, labels: Record<string, string> = {}) =>
        families
          .get(name)
          ?.samples.find((sample) => Object.entries(labels).every(([k, v]) => sample.labels[k] === v))?.value;
      expect(value('cronwatch_target_up', { target: 'daemon' })).toBe(1);
      expect(value('cronwatch_target_up', { target: 'backup' })).toBe(0);
      expect(value('cronwatch_target_state', { target: 'daemon', state: 'up' })).toBe(1);
      expect(value('cronwatch_target_state', { target: 'backup', state: 'down' })).toBe(1);
      expect(value('cronwatch_target_state', { target: 'backup', state: 'up' })).toBe(0);
      expect(value('cronwatch_target_resident_memory_bytes', { target: 'daemon' })).toBeGreaterThan(
        1_000_000,
      );
      expect(value('cronwatch_target_resident_memory_bytes', { target: 'backup' })).toBeUndefined();
      expect(value('cronwatch_target_restarts_total', { target: 'daemon', planned: 'false' })).toBe(1);
      expect(value('cronwatch_target_restarts_total', { target: 'daemon', planned: 'true' })).toBe(0);
      expect(value('cronwatch_alerts_pending')).toBe(0);
      expect(value('cronwatch_run_duration_seconds')).toBeGreaterThan(0);
      const lastRun = value('cronwatch_last_run_timestamp_seconds')!;
      expect(Math.abs(lastRun - Date.now() / 1000)).toBeLessThan(HOUR / 1000);
      expect(families.get('cronwatch_target_restarts_total')?.type).toBe('counter');
    });

    it('gives the state file age of a heartbeat target', async (context) => {
      const s = await begin(context, 'fileage');
      s.configure({ heartbeat: false, metrics: true, targets: s.heartbeatTarget('job', true) });
      const stamp = join(s.dir, 'job.stamp');
      const tenMinutesAgo = new Date(Date.now() - 10 * MINUTE);
      utimesSync(stamp, tenMinutesAgo, tenMinutesAgo);
      mkdirSync(join(s.dir, 'metrics'));
      expect((await s.run('check')).code).toBe(0);
      const families = parsePrometheusText(readFileSync(join(s.dir, 'metrics', 'cronwatch.prom'), 'utf8'));
      const age = families.get('cronwatch_target_state_file_age_seconds')?.samples[0]?.value ?? 0;
      expect(age).toBeGreaterThanOrEqual(600);
      expect(age).toBeLessThan(3600);
    });
  });

  describe('summary', () => {
    const writeLog = (s: Setup, nowMs: number) => {
      const since = nowMs - 24 * HOUR;
      const events: CronwatchEvent[] = [
        { kind: 'flip', atMs: since - HOUR, target: 'job', from: 'new', to: 'up', reason: null },
        { kind: 'flip', atMs: since + 2 * HOUR, target: 'job', from: 'up', to: 'stale', reason: 'hung' },
        {
          kind: 'flip',
          atMs: since + 2 * HOUR + 36 * MINUTE,
          target: 'job',
          from: 'stale',
          to: 'up',
          reason: null,
        },
        { kind: 'restart', atMs: since + 2 * HOUR + 36 * MINUTE, target: 'job', planned: false, ok: true },
        { kind: 'alert', atMs: since + 2 * HOUR, target: 'job', alert: 'problem' },
      ];
      mkdirSync(s.stateDir, { mode: 0o700 });
      writeFileSync(
        join(s.stateDir, 'events.jsonl'),
        events.map((event) => `${JSON.stringify(event)}\n`).join(''),
        { mode: 0o600 },
      );
    };

    it('prints uptime, outage, restarts and alerts per target over the window', async (context) => {
      const s = await begin(context, 'summary');
      s.configure({ heartbeat: false, targets: s.heartbeatTarget('job', true) });
      writeLog(s, Date.now());
      const result = await s.run('summary', '--since', '24h');
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^cronwatch summary for e2e-host, last 1d /);
      expect(result.stdout).toMatch(/\njob +97\.50% +36m +36m +1 +0 +1\n/);

      const json = await s.run('summary', '--json');
      const report = JSON.parse(json.stdout);
      expect(report.summary.targets[0]).toMatchObject({
        name: 'job',
        uptimePercent: 97.5,
        incidentRestarts: 1,
      });
      expect(s.api.messages()).toEqual([]);
    });

    it('refuses a window that is not a duration', async (context) => {
      const s = await begin(context, 'badsince');
      s.configure({ heartbeat: false, targets: s.heartbeatTarget('job', true) });
      const result = await s.run('summary', '--since', 'yesterday');
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('--since expects a duration');
    });

    it('--send delivers it to the channels, silently', async (context) => {
      const s = await begin(context, 'summarysend');
      s.configure({ heartbeat: false, targets: s.heartbeatTarget('job', true) });
      writeLog(s, Date.now());
      const result = await s.run('summary', '--send');
      expect(result.code).toBe(0);
      const messages = s.api.messages();
      expect(messages).toHaveLength(1);
      expect(messages[0]?.text).toContain('Summary of the last 1d');
      expect(messages[0]?.text).toContain('<b>job</b>: 97.50% up · 1 restart · 1 alert · longest outage 36m');
      expect(messages[0]?.disableNotification).toBe(true);
      expect(result.stdout).not.toContain(TOKEN);
    });
  });
});
