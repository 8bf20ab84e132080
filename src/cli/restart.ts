import { identityOf, startedState } from '../core/decide.js';
import type { TargetState } from '../core/types.js';
import { start, stopThenStart } from './act.js';
import { defineCommand, loadConfigFor } from './command.js';
import { CommandError, EXIT_NOT_UP, EXIT_OK, EXIT_USAGE } from './context.js';
import { changeTarget, refuseShared } from './one-target.js';

export const command = defineCommand({
  usage: 'restart <name>',
  describe: 'stop and start a target now',
  builder: (args) =>
    args
      .positional('name', { type: 'string', demandOption: true, describe: 'the target' })
      .option('reason', { type: 'string', describe: 'said in the alert' })
      .option('planned', {
        type: 'boolean',
        default: false,
        describe: 'a scheduled restart: sent silently, not an incident, not counted toward restart_limit',
      }),
  run: async (args) => {
    const config = await loadConfigFor(args, { warnUnset: true, writeCache: true });
    return changeTarget(config, args.name, async (context) => {
      const { target, previous, running, nowMs } = context;
      if (target.start === null) {
        throw new CommandError(
          `cronwatch: target ${target.name} has no start command; nothing to restart`,
          EXIT_USAGE,
        );
      }
      refuseShared(context, 'restarting');
      const outcome =
        running === null
          ? await start(target, config)
          : await stopThenStart(target, config, identityOf(running), running.pgid);
      const doneMs = Date.now();
      // A planned restart is routine; one that fails to bring the target back is an incident.
      const counted = !args.planned || outcome.kind !== 'started';
      const state: TargetState =
        outcome.kind === 'started'
          ? { ...startedState(previous, outcome.identity, doneMs, counted), lastAlertMs: doneMs }
          : {
              ...previous,
              status: 'down',
              sinceMs: previous.status === 'down' ? previous.sinceMs : doneMs,
              downSinceMs: previous.downSinceMs ?? nowMs,
              reason: `${args.planned ? 'planned ' : ''}restart by hand failed`,
              restartsMs: counted ? [...previous.restartsMs, doneMs] : previous.restartsMs,
              lastAlertMs: doneMs,
            };
      const line =
        outcome.kind === 'started'
          ? `${target.name}: restarted, pid ${outcome.pid}`
          : outcome.kind === 'stop_failed'
            ? `${target.name}: could not stop it: ${outcome.error}`
            : `${target.name}: start failed (${outcome.error ?? `exit code ${outcome.exitCode}`})\n${outcome.logTail.join('\n')}`;
      return {
        state,
        alert: {
          kind: 'restarted',
          target: target.name,
          reason: args.reason ?? null,
          planned: args.planned,
          outcome,
          atMs: doneMs,
        },
        silent: args.planned && outcome.kind === 'started',
        lines: [line],
        exitCode: outcome.kind === 'started' ? EXIT_OK : EXIT_NOT_UP,
      };
    });
  },
});
