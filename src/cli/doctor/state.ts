/** What runs need on disk: a private, writable state dir, and the build the crontab lines run. */
import { constants, existsSync } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BUILD_FILES } from '../build-files.js';
import { COMPILED_ENTRY } from '../crontab.js';
import { type DoctorCheck, fail, ok } from './check-line.js';

/** The files of BUILD_FILES not in `dir`, as paths. */
export function missingBuildFiles(dir: string): string[] {
  return BUILD_FILES.map((name) => join(dir, name)).filter((file) => !existsSync(file));
}

export const STATE_CHECKS: readonly DoctorCheck[] = [
  {
    name: 'state dir',
    needs: 'config',
    run: async (_context, config) => {
      const label = `state dir ${config.stateDir}`;
      const info = await stat(config.stateDir).catch(() => null);
      if (info === null)
        return [fail(label, 'does not exist (cronwatch check or crontab --install creates it)')];
      if (!info.isDirectory()) return [fail(label, 'is not a directory')];
      const mode = (info.mode & 0o777).toString(8);
      const uid = process.getuid?.();
      if (uid !== undefined && info.uid !== uid) {
        return [
          fail(
            label,
            `belongs to uid ${info.uid}, not to this user (uid ${uid}); cronwatch runs as its owner`,
          ),
        ];
      }
      if ((info.mode & 0o022) !== 0) {
        return [
          fail(
            label,
            `mode ${mode}: other users can write it, so cronwatch refuses to run. Fix: chmod 700 ${config.stateDir}`,
          ),
        ];
      }
      if ((info.mode & 0o077) !== 0) {
        return [
          fail(
            label,
            `mode ${mode}: other users can read its state and alerts. Fix: chmod 700 ${config.stateDir}`,
          ),
        ];
      }
      try {
        await access(config.stateDir, constants.W_OK | constants.X_OK);
      } catch {
        return [fail(label, `mode ${mode}: not writable by this user`)];
      }
      return [ok(label, `exists, writable, private (mode ${mode})`)];
    },
  },
  {
    name: 'build',
    needs: 'nothing',
    run: async ({ root }) => {
      const entry = join(root, COMPILED_ENTRY);
      const missing = missingBuildFiles(dirname(entry));
      if (missing.length === 0) return [ok('build', `${entry} present (what the crontab lines run)`)];
      return [
        fail(
          'build',
          `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing, so every crontab line fails. Fix: cd ${root} && npm run build`,
        ),
      ];
    },
  },
];
