/**
 * The host's own faults, end to end: the state dir on a small tmpfs that is full or remounted
 * read-only, inside the test's own mount namespace (`unshare --mount`, root only), so that the
 * rest of the machine never sees it. The real CLI runs in that namespace; the Bot API stand-in
 * runs here, on 127.0.0.1 (the network namespace is shared).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { socketName } from '../../src/store/lock.js';
import { type CliResult, pidsOf, ROOT, runProcess, waitFor } from '../support/cli.js';
import { createScene, ENV, HOST, type Scene, TOKEN } from './scene.js';

function namespaceUnavailable(): string | null {
  if (process.platform !== 'linux') return 'mount namespaces are Linux-only';
  if (process.getuid?.() !== 0) return 'mounting a tmpfs in a mount namespace needs root';
  const probe = spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']);
  if (probe.error !== undefined) return `unshare cannot run (${probe.error.message})`;
  if (probe.status !== 0) return `unshare --mount failed: ${String(probe.stderr).trim()}`;
  return null;
}

const unavailable = namespaceUnavailable();
if (unavailable !== null) console.warn(`skipping the full/read-only disk tests: ${unavailable}`);

const CLI = `${process.execPath} --import tsx ${join(ROOT, 'scripts/cronwatch.ts')}`;
const FILES_MARK = 'state dir holds:';

const scenes: Scene[] = [];
afterEach(async () => {
  for (const scene of scenes.splice(0)) await scene.cleanup();
});

async function scene(label: string): Promise<Scene> {
  const created = await createScene(label);
  scenes.push(created);
  created.configure([{}]);
  mkdirSync(created.stateDir, { mode: 0o700 });
  return created;
}

/**
 * In a mount namespace of its own: a 512 KB tmpfs on the state dir, a first check that records
 * the target up, then the target killed, `breakDisk` run, and the check under test, whose
 * output is returned; after it, the names in the state dir (to find temp files left behind).
 */
async function checkOnBrokenDisk(
  s: Scene,
  pid: number,
  breakDisk: string,
): Promise<CliResult & { files: string[] }> {
  const check = `${CLI} check --config ${s.configFile}`;
  const script = [
    'set -e',
    `mount -t tmpfs -o size=512k,mode=700 cronwatch-test ${s.stateDir}`,
    `${check} >/dev/null`,
    `kill -9 ${pid}`,
    breakDisk,
    'set +e',
    check,
    'code=$?',
    `echo "${FILES_MARK}"; ls -A ${s.stateDir}`,
    'exit $code',
  ].join('\n');
  const result = await runProcess('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], {
    env: ENV,
  });
  const [stdout = '', files = ''] = result.stdout.split(`${FILES_MARK}\n`);
  expect(result.stderr).not.toContain(TOKEN);
  expect(stdout).not.toContain(TOKEN);
  return { ...result, stdout, files: files.split('\n').filter(Boolean) };
}

