/**
 * Atomic writes, and why the store uses node's synchronous calls: a run does its file work one
 * step at a time, and each asynchronous call costs a round trip through libuv's thread pool. A
 * healthy check made some forty of them; synchronous, it spends 3 to 8 ms less CPU (see the
 * README's Performance section). The functions stay async for their callers.
 */
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let counter = 0;

/** Removes `path` if it is there; for clean-ups, which must not hide the error that called them. */
export function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone, or not ours to remove: nothing to clean.
  }
}

/**
 * Writes `data` to `path` so that a reader sees the old file or the new one, never half of
 * either: temp file in the same directory, fsync, rename, fsync of the directory. With
 * `syncDir: false` the rename may be lost in a crash, leaving the old file whole: for a write
 * whose loss is harmless, it saves the second fsync.
 */
export async function writeFileAtomic(
  path: string,
  data: string,
  mode = 0o600,
  options: { readonly syncDir?: boolean } = {},
): Promise<void> {
  const dir = dirname(path);
  counter += 1;
  const temp = join(dir, `.${basename(path)}.${process.pid}.${counter}.tmp`);
  const fd = openSync(temp, 'w', mode);
  try {
    // The umask may have narrowed `mode`; a file read by another user (metrics) needs it exact.
    fchmodSync(fd, mode);
    writeFileSync(fd, data);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    removeQuietly(temp);
    throw error;
  }
  closeSync(fd);
  try {
    renameSync(temp, path);
  } catch (error) {
    removeQuietly(temp);
    throw error;
  }
  if (options.syncDir === false) return;
  // The rename is only durable once the directory entry is on disk.
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
