/**
 * Where cronwatch and each target ping. With a `healthchecks` section every check is named by
 * slug after the host (slug mode); without one, `heartbeat.url` and each target's `ping_url`.
 */
import { checkSlug, hostSlug, OWN_CHECK_NAME, SLUG_MAX_LENGTH, slugPingUrl } from '../healthchecks.js';
import type { HealthchecksConfig, TargetConfig } from '../types.js';
import { type Reader, show } from './reader.js';
import type { PlacedTarget } from './target.js';

/**
 * Slug mode names every check after the host: the host must give a slug, no target may take
 * cronwatch's own check, and a check given both by URL and by slug is refused, naming both keys.
 */
export function checkSlugMode(
  reader: Reader,
  host: string,
  heartbeatUrl: string | null,
  targets: readonly PlacedTarget[],
): void {
  if (hostSlug(host) === '') {
    reader.fail(
      'host',
      `expected a host name with a letter or digit (healthchecks slugs), got ${show(host)}`,
    );
    return;
  }
  if (heartbeatUrl !== null) {
    reader.fail(
      'heartbeat.url',
      `cronwatch's own check is given twice: by heartbeat.url and by healthchecks.ping_key (slug ${checkSlug(host, OWN_CHECK_NAME)}); keep one`,
    );
  }
  for (const { target, path, own } of targets) {
    const pingKey = 'ping_url' in own ? `${path}.ping_url` : 'defaults.ping_url';
    const slug = checkSlug(host, target.name);
    if (target.name === OWN_CHECK_NAME) {
      reader.fail(
        `${path}.name`,
        `the name cronwatch is cronwatch's own healthchecks check (slug ${slug}); choose another`,
      );
    } else if (slug.length > SLUG_MAX_LENGTH) {
      reader.fail(
        `${path}.name`,
        `expected a slug of at most ${SLUG_MAX_LENGTH} characters with the host, got ${slug}`,
      );
    }
    if (target.pingUrl !== null) {
      reader.fail(
        pingKey,
        `the check of ${target.name} is given twice: by ${pingKey} and by healthchecks.ping_key (slug ${slug}); keep one`,
      );
    }
  }
}

export interface PingUrls {
  readonly heartbeatUrl: string | null;
  readonly targets: readonly TargetConfig[];
}

/**
 * The ping URLs usable in this environment: an unset variable under `heartbeat` turns its ping
 * off; in slug mode, one under the instance, its ping endpoint or the ping key turns off every
 * ping (`api_key` serves only sync).
 */
export function pingUrls(
  reader: Reader,
  healthchecks: HealthchecksConfig | null,
  host: string,
  heartbeatUrl: string | null,
  targets: readonly TargetConfig[],
): PingUrls {
  if (healthchecks === null) {
    return { heartbeatUrl: reader.usable('heartbeat') ? heartbeatUrl : null, targets };
  }
  const usable = ['url', 'ping_url', 'ping_key'].every((key) => reader.usable(`healthchecks.${key}`));
  const slugUrl = (name: string) =>
    usable ? slugPingUrl(healthchecks.pingUrl, healthchecks.pingKey, checkSlug(host, name)) : null;
  return {
    heartbeatUrl: slugUrl(OWN_CHECK_NAME),
    targets: targets.map((target) => ({ ...target, pingUrl: slugUrl(target.name) })),
  };
}
