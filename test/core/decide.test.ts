import { describe, expect, it } from 'vitest';
import { conclude, decide, NEW_TARGET } from '../../src/core/decide.js';
import type {
  ActionOutcome,
  Config,
  Observation,
  ProcessInfo,
  State,
  TargetConfig,
} from '../../src/core/types.js';
import { configWith, targetConfig } from '../support/config-fixtures.js';

const NOW = 1_800_000_000_000;
const MIN = 60_000;

function target(overrides: Partial<TargetConfig> = {}): TargetConfig {
  return targetConfig(overrides);
}

function config(...targets: TargetConfig[]): Config {
  return configWith(targets);
}

function proc(pid: number, startTimeMs: number): ProcessInfo {
  return {
    pid,
    ppid: 1,
    pgid: pid,
    sid: pid,
    startTimeMs,
    startTicks: startTimeMs / 10,
    cmdline: 'node bot.js',
    state: 'S',
    rssBytes: 1,
    cpuMs: 1,
  };
}

const running = (pid: number, startTimeMs = NOW - 60 * MIN): Observation => ({
  kind: 'observed',
  target: 'bot',
  process: { kind: 'running', process: proc(pid, startTimeMs), count: 1 },
  file: null,
});
const absent: Observation = {
  kind: 'observed',
  target: 'bot',
  process: { kind: 'absent', reason: 'no process matches /node bot/' },
  file: null,
};
const started: ActionOutcome = {
  kind: 'started',
  pid: 77,
  identity: { pid: 77, startTicks: 1, startTimeMs: NOW, cmdline: 'node bot.js' },
};
const failed: ActionOutcome = {
  kind: 'start_failed',
  exitCode: 3,
  signal: null,
  error: null,
  logTail: ['boom'],
};
const EMPTY: State = { version: 1, lastRunMs: null, targets: {} };

/** One whole run: decide, the given outcomes, conclude. */
function run(cfg: Config, state: State, observation: Observation, outcome?: ActionOutcome, nowMs = NOW) {
  const plan = decide({ observations: [observation], state, config: cfg, nowMs });
  const outcomes = outcome === undefined ? {} : { [observation.target]: outcome };
  return { plan, ...conclude({ plan, previous: state, outcomes, config: cfg, nowMs }) };
}

