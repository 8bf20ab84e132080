/**
 * The vocabulary shared by the core and the shell: config, observations, states, flips,
 * actions and alerts. Nothing here touches a clock, a file or a process.
 */

/** One watched thing, with every default applied and every path absolute. */
export interface TargetConfig {
  /** `[a-z0-9_-]+`, unique within a config. */
  readonly name: string;
  /** Regular expression source, matched against the full command line (like `pgrep -f`). */
  readonly match: string | null;
  /** Absolute path of a pid file; with `match` too, the pid must also match. */
  readonly pidfile: string | null;
  /** Shell command run by `/bin/sh -c` in `cwd`; null: nothing to restart (alert only). */
  readonly start: string | null;
  /** Shell command that stops the target; null: `stopSignal` to its process group. */
  readonly stop: string | null;
  /** Absolute working directory for `start` and `stop`. */
  readonly cwd: string;
  /** Extra environment for `start` and `stop`. */
  readonly env: Readonly<Record<string, string>>;
  /** Absolute path that receives the started process's stdout and stderr, appended. */
  readonly log: string;
  /** A started process must stay alive this long to count as started. */
  readonly startGraceMs: number;
  /** Signal name sent to the process group to stop it, e.g. `SIGTERM`. */
  readonly stopSignal: string;
  /** After this long without exiting, SIGKILL goes to the process group. */
  readonly stopTimeoutMs: number;
  /** Absolute path of the file whose age proves the target works. */
  readonly stateFile: string | null;
  /** A state file (and process start) older than this means the target is hung. */
  readonly maxAgeMs: number | null;
  /** Resident memory above this, for `forRuns` runs in a row, is over the limit. */
  readonly maxMemoryBytes: number | null;
  /** CPU time between two runs over the wall time between them, in percent of one core. */
  readonly maxCpuPercent: number | null;
  /** Runs in a row a memory or CPU limit must be broken before acting. */
  readonly forRuns: number;
  /** More restarts than `count` within `windowMs` puts the target in backoff; null: no limit. */
  readonly restartLimit: { readonly count: number; readonly windowMs: number } | null;
  /** Five-field cron expression of a planned restart, written into the crontab block. */
  readonly restartSchedule: string | null;
  /**
   * A healthchecks URL that relays this target's health (up: success, else /fail): `ping_url`,
   * or the slug URL of `<host>-<name>` with `healthchecks`.
   */
  readonly pingUrl: string | null;
  /** How many matching processes are expected; more is reported, never "fixed". */
  readonly instances: number;
  /** A heartbeat reporting `status: error` restarts the target (default: alert only). */
  readonly restartOnError: boolean;
}

export interface WebhookChannelConfig {
  readonly url: string;
  /** slack: {"text"}; discord: {"content"}; json: the envelope as JSON. */
  readonly format: 'slack' | 'discord' | 'json';
}

export interface TelegramChannelConfig {
  readonly token: string;
  readonly chatId: string;
  /** Bot API root, without a trailing slash. */
  readonly apiRoot: string;
  readonly threadId: number | null;
}

/** A healthchecks project whose checks are pinged by slug (see core/healthchecks.ts). */
export interface HealthchecksConfig {
  /** The instance (its SITE_ROOT), without a trailing slash; the API is at `<url>/api/v3/`. */
  readonly url: string;
  /** The ping endpoint, without a trailing slash; default `<url>/ping`. */
  readonly pingUrl: string;
  /** The project's ping key. */
  readonly pingKey: string;
  /** A read-write Management API key, for `healthchecks sync`; null: none given. */
  readonly apiKey: string | null;
}

export interface Config {
  /** Absolute path of the file the config was read from. */
  readonly file: string;
  /** Absolute path of cronwatch's own state directory. */
  readonly stateDir: string;
  /** The cron period: overdue detection and the crontab line. */
  readonly intervalMs: number;
  /** Named in every alert. */
  readonly host: string;
  readonly channels: {
    readonly telegram: TelegramChannelConfig | null;
    readonly webhook: WebhookChannelConfig | null;
  };
  /** Repeat an unresolved problem this often; 0: never. */
  readonly reminderMs: number;
  /**
   * cronwatch's own dead man's switch (healthchecks ping protocol): `heartbeat.url`, or its
   * check's slug URL with `healthchecks`; null: none.
   */
  readonly heartbeatUrl: string | null;
  /** Slug mode: the targets' and cronwatch's checks by slug in this project; null: not used. */
  readonly healthchecks: HealthchecksConfig | null;
  /** node_exporter textfile collector file; null: no metrics. */
  readonly metricsTextfile: string | null;
  readonly targets: readonly TargetConfig[];
  /** Environment variables the channels' secrets came from; targets do not inherit them. */
  readonly secretEnv: readonly string[];
  /**
   * `${VAR}`s unset in this environment under `channels`, `heartbeat` or `healthchecks`: each
   * makes its channel or ping unusable (that part of the config is null), not the config invalid.
   */
  readonly unsetEnv: readonly UnsetVariable[];
}

