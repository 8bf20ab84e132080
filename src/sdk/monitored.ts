import { heartbeat } from './heartbeat.js';

/**
 * Runs a job (a cron job's body) between two heartbeats: `running` before it starts, then `ok`,
 * or `error` with the error's message, which cronwatch sends as an alert. The job's result is
 * returned and its error rethrown unchanged, so the process still fails as it would have.
 *
 * The last heartbeat carries `data.durationMs`. Give the target a `max_age` longer than the job's
 * period plus its longest run: while it runs, the file's age counts from its start.
 *
 * @throws whatever the job threw; or, when the job could not be recorded as started or as having
 *   succeeded, the heartbeat's error (a job that cannot be seen must not pass for a healthy one).
 */
export async function monitored<T>(file: string, job: () => T | Promise<T>): Promise<T> {
  const startedMs = Date.now();
  await heartbeat(file, { status: 'running', data: { startedAt: new Date(startedMs).toISOString() } });
  let result: T;
  try {
    result = await job();
  } catch (error) {
    const message = describe(error);
    await heartbeat(file, { status: 'error', message, data: { durationMs: Date.now() - startedMs } }).catch(
      (writeError: Error) => {
        // The job's own error is the one the caller gets; this one would otherwise be lost.
        process.stderr.write(`cronwatch: could not record the job's failure: ${writeError.message}\n`);
      },
    );
    throw error;
  }
  await heartbeat(file, { status: 'ok', data: { durationMs: Date.now() - startedMs } });
  return result;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message === '' ? error.name : error.message;
  return String(error);
}
