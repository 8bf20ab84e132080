/** The state file a target touches to prove it still works. */
import { statSync } from 'node:fs';
import type { FileFinding } from '../core/types.js';

/**
 * When the state file was last modified, or that it does not exist.
 * @throws on any other error (permission, I/O): the caller reports it as the target's error.
 */
export function probeStateFile(path: string): FileFinding {
  let stats: ReturnType<typeof statSync>;
  try {
    stats = statSync(path, { throwIfNoEntry: false });
  } catch (error) {
    throw new Error(`Could not read state file ${path}: ${(error as Error).message}`, { cause: error });
  }
  return stats === undefined ? { kind: 'missing' } : { kind: 'present', mtimeMs: stats.mtimeMs };
}
