// The nightly backup of examples/shell, written with zx: `$` runs tar with each interpolated path
// quoted for the shell, and the SDK's `heartbeat` reports `ok` with what it wrote, or `error` with
// tar's own words, which cronwatch sends you. Crontab line:
//
//   0 3 * * *  cd /srv/app && node backup.mjs >> backup.log 2>&1
//
// It archives DATA_DIR into BACKUP_DIR.
import { heartbeat } from 'cronwatch';
import { $ } from 'zx';

const DATA_DIR = process.env.DATA_DIR ?? '/srv/app/data';
const BACKUP_DIR = process.env.BACKUP_DIR ?? '/var/backups/app';
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
const archive = `${BACKUP_DIR}/data-${stamp}.tar.gz`;

const tar = await $({ nothrow: true, quiet: true })`tar -czf ${archive} -C ${DATA_DIR} .`;
if (tar.ok) {
  await heartbeat('backup.heartbeat', { status: 'ok', message: `wrote ${archive}` });
} else {
  await $`rm -f ${archive}`;
  const said = tar.stderr.trim() || `exit code ${tar.exitCode}`;
  console.error(said);
  await heartbeat('backup.heartbeat', { status: 'error', message: `tar failed: ${said}` });
  process.exitCode = 1;
}
