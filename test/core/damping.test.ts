import { describe, expect, it } from 'vitest';
import {
  DAMPED_REPORT_MAX_MS,
  type DampInput,
  damp,
  dampedReportMs,
  FLAP_WINDOW_INTERVALS,
} from '../../src/core/damping.js';
import { conclude, decide } from '../../src/core/decide.js';
import type {
  ActionOutcome,
  Alert,
  Config,
  Damping,
  Observation,
  State,
  TargetConfig,
} from '../../src/core/types.js';
import { configWith, targetConfig } from '../support/config-fixtures.js';

const NOW = 1_800_000_000_000;
const MIN = 60_000;
const INTERVAL = 5 * MIN;
const WINDOW = FLAP_WINDOW_INTERVALS * INTERVAL;

const startFailed: ActionOutcome = {
  kind: 'start_failed',
  exitCode: 1,
  signal: null,
  error: null,
  logTail: ["Error: Cannot find module '/srv/worker.js'"],
};
const started: ActionOutcome = {
  kind: 'started',
  pid: 77,
  identity: { pid: 77, startTicks: 1, startTimeMs: NOW, cmdline: 'node worker.js' },
};

const flapping: Damping = {
  sinceMs: NOW - 10 * MIN,
  told: ['down'],
  merged: 2,
  mergedSinceMs: NOW - 10 * MIN,
  lastMergedReason: 'no process matches /worker/',
  lastChangeMs: NOW - 5 * MIN,
};

function problem(status: 'down' | 'stale', outcome: ActionOutcome | null): Alert {
  return { kind: 'problem', target: 'worker', status, reason: `${status} reason`, outcome, atMs: NOW };
}

/** One run of an already flapping, up target; override what the run saw. */
function input(overrides: Partial<DampInput> = {}): DampInput {
  return {
    target: 'worker',
    before: { problemsMs: [NOW - 10 * MIN, NOW - 5 * MIN], damping: flapping },
    final: { status: 'up', reason: null, sinceMs: NOW, downSinceMs: null, lastAlertMs: NOW - 10 * MIN },
    from: 'up',
    owed: null,
    planned: false,
    intervalMs: INTERVAL,
    reminderMs: 6 * 60 * MIN,
    nowMs: NOW,
    ...overrides,
  };
}

const kinds = (alerts: readonly Alert[]) => alerts.map((alert) => alert.kind);

