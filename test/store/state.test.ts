import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { State } from '../../src/core/types.js';
import { writeFileAtomic } from '../../src/store/atomic.js';
import { loadState, STATE_FILE, saveState } from '../../src/store/state.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cronwatch-state-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const STATE: State = { version: 1, lastRunMs: 5, targets: {} };

describe('store', () => {
  describe('writeFileAtomic()', () => {
    it('replaces the file whole and leaves no temp file behind', async () => {
      const path = join(dir, 'f.json');
      await writeFileAtomic(path, 'one');
      await writeFileAtomic(path, 'two');
      expect(readFileSync(path, 'utf8')).toBe('two');
      expect(readdirSync(dir)).toEqual(['f.json']);
    });
  });

  describe('loadState()', () => {
    it('starts fresh when there is no state file', async () => {
      expect(await loadState(dir, 1)).toMatchObject({ kind: 'fresh', state: { lastRunMs: null } });
    });

    it('reads back what saveState wrote, with mode 0600', async () => {
      await saveState(dir, STATE);
      expect(await loadState(dir, 1)).toEqual({ kind: 'loaded', state: STATE });
      const { statSync } = await import('node:fs');
      expect(statSync(join(dir, STATE_FILE)).mode & 0o777).toBe(0o600);
    });

    it('reads a state file saved indented, as earlier versions saved it', async () => {
      writeFileSync(join(dir, STATE_FILE), `${JSON.stringify(STATE, null, 2)}\n`);
      expect(await loadState(dir, 1)).toEqual({ kind: 'loaded', state: STATE });
    });

    it('moves a corrupt state file aside and reports it, then starts afresh', async () => {
      writeFileSync(join(dir, STATE_FILE), '{"version":1,"targ');
      const loaded = await loadState(dir, 42);
      expect(loaded.kind).toBe('corrupt');
      if (loaded.kind !== 'corrupt') return;
      expect(loaded.movedTo).toBe(join(dir, `${STATE_FILE}.corrupt-42`));
      expect(readFileSync(loaded.movedTo, 'utf8')).toBe('{"version":1,"targ');
      expect(loaded.state.targets).toEqual({});
    });

    it('leaves a corrupt file in place when asked to change nothing (dry run)', async () => {
      writeFileSync(join(dir, STATE_FILE), '[]');
      expect((await loadState(dir, 42, { moveAside: false })).kind).toBe('corrupt');
      expect(readdirSync(dir)).toEqual([STATE_FILE]);
    });
  });
});
