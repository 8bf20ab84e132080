import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { monitored } from '../../src/index.js';

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cronwatch-sdk-'));
  file = join(dir, 'job.heartbeat');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function readJson(): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

describe('sdk', () => {
  describe('monitored()', () => {
    it('says running while the job runs, then ok, and returns its result', async () => {
      let during: Record<string, unknown> | null = null;

      const result = await monitored(file, async () => {
        during = readJson();
        return 42;
      });

      expect(result).toBe(42);
      expect(during).toMatchObject({ status: 'running', data: { startedAt: expect.any(String) } });
      expect(readJson()).toMatchObject({
        status: 'ok',
        message: null,
        data: { durationMs: expect.any(Number) },
      });
    });

    it("says error with the error's message and rethrows the very error", async () => {
      const failure = new Error("ENOENT: no such file or directory, scandir '/var/backups'");

      const caught = await monitored(file, () => {
        throw failure;
      }).catch((error: unknown) => error);

      expect(caught).toBe(failure);
      expect(readJson()).toMatchObject({ status: 'error', message: failure.message });
    });

    it('says what was thrown when it is not an Error', async () => {
      await expect(monitored(file, () => Promise.reject('quota exceeded'))).rejects.toBe('quota exceeded');
      expect(readJson()).toMatchObject({ status: 'error', message: 'quota exceeded' });
    });

    it('does not run a job it cannot record', async () => {
      let ran = false;
      const unwritable = join(dir, 'missing', 'job.heartbeat');

      await expect(
        monitored(unwritable, () => {
          ran = true;
        }),
      ).rejects.toThrow(`Could not write heartbeat ${unwritable}`);
      expect(ran).toBe(false);
    });
  });
});
