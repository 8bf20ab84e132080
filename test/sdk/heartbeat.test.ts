import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { heartbeat } from '../../src/index.js';
import { HEARTBEAT_MAX_BYTES, probeStateFile } from '../../src/probes/state-file.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cronwatch-sdk-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

describe('sdk', () => {
  describe('heartbeat()', () => {
    it('writes ts, pid, status, message and data as JSON', async () => {
      const file = join(dir, 'app.heartbeat');
      const beforeMs = Date.now();

      const record = await heartbeat(file, { status: 'error', message: 'disk full', data: { queue: 3 } });

      expect(readJson(file)).toEqual(record);
      expect(record).toEqual({
        ts: expect.any(String),
        pid: process.pid,
        status: 'error',
        message: 'disk full',
        data: { queue: 3 },
      });
      expect(Date.parse(record.ts)).toBeGreaterThanOrEqual(Math.floor(beforeMs / 1000) * 1000);
    });

    it('says ok, with no message nor data, by default', async () => {
      const file = join(dir, 'app.heartbeat');
      await heartbeat(file);
      expect(readJson(file)).toMatchObject({ status: 'ok', message: null, data: null });
    });

    it('is read back by cronwatch as a heartbeat', async () => {
      const file = join(dir, 'app.heartbeat');
      await heartbeat(file, { status: 'error', message: 'upstream refused our key' });
      expect(probeStateFile(file)).toMatchObject({
        kind: 'present',
        heartbeat: { status: 'error', message: 'upstream refused our key' },
      });
    });

    it('leaves no temp file behind', async () => {
      const file = join(dir, 'app.heartbeat');
      for (let n = 0; n < 5; n += 1) await heartbeat(file, { data: { n } });
      expect(readdirSync(dir)).toEqual(['app.heartbeat']);
    });

    it('never lets a reader in another process see half a heartbeat', async () => {
      const file = join(dir, 'app.heartbeat');
      const stopFile = join(dir, 'stop');
      await heartbeat(file);
      const reader = spawn(
        process.execPath,
        [join(import.meta.dirname, 'fixtures/read-loop.mjs'), file, stopFile],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let output = '';
      reader.stdout.on('data', (chunk) => {
        output += chunk;
      });
      const ended = new Promise((resolve) => reader.on('close', resolve));

      // Sizes vary so that a torn write would show as a short or mixed file.
      for (let n = 0; n < 200; n += 1)
        await heartbeat(file, { data: { n, pad: 'x'.repeat((n * 997) % 20_000) } });
      writeFileSync(stopFile, '');
      await ended;

      const result = JSON.parse(output) as { reads: number; torn: string[] };
      expect(result.torn).toEqual([]);
      expect(result.reads).toBeGreaterThan(0);
    });

    it('refuses a status it does not know, quoting it', async () => {
      await expect(heartbeat(join(dir, 'x'), { status: 'fine' as 'ok' })).rejects.toThrow(
        'Expected `status` to be one of ok, error, running, got `fine`',
      );
    });

    it('refuses a message that is not a string', async () => {
      await expect(heartbeat(join(dir, 'x'), { message: 42 as unknown as string })).rejects.toThrow(
        'Expected `message` to be a string, got `42`',
      );
    });

    it('refuses data JSON cannot hold', async () => {
      await expect(heartbeat(join(dir, 'x'), { data: { big: 1n } })).rejects.toThrow(
        'Expected `data` to be JSON-serialisable',
      );
    });

    it('refuses a heartbeat cronwatch would not read, and writes nothing', async () => {
      const file = join(dir, 'app.heartbeat');
      await expect(heartbeat(file, { data: 'x'.repeat(HEARTBEAT_MAX_BYTES) })).rejects.toThrow(RangeError);
      expect(readdirSync(dir)).toEqual([]);
    });

    it('says which file it could not write, with the I/O error as cause', async () => {
      const file = join(dir, 'no-such-dir', 'app.heartbeat');
      const error = await heartbeat(file).catch((caught: Error) => caught);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toContain(`Could not write heartbeat ${file}`);
      expect(((error as Error).cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    });
  });
});
