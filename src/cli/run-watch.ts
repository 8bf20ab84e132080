/**
 * Watching the watcher, for one `check` run:
 * - the events log (`state_dir/events.jsonl`): the run's start and end, flips, restarts and
 *   alerts, which `summary` reads;
 * - cronwatch's own check (`heartbeat.url`, or `<host>-cronwatch` by slug with `healthchecks`):
 *   `/start?rid=` once the run holds the lock, and at its end the URL (success) or `/fail`, with
 *   the same rid and the run's report as body. A run that finds the lock held does nothing, so it
 *   pings nothing: its start would never be followed by an end and the service would count the
 *   check as hung. `/fail` means cronwatch could not do its job: state dir or state file
 *   unusable, outbox unwritable, or alerts left undelivered. A target down is cronwatch doing its
 *   job: success. A config that cannot be read names no URL, so that run pings nothing; the
 *   missing success ping is what the service alerts on;
 * - each target's check (`ping_url`, or `<host>-<target>` by slug): a `/log` as soon as the run
 *   restarted it, failed to start it or put it in backoff, then at the end its health (up:
 *   success, else `/fail` with the reason; paused: success saying so and until when;
 *   unobservable targets are not relayed);
 * - the metrics textfile (`metrics.textfile`).
 *
 * All of a run's pings share one session (heartbeat-ping.ts): they add at most its 15 s budget
 * to the run, whatever the service does, and the pings of one check keep their order. The ping
 * and metrics code is loaded only when configured, and nothing here throws: a log, metrics file
 * or ping that fails is reported on stderr and the run goes on. What is printed or sent in a ping
 * passes through `redact` with the config's secrets (the ping key is in every slug URL).
 */
import { type CheckEventsInput, type CronwatchEvent, checkEvents } from '../core/events.js';
import { redact, secretsOf } from '../core/redact.js';
import type { Config, Observation, PauseInfo, State } from '../core/types.js';
import type { Ping, PingSession } from '../notifiers/heartbeat-ping.js';
import { appendEvents } from '../store/events.js';
import type { DeliveryReport } from './alerting.js';
import type { CheckReport } from './check.js';

/** What the end of a run that did its work hands over. */
export interface RunEnd {
  readonly report: CheckReport;
  /** The state saved at the end, every target's. */
  readonly state: State;
  readonly observations: readonly Observation[];
  readonly delivery: DeliveryReport | null;
  /** What else kept the run from its whole job (a channel unusable, state not recorded): `/fail`. */
  readonly problems: readonly string[];
}

export interface RunWatch {
  /** The run's id: the pings' `rid` and the events' `rid`. */
  readonly rid: string;
  /** Awaits `step`; when it fails, reports the run as failed (`fail`) and rethrows. */
  guard<T>(step: Promise<T>): Promise<T>;
  /** The run holds the lock: logs its start and sends the start ping without waiting for it. */
  begin(): Promise<void>;
  /** The run has concluded and saved its state: logs its flips, restarts and alerts. */
  concluded(input: CheckEventsInput): Promise<void>;
  /** The run's end: logs it, writes the metrics, pings the targets' URLs and the heartbeat. */
  finish(end: RunEnd): Promise<void>;
  /** The run failed with `error`: logs it (once begun) and pings `/fail`. */
  fail(error: unknown): Promise<void>;
}

/** Bot-token shapes are hidden even where no config is at hand. */
function warn(text: string, secrets: readonly string[] = []): void {
  process.stderr.write(`cronwatch: ${redact(text, secrets)}\n`);
}

function messageOf(error: unknown, secrets: readonly string[] = []): string {
  return redact(error instanceof Error ? error.message : String(error), secrets);
}

/** The ping body: what a reader of the service's log wants to see of the run. */
function reportText(report: CheckReport, problem: string | null, secrets: readonly string[]): string {
  const notUp = report.targets.filter((target) => target.status !== 'up' && target.observed !== 'paused');
  const head =
    notUp.length === 0
      ? `all ${report.targets.length} target(s) up or paused`
      : `${notUp.length} of ${report.targets.length} target(s) not up`;
  const lines = [`cronwatch check on ${report.host}, ${report.startedAt}: ${head}, exit ${report.exitCode}`];
  if (problem !== null) lines.push(problem);
  for (const target of report.targets) {
    const pid = target.pid === null ? '' : `, pid ${target.pid}`;
    const why = target.reason === null ? '' : ` (${target.reason})`;
    const acted = target.outcome === null ? '' : `; ${target.action}: ${target.outcome.kind}`;
    lines.push(`${target.name}: ${target.status}${pid}${why}${acted}`);
  }
  if (report.alerts.length > 0) lines.push(`${report.alerts.length} alert(s) raised`);
  for (const notice of report.notices) lines.push(notice);
  return redact(lines.join('\n'), secrets);
}

