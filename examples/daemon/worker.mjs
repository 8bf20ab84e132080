// A long-running worker, the daemon-monitoring pattern: it proves it is alive with a heartbeat,
// tells you itself when its work keeps failing, and sends a quiet health line every day.
//
// Transient failures (timeouts, 5xx) are its own business: it retries, and after 3 in a row
// sends one message, then one when it recovers. A failure that retrying cannot fix (the upstream
// refuses its credentials) goes into the heartbeat instead: cronwatch marks the target `error`
// and alerts, and restarts it only if the config says `restart_on_error: true`.
//
// Run by cronwatch (see cronwatch.yaml): `node worker.mjs`.
import { createNotifier, startHeartbeat } from 'cronwatch';

const WORK_URL = process.env.WORK_URL ?? 'https://api.example.com/jobs/next';
const WORK_EVERY_MS = Number(process.env.WORK_EVERY_MS ?? 30_000);
const HEARTBEAT_EVERY_MS = Number(process.env.HEARTBEAT_EVERY_MS ?? 30_000);
const HEALTH_EVERY_MS = Number(process.env.HEALTH_EVERY_MS ?? 24 * 3_600_000);
// Without it a hung upstream would hang the loop while the heartbeat timer kept ticking.
const FETCH_TIMEOUT_MS = 10_000;
const FAILURES_TO_REPORT = 3;

const notifier = createNotifier({
  // cronwatch's state_dir: a message this process could not send goes out with cronwatch's next run.
  stateDir: process.env.CRONWATCH_STATE_DIR ?? '.cronwatch',
  // Without a token the messages go to stderr, which is this worker's log.
  ...(process.env.TELEGRAM_BOT_TOKEN
    ? {
        telegram: {
          token: process.env.TELEGRAM_BOT_TOKEN,
          chatId: process.env.TELEGRAM_CHAT_ID ?? '',
          apiRoot: process.env.TELEGRAM_API_ROOT,
        },
      }
    : {}),
});

const stats = { done: 0, failed: 0, since: new Date() };
let failuresInARow = 0;
let streakReported = false;
let refused = null;
let unsent = false;
let timer = null;

const stopHeartbeat = startHeartbeat('worker.heartbeat', {
  every: HEARTBEAT_EVERY_MS,
  report: () => {
    const data = { done: stats.done, failed: stats.failed, failuresInARow };
    return refused === null ? { status: 'ok', data } : { status: 'error', message: refused, data };
  },
});

function log(line) {
  console.log(`${new Date().toISOString()} ${line}`);
}

async function notify(text, options) {
  try {
    const result = await notifier.send(text, options);
    if (result.kind === 'queued') unsent = true;
    log(`notify (${result.kind}${result.reason ? `: ${result.reason}` : ''}): ${text}`);
    return result;
  } catch (error) {
    // The outbox itself is unusable (disk full?): say so in the log and keep working.
    log(`notify failed: ${error.message}: ${text}`);
    return null;
  }
}

function describe(error) {
  if (error.name === 'TimeoutError') return `no answer within ${FETCH_TIMEOUT_MS / 1000}s`;
  return error.cause?.code ?? error.message;
}

async function work() {
  const response = await fetch(WORK_URL, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  if (response.status === 401 || response.status === 403) {
    refused = `${WORK_URL} refused our credentials (HTTP ${response.status}); fix them, then restart the worker`;
    return false;
  }
  refused = null;
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  // The job itself: here, just reading what the upstream handed out.
  await response.text();
  return true;
}

async function cycle() {
  try {
    if (await work()) {
      stats.done += 1;
      if (streakReported) await notify(`worker: recovered after ${failuresInARow} failures in a row`);
      failuresInARow = 0;
      streakReported = false;
    }
  } catch (error) {
    stats.failed += 1;
    failuresInARow += 1;
    log(`failure ${failuresInARow} in a row: ${describe(error)}`);
    if (failuresInARow === FAILURES_TO_REPORT) {
      const result = await notify(
        `worker: ${failuresInARow} failures in a row fetching ${WORK_URL}: ${describe(error)}`,
        // One key for every streak: a flapping upstream is reported once an hour, not each time.
        { key: 'failing' },
      );
      streakReported = result?.kind === 'delivered' || result?.kind === 'queued';
    }
  }
  if (unsent) {
    const flushed = await notifier.flush();
    unsent = flushed.pending > 0;
  }
  timer = setTimeout(cycle, WORK_EVERY_MS);
}

async function healthLine() {
  const since = `${stats.since.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const text = `worker: healthy; ${stats.done} jobs done, ${stats.failed} failed since ${since}`;
  Object.assign(stats, { done: 0, failed: 0, since: new Date() });
  await notify(text, { silent: true });
}

log(`worker ${process.pid} started; fetching ${WORK_URL} every ${WORK_EVERY_MS / 1000}s`);
timer = setTimeout(cycle, 0);
setInterval(healthLine, HEALTH_EVERY_MS);

process.on('SIGTERM', async () => {
  log(`worker ${process.pid} stopping on SIGTERM`);
  clearTimeout(timer);
  await stopHeartbeat();
  process.exit(0);
});
