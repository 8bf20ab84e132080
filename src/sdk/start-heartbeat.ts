import { type Duration, durationMs } from './duration.js';
import { type HeartbeatOptions, heartbeat } from './heartbeat.js';

// setInterval turns a longer delay into 1 ms.
const MAX_TIMER_MS = 2_147_483_647;

export interface StartHeartbeatOptions {
  /** Time between beats: milliseconds or `30s`, `1m`, ... Keep it well under the target's `max_age`. */
  readonly every: Duration;
  /**
   * What each beat says; default `{ status: 'ok' }`. Called at every beat, so the file follows
   * the program's own view of its health (e.g. `error` once something it cannot retry past failed).
   */
  readonly report?: () => HeartbeatOptions;
  /**
   * Told when a beat could not be written (or `report` threw), once per distinct error until a
   * beat succeeds again. Default: one line on stderr. A failed beat never stops the timer.
   */
  readonly onError?: (error: Error) => void;
}

/** Stops the beats; resolves once a beat being written has finished. Calling it again does nothing. */
export type StopHeartbeat = () => Promise<void>;

/**
 * Writes a heartbeat to `file` now and then every `every`, for a long-running program. The timer
 * is `unref`'d: it never keeps the process alive by itself. A beat is skipped while the previous
 * one is still being written (a slow disk), rather than piling up.
 *
 * @throws TypeError when `every` is not a positive duration.
 */
export function startHeartbeat(file: string, options: StartHeartbeatOptions): StopHeartbeat {
  const everyMs = durationMs(options.every, 'every');
  if (everyMs <= 0 || everyMs > MAX_TIMER_MS) {
    throw new TypeError(
      `Expected \`every\` to be more than 0 and at most ${MAX_TIMER_MS} ms, got \`${String(options.every)}\``,
    );
  }
  const report = options.report ?? (() => ({}));
  const onError =
    options.onError ?? ((error: Error) => process.stderr.write(`cronwatch: ${error.message}\n`));
  let lastError: string | null = null;
  let writing: Promise<void> | null = null;
  let stopped = false;

  const failed = (error: unknown) => {
    const wrapped = error instanceof Error ? error : new Error(String(error));
    if (wrapped.message === lastError) return;
    lastError = wrapped.message;
    onError(wrapped);
  };

  const beat = () => {
    if (stopped || writing !== null) return;
    let said: HeartbeatOptions;
    try {
      said = report();
    } catch (error) {
      failed(new Error(`The heartbeat's report() threw: ${(error as Error).message}`, { cause: error }));
      return;
    }
    writing = heartbeat(file, said).then(() => {
      lastError = null;
    }, failed);
    void writing.finally(() => {
      writing = null;
    });
  };

  beat();
  const timer = setInterval(beat, everyMs);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await writing;
  };
}