describe('core', () => {
  describe('damp()', () => {
    it('merges a repeat that a restart fixed in the same run, counting it', () => {
      const result = damp(input({ owed: problem('down', started) }));
      expect(result.alerts).toEqual([]);
      expect(result.damping).toMatchObject({ merged: 3, lastChangeMs: NOW, lastMergedReason: 'down reason' });
    });

    it('always sends a failed start while flapping, with its log tail', () => {
      const owed = problem('down', startFailed);
      const result = damp(
        input({
          owed,
          final: { status: 'down', reason: 'x', sinceMs: NOW, downSinceMs: NOW, lastAlertMs: null },
        }),
      );
      expect(result.alerts).toEqual([owed]);
    });

    it('sends a problem still there when the run ends (nothing could fix it)', () => {
      const owed = problem('down', null);
      const result = damp(
        input({
          owed,
          final: { status: 'down', reason: 'x', sinceMs: NOW, downSinceMs: NOW, lastAlertMs: null },
        }),
      );
      expect(result.alerts).toEqual([owed]);
    });

    it('sends a kind of problem not told yet (a hung worker replaced), then merges its repeats', () => {
      const owed = problem('stale', started);
      const first = damp(input({ owed }));
      expect(first.alerts).toEqual([owed]);
      expect(first.damping?.told).toEqual(['down', 'stale']);
      const again = damp(input({ owed, before: { problemsMs: [], damping: first.damping } }));
      expect(again.alerts).toEqual([]);
      expect(again.damping?.merged).toBe(3);
    });

    it('sends a recovery: whoever was told "down" is told "up"', () => {
      const owed: Alert = { kind: 'recovered', target: 'worker', downForMs: 5 * MIN, pid: 77, atMs: NOW };
      expect(damp(input({ owed, from: 'down' })).alerts).toEqual([owed]);
    });

    it('says once when the target settled, with its state now and how many changes were merged', () => {
      const quiet = { ...flapping, lastChangeMs: NOW - WINDOW };
      const result = damp(
        input({
          before: { problemsMs: [], damping: quiet },
          final: { status: 'up', reason: null, sinceMs: NOW - WINDOW, downSinceMs: null, lastAlertMs: null },
        }),
      );
      expect(result.alerts).toEqual([
        {
          kind: 'settled',
          target: 'worker',
          status: 'up',
          reason: null,
          sinceMs: NOW - WINDOW,
          merged: 2,
          mergedSinceMs: flapping.sinceMs,
          flappingSinceMs: flapping.sinceMs,
          atMs: NOW,
        },
      ]);
      expect(result.damping).toBeNull();
    });

    it('settles down too, with the reason', () => {
      const quiet = { ...flapping, lastChangeMs: NOW - WINDOW };
      const result = damp(
        input({
          before: { problemsMs: [], damping: quiet },
          from: 'down',
          final: {
            status: 'down',
            reason: 'no process',
            sinceMs: NOW - WINDOW,
            downSinceMs: NOW - WINDOW,
            lastAlertMs: NOW - WINDOW,
          },
        }),
      );
      expect(result.alerts).toMatchObject([{ kind: 'settled', status: 'down', reason: 'no process' }]);
    });

    it('does not stay silent for ever when every run brings a new problem: reports what was merged', () => {
      let state: DampInput['before'] = {
        problemsMs: [],
        damping: { ...flapping, merged: 0, mergedSinceMs: NOW },
      };
      const sent: string[] = [];
      for (let at = NOW + INTERVAL; at <= NOW + 13 * 60 * MIN; at += INTERVAL) {
        const result = damp(input({ before: state, owed: problem('down', started), nowMs: at }));
        sent.push(...result.alerts.map((alert) => `${(at - NOW) / 60 / MIN}h:${alert.kind}`));
        state = result;
      }
      expect(sent).toEqual(['6h:still_flapping', '12h:still_flapping']);
    });

    it('reports merged changes every alerts.reminder when shorter, and every 6h when reminders are off', () => {
      expect(dampedReportMs(60 * MIN)).toBe(60 * MIN);
      expect(dampedReportMs(24 * 60 * MIN)).toBe(DAMPED_REPORT_MAX_MS);
      expect(dampedReportMs(0)).toBe(DAMPED_REPORT_MAX_MS);
    });

    it('reminds of an unresolved problem from when it began when no alert was ever sent about it', () => {
      const result = damp(
        input({
          before: { problemsMs: [], damping: null },
          from: 'down',
          final: {
            status: 'down',
            reason: 'no process',
            sinceMs: NOW - 6 * 60 * MIN,
            downSinceMs: NOW - 6 * 60 * MIN,
            lastAlertMs: null,
          },
        }),
      );
      expect(kinds(result.alerts)).toEqual(['reminder']);
    });
  });

  describe('conclude() with damping', () => {
    function target(name: string, overrides: Partial<TargetConfig> = {}): TargetConfig {
      return targetConfig({
        name,
        match: `node ${name}`,
        start: null,
        log: `/srv/${name}.log`,
        ...overrides,
      });
    }
    function config(targets: TargetConfig[], reminderMs = 0): Config {
      return configWith(targets, { intervalMs: INTERVAL, reminderMs });
    }
    function run(cfg: Config, state: State, observations: Observation[], nowMs: number) {
      const plan = decide({ observations, state, config: cfg, nowMs });
      return conclude({ plan, previous: state, outcomes: {}, config: cfg, nowMs });
    }
    const EMPTY: State = { version: 1, lastRunMs: null, targets: {} };

    it('sends a reminder for every unresolved problem when several targets are down', () => {
      const names = ['a', 'b', 'c', 'd', 'e'];
      const cfg = config(
        names.map((name) => target(name)),
        60 * MIN,
      );
      const absent = (name: string): Observation => ({
        kind: 'observed',
        target: name,
        process: { kind: 'absent', reason: 'no process' },
        file: null,
      });
      let state = run(cfg, EMPTY, names.map(absent), NOW).state;
      const reminders: string[] = [];
      for (let at = NOW + INTERVAL; at <= NOW + 60 * MIN; at += INTERVAL) {
        const result = run(cfg, state, names.map(absent), at);
        reminders.push(
          ...result.alerts.map((alert) => `${alert.kind}:${'target' in alert ? alert.target : ''}`),
        );
        state = result.state;
      }
      expect(reminders).toEqual(names.map((name) => `reminder:${name}`));
    });

    it('hears a late nightly job and its recovery even while it is flapping', () => {
      const job = target('backup', { match: null, stateFile: '/srv/backup.ok', maxAgeMs: 2 * INTERVAL });
      const cfg = config([job]);
      const touched = (mtimeMs: number): Observation => ({
        kind: 'observed',
        target: 'backup',
        process: null,
        file: { kind: 'present', mtimeMs },
      });
      // Late, on time, late, on time, late: flapping; then late for good, then on time again.
      const seen: string[] = [];
      let state = run(cfg, EMPTY, [touched(NOW)], NOW).state;
      let at = NOW;
      for (const late of [true, false, true, false, true, true, true, false]) {
        at += INTERVAL;
        const result = run(cfg, state, [touched(late ? at - 3 * INTERVAL : at)], at);
        seen.push(result.alerts.map((alert) => alert.kind).join('+') || '-');
        state = result.state;
      }
      expect(seen).toEqual([
        'problem',
        'recovered',
        'problem',
        'recovered',
        'problem+flapping',
        '-',
        '-',
        'recovered',
      ]);
    });
  });
});