/**
 * The `/log` pings of a concluded run: each target it restarted, failed to start or put in
 * backoff, with what happened, so the target's own check shows the incident, not only
 * cronwatch's. The end ping that follows says whether it is up.
 */
function targetLogPings(config: Config, input: CheckEventsInput, secrets: readonly string[]): Ping[] {
  const urls = new Map(config.targets.map((target) => [target.name, target.pingUrl]));
  const pings: Ping[] = [];
  for (const verdict of input.plan.verdicts) {
    const url = urls.get(verdict.target) ?? null;
    if (url === null) continue;
    const outcome = input.outcomes[verdict.target];
    const found = `${verdict.target}: ${verdict.status}${verdict.reason === null ? '' : ` (${verdict.reason})`}`;
    let text: string | null = null;
    if (outcome?.kind === 'started') text = `${found}; restarted, pid ${outcome.pid}`;
    else if (outcome?.kind === 'stop_failed') text = `${found}; stop failed: ${outcome.error}`;
    else if (outcome?.kind === 'start_failed') {
      const why =
        outcome.error ??
        (outcome.signal === null ? `exit code ${outcome.exitCode}` : `killed by ${outcome.signal}`);
      text = [`${found}; start failed: ${why}`, ...outcome.logTail].join('\n');
    } else if (input.plan.flips.some((flip) => flip.target === verdict.target && flip.to === 'backoff')) {
      text = `${found}; restart limit reached, backing off`;
    }
    if (text !== null) pings.push({ url, kind: 'log', rid: null, body: redact(text, secrets) });
  }
  return pings;
}

/** A paused target's ping body: who paused it, why and until when, and that nothing was checked. */
function pausedText(name: string, pause: PauseInfo | null): string {
  if (pause === null) return `${name}: paused; not watched`;
  const why = pause.reason === null ? '' : ` (${pause.reason})`;
  const until = pause.untilMs === null ? 'until resumed' : `until ${new Date(pause.untilMs).toISOString()}`;
  return `${name}: paused by ${pause.by}${why}, ${until}; not watched, its health was not checked`;
}

/**
 * The end pings of the targets' own checks. A paused target gets a success ping saying it is
 * paused: the owner paused it on purpose, so its check must not go down and alert them (nor
 * need pausing by hand in healthchecks), and the body tells its log apart from a checked `up`.
 * A target that could not be observed is not relayed: its check's silence is the alarm.
 */
function targetPings(config: Config, report: CheckReport, state: State, secrets: readonly string[]): Ping[] {
  const urls = new Map(config.targets.map((target) => [target.name, target.pingUrl]));
  const pings: Ping[] = [];
  for (const target of report.targets) {
    const url = urls.get(target.name) ?? null;
    if (url === null || target.observed === 'unknown') continue;
    const paused = target.observed === 'paused';
    const body = paused
      ? pausedText(target.name, state.targets[target.name]?.pause ?? null)
      : target.status === 'up'
        ? `${target.name}: up${target.pid === null ? '' : `, pid ${target.pid}`}`
        : `${target.name}: ${target.status}${target.reason === null ? '' : `: ${target.reason}`}`;
    pings.push({
      url,
      kind: paused || target.status === 'up' ? 'success' : 'fail',
      rid: null,
      body: redact(body, secrets),
    });
  }
  return pings;
}

/** What the end of the run says of its pings: only refusals, which would never alert anyone. */
function reportRefusals(
  results: readonly { ok: boolean; status: number | null; error: string | null }[],
  secrets: readonly string[],
) {
  for (const result of results) {
    // Unreachable or failing services are left to alert by the missing ping; a refusal (404: no
    // such check, 409: two checks with that slug) is said.
    if (!result.ok && result.status !== null && result.status < 500 && result.status !== 429) {
      const hint =
        result.status === 409 ? 'two checks have this slug' : 'check the ping URL, or run healthchecks sync';
      warn(`${result.error} (${hint})`, secrets);
    }
  }
}

/**
 * A UUID (version 4 layout, as healthchecks requires of a rid) naming one run. It pairs a start
 * with its end and is no secret, so Math.random will do: loading node:crypto would cost the cron
 * path more (about 3 ms) than the rest of this module.
 */
