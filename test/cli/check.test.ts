import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { readProcess } from '../../src/probes/process-table.js';
import { startBotApiServer } from '../support/bot-api-server.js';
import { pidsOf, waitFor } from '../support/cli.js';
import {
  CHAT_ID,
  createScene,
  filesUnder,
  HOST,
  isGone,
  outboxFiles,
  runsMarker,
  type Scene,
  TOKEN,
} from './scene.js';

const scenes: Scene[] = [];
const strays: ChildProcess[] = [];

async function scene(label: string): Promise<Scene> {
  const created = await createScene(label);
  scenes.push(created);
  return created;
}

afterEach(async () => {
  for (const child of strays.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  }
  await Promise.all(scenes.splice(0).map((s) => s.cleanup()));
});

/** The one pid carrying the scene's marker, once there is exactly one. */
function onlyPid(s: Scene): Promise<number> {
  return waitFor(() => {
    const pids = pidsOf(s.marker);
    return pids.length === 1 ? pids[0] : undefined;
  }, `exactly one process of ${s.marker}`);
}

describe('cronwatch check', () => {
  it('says nothing and sends nothing while every target is up', async () => {
    const s = await scene('healthy');
    s.configure([{}]);
    const pid = await s.spawnDaemon();

    for (let run = 0; run < 2; run += 1) {
      const result = await s.run('check');
      expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
    }
    expect(s.api.requests).toEqual([]);
    expect(pidsOf(s.marker)).toEqual([pid]);
  });

  it('restarts a killed target and sends exactly one alert naming host, target, reason and new pid', async () => {
    const s = await scene('killed');
    s.configure([{}]);
    const oldPid = await s.spawnDaemon();
    expect((await s.run('check')).code).toBe(0);

    process.kill(oldPid, 'SIGKILL');
    await waitFor(() => (isGone(oldPid) ? true : undefined), 'the killed daemon to be gone');
    const result = await s.run('check');

    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const newPid = await onlyPid(s);
    expect(newPid).not.toBe(oldPid);
    expect(runsMarker(newPid, s.marker)).toBe(true);
    // It outlives cronwatch: a session of its own, stdin closed, output to its log.
    expect(readProcess(newPid)?.sid).toBe(newPid);
    expect(readlinkSync(`/proc/${newPid}/fd/0`)).toBe('/dev/null');
    await waitFor(
      () =>
        readFileSync(`${s.stateDir}/logs/daemon.log`, 'utf8').includes(`started as ${newPid}`)
          ? true
          : undefined,
      'the new daemon to write its log',
    );
    expect(result.stdout).toContain(`daemon: down (no process matches`);
    expect(result.stdout).toContain(`-> started, pid ${newPid}`);
    const messages = s.api.messages();
    expect(messages).toHaveLength(1);
    const [message] = messages;
    expect(message!.chatId).toBe(CHAT_ID);
    expect(message!.parseMode).toBe('HTML');
    expect(message!.text).toContain(`<b>${HOST}</b>`);
    expect(message!.text).toContain('<b>daemon</b> was down, restarted, new pid');
    expect(message!.text).toContain(`new pid ${newPid}`);
    expect(message!.text).toContain(`Reason: no process matches /cli-daemon\\.mjs ${s.marker}\\b/`);
    expect(message!.text).not.toContain('delayed');

    const again = await s.run('check');
    expect(again).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(s.api.messages()).toHaveLength(1);
    expect(pidsOf(s.marker)).toEqual([newPid]);
  });

  it('kills and restarts a stopped target whose state file is older than max_age', async () => {
    const s = await scene('stale');
    const heartbeat = s.path('heartbeat.json');
    s.configure([
      {
        start: s.daemonCommand(heartbeat),
        extra: [`state_file: ${heartbeat}`, 'max_age: 2s'],
      },
    ]);
    const oldPid = await s.spawnDaemon(heartbeat);
    await waitFor(() => (existsSync(heartbeat) ? true : undefined), 'the first heartbeat');
    expect(await s.run('check')).toEqual({ code: 0, stdout: '', stderr: '' });

    process.kill(oldPid, 'SIGSTOP');
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(heartbeat, hourAgo, hourAgo);
    // The process's own start counts as a sign of life: wait until it too is older than max_age.
    const startedMs = readProcess(oldPid)!.startTimeMs;
    await waitFor(() => (Date.now() - startedMs > 2500 ? true : undefined), 'the daemon to outlive max_age');
    const result = await s.run('check');

    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    await waitFor(() => (isGone(oldPid) ? true : undefined), 'the hung daemon to be gone');
    const newPid = await onlyPid(s);
    expect(newPid).not.toBe(oldPid);
    expect(result.stdout).toContain(
      `daemon: stale (state file ${heartbeat} last written 1h ago, process running for `,
    );
    expect(result.stdout).toMatch(/running for \d+s \(max_age 2s\)\) -> started/);
    expect(result.stdout).toContain(`started, pid ${newPid}`);
    const messages = s.api.messages();
    expect(messages).toHaveLength(1);
    expect(messages[0]!.text).toContain('<b>daemon</b> was stale (hung), restarted');
    expect(messages[0]!.text).toContain(`new pid ${newPid}`);
    expect(messages[0]!.text).toContain('last written 1h ago');
  });

  it('reports the log tail of a failing start and exits 1', async () => {
    const s = await scene('failing');
    s.configure([
      { start: `echo "booting ${s.marker}"; echo "config missing: db.url" >&2; echo "giving up"; exit 3` },
    ]);

    const result = await s.run('check');

    expect(result.code).toBe(1);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('daemon: down (no process matches');
    expect(result.stdout).toContain('-> start failed (exit code 3)');
    const messages = s.api.messages();
    expect(messages).toHaveLength(1);
    const text = messages[0]!.text;
    expect(text).toContain('<b>daemon</b> is down, restart failed');
    expect(text).toContain('Start failed: exit code 3');
    expect(text).toContain(`<pre>booting ${s.marker}\nconfig missing: db.url\ngiving up</pre>`);

    const json = await s.run('check', '--json');
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report.exitCode).toBe(1);
    expect(report.targets).toEqual([
      expect.objectContaining({
        name: 'daemon',
        observed: 'down',
        action: 'start',
        status: 'down',
        outcome: expect.objectContaining({ kind: 'start_failed', exitCode: 3 }),
      }),
    ]);
    expect(report.targets[0].outcome.logTail).toEqual([
      `booting ${s.marker}`,
      'config missing: db.url',
      'giving up',
    ]);
    // Still down: no new alert for the same problem.
    expect(report.alerts).toEqual([]);
    expect(s.api.messages()).toHaveLength(1);
  });

  it('treats a pid file naming an unrelated process as down, starts the target, and never signals it', async () => {
    const s = await scene('pidfile');
    const pidfile = s.path('run.pid');
    s.configure([
      { start: `echo $$ > ${pidfile}; exec ${s.daemonCommand()}`, extra: [`pidfile: ${pidfile}`] },
    ]);
    const sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
    strays.push(sleeper);
    writeFileSync(pidfile, `${sleeper.pid}\n`);

    const result = await s.run('check');

    expect(result.code).toBe(0);
    const newPid = await onlyPid(s);
    expect(readFileSync(pidfile, 'utf8').trim()).toBe(String(newPid));
    expect(result.stdout).toContain(
      `daemon: down (pid ${sleeper.pid} from ${pidfile} is "sleep 600", which does not match`,
    );
    expect(result.stdout).toContain(`-> started, pid ${newPid}`);
    expect(s.api.messages()).toHaveLength(1);
    expect(s.api.messages()[0]!.text).toContain(`new pid ${newPid}`);
    expect(sleeper.exitCode).toBeNull();
    expect(sleeper.signalCode).toBeNull();
    expect(readProcess(sleeper.pid!)?.state).not.toBe('Z');

    expect(await s.run('check')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(sleeper.signalCode).toBeNull();
  });

  it('restarts a dead target once when two runs start together; the other exits 75', async () => {
    const s = await scene('concurrent');
    s.configure([{}]);
    // A rate limit keeps the winner holding the lock for a few seconds more, so the two overlap
    // even when one of them is slow to start on a loaded machine.
    s.api.failNext({ kind: 'rate_limit', retryAfterS: 3 });

    const results = await Promise.all([s.run('check'), s.run('check')]);

    const codes = results.map((r) => r.code).sort();
    expect(codes).toEqual([0, 75]);
    const winner = results.find((r) => r.code === 0)!;
    const loser = results.find((r) => r.code === 75)!;
    expect(loser.stdout).toBe('');
    expect(loser.stderr).toMatch(
      /^cronwatch: another run \(pid \d+, since \S+\) holds the lock in \S+\/state\n$/,
    );
    const pid = await onlyPid(s);
    expect(winner.stdout).toContain(`-> started, pid ${pid}`);
    const log = readFileSync(`${s.stateDir}/logs/daemon.log`, 'utf8');
    expect(log.match(/started as/g)).toHaveLength(1);
    expect(s.api.messages()).toHaveLength(1);
    expect(s.api.requests.map((r) => r.outcome)).toEqual(['rate_limit', 'ok']);
  });

  it('does nothing for --dry-run but print the plan, and exits 1 for a dead target', async () => {
    const s = await scene('dry');
    s.configure([{}]);

    const result = await s.run('check', '--dry-run');

    expect(result.code).toBe(1);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(
      'dry run: nothing will be changed or sent\n' +
        `daemon: down (no process matches /cli-daemon\\.mjs ${s.marker}\\b/): would start: ${s.daemonCommand()}\n`,
    );
    expect(pidsOf(s.marker)).toEqual([]);
    expect(existsSync(s.stateDir)).toBe(false);
    expect(s.api.requests).toEqual([]);
  });

  it('keeps an alert in the outbox while Telegram is unreachable and delivers it once when it is back', async () => {
    const s = await scene('offline');
    s.configure([{}]);
    const oldPid = await s.spawnDaemon();
    expect((await s.run('check')).code).toBe(0);
    const { port } = s.api;
    await s.api.close();

    process.kill(oldPid, 'SIGKILL');
    await waitFor(() => (isGone(oldPid) ? true : undefined), 'the killed daemon to be gone');
    const offline = await s.run('check');

    expect(offline.code).toBe(0);
    const newPid = await onlyPid(s);
    expect(offline.stdout).toContain(`-> started, pid ${newPid}`);
    expect(offline.stdout).toMatch(
      /1 alert\(s\) not delivered yet \(.+\); kept in the outbox for the next run/,
    );
    // While the outage lasts, later runs stay quiet: cron would mail the same line every run.
    expect(await s.run('check')).toEqual({ code: 0, stdout: '', stderr: '' });
    const [queued] = outboxFiles(s.stateDir);
    expect(queued).toBeDefined();
    // The outage lasts ten minutes: the alert was raised that long before Telegram came back.
    const entryPath = `${s.stateDir}/outbox/${queued}`;
    const entry = JSON.parse(readFileSync(entryPath, 'utf8'));
    entry.createdMs -= 10 * 60_000;
    writeFileSync(entryPath, JSON.stringify(entry));
    const raisedAt = new Date(entry.createdMs).toISOString();

    s.api = await startBotApiServer({ port });
    const back = await s.run('check');

    expect(back).toEqual({ code: 0, stdout: '', stderr: '' });
    const messages = s.api.messages();
    expect(messages).toHaveLength(1);
    expect(messages[0]!.text).toContain(`<b>daemon</b> was down, restarted, new pid ${newPid}`);
    expect(messages[0]!.text).toContain(
      `<i>delayed, raised at ${raisedAt.slice(0, 10)} ${raisedAt.slice(11, 16)} UTC</i>`,
    );
    expect(outboxFiles(s.stateDir)).toEqual([]);

    expect(await s.run('check')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(s.api.messages()).toHaveLength(1);
  });
});