describe.skipIf(unavailable !== null)('cronwatch check when the state dir cannot be written', () => {
  for (const [fault, breakDisk, errno] of [
    ['full', `dd if=/dev/zero of=${'$STATE'}/fill bs=4k 2>/dev/null || true`, 'ENOSPC'],
    ['read-only', `mount -o remount,ro ${'$STATE'}`, 'EROFS'],
  ] as const) {
    it(`restarts a dead target on a ${fault} disk, sends the alert directly, and exits 70 with one line naming the path and ${errno}`, async () => {
      const s = await scene(fault === 'full' ? 'diskfull' : 'diskro');
      const pid = await s.spawnDaemon();

      const result = await checkOnBrokenDisk(s, pid, breakDisk.replace('$STATE', s.stateDir));

      expect(result.code).toBe(70);
      const stderr = result.stderr.split('\n').filter(Boolean);
      expect(stderr).toHaveLength(1);
      expect(stderr[0]).toMatch(
        new RegExp(`^cronwatch: cannot write to state_dir ${s.stateDir}: ${errno}\\b`),
      );
      expect(stderr[0]).toContain(`${s.stateDir}/`);
      expect(stderr[0]).toContain('not recorded: the lock file');
      expect(stderr[0]).toContain("this run's alerts were sent directly, not kept in the outbox");
      expect(stderr[0]).not.toContain('    at ');
      // Restarted, by this run: a new process, and the one alert says so.
      const [restarted] = await waitFor(
        () => (pidsOf(s.marker).length === 1 ? pidsOf(s.marker) : undefined),
        'the restarted target',
      );
      expect(restarted).not.toBe(pid);
      expect(result.stdout).toContain(`daemon: down (`);
      expect(result.stdout).toContain(`-> started, pid ${restarted}`);
      const messages = s.api.messages();
      expect(messages).toHaveLength(1);
      expect(messages[0]!.text).toContain(HOST);
      expect(messages[0]!.text).toContain(String(restarted));
      // No temp file left behind: neither the lock's nor an atomic write's.
      expect(result.files.filter((name) => name.endsWith('.new') || name.endsWith('.tmp'))).toEqual([]);
      expect(result.files).not.toContain('lock');
    });
  }

  it('exits 75 on a full disk while another run holds the lock, touching nothing', async () => {
    const s = await scene('diskheld');
    const check = `${CLI} check --config ${s.configFile}`;
    // Outside the tmpfs, so that this process sees it: the second run has ended.
    const secondDone = s.path('second-run-done');
    // The first run starts the (dead) target, then waits on Telegram, holding the lock meanwhile.
    s.api.setFault({ kind: 'hang' });
    const script = [
      `mount -t tmpfs -o size=512k,mode=700 cronwatch-test ${s.stateDir}`,
      `dd if=/dev/zero of=${s.stateDir}/fill bs=4k 2>/dev/null`,
      `${check} >/dev/null 2>&1 &`,
      `until grep -q "@${socketName(s.stateDir).slice(1)}" /proc/net/unix; do sleep 0.1; done`,
      check,
      'code=$?',
      `touch ${secondDone}`,
      'wait',
      'exit $code',
    ].join('\n');
    let ended = false;
    const running = runProcess('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], {
      env: ENV,
    }).finally(() => {
      ended = true;
    });
    // Once the second run is done, the first need not sit out its whole send timeout (30 s):
    // closing the stand-in drops its hung request, and it ends on its retries.
    await waitFor(
      () => (ended || existsSync(secondDone) ? true : undefined),
      'the second run to end',
      60_000,
    );
    await s.api.close();
    const result = await running;
    expect(result.code).toBe(75);
    expect(result.stderr).toMatch(/^cronwatch: another run \(pid \d+, since .+\) holds the lock in /);
    expect(result.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(pidsOf(s.marker)).toHaveLength(1);
  }, 120_000);
});

describe('cronwatch when it cannot do its job', () => {
  it('exits 70 with one line naming the path and errno, and prints the stack only with --verbose', async () => {
    const s = await scene('exit70');
    // A directory where the state file should be: reading it fails with EISDIR.
    mkdirSync(join(s.stateDir, 'state.json'));

    const plain = await s.run('check');
    expect(plain.code).toBe(70);
    expect(plain.stdout).toBe('');
    expect(plain.stderr).toBe(
      `cronwatch: could not do its job: cannot read state file ${s.stateDir}/state.json: EISDIR: illegal operation on a directory, read (--verbose prints the stack)\n`,
    );

    const verbose = await s.run('check', '--verbose');
    expect(verbose.code).toBe(70);
    const [line, ...stack] = verbose.stderr.split('\n');
    expect(line).toBe(
      `cronwatch: could not do its job: cannot read state file ${s.stateDir}/state.json: EISDIR: illegal operation on a directory, read`,
    );
    expect(stack.some((frame) => /^\s+at .*state\.ts/.test(frame))).toBe(true);
    // Every command, not only the cron path.
    const status = await s.run('status');
    expect(status.code).toBe(70);
    expect(status.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(status.stderr).toContain('EISDIR');
  });
});
