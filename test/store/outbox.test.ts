import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Envelope } from '../../src/core/types.js';
import { enqueue, newEnvelopeId, readOutbox, remove, save } from '../../src/store/outbox.js';
import { pending } from '../support/outbox.js';

let stateDir: string;

beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'cronwatch-outbox-'));
});

afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

function envelope(nowMs: number, target = 'site-monitor'): Envelope {
  return {
    id: newEnvelopeId(nowMs),
    host: 'web-1',
    createdMs: nowMs,
    silent: false,
    alerts: [{ kind: 'recovered', target, downForMs: 60_000, pid: 12, atMs: nowMs }],
  };
}

describe('store/outbox', () => {
  describe('newEnvelopeId()', () => {
    it('gives unique ids that sort in the order they were made, even within one millisecond', () => {
      const ids = Array.from({ length: 500 }, (_, i) =>
        newEnvelopeId(1_700_000_000_000 + Math.floor(i / 100)),
      );
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort()).toEqual(ids);
    });

    it('stays in order when the clock steps back', () => {
      const first = newEnvelopeId(1_800_000_000_000);
      const second = newEnvelopeId(1_799_999_999_000);
      expect(second > first).toBe(true);
    });
  });

  describe('enqueue() and readOutbox()', () => {
    it('returns an enqueued envelope with fresh delivery bookkeeping', async () => {
      const queued = envelope(Date.now());
      await enqueue(stateDir, queued);
      const entries = await pending(stateDir);
      expect(entries).toEqual([
        {
          ...queued,
          delivered: [],
          sentParts: {},
          attempts: 0,
          lastError: null,
          lastAttemptMs: null,
          permanent: {},
        },
      ]);
    });

    it('writes a private file, and nothing else, in state_dir/outbox', async () => {
      const queued = envelope(Date.now());
      await enqueue(stateDir, queued);
      expect(await readdir(join(stateDir, 'outbox'))).toEqual([`${queued.id}.json`]);
      expect((await stat(join(stateDir, 'outbox', `${queued.id}.json`))).mode & 0o777).toBe(0o600);
      expect((await stat(join(stateDir, 'outbox'))).mode & 0o777).toBe(0o700);
    });

    it('lists envelopes in enqueue order', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i += 1) {
        const queued = envelope(1_700_000_000_000, `t${i}`);
        ids.push(queued.id);
        await enqueue(stateDir, queued);
      }
      expect((await pending(stateDir)).map((entry) => entry.id)).toEqual(ids);
    });

    it('survives a crash: a fresh module instance reads what the first one wrote', async () => {
      const queued = envelope(Date.now());
      await enqueue(stateDir, queued);
      await save(stateDir, {
        ...(await pending(stateDir))[0]!,
        attempts: 2,
        lastError: 'Telegram 502: Bad Gateway',
      });
      vi.resetModules();
      const fresh = await import('../../src/store/outbox.js');
      const [entry] = (await fresh.readOutbox(stateDir)).entries;
      expect(entry).toMatchObject({
        id: queued.id,
        alerts: queued.alerts,
        attempts: 2,
        lastError: 'Telegram 502: Bad Gateway',
      });
    });

    it('refuses to overwrite an envelope already queued', async () => {
      const queued = envelope(Date.now());
      await enqueue(stateDir, queued);
      await expect(enqueue(stateDir, queued)).rejects.toThrow(/already holds/);
    });

    it('refuses an id that is not a plain file name', async () => {
      await expect(enqueue(stateDir, { ...envelope(Date.now()), id: '../escape' })).rejects.toThrow(
        /got `..\/escape`/,
      );
    });

    it('returns nothing when the outbox does not exist yet', async () => {
      expect(await pending(stateDir)).toEqual([]);
    });
  });

  describe('remove()', () => {
    it('drops the envelope from the queue', async () => {
      const queued = envelope(Date.now());
      await enqueue(stateDir, queued);
      await remove(stateDir, queued.id);
      expect(await pending(stateDir)).toEqual([]);
    });
  });

  describe('readOutbox()', () => {
    it('moves a corrupt file aside, reports it, and still returns the others', async () => {
      const good = envelope(Date.now());
      await enqueue(stateDir, good);
      const dir = join(stateDir, 'outbox');
      await writeFile(join(dir, '0000000000001-0000-000000.json'), '{"version":1,"id":"0000000000001-00', {
        mode: 0o600,
      });
      const { entries, corrupt } = await readOutbox(stateDir);
      expect(entries.map((entry) => entry.id)).toEqual([good.id]);
      expect(corrupt).toEqual([join(dir, '0000000000001-0000-000000.json.corrupt')]);
      expect(await readFile(corrupt[0]!, 'utf8')).toBe('{"version":1,"id":"0000000000001-00');
      expect((await pending(stateDir)).map((entry) => entry.id)).toEqual([good.id]);
    });

    it('moves aside a file that parses but is not an outbox entry', async () => {
      const dir = join(stateDir, 'outbox');
      await enqueue(stateDir, envelope(Date.now()));
      await writeFile(
        join(dir, '0000000000002-0000-000000.json'),
        '{"version":1,"id":"0000000000002-0000-000000"}',
      );
      const { corrupt } = await readOutbox(stateDir);
      expect(corrupt).toHaveLength(1);
      expect((await readdir(dir)).filter((name) => name.endsWith('.corrupt'))).toHaveLength(1);
    });

    it('ignores the temp files of a write that was cut short', async () => {
      const good = envelope(Date.now());
      await enqueue(stateDir, good);
      await writeFile(join(stateDir, 'outbox', `.${good.id}.json.999.1.tmp`), '{');
      const { entries, corrupt } = await readOutbox(stateDir);
      expect(entries).toHaveLength(1);
      expect(corrupt).toEqual([]);
    });
  });
});