describe('cronwatch check after a crashed run', () => {
  it('takes over the lock of a run that is gone and moves a corrupt state file aside', async () => {
    const s = await scene('crashed');
    s.configure([{}]);
    const pid = await s.spawnDaemon();
    mkdirSync(s.stateDir, { mode: 0o700 });
    // Above pid_max: no process can hold it.
    writeFileSync(`${s.stateDir}/lock`, JSON.stringify({ pid: 4_194_305, startTicks: 1, sinceMs: 1 }));
    writeFileSync(`${s.stateDir}/state.json`, '{"version":1,"targ');

    const result = await s.run('check');

    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(
      new RegExp(
        `^cronwatch: state file was corrupt \\(.+\\); moved to ${s.stateDir}/state\\.json\\.corrupt-\\d+, starting afresh$`,
      ),
    );
    expect(lines.slice(1)).toEqual([
      'cronwatch: took over the lock of run 4194305, which is no longer running',
      '',
    ]);
    expect(existsSync(`${s.stateDir}/lock`)).toBe(false);
    expect(JSON.parse(readFileSync(`${s.stateDir}/state.json`, 'utf8')).targets.daemon.status).toBe('up');
    expect(pidsOf(s.marker)).toEqual([pid]);
    expect(s.api.requests).toEqual([]);

    expect(await s.run('check')).toEqual({ code: 0, stdout: '', stderr: '' });
  });
});