/** An unset `${VAR}` and the key path that uses it, e.g. `channels.telegram.token`. */
export interface UnsetVariable {
  readonly variable: string;
  readonly path: string;
}

/** One process as read from the process table. */
export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  /** Process group id. */
  readonly pgid: number;
  /** Session id. */
  readonly sid: number;
  /** When the process started, epoch milliseconds (to the clock tick on Linux). */
  readonly startTimeMs: number;
  /**
   * Start time in clock ticks since boot, as the kernel keeps it (Linux); the exact half of a
   * process's identity. null where the platform does not give it (then `startTimeMs` is used).
   */
  readonly startTicks: number | null;
  /** argv joined by spaces; empty for kernel threads. */
  readonly cmdline: string;
  /** One-letter kernel state: R, S, D, Z (zombie), T (stopped), ... */
  readonly state: string;
  readonly rssBytes: number;
  /** User + system CPU time used over the process's life. */
  readonly cpuMs: number;
}

/** Identity of a process: a reused pid or a rewritten command line is another process. */
export interface ProcessIdentity {
  readonly pid: number;
  readonly startTicks: number | null;
  readonly startTimeMs: number;
  readonly cmdline: string;
}

/** What the process probe found for one target. */
export type ProcessFinding =
  | {
      readonly kind: 'running';
      readonly process: ProcessInfo;
      /** How many live processes matched (the oldest is `process`). */
      readonly count: number;
      /**
       * Other targets that take this same process for theirs (their patterns overlap, none of
       * them found one of its own, and no record says whose it is): it is up for each, but no
       * target stops it as its own.
       */
      readonly sharedWith?: readonly string[];
    }
  | { readonly kind: 'absent'; readonly reason: string };

/** What the state-file probe found for one target. */
export type FileFinding =
  | {
      readonly kind: 'present';
      readonly mtimeMs: number;
      /** What a heartbeat file says of itself; null when the file is not a JSON heartbeat. */
      readonly heartbeat?: HeartbeatReport | null;
    }
  | { readonly kind: 'missing' };

/** The `status` and `message` a target wrote in its heartbeat file (see the SDK). */
export interface HeartbeatReport {
  readonly status: 'ok' | 'error' | 'running' | null;
  readonly message: string | null;
}

/** Everything a run saw of one target, read once per run. */
export type Observation =
  | {
      readonly kind: 'observed';
      readonly target: string;
      /** null when the target has no `match` nor `pidfile` (heartbeat only). */
      readonly process: ProcessFinding | null;
      /** null when the target has no `state_file`. */
      readonly file: FileFinding | null;
    }
  | { readonly kind: 'error'; readonly target: string; readonly message: string };

/** Stored states; `new` until first observed. */
export type TargetStatus = 'new' | 'up' | 'down' | 'stale' | 'over_limit' | 'error' | 'backoff' | 'paused';

/** The states that are a problem someone should hear about. */
export type ProblemStatus = 'down' | 'stale' | 'over_limit' | 'error' | 'backoff';

export interface PauseInfo {
  readonly by: string;
  readonly reason: string | null;
  /** epoch ms; null: until resumed. */
  readonly untilMs: number | null;
}

/** A flapping target's damping: what was told, and what was merged instead of sent. */
export interface Damping {
  /** When the flapping alert was raised, epoch ms. */
  readonly sinceMs: number;
  /** Kinds of problem the owner has been told of since; a repeat a restart fixed is merged. */
  readonly told: readonly ProblemStatus[];
  /** Changes merged (not sent one by one) since `mergedSinceMs`. */
  readonly merged: number;
  readonly mergedSinceMs: number;
  /** The reason of the last merged problem. */
  readonly lastMergedReason: string | null;
  /** The last run that saw a change; the target has settled once this is a flap window old. */
  readonly lastChangeMs: number;
}

