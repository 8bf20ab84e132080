import { execFileSync } from 'node:child_process';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HEARTBEAT_MAX_BYTES, parseHeartbeat, probeStateFile } from '../../src/probes/state-file.js';
import { cleanUp, makeTempDir } from './probe-helpers.js';

afterEach(cleanUp);

function stateFile(content: string): string {
  const file = join(makeTempDir(), 'state.json');
  writeFileSync(file, content);
  return file;
}

describe('probes', () => {
  describe('probeStateFile()', () => {
    it('gives the modification time of a state file', () => {
      const file = stateFile('{}');
      const touchedAtSeconds = 1_700_000_123;
      utimesSync(file, touchedAtSeconds, touchedAtSeconds);
      expect(probeStateFile(file)).toEqual({
        kind: 'present',
        mtimeMs: touchedAtSeconds * 1000,
        heartbeat: null,
      });
    });

    it('judges an empty (touched) state file by its age alone', () => {
      const file = stateFile('');
      utimesSync(file, 1_700_000_123, 1_700_000_123);
      expect(probeStateFile(file)).toEqual({ kind: 'present', mtimeMs: 1_700_000_123_000, heartbeat: null });
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

    it("reads a heartbeat's status and message", () => {
      const file = stateFile(
        JSON.stringify({ ts: '2025-05-01T12:00:00.000Z', pid: 42, status: 'error', message: 'disk full' }),
      );
      expect(probeStateFile(file)).toMatchObject({
        kind: 'present',
        heartbeat: { status: 'error', message: 'disk full' },
      });
    });

    it('judges a file that is not JSON by its age alone', () => {
      expect(probeStateFile(stateFile('alive at 12:00\n'))).toMatchObject({
        kind: 'present',
        heartbeat: null,
      });
    });

    it('judges a half-written heartbeat by its age alone', () => {
      expect(probeStateFile(stateFile('{"ts":"2025-05-01T12:00:00.000Z","pid":42,"sta'))).toMatchObject({
        heartbeat: null,
      });
    });

    it('does not read a file over HEARTBEAT_MAX_BYTES', () => {
      const padding = 'x'.repeat(HEARTBEAT_MAX_BYTES);
      const file = stateFile(JSON.stringify({ ts: 1, pid: 42, status: 'error', message: padding }));
      expect(probeStateFile(file)).toMatchObject({ kind: 'present', heartbeat: null });
    });

    it('does not block on a FIFO named as the state file', () => {
      const fifo = join(makeTempDir(), 'state.fifo');
      execFileSync('mkfifo', [fifo]);
      expect(probeStateFile(fifo)).toMatchObject({ kind: 'present', heartbeat: null });
    });
  });

  describe('parseHeartbeat()', () => {
    it('takes a JSON object with ts and pid as a heartbeat', () => {
      expect(parseHeartbeat('{"ts":1714564800000,"pid":7,"status":"running","message":null}')).toEqual({
        status: 'running',
        message: null,
      });
    });

    it('gives a null status when it is missing or unknown', () => {
      expect(parseHeartbeat('{"ts":"x","pid":7}')).toEqual({ status: null, message: null });
      expect(parseHeartbeat('{"ts":"x","pid":7,"status":"degraded","message":"slow"}')).toEqual({
        status: null,
        message: 'slow',
      });
    });

    it("does not mistake a program's own JSON with a status for a heartbeat", () => {
      expect(parseHeartbeat('{"status":"error","site":"https://example.com"}')).toBeNull();
      expect(parseHeartbeat('{"ts":"x","status":"error"}')).toBeNull();
      expect(parseHeartbeat('[{"ts":"x","pid":7}]')).toBeNull();
      expect(parseHeartbeat('null')).toBeNull();
    });
  });
});