describe('cronwatch check with a bad config', () => {
  async function refused(s: Scene, expected: string) {
    const result = await s.run('check');
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(s.configFile);
    expect(result.stderr).toContain(expected);
    expect(existsSync(s.stateDir)).toBe(false);
    expect(pidsOf(s.marker)).toEqual([]);
    expect(s.api.requests).toEqual([]);
  }

  it('names the file and the key of a bad duration', async () => {
    const s = await scene('badduration');
    s.configure([{ extra: ['state_file: beat.json', 'max_age: soon'] }]);
    await refused(s, 'targets[0].max_age: expected a duration like 30s, 5m, got "soon"');
  });

  it('names an unknown key', async () => {
    const s = await scene('unknownkey');
    s.configure([{ extra: ['restart_limt: 5 in 1h'] }]);
    await refused(s, 'targets[0].restart_limt: unknown key (expected one of:');
  });

  it('refuses a config that other users can write', async () => {
    const s = await scene('writable');
    s.configure([{}]);
    chmodSync(s.configFile, 0o666);
    await refused(s, 'is writable by other users (mode 666)');
  });

  it('names an unset environment variable', async () => {
    const s = await scene('unsetvar');
    s.configure([{ extra: ['env: { API_KEY: "${CRONWATCH_E2E_UNSET_VAR}" }'] }]);
    await refused(s, 'targets[0].env.API_KEY: environment variable CRONWATCH_E2E_UNSET_VAR is not set');
  });
});