function runId(): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(Math.random() * 16).toString(16));
  hex[12] = '4';
  hex[16] = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  const text = hex.join('');
  return `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20)}`;
}

/** Appends to the events log; a failure is reported on stderr, never thrown. */
export async function recordEvents(stateDir: string, events: readonly CronwatchEvent[]): Promise<void> {
  try {
    await appendEvents(stateDir, events);
  } catch (error) {
    warn(`could not append to the events log in ${stateDir}: ${messageOf(error)}`);
  }
}

export interface WatchOptions {
  /**
   * Writes to the events log; default `recordEvents`, which reports a failure on stderr. A run
   * that tells its disk's failures in one line of its own passes its writer.
   */
  readonly appendEvents?: (events: readonly CronwatchEvent[]) => Promise<void>;
}

/** Watches one `check` run that started at `startedMs`. */
export function watchRun(config: Config, startedMs: number, options: WatchOptions = {}): RunWatch {
  const rid = runId();
  const heartbeat = config.heartbeatUrl;
  const secrets = secretsOf(config);
  let begun = false;
  // Loaded with the first ping; a run with no ping URL never loads the HTTP code.
  let session: Promise<PingSession | null> | null = null;
  const send = (pings: readonly Ping[]) => {
    if (pings.length === 0) return;
    session ??= import('../notifiers/heartbeat-ping.js').then(
      (module) => module.createPingSession({ secrets }),
      (error: unknown) => {
        warn(`could not send pings: ${messageOf(error, secrets)}`, secrets);
        return null;
      },
    );
    void session.then((open) => open?.send(pings));
  };

  // Appends are chained so the log keeps their order; the start's is not waited for, so that
  // its write overlaps the run's observation.
  let logged: Promise<void> = Promise.resolve();
  const log = (events: readonly CronwatchEvent[]) => {
    logged = logged.then(() =>
      options.appendEvents === undefined
        ? recordEvents(config.stateDir, events)
        : options.appendEvents(events),
    );
    return logged;
  };
  const end = async (ok: boolean, body: string, others: readonly Ping[]) => {
    // The session sends a check's pings in order: this end follows its start, as the service
    // pairs them by rid.
    const own: Ping[] =
      heartbeat === null ? [] : [{ url: heartbeat, kind: ok ? 'success' : 'fail', rid, body }];
    send([...others, ...own]);
    const open = await session;
    if (open) reportRefusals(await open.drain(), secrets);
  };

  const watch: RunWatch = {
    rid,
    async guard(step) {
      try {
        return await step;
      } catch (error) {
        await watch.fail(error);
        throw error;
      }
    },
    async begin() {
      begun = true;
      void log([{ kind: 'run_start', atMs: startedMs, rid }]);
      if (heartbeat !== null) send([{ url: heartbeat, kind: 'start', rid, body: '' }]);
    },
    async concluded(input) {
      send(targetLogPings(config, input, secrets));
      await log(checkEvents(input));
    },
    async finish({ report, state, observations, delivery, problems }) {
      const endedMs = Date.now();
      const pending = delivery?.pending ?? [];
      const undelivered =
        pending.length === 0
          ? []
          : [
              `${pending.length} alert(s) not delivered (${delivery?.retryErrors.at(-1)?.error ?? pending[0]?.lastError ?? 'refused'}); kept in the outbox`,
            ];
      const all = [...undelivered, ...problems];
      const problem = all.length === 0 ? null : all.join('\n');
      await log([
        {
          kind: 'run_end',
          atMs: endedMs,
          rid,
          startedMs,
          exitCode: report.exitCode,
          ok: problem === null,
          problem: problem === null ? null : redact(problem, secrets),
        },
      ]);
      if (config.metricsTextfile !== null) {
        try {
          const { writeRunMetrics } = await import('./metrics-textfile.js');
          await writeRunMetrics(config.metricsTextfile, {
            config,
            state,
            observations,
            report,
            startedMs,
            endedMs,
            alertsPending: pending.length,
          });
        } catch (error) {
          warn(`could not write metrics to ${config.metricsTextfile}: ${messageOf(error, secrets)}`, secrets);
        }
      }
      await end(
        problem === null,
        reportText(report, problem, secrets),
        targetPings(config, report, state, secrets),
      );
    },
    async fail(error) {
      const message = messageOf(error, secrets);
      if (begun) {
        await log([
          { kind: 'run_end', atMs: Date.now(), rid, startedMs, exitCode: null, ok: false, problem: message },
        ]);
      }
      await end(false, `cronwatch check on ${config.host} could not do its job: ${message}`, []);
    },
  };
  return watch;
}
