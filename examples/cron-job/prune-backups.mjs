// A nightly cron job wrapped in `monitored`: its heartbeat says `running` while it works, then
// `ok`, or `error` with the error's message, which cronwatch sends you. Crontab line:
//
//   30 3 * * *  cd /srv/app && node prune-backups.mjs >> prune-backups.log 2>&1
//
// It deletes the backups older than KEEP_DAYS from BACKUP_DIR.
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { monitored } from 'cronwatch';

const BACKUP_DIR = process.env.BACKUP_DIR ?? '/var/backups/app';
const KEEP_DAYS = Number(process.env.KEEP_DAYS ?? 14);

const removed = await monitored('prune-backups.heartbeat', async () => {
  const cutoffMs = Date.now() - KEEP_DAYS * 86_400_000;
  let count = 0;
  for (const name of await readdir(BACKUP_DIR)) {
    const path = join(BACKUP_DIR, name);
    const info = await stat(path);
    if (info.isFile() && info.mtimeMs < cutoffMs) {
      await unlink(path);
      count += 1;
    }
  }
  return count;
});
console.log(`${new Date().toISOString()} removed ${removed} backup(s) older than ${KEEP_DAYS} days`);
