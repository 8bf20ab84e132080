import { describe, expect, it } from 'vitest';
import { conclude, decide } from '../../src/core/decide.js';
import type {
  ActionOutcome,
  Config,
  Observation,
  ProcessInfo,
  State,
  TargetConfig,
} from '../../src/core/types.js';

const NOW = 1_800_000_000_000;
const MIN = 60_000;

function target(overrides: Partial<TargetConfig> = {}): TargetConfig {
  return {
    name: 'bot',
    match: 'node bot',
    pidfile: null,
    start: 'node bot.js',
    stop: null,
    cwd: '/srv',
    env: {},
    log: '/srv/bot.log',
    startGraceMs: 1000,
    stopSignal: 'SIGTERM',
    stopTimeoutMs: 1000,
    stateFile: null,
    maxAgeMs: null,
    maxMemoryBytes: null,
    maxCpuPercent: null,
    forRuns: 1,
    restartLimit: null,
    restartSchedule: null,
    pingUrl: null,
    instances: 1,
    restartOnError: false,
    ...overrides,
  };
}

function config(...targets: TargetConfig[]): Config {
  return {
    file: '/srv/cronwatch.yaml',
    stateDir: '/srv/.cronwatch',
    intervalMs: 5 * MIN,
    host: 'box',
    channels: { telegram: null, webhook: null },
    reminderMs: 0,
    heartbeatUrl: null,
    metricsTextfile: null,
    targets,
    secretEnv: [],
  };
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
            status: 'paused',
            sinceMs: NOW - 10 * MIN,
            downSinceMs: null,
            reason: null,
            process: null,
            restartsMs: [],
            lastAlertMs: null,
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

    it('forgets targets that left the config', () => {
      const up = run(config(target()), EMPTY, running(10)).state;
      const other = target({ name: 'other' });
      const result = run(config(other), up, { ...running(12), target: 'other' });
      expect(Object.keys(result.state.targets)).toEqual(['other']);
    });
  });
});