describe('core', () => {
  describe('decide()', () => {
    it('finds a first run with everything up silent: new -> up sends nothing', () => {
      const result = run(config(target()), EMPTY, running(10));
      expect(result.plan.actions).toEqual([]);
      expect(result.alerts).toEqual([]);
      expect(result.state.targets.bot?.status).toBe('up');
    });

    it('starts a target found down and says both in one alert, with the new pid', () => {
      const up = run(config(target()), EMPTY, running(10)).state;
      const result = run(config(target()), up, absent, started, NOW + 5 * MIN);
      expect(result.plan.actions).toEqual([
        { kind: 'start', target: 'bot', reason: 'no process matches /node bot/' },
      ]);
      expect(result.plan.state.targets.bot?.status).toBe('down');
      expect(result.alerts).toEqual([
        {
          kind: 'problem',
          target: 'bot',
          status: 'down',
          reason: 'no process matches /node bot/',
          outcome: started,
          atMs: NOW + 5 * MIN,
        },
      ]);
      expect(result.state.targets.bot).toMatchObject({
        status: 'up',
        downSinceMs: null,
        restartsMs: [NOW + 5 * MIN],
      });
    });

    it('alerts a failed start once, then says recovered with the downtime when a later start works', () => {
      const up = run(config(target()), EMPTY, running(10)).state;
      const first = run(config(target()), up, absent, failed, NOW + 5 * MIN);
      expect(first.alerts).toHaveLength(1);
      expect(first.state.targets.bot?.status).toBe('down');
      const second = run(config(target()), first.state, absent, failed, NOW + 10 * MIN);
      expect(second.alerts).toEqual([]);
      const third = run(config(target()), second.state, absent, started, NOW + 15 * MIN);
      expect(third.alerts).toEqual([
        { kind: 'recovered', target: 'bot', downForMs: 10 * MIN, pid: 77, atMs: NOW + 15 * MIN },
      ]);
    });

    it('stops then starts a running target whose state file is older than max_age', () => {
      const cfg = config(target({ stateFile: '/srv/st', maxAgeMs: 20 * MIN }));
      const observation: Observation = {
        kind: 'observed',
        target: 'bot',
        process: { kind: 'running', process: proc(10, NOW - 120 * MIN), count: 1 },
        file: { kind: 'present', mtimeMs: NOW - 30 * MIN },
      };
      const result = run(cfg, EMPTY, observation, started);
      expect(result.plan.actions).toMatchObject([
        { kind: 'restart', target: 'bot', process: { pid: 10 }, pgid: 10 },
      ]);
      expect(result.alerts[0]).toMatchObject({ kind: 'problem', status: 'stale', outcome: started });
      expect(result.alerts[0]?.kind === 'problem' && result.alerts[0].reason).toMatch(
        /last written 30m ago \(max_age 20m\)/,
      );
    });

    it('never stops a process another target also takes for its own, and says why', () => {
      const cfg = config(target({ stateFile: '/srv/st', maxAgeMs: 20 * MIN }));
      const observation: Observation = {
        kind: 'observed',
        target: 'bot',
        process: { kind: 'running', process: proc(10, NOW - 120 * MIN), count: 1, sharedWith: ['worker'] },
        file: { kind: 'present', mtimeMs: NOW - 30 * MIN },
      };
      const result = run(cfg, EMPTY, observation);
      expect(result.plan.actions).toEqual([]);
      expect(result.alerts).toMatchObject([{ kind: 'problem', status: 'stale', outcome: null }]);
      expect(result.alerts[0]?.kind === 'problem' && result.alerts[0].reason).toMatch(
        /; not restarted: pid 10 is also worker's process$/,
      );
    });

    it('does not judge a just-restarted target hung by the old file its predecessor left', () => {
      const cfg = config(target({ stateFile: '/srv/st', maxAgeMs: 20 * MIN }));
      const observation: Observation = {
        kind: 'observed',
        target: 'bot',
        process: { kind: 'running', process: proc(10, NOW - MIN), count: 1 },
        file: { kind: 'present', mtimeMs: NOW - 300 * MIN },
      };
      expect(run(cfg, EMPTY, observation).plan.verdicts[0]?.status).toBe('up');
    });

    it('alerts a late heartbeat-only target but never restarts it', () => {
      const cfg = config(
        target({ match: null, start: null, stateFile: '/srv/backup.ok', maxAgeMs: 25 * 60 * MIN }),
      );
      const late: Observation = {
        kind: 'observed',
        target: 'bot',
        process: null,
        file: { kind: 'present', mtimeMs: NOW - 26 * 60 * MIN },
      };
      const result = run(cfg, EMPTY, late);
      expect(result.plan.actions).toEqual([]);
      expect(result.alerts).toMatchObject([{ kind: 'problem', status: 'stale', outcome: null }]);
      expect(run(cfg, result.state, late, undefined, NOW + 5 * MIN).alerts).toEqual([]);
    });

    it('leaves a paused target alone, and says nothing when paused -> up', () => {
      const paused: State = {
        version: 1,
        lastRunMs: NOW - 5 * MIN,
        targets: {
          bot: {
            ...NEW_TARGET,
            status: 'paused',
            sinceMs: NOW - 10 * MIN,
            pause: { by: 'ann', reason: 'deploy', untilMs: NOW + MIN },
          },
        },
      };
      const during = run(config(target()), paused, absent);
      expect(during.plan.actions).toEqual([]);
      expect(during.alerts).toEqual([]);
      const after = run(config(target()), paused, running(11), undefined, NOW + 2 * MIN);
      expect(after.alerts).toEqual([]);
      expect(after.state.targets.bot).toMatchObject({ status: 'up', pause: null });
    });

    it('changes nothing for a target whose probe failed', () => {
      const up = run(config(target()), EMPTY, running(10)).state;
      const result = run(config(target()), up, { kind: 'error', target: 'bot', message: 'EACCES' });
      expect(result.plan.actions).toEqual([]);
      expect(result.plan.verdicts[0]).toMatchObject({ status: 'unknown', reason: 'EACCES' });
      expect(result.state.targets.bot?.status).toBe('up');
    });

    it('leaves alone the state of a configured target this run did not observe (check <names>)', () => {
      const cfg = config(target(), target({ name: 'other' }));
      const up = run(cfg, EMPTY, running(10)).state;
      const before: State = {
        ...up,
        targets: { ...up.targets, other: { ...up.targets.bot!, status: 'down' } },
      };
      // Only `bot` is observed, and it is restarted: `other` must come out exactly as it went in.
      const result = run(cfg, before, absent, started, NOW + 5 * MIN);
      expect(result.state.targets.other).toEqual(before.targets.other);
      expect(result.state.targets.bot?.restartsMs).toEqual([NOW + 5 * MIN]);
    });

    it('forgets targets that left the config', () => {
      const up = run(config(target()), EMPTY, running(10)).state;
      const other = target({ name: 'other' });
      const result = run(config(other), up, { ...running(12), target: 'other' });
      expect(Object.keys(result.state.targets)).toEqual(['other']);
    });
  });

  describe('restart policy', () => {
    const limited = target({ restartLimit: { count: 2, windowMs: 60 * MIN } });

    /** Runs every 5 minutes from NOW; each run finds the target dead and (if told) starts it. */
    function crashLoop(cfg: Config, runs: number, outcome: ActionOutcome = started) {
      let state = run(cfg, EMPTY, running(10)).state;
      const log: { at: number; status: string; acted: boolean; alerts: string[] }[] = [];
      for (let index = 1; index <= runs; index += 1) {
        const at = NOW + index * 5 * MIN;
        const result = run(cfg, state, absent, outcome, at);
        const acted = result.plan.actions.length > 0;
        // Without an action, conclude must not be told of an outcome.
        const settled = acted ? result : run(cfg, state, absent, undefined, at);
        log.push({
          at: (at - NOW) / MIN,
          status: settled.state.targets.bot!.status,
          acted,
          alerts: settled.alerts.map((alert) => alert.kind),
        });
        state = settled.state;
      }
      return { log, state };
    }

    it('backs off after restart_limit, tries once when it expires, and doubles the wait', () => {
      const { log } = crashLoop(config(limited), 8);
      expect(log.map((entry) => [entry.at, entry.status, entry.acted])).toEqual([
        [5, 'up', true],
        [10, 'up', true],
        [15, 'backoff', false], // 2 restarts in the window: backoff for 2 intervals (10m)
        [20, 'backoff', false],
        [25, 'up', true], // the backoff ran out: one try, the next backoff is 20m
        [30, 'backoff', false],
        [35, 'backoff', false],
        [40, 'backoff', false],
      ]);
      expect(log[2]?.alerts).toEqual(['backoff']);
      expect(log[3]?.alerts).toEqual([]);
    });

    it('never gives up for good: the backoff stops doubling at 6 hours', () => {
      const cfg = {
        ...config(target({ restartLimit: { count: 2, windowMs: 48 * 3_600_000 } })),
        intervalMs: 3_600_000,
      };
      let state = run(cfg, EMPTY, running(10)).state;
      let at = NOW;
      const steps: number[] = [];
      for (let index = 0; index < 100; index += 1) {
        at += 30 * MIN;
        const result = run(cfg, state, absent, started, at);
        state = result.plan.actions.length > 0 ? result.state : run(cfg, state, absent, undefined, at).state;
        const backoff = state.targets.bot?.backoff;
        if (backoff && !steps.includes(backoff.stepMs)) steps.push(backoff.stepMs);
      }
      expect(steps.map((ms) => ms / 3_600_000)).toEqual([2, 4, 6]);
    });

    it('counts failed starts toward the limit, so a target that cannot start backs off too', () => {
      const { log } = crashLoop(config(limited), 7, failed);
      expect(log.map((entry) => [entry.status, entry.acted, entry.alerts])).toEqual([
        ['down', true, ['problem']],
        ['down', true, []],
        ['backoff', false, ['backoff']],
        ['backoff', false, []],
        // The try after the backoff fails: straight back to backing off, with its log in one alert.
        ['backoff', true, ['problem']],
        ['backoff', false, []],
        ['backoff', false, []],
      ]);
    });

    it('restarts on the for-th run over max_memory, not before, and resets with a new process', () => {
      const cfg = config(target({ maxMemoryBytes: 100, forRuns: 2, restartLimit: null }));
      const fat = (pid: number, startTimeMs = NOW - 60 * MIN): Observation => ({
        kind: 'observed',
        target: 'bot',
        process: { kind: 'running', process: { ...proc(pid, startTimeMs), rssBytes: 500 }, count: 1 },
        file: null,
      });
      const first = run(cfg, EMPTY, fat(10));
      expect(first.plan.actions).toEqual([]);
      expect(first.state.targets.bot?.limitRuns).toBe(1);
      const second = run(cfg, first.state, fat(10), started, NOW + 5 * MIN);
      expect(second.plan.verdicts[0]).toMatchObject({ status: 'over_limit' });
      expect(second.plan.verdicts[0]?.reason).toMatch(/resident memory .* over max_memory .* for 2 runs/);
      expect(second.plan.actions).toMatchObject([{ kind: 'restart' }]);
      expect(second.state.targets.bot?.limitRuns).toBe(0);
      // The new process starts counting from zero: one bad sample is not enough.
      const third = run(cfg, second.state, fat(77, NOW + 5 * MIN), undefined, NOW + 10 * MIN);
      expect(third.plan.actions).toEqual([]);
    });

    it('measures CPU between runs, so a process busy long ago but idle now is not over max_cpu', () => {
      const cfg = config(target({ maxCpuPercent: 50, restartLimit: null }));
      const withCpu = (cpuMs: number): Observation => ({
        kind: 'observed',
        target: 'bot',
        process: { kind: 'running', process: { ...proc(10, NOW - 600 * MIN), cpuMs }, count: 1 },
        file: null,
      });
      // 9 hours of CPU over a 10-hour life: 90% on average, but idle since.
      const first = run(cfg, EMPTY, withCpu(9 * 3_600_000));
      const idle = run(cfg, first.state, withCpu(9 * 3_600_000 + 1000), undefined, NOW + 5 * MIN);
      expect(idle.plan.verdicts[0]?.status).toBe('up');
      const spinning = run(cfg, idle.state, withCpu(9 * 3_600_000 + 1000 + 4 * MIN), started, NOW + 10 * MIN);
      expect(spinning.plan.verdicts[0]).toMatchObject({ status: 'over_limit' });
      expect(spinning.plan.verdicts[0]?.reason).toMatch(/CPU 80% over max_cpu 50%/);
    });

    it('reports more processes than instances once, and kills none', () => {
      const many: Observation = {
        kind: 'observed',
        target: 'bot',
        process: { kind: 'running', process: proc(10, NOW - MIN), count: 3 },
        file: null,
      };
      const first = run(config(target()), EMPTY, many);
      expect(first.plan.actions).toEqual([]);
      expect(first.alerts).toEqual([{ kind: 'instances', target: 'bot', count: 3, expected: 1, atMs: NOW }]);
      expect(run(config(target()), first.state, many, undefined, NOW + 5 * MIN).alerts).toEqual([]);
    });
  });

  describe('alerts over time', () => {
    it('reminds of an unresolved problem every alerts.reminder, not on every run', () => {
      const cfg = { ...config(target({ start: null })), reminderMs: 60 * MIN };
      let state = run(cfg, EMPTY, running(10)).state;
      const kinds: string[] = [];
      for (let minute = 5; minute <= 130; minute += 5) {
        const result = run(cfg, state, absent, undefined, NOW + minute * MIN);
        kinds.push(...result.alerts.map((alert) => `${minute}:${alert.kind}`));
        state = result.state;
      }
      expect(kinds).toEqual(['5:problem', '65:reminder', '125:reminder']);
    });

    it('sends one flapping alert for a crash loop, merges the restarts that worked, and says when it settles', () => {
      const cfg = config(target());
      let state = run(cfg, EMPTY, running(10)).state;
      const kinds: string[] = [];
      // A crash every run for 6 runs, each fixed by a restart; then up for 7 runs.
      for (let index = 1; index <= 13; index += 1) {
        const at = NOW + index * 5 * MIN;
        const result =
          index <= 6 ? run(cfg, state, absent, started, at) : run(cfg, state, running(77, at), undefined, at);
        kinds.push(...result.alerts.map((alert) => `${index}:${alert.kind}`));
        state = result.state;
      }
      expect(kinds).toEqual(['1:problem', '2:problem', '3:flapping', '12:settled']);
      const settled = run(cfg, state, running(77), undefined, NOW + 14 * 5 * MIN);
      expect(settled.alerts).toEqual([]);
    });

    it('reports every flip of a flapping target that nothing can fix: a problem still there after a run, and its recovery', () => {
      const cfg = config(target({ start: null }));
      let state = run(cfg, EMPTY, running(10)).state;
      const kinds: string[] = [];
      for (let index = 1; index <= 8; index += 1) {
        const result = run(
          cfg,
          state,
          index % 2 === 1 ? absent : running(10),
          undefined,
          NOW + index * 5 * MIN,
        );
        kinds.push(...result.alerts.map((alert) => alert.kind));
        state = result.state;
      }
      expect(kinds).toEqual([
        'problem',
        'recovered',
        'problem',
        'recovered',
        'problem',
        'flapping',
        'recovered',
        'problem',
        'recovered',
      ]);
    });

    it('makes a target whose heartbeat says error `error`, alerting the message without a restart', () => {
      const cfg = config(target({ stateFile: '/srv/st', maxAgeMs: 20 * MIN }));
      const reporting: Observation = {
        kind: 'observed',
        target: 'bot',
        process: { kind: 'running', process: proc(10, NOW - 60 * MIN), count: 1 },
        file: {
          kind: 'present',
          mtimeMs: NOW - MIN,
          heartbeat: { status: 'error', message: 'db unreachable' },
        },
      };
      const result = run(cfg, EMPTY, reporting);
      expect(result.plan.actions).toEqual([]);
      expect(result.alerts).toMatchObject([
        { kind: 'problem', status: 'error', reason: 'reported an error: db unreachable', outcome: null },
      ]);
      const restarting = run(
        config(target({ stateFile: '/srv/st', maxAgeMs: 20 * MIN, restartOnError: true })),
        EMPTY,
        reporting,
        started,
      );
      expect(restarting.plan.actions).toMatchObject([{ kind: 'restart' }]);
    });
  });
});
