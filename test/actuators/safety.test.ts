import { afterEach, describe, expect, it } from 'vitest';
import { ancestorsOf, assertSignalable, createSignalGuard } from '../../src/actuators/safety.js';
import { readStat } from '../../src/probes/process-table.js';
import { Spawned } from './helpers.js';

const spawned = new Spawned();
afterEach(() => spawned.cleanup());

describe('actuators', () => {
  describe('assertSignalable()', () => {
    const guard = createSignalGuard();

    it.each([0, 1, -1, Number.NaN, 2.5, Number.POSITIVE_INFINITY, 2 ** 32 - 1])(
      'refuses the pid %s',
      (pid) => {
        expect(() => assertSignalable(pid, null, guard)).toThrow(/Refusing to signal pid/);
      },
    );

    it.each([0, 1, -1, Number.NaN])('refuses the process group %s', async (pgid) => {
      const { child } = await spawned.daemon('trap');
      expect(() => assertSignalable(child.pid!, pgid, guard)).toThrow(/Refusing to signal process group/);
    });

    it('refuses cronwatch itself', () => {
      expect(() => assertSignalable(process.pid, null, guard)).toThrow(/cronwatch itself/);
      expect(() => assertSignalable(process.pid, process.pid, guard)).toThrow(/cronwatch itself/);
    });

    it('refuses cronwatch’s own process group, as a pid or as the group of another process', async () => {
      const ownPgid = readStat(process.pid)!.pgid;
      const { child } = await spawned.daemon('trap');
      expect(() => assertSignalable(child.pid!, ownPgid, guard)).toThrow(/own process group|ancestor|itself/);
      if (ownPgid !== process.pid) {
        expect(() => assertSignalable(ownPgid, null, guard)).toThrow(/own process group|ancestor/);
      }
    });

    it('reads the own process group when the guard does not carry it', async () => {
      const { child } = await spawned.daemon('trap');
      const bare = { selfPid: process.pid, ancestors: new Set<number>() };
      expect(() => assertSignalable(child.pid!, readStat(process.pid)!.pgid, bare)).toThrow(
        /own process group/,
      );
    });

    it('refuses the parent and every other ancestor', () => {
      expect(() => assertSignalable(process.ppid, null, guard)).toThrow(/ancestor of cronwatch/);
      expect(() => assertSignalable(process.ppid, process.ppid, guard)).toThrow(/ancestor of cronwatch/);
      for (const ancestor of guard.ancestors) {
        if (ancestor > 1) expect(() => assertSignalable(ancestor, null, guard)).toThrow(/Refusing/);
      }
    });

    it('quotes the refused value', () => {
      expect(() => assertSignalable(-1, null, guard)).toThrow('`-1`');
    });

    it('accepts a child in a process group of its own', async () => {
      const { child } = await spawned.daemon('trap');
      expect(() => assertSignalable(child.pid!, child.pid!, guard)).not.toThrow();
      expect(() => assertSignalable(child.pid!, null, guard)).not.toThrow();
    });
  });

  describe('ancestorsOf()', () => {
    it('walks up from the parent, without the process itself', () => {
      const ancestors = ancestorsOf(process.pid);
      expect(ancestors.has(process.ppid)).toBe(true);
      expect(ancestors.has(process.pid)).toBe(false);
      expect(ancestors.has(0)).toBe(false);
    });

    it('includes the grandparent', () => {
      const grandparent = readStat(process.ppid)!.ppid;
      if (grandparent > 0) expect(ancestorsOf(process.pid).has(grandparent)).toBe(true);
    });
  });

  describe('createSignalGuard()', () => {
    it('records the own pid, process group and ancestors', () => {
      const guard = createSignalGuard();
      expect(guard.selfPid).toBe(process.pid);
      expect(guard.selfPgid).toBe(readStat(process.pid)!.pgid);
      expect(guard.ancestors.has(process.ppid)).toBe(true);
    });
  });
});
