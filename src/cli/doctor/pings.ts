/** The heartbeat and ping hosts, and in slug mode the healthchecks checks cronwatch pings. */

import type { Config } from '../../core/types.js';
import { unsetUnder } from '../../core/unset-env.js';
import {
  answers,
  type CheckLine,
  type DoctorCheck,
  fail,
  offWhenUnset,
  ok,
  originOf,
  skip,
} from './check-line.js';

/**
 * The heartbeat URL and the targets' ping URLs. The healthchecks protocol counts a HEAD, GET or
 * POST to a ping URL as a ping (a success, or a start with /start), so doctor asks only the root
 * of each ping host: DNS, TCP and TLS working is what a run needs.
 */
async function checkPingHosts(config: Config): Promise<CheckLine[]> {
  const urls = [config.heartbeatUrl, ...config.targets.map((target) => target.pingUrl)].filter(
    (url): url is string => url !== null,
  );
  if (urls.length === 0) return [skip('heartbeat URL', 'not configured')];
  const origins = [...new Set(urls.map(originOf))];
  return Promise.all(
    origins.map(async (origin) => {
      const label = `heartbeat host ${origin}`;
      const result = await answers(`${origin}/`, 'GET');
      if ('error' in result) return fail(label, result.error);
      if (result.status >= 500) return fail(label, `answered HTTP ${result.status}`);
      return ok(label, `answers (HTTP ${result.status} at its root; no ping sent)`);
    }),
  );
}

/**
 * Slug mode: each check cronwatch pings must exist, once, and not be paused, or its pings are
 * refused (404, 409) or alert no one. With an API key the project's list says so; without one,
 * a `/log` ping (which changes no check's state) to each shows it is accepted.
 */
async function checkHealthchecks(config: Config): Promise<CheckLine[]> {
  const hc = config.healthchecks;
  if (hc === null) return [];
  const { checksOf, syncDueLine } = await import('../healthchecks.js');
  const desired = checksOf(config);
  const due = await syncDueLine(config);
  const lines: CheckLine[] = due === null ? [] : [fail('healthchecks sync', due)];
  if (hc.apiKey !== null) {
    const { listChecks } = await import('../../notifiers/healthchecks-api.js');
    let existing: Awaited<ReturnType<typeof listChecks>>;
    try {
      existing = await listChecks(hc);
    } catch (error) {
      // The API client's errors say what failed, their causes included.
      return [...lines, fail(`healthchecks ${originOf(hc.url)}`, (error as Error).message)];
    }
    for (const check of desired) {
      const same = existing.filter((candidate) => candidate.slug === check.slug);
      const label = `healthchecks check ${check.slug}`;
      if (same.length === 0) lines.push(fail(label, 'does not exist (run cronwatch healthchecks sync)'));
      else if (same.length > 1)
        lines.push(fail(label, `${same.length} checks have this slug: pings are refused (409)`));
      else if (same[0]!.status === 'paused') lines.push(fail(label, 'is paused in healthchecks'));
      else lines.push(ok(label, `exists, ${same[0]!.status}`));
    }
    return lines;
  }
  if (config.heartbeatUrl === null) {
    const unset = unsetUnder(config.unsetEnv, 'healthchecks');
    return [...lines, skip('healthchecks pings', `off: ${unset.join(', ')} not set (see environment)`)];
  }
  const { sendPings } = await import('../../notifiers/heartbeat-ping.js');
  const own = [config.heartbeatUrl];
  const urls = [...own, ...config.targets.map((target) => target.pingUrl ?? '')];
  const results = await sendPings(
    urls.map((url) => ({
      url,
      kind: 'log' as const,
      rid: null,
      body: 'cronwatch doctor: is this check there?',
    })),
  );
  results.forEach((result, index) => {
    const label = `healthchecks check ${desired[index]?.slug ?? '?'}`;
    if (result.ok) lines.push(ok(label, 'accepts pings (a /log ping was sent)'));
    else if (result.status === 404)
      lines.push(fail(label, 'does not exist (404; give healthchecks.api_key and run sync)'));
    else if (result.status === 409) lines.push(fail(label, 'two checks have this slug (409)'));
    else lines.push(fail(label, result.error ?? 'not accepted'));
  });
  return lines;
}

export const PING_CHECKS: readonly DoctorCheck[] = [
  {
    name: 'heartbeat hosts',
    needs: 'config',
    run: async (_context, config) => offWhenUnset(config, 'heartbeat', await checkPingHosts(config)),
  },
  {
    name: 'healthchecks',
    needs: 'config',
    run: async (_context, config) => offWhenUnset(config, 'healthchecks', await checkHealthchecks(config)),
  },
];
