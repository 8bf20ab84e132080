import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock, socketName } from '../../src/store/lock.js';
import { ROOT } from '../support/cli.js';

/**
 * Another process that takes the lock on `dir` and keeps it; with `forgetFile` it then removes
 * the lock file, as a run on a full disk, which could not write one, holds the socket alone.
 * Resolves once it holds the lock.
 */
async function holdLockElsewhere(dir: string, forgetFile: boolean) {
  const script = [
    `import { acquireLock } from ${JSON.stringify(join(ROOT, 'src/store/lock.ts'))};`,
    'import { rmSync } from "node:fs";',
    `const lock = await acquireLock(${JSON.stringify(dir)}, 5);`,
    `if (${forgetFile}) rmSync(${JSON.stringify(join(dir, 'lock'))});`,
    'console.log(lock.kind);',
    'setInterval(() => undefined, 60_000);',
  ].join('\n');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const said = await new Promise<string>((resolve) =>
    child.stdout.once('data', (chunk) => resolve(String(chunk))),
  );
  expect(said.trim()).toBe('acquired');
  return child;
}

const linuxRoot = process.platform === 'linux' && process.getuid?.() === 0;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cronwatch-lock-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('store', () => {
  describe('acquireLock()', () => {
    it('is held against a second taker while the first holds it, and free after release', async () => {
      const first = await acquireLock(dir, 1);
      expect(first.kind).toBe('acquired');
      // Written by another live process, the lock must be seen as held.
      const holder = spawn('sleep', ['30']);
      try {
        const lockPath = join(dir, 'lock');
        const mine = readFileSync(lockPath, 'utf8');
        const ticks = readFileSync(`/proc/${holder.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19];
        writeFileSync(lockPath, JSON.stringify({ pid: holder.pid, startTicks: Number(ticks), sinceMs: 7 }));
        expect(await acquireLock(dir, 2)).toEqual({ kind: 'held', pid: holder.pid, sinceMs: 7 });
        writeFileSync(lockPath, mine);
      } finally {
        holder.kill('SIGKILL');
      }
      if (first.kind === 'acquired') await first.release();
      expect(existsSync(join(dir, 'lock'))).toBe(false);
      const again = await acquireLock(dir, 3);
      expect(again.kind).toBe('acquired');
    });

    it('takes over the lock of a run that died without releasing it', async () => {
      const dead = spawnSync('true');
      writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: dead.pid, startTicks: 1, sinceMs: 1 }));
      const result = await acquireLock(dir, 2);
      expect(result).toMatchObject({ kind: 'acquired', tookOverFrom: dead.pid });
      expect(JSON.parse(readFileSync(join(dir, 'lock'), 'utf8')).pid).toBe(process.pid);
    });

    it('does not mistake a reused pid for the run that wrote the lock', async () => {
      // Our own pid, but a start time that is not ours: the writer is gone, its pid reused.
      writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: process.pid, startTicks: 1, sinceMs: 1 }));
      expect((await acquireLock(dir, 2)).kind).toBe('acquired');
    });

    it.skipIf(process.platform !== 'linux')(
      'is held by a run that holds the socket alone (no lock file: a full disk), and freed when it dies',
      async () => {
        const holder = await holdLockElsewhere(dir, true);
        try {
          expect(existsSync(join(dir, 'lock'))).toBe(false);
          const held = await acquireLock(dir, 6);
          expect(held).toMatchObject({ kind: 'held', pid: holder.pid });
          // Nothing written while finding it held.
          expect(readdirSync(dir)).toEqual([]);
        } finally {
          holder.kill('SIGKILL');
          await new Promise((resolve) => holder.once('exit', resolve));
        }
        const next = await acquireLock(dir, 7);
        expect(next).toMatchObject({ kind: 'acquired', tookOverFrom: null, unrecorded: null });
        if (next.kind === 'acquired') await next.release();
      },
    );

    it.skipIf(!linuxRoot)(
      "is not blocked by another user's process squatting the socket's name (needs root to be nobody)",
      async () => {
        const script = `require('node:net').createServer().listen({ path: ${JSON.stringify(socketName(dir))} }, () => console.log('bound'))`;
        const squatter = spawn(process.execPath, ['-e', script], {
          uid: 65534,
          gid: 65534,
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        try {
          await new Promise((resolve) => squatter.stdout.once('data', resolve));
          const lock = await acquireLock(dir, 8);
          expect(lock).toMatchObject({ kind: 'acquired', unrecorded: null });
          if (lock.kind === 'acquired') await lock.release();
        } finally {
          squatter.kill('SIGKILL');
        }
      },
    );

    it('treats a half-written lock file as abandoned', async () => {
      writeFileSync(join(dir, 'lock'), '{"pi');
      expect((await acquireLock(dir, 2)).kind).toBe('acquired');
    });
  });
});
