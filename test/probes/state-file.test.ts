import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { probeStateFile } from '../../src/probes/state-file.js';
import { cleanUp, makeTempDir } from './probe-helpers.js';

afterEach(cleanUp);

describe('probes', () => {
  describe('probeStateFile()', () => {
    it('gives the modification time of a state file', () => {
      const file = join(makeTempDir(), 'state.json');
      writeFileSync(file, '{}');
      const touchedAtSeconds = 1_700_000_123;
      utimesSync(file, touchedAtSeconds, touchedAtSeconds);
      expect(probeStateFile(file)).toEqual({ kind: 'present', mtimeMs: touchedAtSeconds * 1000 });
    });

    it('says a state file that does not exist is missing', () => {
      expect(probeStateFile(join(makeTempDir(), 'never-written.json'))).toEqual({ kind: 'missing' });
    });

    it('throws, naming the path, when the file cannot be examined', () => {
      const notADir = join(makeTempDir(), 'plain-file');
      writeFileSync(notADir, '');
      const path = join(notADir, 'state.json');
      expect(() => probeStateFile(path)).toThrow(`Could not read state file ${path}`);
    });
  });
});
