/** A command module, whatever its arguments: it exports a `Command` (see command.ts). */
export type LoadedCommand = { readonly command: unknown };

/**
 * Every command: its one-line description here (for `--help`), its code loaded on demand.
 * Adding a command is one line here and one module exporting `command`.
 */
export const COMMANDS: Readonly<
  Record<string, { readonly describe: string; readonly load: () => Promise<LoadedCommand> }>
> = {
  check: {
    describe: 'one run over all (or the named) targets: observe, restart, alert',
    load: () => import('./check.js'),
  },
  status: {
    describe: 'a table of every target: state, pid, uptime, memory, cpu, state-file age, restarts',
    load: () => import('./status.js'),
  },
  restart: { describe: 'stop and start a target now', load: () => import('./restart.js') },
  stop: {
    describe: 'stop the process and pause monitoring',
    load: async () => ({ command: (await import('./maintenance.js')).stop }),
  },
  start: {
    describe: 'start the process and resume monitoring',
    load: async () => ({ command: (await import('./maintenance.js')).start }),
  },
  pause: {
    describe: 'stop watching a target (maintenance); --for 30m resumes by itself',
    load: async () => ({ command: (await import('./maintenance.js')).pause }),
  },
  resume: {
    describe: 'watch a paused target again; lifts a backoff and clears the restart count',
    load: async () => ({ command: (await import('./maintenance.js')).resume }),
  },
};
