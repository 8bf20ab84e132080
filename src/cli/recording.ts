/**
 * A run's writes to its state dir, for a run that must go on when they fail. A watchdog must
 * keep watching when the host is in trouble (a full disk, a filesystem remounted read-only),
 * which is when daemons die: the first write that fails for want of disk turns the others off
 * (no half-written files, no temp files left behind), the run still restarts what is down and
 * sends what it can directly, and its end names what was not recorded, and why, and exits 70.
 */
import { errnoOf } from './context.js';

export interface Recording {
  /** The first failure of the disk (ENOSPC, EROFS, EIO, ...); null while every write worked. */
  readonly failure: NodeJS.ErrnoException | null;
  /** What was not recorded, in order: `the state`, `the events log`, ... */
  readonly lost: readonly string[];
  /** The disk failed before the run could use it (the lock file could not be written). */
  failed(what: string, error: NodeJS.ErrnoException): void;
  /**
   * Runs `write` unless the disk already failed; a failure with an errno turns recording off and
   * returns false, any other error (a bug) is thrown.
   */
  record(what: string, write: () => Promise<void>): Promise<boolean>;
  /** The one line that says it, or null when everything was recorded. */
  line(stateDir: string, delivered: string | null): string | null;
}

export function createRecording(): Recording {
  let failure: NodeJS.ErrnoException | null = null;
  const lost: string[] = [];
  return {
    get failure() {
      return failure;
    },
    lost,
    failed(what, error) {
      failure ??= error;
      if (!lost.includes(what)) lost.push(what);
    },
    async record(what, write) {
      if (failure === null) {
        try {
          await write();
          return true;
        } catch (error) {
          const errno = errnoOf(error);
          if (errno === null) throw error;
          failure = errno;
        }
      }
      if (!lost.includes(what)) lost.push(what);
      return false;
    },
    line(stateDir, delivered) {
      if (failure === null) return null;
      const sent = delivered === null ? '' : `; ${delivered}`;
      const { message, path } = failure;
      const where = path === undefined || message.includes(path) ? '' : ` (${path})`;
      return `cannot write to state_dir ${stateDir}: ${message}${where}; not recorded: ${lost.join(', ')}${sent}`;
    },
  };
}
