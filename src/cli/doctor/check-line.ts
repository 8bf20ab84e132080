/**
 * What every group of doctor's checks shares: the printed line, the shape of a check, and the
 * little probes more than one group uses.
 */
import type { Config } from '../../core/types.js';
import { unsetUnder } from '../../core/unset-env.js';

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

/** An error and its causes, by code where Node gives one, as one line. */
export function errorText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 4; depth += 1) {
    const code = (current as NodeJS.ErrnoException).code;
    parts.push(typeof code === 'string' && !code.startsWith('EFETCH') ? code : current.message);
    current = current.cause;
  }
  return parts.length === 0 ? String(error) : parts.join(': ');
}

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

/** One request to a webhook or a heartbeat host. */
const HTTP_TIMEOUT_MS = 5000;

/** Whether `url` answers, and with what status; redirects are not followed. */
export async function answers(
  url: string,
  method: 'HEAD' | 'GET',
): Promise<{ status: number } | { error: string }> {
  try {
    const response = await fetch(url, {
      method,
      redirect: 'manual',
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
    await response.body?.cancel();
    return { status: response.status };
  } catch (error) {
    if ((error as Error).name === 'TimeoutError') return { error: `no answer within ${HTTP_TIMEOUT_MS} ms` };
    return { error: errorText(error) };
  }
}
