/** The rule across targets that each process is claimed by one target only. */
import { type Reader, show } from './reader.js';
import type { PlacedTarget } from './target.js';

/**
 * Two targets with the same pid file, or the same match where one of them has no pid file to
 * tell their processes apart, would claim one process: each would start a copy of it, then both
 * would see two. Compared after `defaults` are applied and paths resolved.
 */
export function checkOneClaimEach(reader: Reader, placed: readonly PlacedTarget[]): void {
  const byPidfile = new Map<string, PlacedTarget>();
  const byMatch = new Map<string, PlacedTarget>();
  const same = (key: 'match' | 'pidfile', value: string, first: PlacedTarget, second: PlacedTarget) => {
    const inherited = !(key in first.own) && !(key in second.own) ? `, from defaults.${key}` : '';
    reader.fail(
      `${second.path}.${key}`,
      `the same as ${first.path}.${key} (${show(value)}${inherited}): two targets would claim one process`,
    );
  };
  for (const entry of placed) {
    const { match, pidfile } = entry.target;
    if (pidfile !== null) {
      const first = byPidfile.get(pidfile);
      if (first === undefined) byPidfile.set(pidfile, entry);
      else same('pidfile', pidfile, first, entry);
    }
    if (match !== null) {
      const first = byMatch.get(match);
      if (first === undefined) byMatch.set(match, entry);
      else if (first.target.pidfile === null || pidfile === null) same('match', match, first, entry);
    }
  }
}
