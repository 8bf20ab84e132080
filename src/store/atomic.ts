import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

let counter = 0;

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
  const handle = await open(temp, 'w', mode);
  try {
    // The umask may have narrowed `mode`; a file read by another user (metrics) needs it exact.
    await handle.chmod(mode);
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  if (options.syncDir === false) return;
  // The rename is only durable once the directory entry is on disk.
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}
