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
  summary: {
    describe: 'health report over --since 24h: uptime, restarts, alerts per target; runs made and missed',
    load: () => import('./summary.js'),
  },
  'test-alert': {
    describe: 'send a test message through every channel; say per channel whether it was delivered',
    load: () => import('./test-alert.js'),
  },
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
  crontab: {
    describe: 'print the crontab block for this config; --install / --remove it in your crontab',
    load: () => import('./crontab.js'),
  },
  doctor: {
    describe: 'check the setup, one line per check; exits 1 when any fails',
    load: () => import('./doctor/index.js'),
  },
  beat: {
    describe: 'write a heartbeat to a state file (for targets written in shell)',
    load: () => import('./beat.js'),
  },
  healthchecks: {
    describe: 'sync: create or update the healthchecks checks of this host and its targets',
    load: () => import('./healthchecks.js'),
  },
};
