/**
 * `cronwatch healthchecks sync [--dry-run]`: makes the healthchecks project hold one check for
 * cronwatch itself and one per target, by slug, with the period and grace the config implies.
 *
 * It lists the project's checks first (one GET) and POSTs only the checks that are missing or
 * differ: an unchanged check costs no write, `--dry-run` needs nothing but that GET, and a new
 * check can be given the project's channels while an existing one keeps those its owner chose
 * (the API cannot tell "create with these" from "update, leave those" in one upsert). The POST
 * is still an upsert by slug (`unique: ["slug"]`), so a check made between the GET and the POST
 * is updated, not duplicated, and the API's 201 or 200 says which happened.
 *
 * After a complete sync, the slugs are recorded in `state_dir/healthchecks-sync.json`, which
 * `doctor` and `crontab --install` compare with the config to say when sync is due.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  API_MIN_SECONDS,
  checkChanges,
  type DesiredCheck,
  desiredChecks,
  type ExistingCheck,
  FLEET_TAG,
  hostSlug,
  syncDue,
} from '../core/healthchecks.js';
import type { Config } from '../core/types.js';
import { formatDuration } from '../core/units.js';
import { unsetUnder } from '../core/unset-env.js';
import { HealthchecksApiError, listChecks, upsertCheck } from '../notifiers/healthchecks-api.js';
import { DEFAULT_SEND_TIMEOUT_MS, PING_BUDGET_MS } from '../notifiers/http-policy.js';
import { writeFileAtomic } from '../store/atomic.js';
import { defineCommand, loadConfigFor } from './command.js';
import { CommandError, EXIT_NOT_UP, EXIT_OK, EXIT_USAGE, prepareStateDir } from './context.js';

/** cronwatch could not do its job (here: the API could not be reached or failed). */
const EXIT_FAILED = 70;
/** In state_dir: the slugs the last complete sync provisioned. */
export const SYNC_RECORD = 'healthchecks-sync.json';
/** A run's time besides acting: its pings, then delivering its alerts. */
export const RUN_OVERHEAD_MS = PING_BUDGET_MS + DEFAULT_SEND_TIMEOUT_MS;

interface SyncRecord {
  readonly url: string;
  readonly slugs: readonly string[];
  readonly atMs: number;
}

/** The checks this config wants. */
export function checksOf(config: Config): DesiredCheck[] {
  return desiredChecks({ config, runOverheadMs: RUN_OVERHEAD_MS });
}

/** The slugs of the last complete sync; null: never synced (or the record is unreadable). */
export async function readSyncRecord(stateDir: string): Promise<readonly string[] | null> {
  try {
    const record = JSON.parse(await readFile(join(stateDir, SYNC_RECORD), 'utf8')) as Partial<SyncRecord>;
    return Array.isArray(record.slugs) ? record.slugs : null;
  } catch {
    return null;
  }
}

/**
 * One line saying sync is due, naming the checks it has not made; null: not due, or no
 * `healthchecks` section. For `doctor` and `crontab --install`.
 */
export async function syncDueLine(config: Config): Promise<string | null> {
  if (config.healthchecks === null) return null;
  const missing = syncDue(checksOf(config), await readSyncRecord(config.stateDir));
  if (missing.length === 0) return null;
  const how = config.healthchecks.apiKey === null ? ' (give healthchecks.api_key)' : '';
  return `healthchecks sync is due${how}: ${missing.length} check(s) not provisioned yet (${missing.join(', ')})`;
}

function describe(check: DesiredCheck): string {
  return `timeout ${check.timeout}s, grace ${check.grace}s, tags ${check.tags}`;
}