/** What cronwatch remembers of one target between runs. */
export interface TargetState {
  readonly status: TargetStatus;
  /** When `status` last changed, epoch ms. */
  readonly sinceMs: number;
  /** When the current problem began (first run not up), epoch ms; null while up. */
  readonly downSinceMs: number | null;
  /** The last reason given for a problem. */
  readonly reason: string | null;
  /** The process last seen or started for this target. */
  readonly process: ProcessIdentity | null;
  /** Epoch ms of each restart cronwatch made (incidents only, newest last, trimmed). */
  readonly restartsMs: readonly number[];
  /** When an alert about this target was last enqueued, epoch ms. */
  readonly lastAlertMs: number | null;
  readonly pause: PauseInfo | null;
  /** Set once the restart limit was reached: no restart before `untilMs`; `stepMs` doubles. */
  readonly backoff: { readonly untilMs: number; readonly stepMs: number } | null;
  /** Runs in a row the current process broke a memory or CPU limit. */
  readonly limitRuns: number;
  /** CPU time of the current process at the previous run, for the CPU rate between runs. */
  readonly cpuSample: {
    readonly pid: number;
    readonly startTimeMs: number;
    readonly cpuMs: number;
    readonly atMs: number;
  } | null;
  /** When problems began recently (epoch ms), to tell a flapping target. */
  readonly problemsMs: readonly number[];
  /** Set while the target flaps (a flapping alert was sent), until it settles. */
  readonly damping: Damping | null;
  /** More processes matched than `instances`; alerted once. */
  readonly extraInstances: boolean;
}

export interface State {
  readonly version: 1;
  /** When the previous run ended its observation, epoch ms; null before the first run. */
  readonly lastRunMs: number | null;
  readonly targets: Readonly<Record<string, TargetState>>;
  /**
   * The unset variables (`Config.unsetEnv`) a run last told about: cron mails every line, so
   * `check` says it once, and again only when the set changes. Absent: none.
   */
  readonly unsetEnvSaid?: readonly string[];
}

/** What the shell is told to do for one target. */
export type Action =
  | { readonly kind: 'start'; readonly target: string; readonly reason: string }
  | {
      readonly kind: 'restart';
      readonly target: string;
      readonly reason: string;
      /** The process to stop first; it is re-identified before any signal. */
      readonly process: ProcessIdentity;
      readonly pgid: number;
    };

/** How an action ended, as the shell reports it back to the core. */
export type ActionOutcome =
  | { readonly kind: 'started'; readonly pid: number; readonly identity: ProcessIdentity }
  | {
      readonly kind: 'start_failed';
      readonly exitCode: number | null;
      readonly signal: string | null;
      readonly error: string | null;
      /** Last lines of the target's log. */
      readonly logTail: readonly string[];
    }
  | { readonly kind: 'stop_failed'; readonly error: string };

/** A change of state. */
export interface Flip {
  readonly target: string;
  readonly from: TargetStatus;
  readonly to: TargetStatus;
  readonly reason: string | null;
  readonly atMs: number;
}

