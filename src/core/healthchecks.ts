/**
 * A healthchecks project as a fleet's registry: one check per host for cronwatch itself
 * (`<host>-cronwatch`) and one per target (`<host>-<target>`), pinged by slug and provisioned
 * through the Management API v3 by `cronwatch healthchecks sync`. Pure: what the checks should
 * be, and how they differ from what the API returned.
 */
import type { Config } from './types.js';
import { formatDuration } from './units.js';

/** The slug of cronwatch's own check ends in this; no target may take the name. */
export const OWN_CHECK_NAME = 'cronwatch';
/** The Management API's bounds for `timeout` and `grace`, in seconds (hc/api/views.py `Spec`). */
export const API_MIN_SECONDS = 60;
export const API_MAX_SECONDS = 31_536_000;
/** healthchecks' `Spec.slug`: `max_length=100, pattern="^[a-z0-9-_]*$"`. */
export const SLUG_MAX_LENGTH = 100;
/** Every check sync manages carries this tag, besides the host's slug. */
export const FLEET_TAG = 'cronwatch';

/**
 * `host` as healthchecks accepts it in a slug: lowercase; anything but `a-z 0-9 - _` becomes
 * `-`, runs of `-` fold into one and none is left at either end. `Web.1.example.com` gives
 * `web-1-example-com`. Empty when the host has no letter or digit at all.
 */
export function hostSlug(host: string): string {
  return host
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** The slug of a check: `<host>-cronwatch` for cronwatch's own, `<host>-<target>` for a target. */
export function checkSlug(host: string, name: string): string {
  return `${hostSlug(host)}-${name}`;
}

/** The ping URL of a check by slug: `<ping_url>/<ping_key>/<slug>`. */
export function slugPingUrl(pingUrl: string, pingKey: string, slug: string): string {
  return `${pingUrl.replace(/\/+$/, '')}/${encodeURIComponent(pingKey)}/${slug}`;
}

/** A check as sync wants it: the fields it sends and compares. */
export interface DesiredCheck {
  /** The target's name, or `cronwatch` for cronwatch's own check. */
  readonly of: string;
  readonly name: string;
  readonly slug: string;
  /** Space-separated, as the API takes them. */
  readonly tags: string;
  readonly desc: string;
  /** Seconds. */
  readonly timeout: number;
  /** Seconds. */
  readonly grace: number;
  /** `POST`: the check ignores GET pings, which link-preview bots send; cronwatch only POSTs. */
  readonly methods: 'POST';
}

/** A check as `GET /api/v3/checks/` lists it (the fields sync reads). */
export interface ExistingCheck {
  readonly name: string;
  readonly slug: string;
  readonly tags: string;
  readonly desc: string;
  /** Absent for a cron or OnCalendar check. */
  readonly timeout?: number;
  readonly grace: number;
  readonly methods: string;
  readonly status: string;
}

export interface DesiredChecksInput {
  readonly config: Config;
  /** What a run may spend besides acting: the ping budget and alert delivery. */
  readonly runOverheadMs: number;
}

function clampSeconds(ms: number): number {
  return Math.min(API_MAX_SECONDS, Math.max(API_MIN_SECONDS, Math.ceil(ms / 1000)));
}

/**
 * The longest one run can take: the slowest target's stop and start (targets are acted on in
 * parallel: stop_timeout until SIGKILL, then start_grace, then stop_timeout again when the start
 * failed and what it left running is stopped) plus `runOverheadMs`.
 */
export function worstRunMs(config: Config, runOverheadMs: number): number {
  const acting = config.targets
    .filter((target) => target.start !== null)
    .map((target) => 2 * target.stopTimeoutMs + target.startGraceMs);
  return Math.max(0, ...acting) + runOverheadMs;
}

/**
 * The checks sync keeps, cronwatch's own first. Each is pinged once per run, so its period
 * (`timeout`) is the interval. The grace covers one slow run: the larger of the interval (a
 * run cron skipped or started late does not page anyone; the second missed run does) and the
 * worst-case run time (a run's start ping opens the grace until its end ping).
 */
export function desiredChecks(input: DesiredChecksInput): DesiredCheck[] {
  const { config } = input;
  const host = hostSlug(config.host);
  const timeout = clampSeconds(config.intervalMs);
  const grace = clampSeconds(Math.max(config.intervalMs, worstRunMs(config, input.runOverheadMs)));
  const every = formatDuration(config.intervalMs);
  const managed = `Managed by \`cronwatch healthchecks sync\` from ${config.file} on ${config.host}.`;
  const tags = `${FLEET_TAG} ${host}`;
  return [
    {
      of: OWN_CHECK_NAME,
      name: `${config.host} cronwatch`,
      slug: checkSlug(config.host, OWN_CHECK_NAME),
      tags,
      desc: `cronwatch's own runs on ${config.host}, every ${every}: start and end of each run, /fail when it could not do its job. ${managed}`,
      timeout,
      grace,
      methods: 'POST',
    },
    ...config.targets.map(
      (target): DesiredCheck => ({
        of: target.name,
        name: `${config.host} ${target.name}`,
        slug: checkSlug(config.host, target.name),
        tags,
        desc: `Target ${target.name} on ${config.host}, as cronwatch sees it every ${every}: success when up (or paused, saying so), /log on a restart, /fail when not up at the end of a run. ${managed}`,
        timeout,
        grace,
        methods: 'POST',
      }),
    ),
  ];
}

/** What a check lacks or holds otherwise, e.g. `timeout 300 -> 600`; empty: unchanged. */
export function checkChanges(desired: DesiredCheck, existing: ExistingCheck): string[] {
  const changes: string[] = [];
  const sameTags =
    [...new Set(existing.tags.split(/\s+/).filter(Boolean))].sort().join(' ') ===
    [...new Set(desired.tags.split(' '))].sort().join(' ');
  if (existing.name !== desired.name)
    changes.push(`name ${JSON.stringify(existing.name)} -> ${JSON.stringify(desired.name)}`);
  if (!sameTags) changes.push(`tags ${JSON.stringify(existing.tags)} -> ${JSON.stringify(desired.tags)}`);
  if (existing.timeout !== desired.timeout) {
    changes.push(
      `timeout ${existing.timeout === undefined ? 'a schedule' : `${existing.timeout}s`} -> ${desired.timeout}s`,
    );
  }
  if (existing.grace !== desired.grace) changes.push(`grace ${existing.grace}s -> ${desired.grace}s`);
  if (existing.methods !== desired.methods) changes.push('only POST pings');
  if (existing.desc !== desired.desc) changes.push('description');
  return changes;
}

/** The slugs sync last provisioned, kept in state_dir, against the config's: what sync lacks. */
export function syncDue(desired: readonly DesiredCheck[], synced: readonly string[] | null): string[] {
  const known = new Set(synced ?? []);
  return desired.filter((check) => !known.has(check.slug)).map((check) => check.slug);
}