describe('the bot token', () => {
  it('appears in no output, state, outbox, log, or target environment', async () => {
    const s = await scene('token');
    const failing = `env; echo "${s.marker} cannot start"; exit 1`;
    s.configure([
      { name: 'daemon', start: `env; exec ${s.daemonCommand()}` },
      { name: 'broken', start: failing, match: `never-runs-${s.marker}` },
    ]);
    // Telegram refuses every alert for good: the errors are recorded in the outbox.
    s.api.setFault('unauthorized');
    const outputs: string[] = [];
    const run = async (...args: string[]) => {
      const result = await s.run(...args);
      outputs.push(result.stdout, result.stderr);
      return result;
    };

    expect((await run('check')).code).toBe(1);
    await onlyPid(s);
    await run('check', '--json');
    await run('status');
    await run('status', '--json');
    expect((await run('restart', 'daemon', '--reason', 'token test')).code).toBe(0);
    await run('check', '--dry-run');

    const environ = readFileSync(`/proc/${await onlyPid(s)}/environ`, 'utf8');
    expect(environ).not.toContain('TELEGRAM_BOT_TOKEN=');
    expect(environ).not.toContain(TOKEN);
    const files = filesUnder(s.dir);
    expect(files.map((f) => f.path)).toEqual(
      expect.arrayContaining([
        `${s.stateDir}/state.json`,
        `${s.stateDir}/logs/daemon.log`,
        `${s.stateDir}/logs/broken.log`,
      ]),
    );
    expect(outboxFiles(s.stateDir).length).toBeGreaterThan(0);
    // The targets did print their environment, so the check below has something to look at.
    expect(readFileSync(`${s.stateDir}/logs/daemon.log`, 'utf8')).toContain('PATH=');
    for (const file of files) expect(file.text, file.path).not.toContain(TOKEN);
    for (const output of outputs) expect(output).not.toContain(TOKEN);
    for (const message of s.api.messages()) expect(message.text).not.toContain(TOKEN);
  });
});