/** What is said to the owner; rendered per channel by `src/core/format.ts`. */
export type Alert =
  | {
      /** Something is wrong; `outcome` says what was done about it (null: nothing could be). */
      readonly kind: 'problem';
      readonly target: string;
      readonly status: Exclude<ProblemStatus, 'backoff'>;
      readonly reason: string;
      readonly outcome: ActionOutcome | null;
      readonly atMs: number;
    }
  | {
      /** A target that was down is up again, by itself or by a start. */
      readonly kind: 'recovered';
      readonly target: string;
      readonly downForMs: number;
      readonly pid: number | null;
      readonly atMs: number;
    }
  | {
      /** A restart asked for by a person (`cronwatch restart`). */
      readonly kind: 'restarted';
      readonly target: string;
      readonly reason: string | null;
      /** The scheduled (daily) restart: sent silently, not an incident. */
      readonly planned: boolean;
      readonly outcome: ActionOutcome;
      readonly atMs: number;
    }
  | {
      /** The restart limit was reached: no restarts until `untilMs`. */
      readonly kind: 'backoff';
      readonly target: string;
      readonly restarts: number;
      readonly windowMs: number;
      readonly untilMs: number;
      /** Why the target needed restarting this time. */
      readonly reason: string;
      readonly atMs: number;
    }
  | {
      /** A problem still unresolved after `alerts.reminder`. */
      readonly kind: 'reminder';
      readonly target: string;
      readonly status: ProblemStatus;
      readonly reason: string;
      readonly sinceMs: number;
      readonly atMs: number;
    }
  | {
      /** Problems began `count` times within `windowMs`: one alert instead of one per flip. */
      readonly kind: 'flapping';
      readonly target: string;
      readonly count: number;
      readonly windowMs: number;
      readonly atMs: number;
    }
  | {
      /** A flapping target stayed in one state for the flap window; `merged` changes were not sent one by one. */
      readonly kind: 'settled';
      readonly target: string;
      readonly status: TargetStatus;
      /** Why it is not up; null when it is. */
      readonly reason: string | null;
      /** Since when it has been in `status`. */
      readonly sinceMs: number;
      readonly merged: number;
      readonly mergedSinceMs: number;
      /** When the flapping alert was raised. */
      readonly flappingSinceMs: number;
      readonly atMs: number;
    }
  | {
      /** A flapping target that has not settled: what was merged since `mergedSinceMs`. */
      readonly kind: 'still_flapping';
      readonly target: string;
      readonly status: TargetStatus;
      readonly merged: number;
      readonly mergedSinceMs: number;
      readonly lastReason: string | null;
      readonly flappingSinceMs: number;
      readonly atMs: number;
    }
  | {
      /** More processes match than expected; reported, never fixed by killing one at random. */
      readonly kind: 'instances';
      readonly target: string;
      readonly count: number;
      readonly expected: number;
      readonly atMs: number;
    }
  | {
      /** Someone paused, resumed, stopped or started a target by hand. */
      readonly kind: 'maintenance';
      readonly target: string;
      readonly action: 'paused' | 'resumed' | 'stopped' | 'started';
      readonly by: string;
      readonly reason: string | null;
      readonly untilMs: number | null;
      readonly pid: number | null;
      readonly atMs: number;
    }
  | {
      /** Free text from the watched program itself (the SDK's `createNotifier`). */
      readonly kind: 'message';
      readonly text: string;
      readonly atMs: number;
    }
  | {
      /** cronwatch itself did not run from `lastRunMs` to `nowMs` (more than 3 intervals). */
      readonly kind: 'overdue';
      readonly lastRunMs: number;
      readonly nowMs: number;
      readonly intervalMs: number;
      readonly atMs: number;
    }
  | {
      /** The health report over a window (`cronwatch summary --send`). */
      readonly kind: 'summary';
      readonly summary: Summary;
      readonly atMs: number;
    }
  | { readonly kind: 'test'; readonly atMs: number };

/** Health over a window, computed from the events log (`cronwatch summary`). */
export interface Summary {
  /** The window, epoch ms. */
  readonly fromMs: number;
  readonly toMs: number;
  readonly intervalMs: number;
  readonly runs: {
    /** Runs of `check` that began in the window. */
    readonly made: number;
    /** Runs expected every `intervalMs` that did not happen. */
    readonly missed: number;
    /** Runs that could not do their job (state or outbox unusable, alerts left undelivered). */
    readonly failed: number;
  };
  readonly targets: readonly TargetSummary[];
  /** Alerts about cronwatch itself (e.g. overdue), raised in the window. */
  readonly ownAlerts: number;
}

/** One target's health over a summary's window. */
export interface TargetSummary {
  readonly name: string;
  /** Up time over watched time (paused and never-observed time left out), in percent; null: none watched. */
  readonly uptimePercent: number | null;
  /** Time not up (down, stale, over a limit, ...) in the window. */
  readonly downMs: number;
  readonly longestOutageMs: number;
  /** Restarts cronwatch made because something was wrong (failed tries included). */
  readonly incidentRestarts: number;
  /** Restarts asked for with `restart --planned`. */
  readonly plannedRestarts: number;
  readonly alerts: number;
}

/** An alert as stored in the outbox, ready for any channel. */
export interface Envelope {
  /** Unique and sortable: enqueue order. */
  readonly id: string;
  readonly host: string;
  readonly createdMs: number;
  /** Sent without sound (Telegram `disable_notification`). */
  readonly silent: boolean;
  readonly alerts: readonly Alert[];
}
