import { heartbeat } from '../sdk/heartbeat.js';
import { defineCommand } from './command.js';
import { CommandError, EXIT_NOT_UP, EXIT_OK } from './context.js';

/**
 * `cronwatch beat <file>`: the SDK's `heartbeat()` for programs written in shell. Needs no
 * config, and prints nothing when the heartbeat is written, so a cron job's mail stays empty.
 */
export const command = defineCommand({
  usage: 'beat <file>',
  describe: 'write a heartbeat to a state file (for targets written in shell)',
  builder: (args) =>
    args
      .positional('file', { type: 'string', demandOption: true, describe: 'the state_file of the target' })
      .option('fail', { type: 'boolean', default: false, describe: 'report an error (status "error")' })
      .option('message', { type: 'string', describe: 'said in the alert (with --fail) and by status' }),
  run: async (args) => {
    try {
      await heartbeat(args.file, {
        status: args.fail ? 'error' : 'ok',
        ...(args.message === undefined ? {} : { message: args.message }),
      });
    } catch (error) {
      throw new CommandError(`cronwatch: ${(error as Error).message}`, EXIT_NOT_UP, { cause: error });
    }
    return EXIT_OK;
  },
});
