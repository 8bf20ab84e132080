/**
 * What every group of doctor's checks shares: the printed line, the shape of a check, and the
 * little probes more than one group uses.
 */

import type { Config } from '../../core/types.js';
import { unsetUnder } from '../../core/unset-env.js';
import { describeCauses, PING_TIMEOUT_MS } from '../../notifiers/http-policy.js';
import { httpRequest } from '../../notifiers/node-http.js';

export type Status = 'ok' | 'fail' | 'skip';

/** One printed line: `✓ label: detail`. */
export interface CheckLine {
  readonly status: Status;
  readonly label: string;
  readonly detail: string;
}

export const ok = (label: string, detail: string): CheckLine => ({ status: 'ok', label, detail });
export const fail = (label: string, detail: string): CheckLine => ({ status: 'fail', label, detail });
export const skip = (label: string, detail: string): CheckLine => ({ status: 'skip', label, detail });

/** What each check is given: the run's inputs, and the probes two checks share, run once. */
export interface DoctorContext {
  readonly file: string;
  /** The package root: where the build and the crontab lines' entry are. */
  readonly root: string;
  /** The config, when it loads. */
  readonly config: Config | null;
  readonly nowMs: number;
  /** False under `--no-cron`: another scheduler runs check. */
  readonly cron: boolean;
  /** `probe`'s promise, started by the first check that asks for it and shared by the rest. */
  readonly once: <T>(probe: (context: DoctorContext) => Promise<T>) => Promise<T>;
}

/**
 * One named check: its lines, in the order printed. Most need the config; those that run when it
 * does not load (`needs: 'nothing'`) are given null then.
 */
export type DoctorCheck =
  | {
      readonly name: string;
      readonly needs: 'config';
      readonly run: (context: DoctorContext, config: Config) => Promise<readonly CheckLine[]>;
    }
  | {
      readonly name: string;
      readonly needs: 'nothing';
      readonly run: (context: DoctorContext, config: Config | null) => Promise<readonly CheckLine[]>;
    };

/** The URL's origin only: a webhook's path is its secret. */
export function originOf(url: string): string {
  return new URL(url).origin;
}

/**
 * A part whose variable is unset is configured, though null in the config: its "not configured"
 * line says it is off, and why.
 */
export function offWhenUnset(config: Config, part: string, lines: readonly CheckLine[]): CheckLine[] {
  const variables = unsetUnder(config.unsetEnv, part);
  return lines.map((line) =>
    line.status !== 'skip' || variables.length === 0
      ? line
      : skip(line.label, `off: ${variables.join(', ')} not set (see environment)`),
  );
}

/**
 * One look at a webhook or ping host's root: a ping's attempt timeout, not a channel's request
 * timeout, since all a run needs of the host is what a ping needs.
 */
const HOST_TIMEOUT_MS = PING_TIMEOUT_MS;

/** Whether `url` answers, and with what status; redirects are not followed. */
export async function answers(
  url: string,
  method: 'HEAD' | 'GET',
): Promise<{ status: number } | { error: string }> {
  try {
    // node:http follows no redirect: a 3xx is an answer from this host.
    const { status } = await httpRequest(url, { method, timeoutMs: HOST_TIMEOUT_MS });
    return { status };
  } catch (error) {
    return { error: describeCauses(error) };
  }
}
