/**
 * Maintenance by hand: `pause`/`resume` stop and resume watching a target; `stop`/`start`
 * also stop or start its process. Each is done under the run lock and sent as a silent alert.
 */
import { identityOf, startedState } from '../core/decide.js';
import type { TargetState } from '../core/types.js';
import { formatDuration, parseDurationMs } from '../core/units.js';
import { start as startTarget, stop as stopTarget } from './act.js';
import { defineCommand, loadConfigFor } from './command.js';
import { CommandError, EXIT_NOT_UP, EXIT_OK, EXIT_USAGE } from './context.js';
import { changeTarget, refuseShared, whoAmI } from './one-target.js';

/** What resuming forgives: the backoff, the restart count, the limit counters. */
function resumed(previous: TargetState): TargetState {
  return {
    ...previous,
    pause: null,
    backoff: null,
    restartsMs: [],
    limitRuns: 0,
    problemsMs: [],
    damping: null,
  };
}

export const pause = defineCommand({
  usage: 'pause <name>',
  describe: 'stop watching a target (maintenance)',
  builder: (args) =>
    args
      .positional('name', { type: 'string', demandOption: true, describe: 'the target' })
      .option('for', { type: 'string', describe: 'resume by itself after this long, e.g. 30m' })
      .option('reason', { type: 'string', describe: 'shown by status and said in the alert' }),
  run: async (args) => {
    const forMs = args.for === undefined ? null : parseDurationMs(args.for);
    if (args.for !== undefined && (forMs === null || forMs <= 0)) {
      throw new CommandError(
        `cronwatch: --for: expected a duration like 30m or 2h, got "${args.for}"`,
        EXIT_USAGE,
      );
    }
    const config = await loadConfigFor(args, { warnUnset: true, writeCache: true });
    return changeTarget(config, args.name, async ({ target, previous, nowMs }) => {
      const untilMs = forMs === null ? null : nowMs + forMs;
      const by = whoAmI();
      const reason = args.reason ?? null;
      return {
        state: {
          ...previous,
          status: 'paused',
          sinceMs: nowMs,
          pause: { by, reason, untilMs },
          lastAlertMs: nowMs,
        },
        alert: {
          kind: 'maintenance',
          target: target.name,
          action: 'paused',
          by,
          reason,
          untilMs,
          pid: null,
          atMs: nowMs,
        },
        silent: true,
        lines: [
          `${target.name}: paused${forMs === null ? ' until resumed' : ` for ${formatDuration(forMs)}`}`,
        ],
        exitCode: EXIT_OK,
      };
    });
  },
});

export const resume = defineCommand({
  usage: 'resume <name>',
  describe: 'watch a paused target again; also lifts a backoff and clears the restart count',
  builder: (args) => args.positional('name', { type: 'string', demandOption: true, describe: 'the target' }),
  run: async (args) => {
    const config = await loadConfigFor(args, { warnUnset: true, writeCache: true });
    return changeTarget(config, args.name, async ({ target, previous, nowMs }) => {
      const by = whoAmI();
      // Recorded as paused, so that the next run finding it up says nothing (paused -> up).
      const state: TargetState = {
        ...resumed(previous),
        status: 'paused',
        sinceMs: nowMs,
        lastAlertMs: nowMs,
      };
      return {
        state,
        alert: {
          kind: 'maintenance',
          target: target.name,
          action: 'resumed',
          by,
          reason: null,
          untilMs: null,
          pid: null,
          atMs: nowMs,
        },
        silent: true,
        lines: [`${target.name}: resumed; the next check watches it again`],
        exitCode: EXIT_OK,
      };
    });
  },
});

export const stop = defineCommand({
  usage: 'stop <name>',
  describe: 'stop the process and pause monitoring',
  builder: (args) =>
    args
      .positional('name', { type: 'string', demandOption: true, describe: 'the target' })
      .option('reason', { type: 'string', describe: 'shown by status and said in the alert' }),
  run: async (args) => {
    const config = await loadConfigFor(args, { warnUnset: true, writeCache: true });
    return changeTarget(config, args.name, async (context) => {
      const { target, previous, running } = context;
      refuseShared(context, 'stopping');
      const by = whoAmI();
      const reason = args.reason ?? null;
      const stopped =
        running === null ? null : await stopTarget(target, config, identityOf(running), running.pgid);
      if (stopped?.kind === 'failed') {
        return {
          state: previous,
          alert: null,
          silent: true,
          lines: [`${target.name}: could not stop pid ${running?.pid}: ${stopped.error}`],
          exitCode: EXIT_NOT_UP,
        };
      }
      const doneMs = Date.now();
      return {
        state: {
          ...previous,
          status: 'paused',
          sinceMs: doneMs,
          pause: { by, reason, untilMs: null },
          lastAlertMs: doneMs,
        },
        alert: {
          kind: 'maintenance',
          target: target.name,
          action: 'stopped',
          by,
          reason,
          untilMs: null,
          pid: running?.pid ?? null,
          atMs: doneMs,
        },
        silent: true,
        lines: [
          running === null
            ? `${target.name}: was not running; monitoring paused`
            : `${target.name}: stopped pid ${running.pid}; monitoring paused (cronwatch start ${target.name} to bring it back)`,
        ],
        exitCode: EXIT_OK,
      };
    });
  },
});

export const start = defineCommand({
  usage: 'start <name>',
  describe: 'start the process and resume monitoring',
  builder: (args) => args.positional('name', { type: 'string', demandOption: true, describe: 'the target' }),
  run: async (args) => {
    const config = await loadConfigFor(args, { warnUnset: true, writeCache: true });
    return changeTarget(config, args.name, async ({ target, previous, running, nowMs }) => {
      if (target.start === null && running === null) {
        throw new CommandError(`cronwatch: target ${target.name} has no start command`, EXIT_USAGE);
      }
      const by = whoAmI();
      const base = resumed(previous);
      if (running !== null) {
        return {
          state: { ...base, status: 'up', sinceMs: nowMs, downSinceMs: null, process: identityOf(running) },
          alert: null,
          silent: true,
          lines: [`${target.name}: already running as pid ${running.pid}; monitoring resumed`],
          exitCode: EXIT_OK,
        };
      }
      const outcome = await startTarget(target, config);
      const doneMs = Date.now();
      if (outcome.kind !== 'started') {
        return {
          state: {
            ...base,
            status: 'down',
            sinceMs: doneMs,
            downSinceMs: doneMs,
            reason: 'start by hand failed',
            lastAlertMs: doneMs,
          },
          alert: {
            kind: 'restarted',
            target: target.name,
            reason: 'started by hand',
            planned: false,
            outcome,
            atMs: doneMs,
          },
          silent: false,
          lines: [`${target.name}: start failed; monitoring resumed`],
          exitCode: EXIT_NOT_UP,
        };
      }
      return {
        state: { ...startedState(base, outcome.identity, doneMs, false), lastAlertMs: doneMs },
        alert: {
          kind: 'maintenance',
          target: target.name,
          action: 'started',
          by,
          reason: null,
          untilMs: null,
          pid: outcome.pid,
          atMs: doneMs,
        },
        silent: true,
        lines: [`${target.name}: started, pid ${outcome.pid}; monitoring resumed`],
        exitCode: EXIT_OK,
      };
    });
  },
});
