/**
 * Cron: the crontab block for this config, the environment cron gives its lines, and a cron
 * daemon to run them. Off under `--no-cron`, when a systemd timer or launchd runs check.
 */

import { readFile } from 'node:fs/promises';
import { assignedNames, crontabEnvNames, crontabLines, findBlock } from '../../core/crontab.js';
import type { Config } from '../../core/types.js';
import { describeCauses } from '../../notifiers/http-policy.js';
import { scanProcessTable } from '../../probes/process-table.js';
import { CommandError } from '../context.js';
import { crontabBlock, readCrontab } from '../crontab.js';
import { type CheckLine, type DoctorCheck, type DoctorContext, fail, ok, skip } from './check-line.js';

const NOT_CRON = 'not checked (--no-cron: another scheduler runs check)';

type CrontabRead =
  | { readonly kind: 'off' }
  | { readonly kind: 'unreadable'; readonly reason: string }
  /** `lines` is empty when the user has no crontab (`text` null). */
  | { readonly kind: 'read'; readonly text: string | null; readonly lines: readonly string[] };

/** `crontab -l` (through zx, see crontab.ts), once for the block check and the environment check. */
async function readCrontabOnce(context: DoctorContext): Promise<CrontabRead> {
  if (!context.cron) return { kind: 'off' };
  try {
    const text = await readCrontab();
    return { kind: 'read', text, lines: crontabLines(text ?? '') };
  } catch (error) {
    const reason =
      error instanceof CommandError ? error.message.replace(/^cronwatch: /, '') : describeCauses(error);
    return { kind: 'unreadable', reason };
  }
}

async function checkCrontab(context: DoctorContext, config: Config | null): Promise<CheckLine> {
  const read = await context.once(readCrontabOnce);
  if (read.kind === 'off') return skip('crontab', NOT_CRON);
  if (read.kind === 'unreadable') return fail('crontab', read.reason);
  const { file } = context;
  const found = findBlock(read.lines, file);
  const install = `Fix: cronwatch crontab --install --config ${file}`;
  if (found.kind === 'broken') return fail('crontab', found.reason);
  if (found.kind === 'absent') {
    const none =
      read.text === null ? 'this user has no crontab' : `no cronwatch block for ${file} in the crontab`;
    return fail('crontab', `${none}, so nothing runs cronwatch check. ${install}`);
  }
  const installed = read.lines.slice(found.begin, found.end + 1);
  const wanted = config === null ? null : crontabBlock(config, context.root);
  if (wanted?.kind === 'ok' && wanted.lines.join('\n') !== installed.join('\n')) {
    return fail('crontab', `the block for ${file} differs from what this config and build need. ${install}`);
  }
  return ok('crontab', `block for ${file} installed (${installed.length} lines)`);
}

/**
 * Cron gives its jobs only what the crontab (or /etc/environment, through PAM) sets. Said only
 * when the block is there: without it, the crontab line already failed.
 */
async function checkCronEnvironment(context: DoctorContext, config: Config): Promise<CheckLine[]> {
  const read = await context.once(readCrontabOnce);
  if (read.kind !== 'read' || findBlock(read.lines, context.file).kind !== 'found') return [];
  const label = 'cron environment';
  if (config.secretEnv.length === 0) return [skip(label, 'the config reads no ${VAR} for its channels')];
  const systemWide = await readFile('/etc/environment', 'utf8').then(
    (text) => assignedNames(crontabLines(text)),
    () => [],
  );
  const set = new Set([...crontabEnvNames(read.lines, config.file), ...systemWide]);
  const missing = config.secretEnv.filter((name) => !set.has(name));
  if (missing.length === 0) return [ok(label, `${config.secretEnv.join(', ')} set for cron jobs`)];
  return [
    fail(
      label,
      `${missing.join(', ')} not set for cron jobs, which get no shell environment, so every run would ` +
        'have its channel or ping off. Fix: crontab -e and add NAME=value lines above the cronwatch block',
    ),
  ];
}

/** A process whose program is `cron` or `crond` (Debian's cron, cronie, busybox, macOS). */
export function isCronDaemon(cmdline: string): boolean {
  const words = cmdline.trim().split(/\s+/);
  const program = (words[0] ?? '').split('/').pop();
  if (program === 'busybox') return words[1] === 'crond';
  return program === 'cron' || program === 'crond';
}

/**
 * Read from the process table the probes use (/proc on Linux), not with `pgrep`: no child
 * process, no procps needed, and the full command line, not the 15-character name.
 */
async function checkCronDaemon(context: DoctorContext): Promise<CheckLine> {
  if (!context.cron) return skip('cron daemon', NOT_CRON);
  try {
    const daemon = (await scanProcessTable()).find((p) => p.state !== 'Z' && isCronDaemon(p.cmdline));
    if (daemon !== undefined) return ok('cron daemon', `running (pid ${daemon.pid}: ${daemon.cmdline})`);
    return fail(
      'cron daemon',
      'no cron or crond process is running, so the crontab runs nothing. Fix: systemctl enable --now cron (or service cron start)',
    );
  } catch (error) {
    return fail('cron daemon', `cannot read the process table: ${describeCauses(error)}`);
  }
}

export const CRON_CHECKS: readonly DoctorCheck[] = [
  {
    name: 'crontab',
    needs: 'nothing',
    run: async (context, config) => [await checkCrontab(context, config)],
  },
  { name: 'cron environment', needs: 'config', run: checkCronEnvironment },
  { name: 'cron daemon', needs: 'nothing', run: async (context) => [await checkCronDaemon(context)] },
];
