import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CronwatchEvent } from '../../src/core/events.js';
import { appendEvents, EVENTS_FILE, readCounters, readEvents } from '../../src/store/events.js';

const AT_MS = Date.UTC(2024, 4, 1, 12, 0, 0);

function runStart(index: number): CronwatchEvent {
  return { kind: 'run_start', atMs: AT_MS + index, rid: `run-${String(index).padStart(6, '0')}` };
}

describe('store', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cronwatch-events-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe('appendEvents()', () => {
    it('appends JSON lines, private to the owner, and reads them back in order', async () => {
      await appendEvents(dir, [runStart(1)]);
      await appendEvents(dir, [runStart(2), runStart(3)]);
      const path = join(dir, EVENTS_FILE);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(3);
      const { events, skipped } = await readEvents(dir);
      expect(events.map((event) => event.atMs)).toEqual([AT_MS + 1, AT_MS + 2, AT_MS + 3]);
      expect(skipped).toBe(0);
    });

    it('rotates to .1 before passing the size cap and keeps reading both files', async () => {
      const line = `${JSON.stringify(runStart(0))}\n`.length;
      const maxBytes = line * 10;
      for (let index = 0; index < 25; index += 1) await appendEvents(dir, [runStart(index)], { maxBytes });
      expect(statSync(join(dir, EVENTS_FILE)).size).toBeLessThanOrEqual(maxBytes);
      expect(statSync(join(dir, `${EVENTS_FILE}.1`)).size).toBeLessThanOrEqual(maxBytes);
      const { events } = await readEvents(dir);
      // Two files of at most ten lines: the newest 15 survive (files of 10 and 5).
      expect(events.map((event) => event.atMs - AT_MS)).toEqual(Array.from({ length: 15 }, (_, i) => i + 10));
    });

    it('skips a line cut short by a crash, and lines it does not know', async () => {
      await appendEvents(dir, [runStart(1)]);
      appendFileSync(
        join(dir, EVENTS_FILE),
        '{"kind":"run_start","atMs":17\n{"kind":"from_the_future","atMs":1}\n',
      );
      await appendEvents(dir, [runStart(2)]);
      const { events, skipped } = await readEvents(dir);
      expect(events.map((event) => event.atMs)).toEqual([AT_MS + 1, AT_MS + 2]);
      expect(skipped).toBe(2);
    });

    it('keeps cumulative restart counters that rotation does not reset', async () => {
      const restart = (planned: boolean): CronwatchEvent => ({
        kind: 'restart',
        atMs: AT_MS,
        target: 'web',
        planned,
        ok: true,
      });
      await appendEvents(dir, [restart(false), restart(false)], { maxBytes: 1 });
      await appendEvents(dir, [restart(true)], { maxBytes: 1 });
      await appendEvents(dir, [restart(false)], { maxBytes: 1 });
      expect(await readCounters(dir)).toEqual({ web: { incident: 3, planned: 1 } });
    });
  });

  describe('readEvents()', () => {
    it('reads a missing log as empty', async () => {
      expect(await readEvents(join(dir, 'nowhere'))).toEqual({ events: [], skipped: 0 });
      expect(await readCounters(join(dir, 'nowhere'))).toEqual({});
    });
  });
});
