/**
 * `cronwatch doctor`: checks the setup around the config, the way it will be used (by cron, with
 * cron's environment), and prints one line per check. Exits 1 when any check fails. It sends
 * nothing: Telegram is asked who the bot is and what the chat is, the other URLs only whether
 * their host answers. The one thing it records: a bot and chat that answer while alerts are held
 * after a refusal, so that the next run sends them at once.
 */
import { redact, secretsOf } from '../../core/redact.js';
import { defineCommand } from '../command.js';
import { configPath, EXIT_NOT_UP, EXIT_OK } from '../context.js';
import { packageRoot } from '../crontab.js';
import { CHANNEL_CHECKS, HELD_ALERT_CHECKS } from './channels.js';
import type { CheckLine, DoctorCheck, DoctorContext, Status } from './check-line.js';
import { CONFIG_CHECKS, loadConfigChecked } from './config.js';
import { CRON_CHECKS } from './cron.js';
import { LAST_RUN_CHECKS } from './last-run.js';
import { PING_CHECKS } from './pings.js';
import { STATE_CHECKS } from './state.js';
import { TARGET_CHECKS } from './targets.js';

/** Every check, by group, in the order printed; the config's own line comes first. */
const CHECKS: readonly DoctorCheck[] = [
  ...CONFIG_CHECKS,
  ...STATE_CHECKS,
  ...CRON_CHECKS,
  ...CHANNEL_CHECKS,
  ...PING_CHECKS,
  ...TARGET_CHECKS,
  ...LAST_RUN_CHECKS,
  ...HELD_ALERT_CHECKS,
];

const MARKS: Readonly<Record<'unicode' | 'ascii', Readonly<Record<Status, string>>>> = {
  unicode: { ok: '✓', fail: '✗', skip: '-' },
  ascii: { ok: 'ok  ', fail: 'FAIL', skip: '--  ' },
};

/** Whether the locale (LC_ALL, then LC_CTYPE, then LANG, as POSIX reads them) is UTF-8. */
export function localeIsUtf8(env: NodeJS.ProcessEnv): boolean {
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG || '';
  return /utf-?8/i.test(locale);
}

export interface DoctorOptions {
  /** Check the crontab and the cron daemon; false when a systemd timer or launchd runs check. */
  readonly cron: boolean;
}

/**
 * Every check, in the order printed, run side by side. With a config that does not load, those
 * that need none.
 */
export async function runDoctor(
  file: string,
  env: NodeJS.ProcessEnv,
  options: DoctorOptions,
): Promise<CheckLine[]> {
  const { config, line } = await loadConfigChecked(file, env);
  const probes = new Map<unknown, Promise<unknown>>();
  const context: DoctorContext = {
    file,
    root: packageRoot(),
    config,
    nowMs: Date.now(),
    cron: options.cron,
    once: <T>(probe: (context: DoctorContext) => Promise<T>): Promise<T> => {
      if (!probes.has(probe)) probes.set(probe, probe(context));
      return probes.get(probe) as Promise<T>;
    },
  };
  const groups = await Promise.all(
    CHECKS.map((check) => {
      if (config !== null) return check.run(context, config);
      return check.needs === 'nothing' ? check.run(context, null) : [];
    }),
  );
  const secrets = config === null ? [] : secretsOf(config);
  // Each check names origins only; this catches what one quotes from a server or a client.
  return [line, ...groups.flat()].map((each) => ({
    ...each,
    label: redact(each.label, secrets),
    detail: redact(each.detail, secrets),
  }));
}

/** The report as printed: one line per check, then a count. */
export function formatDoctor(lines: readonly CheckLine[], ascii: boolean): string {
  const marks = MARKS[ascii ? 'ascii' : 'unicode'];
  const failed = lines.filter((line) => line.status === 'fail').length;
  const checked = lines.filter((line) => line.status !== 'skip').length;
  const body = lines.map(
    (line) => `${marks[line.status]} ${line.label}: ${line.detail.split('\n').join('\n    ')}`,
  );
  const verdict =
    failed === 0 ? `doctor: all ${checked} checks passed` : `doctor: ${failed} of ${checked} checks failed`;
  return `${[...body, verdict].join('\n')}\n`;
}

export const command = defineCommand({
  usage: 'doctor',
  describe: 'check the setup, one line per check; exits 1 when any fails',
  builder: (args) =>
    args
      .option('ascii', {
        type: 'boolean',
        describe: 'mark lines ok / FAIL instead of ✓ / ✗ (the default outside a UTF-8 locale)',
      })
      .option('cron', {
        type: 'boolean',
        default: true,
        describe: 'check the crontab and the cron daemon (--no-cron: a systemd timer or launchd runs check)',
      }),
  run: async (args) => {
    const file = configPath(args.config, process.env, process.cwd());
    const lines = await runDoctor(file, process.env, { cron: args.cron });
    const ascii = args.ascii ?? !localeIsUtf8(process.env);
    process.stdout.write(formatDoctor(lines, ascii));
    return lines.some((line) => line.status === 'fail') ? EXIT_NOT_UP : EXIT_OK;
  },
});
