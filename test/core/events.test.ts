import { describe, expect, it } from 'vitest';
import { effectiveStatus, NEW_TARGET, type Plan } from '../../src/core/decide.js';
import { checkEvents, parseEvent, targetChangeEvents } from '../../src/core/events.js';
import type { ActionOutcome, Alert, State, TargetState } from '../../src/core/types.js';

const AT_MS = Date.UTC(2024, 4, 1, 12, 0, 0);

function targetState(overrides: Partial<TargetState>): TargetState {
  return { ...NEW_TARGET, ...overrides };
}

describe('core', () => {
  describe('checkEvents()', () => {
    it('logs the flip seen, the restart, the flip it made and the alert', () => {
      const plan: Plan = {
        verdicts: [{ target: 'web', status: 'down', reason: 'no process', pid: null }],
        actions: [],
        flips: [{ target: 'web', from: 'up', to: 'down', reason: 'no process', atMs: AT_MS }],
        alerts: [],
        state: { version: 1, lastRunMs: null, targets: { web: targetState({ status: 'down' }) } },
      };
      const started: ActionOutcome = {
        kind: 'started',
        pid: 42,
        identity: { pid: 42, startTicks: 1, startTimeMs: AT_MS, cmdline: 'node web.js' },
      };
      const final: State = {
        version: 1,
        lastRunMs: AT_MS + 3000,
        targets: { web: targetState({ status: 'up' }) },
      };
      const alert: Alert = {
        kind: 'problem',
        target: 'web',
        status: 'down',
        reason: 'no process',
        outcome: started,
        atMs: AT_MS + 3000,
      };
      expect(
        checkEvents({ plan, outcomes: { web: started }, final, alerts: [alert], concludedMs: AT_MS + 3000 }),
      ).toEqual([
        { kind: 'flip', atMs: AT_MS, target: 'web', from: 'up', to: 'down', reason: 'no process' },
        { kind: 'restart', atMs: AT_MS + 3000, target: 'web', planned: false, ok: true },
        {
          kind: 'flip',
          atMs: AT_MS + 3000,
          target: 'web',
          from: 'down',
          to: 'up',
          reason: 'started by cronwatch',
        },
        { kind: 'alert', atMs: AT_MS + 3000, alert: 'problem', target: 'web' },
      ]);
    });
  });

  describe('targetChangeEvents()', () => {
    it('logs a planned restart as planned, with no flip when the target stays up', () => {
      const outcome: ActionOutcome = {
        kind: 'started',
        pid: 7,
        identity: { pid: 7, startTicks: 1, startTimeMs: AT_MS, cmdline: 'x' },
      };
      const events = targetChangeEvents({
        target: 'web',
        before: targetState({ status: 'up' }),
        after: targetState({ status: 'up' }),
        alert: { kind: 'restarted', target: 'web', reason: null, planned: true, outcome, atMs: AT_MS },
        atMs: AT_MS,
      });
      expect(events).toEqual([
        { kind: 'restart', atMs: AT_MS, target: 'web', planned: true, ok: true },
        { kind: 'alert', atMs: AT_MS, alert: 'restarted', target: 'web' },
      ]);
    });

    it('logs a pause as a flip to paused', () => {
      const pause = { by: 'ops', reason: 'deploy', untilMs: null };
      expect(effectiveStatus(targetState({ status: 'up', pause }))).toBe('paused');
      expect(
        targetChangeEvents({
          target: 'web',
          before: targetState({ status: 'up' }),
          after: targetState({ status: 'up', pause }),
          alert: null,
          atMs: AT_MS,
        }),
      ).toEqual([{ kind: 'flip', atMs: AT_MS, target: 'web', from: 'up', to: 'paused', reason: 'deploy' }]);
    });
  });

  describe('parseEvent()', () => {
    it('reads back what was written and refuses what is not an event', () => {
      const event = { kind: 'run_start', atMs: AT_MS, rid: 'r' };
      expect(parseEvent(JSON.parse(JSON.stringify(event)))).toEqual(event);
      expect(parseEvent({ kind: 'run_start', atMs: 'soon', rid: 'r' })).toBeNull();
      expect(parseEvent({ kind: 'something_new', atMs: AT_MS })).toBeNull();
      expect(parseEvent([1])).toBeNull();
    });
  });
});
