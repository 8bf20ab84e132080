import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock } from '../../src/store/lock.js';

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

    it('treats a half-written lock file as abandoned', async () => {
      writeFileSync(join(dir, 'lock'), '{"pi');
      expect((await acquireLock(dir, 2)).kind).toBe('acquired');
    });
  });
});