/** Runs sync; returns the exit code and prints one line per check. */
export async function runSync(config: Config, dryRun: boolean): Promise<number> {
  const hc = config.healthchecks;
  const unsetKey = unsetUnder(config.unsetEnv, 'healthchecks.api_key');
  if (hc !== null && unsetKey.length > 0) {
    throw new CommandError(
      `cronwatch: healthchecks sync needs healthchecks.api_key, and ${unsetKey.join(', ')} is not set in this environment`,
      EXIT_USAGE,
    );
  }
  if (hc === null || hc.apiKey === null) {
    throw new CommandError(
      `cronwatch: healthchecks sync needs healthchecks.api_key in ${config.file} (a read-write API key from the project's settings)${hc === null ? '; there is no healthchecks section' : ''}`,
      EXIT_USAGE,
    );
  }
  const desired = checksOf(config);
  const lines: string[] = [];
  const say = () => {
    if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
  };
  if (config.intervalMs < API_MIN_SECONDS * 1000) {
    lines.push(
      `note: interval ${formatDuration(config.intervalMs)} is below healthchecks' shortest period; the checks get ${API_MIN_SECONDS}s`,
    );
  }
  try {
    const existing = await listChecks(hc);
    let unsettled = 0;
    for (const check of desired) {
      const same = existing.filter((candidate) => candidate.slug === check.slug);
      if (same.length > 1) {
        unsettled += 1;
        lines.push(
          `ambiguous ${check.slug}: ${same.length} checks have this slug; delete all but one in healthchecks`,
        );
        continue;
      }
      const found: ExistingCheck | undefined = same[0];
      const changes = found === undefined ? null : checkChanges(check, found);
      if (changes !== null && changes.length === 0) {
        lines.push(`unchanged ${check.slug}`);
        continue;
      }
      if (dryRun) {
        lines.push(
          changes === null
            ? `would create ${check.slug} (${describe(check)})`
            : `would update ${check.slug}: ${changes.join(', ')}`,
        );
        continue;
      }
      const { created } = await upsertCheck(hc, check, found === undefined);
      lines.push(
        created
          ? `created ${check.slug} (${describe(check)})`
          : `updated ${check.slug}: ${(changes ?? ['made by someone else meanwhile']).join(', ')}`,
      );
    }
    const ours = new Set(desired.map((check) => check.slug));
    const host = hostSlug(config.host);
    for (const other of existing) {
      const tags = other.tags.split(/\s+/);
      if (tags.includes(FLEET_TAG) && tags.includes(host) && !ours.has(other.slug)) {
        lines.push(
          `not in the config: ${other.slug} (left as it is; delete it in healthchecks if its target is gone)`,
        );
      }
    }
    if (!dryRun && unsettled === 0) {
      await prepareStateDir(config.stateDir);
      const record: SyncRecord = { url: hc.url, slugs: [...ours], atMs: Date.now() };
      await writeFileAtomic(join(config.stateDir, SYNC_RECORD), `${JSON.stringify(record, null, 2)}\n`);
    }
    if (dryRun) lines.push('dry run: nothing was sent');
    say();
    return unsettled === 0 ? EXIT_OK : EXIT_NOT_UP;
  } catch (error) {
    say();
    if (!(error instanceof HealthchecksApiError)) throw error;
    if (error.status === 401 || error.status === 403) {
      throw new CommandError(
        `cronwatch: healthchecks refused healthchecks.api_key (${error.message}); sync needs the project's read-write API key`,
        EXIT_USAGE,
      );
    }
    throw new CommandError(`cronwatch: healthchecks sync failed: ${error.message}`, EXIT_FAILED, {
      cause: error,
    });
  }
}

export const command = defineCommand({
  usage: 'healthchecks <action>',
  describe: 'sync: create or update the healthchecks checks of this host and its targets',
  builder: (args) =>
    args
      .positional('action', { choices: ['sync'] as const, demandOption: true, describe: 'what to do' })
      .option('dry-run', {
        type: 'boolean',
        default: false,
        describe: 'say what would change; send nothing but the listing',
      }),
  run: async (args) =>
    runSync(await loadConfigFor(args, { warnUnset: true, writeCache: !args['dry-run'] }), args['dry-run']),
});
