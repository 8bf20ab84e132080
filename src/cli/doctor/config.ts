/** The config: whether it loads, and the `${VAR}`s it reads that are unset here. */
import type { Config } from '../../core/types.js';
import { formatDuration } from '../../core/units.js';
import { describeUnset } from '../../core/unset-env.js';
import { CommandError, loadConfig } from '../context.js';
import { type CheckLine, type DoctorCheck, fail, ok } from './check-line.js';

/** The config, or null with the line saying why it does not load; every other check needs it. */
export async function loadConfigChecked(
  file: string,
  env: NodeJS.ProcessEnv,
): Promise<{ readonly config: Config | null; readonly line: CheckLine }> {
  try {
    // doctor changes nothing it checks: it reads the config cache, never writes it.
    const config = await loadConfig(file, env, { writeCache: false });
    return {
      config,
      line: ok(
        `config ${file}`,
        `valid: ${config.targets.length} target(s), interval ${formatDuration(config.intervalMs)}`,
      ),
    };
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    return {
      config: null,
      line: fail(
        `config ${file}`,
        error.message.replace(`cronwatch: config ${file} `, '').replace(/^cronwatch: /, ''),
      ),
    };
  }
}

export const CONFIG_CHECKS: readonly DoctorCheck[] = [
  {
    name: 'environment',
    needs: 'config',
    run: async (_context, config) => {
      const unset = describeUnset(config.unsetEnv);
      return unset === null
        ? []
        : [fail('environment', `${unset}. Fix: export it, and set it for cron (crontab -e)`)];
    },
  },
];
