import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs, { type Argv } from 'yargs';
import { redact } from '../core/redact.js';
import { CommandError, configPath, EXIT_USAGE, loadConfig } from './context.js';

/** The package's version, found by walking up from this file (tsx or compiled dist/). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 4; depth += 1) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate))
      return (JSON.parse(readFileSync(candidate, 'utf8')) as { version: string }).version;
    dir = dirname(dir);
  }
  return 'unknown';
}

interface GlobalArgs {
  readonly config: string | undefined;
}

function withConfig(args: Argv): Argv<GlobalArgs> {
  return args.option('config', {
    alias: 'c',
    type: 'string',
    describe: 'config file (default: $CRONWATCH_CONFIG, then ./cronwatch.yaml)',
  });
}

const loadFor = (args: GlobalArgs) =>
  loadConfig(configPath(args.config, process.env, process.cwd()), process.env);

/**
 * Parses `argv` (without node and the script) and runs one command. Returns the exit code;
 * the caller sets it, so every command ends in one place.
 */
export async function main(argv: readonly string[]): Promise<number> {
  let exitCode = 0;
  let usageError: string | null = null;
  const cli = withConfig(yargs([...argv]))
    .scriptName('cronwatch')
    .usage(
      '$0 <command> [options]\n\nA process watchdog run by cron: restarts dead or hung targets and alerts you.',
    )
    .command(
      'check [names..]',
      'one run over all (or the named) targets: observe, restart, alert',
      (args) =>
        args
          .positional('names', { type: 'string', array: true, describe: 'only these targets' })
          .option('dry-run', {
            type: 'boolean',
            default: false,
            describe: 'observe and decide; change and send nothing',
          })
          .option('json', { type: 'boolean', default: false, describe: "print the run's report as JSON" })
          .option('verbose', {
            type: 'boolean',
            default: false,
            describe: 'say what was seen even when all is well',
          }),
      async (args) => {
        const { runCheck } = await import('./check.js');
        exitCode = await runCheck({
          config: await loadFor(args),
          names: args.names ?? [],
          dryRun: args['dry-run'],
          json: args.json,
          verbose: args.verbose,
        });
      },
    )
    .command(
      'status [names..]',
      'a table of every target: state, pid, uptime, memory, cpu, state-file age, restarts',
      (args) =>
        args
          .positional('names', { type: 'string', array: true, describe: 'only these targets' })
          .option('json', { type: 'boolean', default: false, describe: 'print as JSON' }),
      async (args) => {
        const { runStatus } = await import('./status.js');
        exitCode = await runStatus({ config: await loadFor(args), names: args.names ?? [], json: args.json });
      },
    )
    .command(
      'restart <name>',
      'stop and start a target now',
      (args) =>
        args
          .positional('name', { type: 'string', demandOption: true, describe: 'the target' })
          .option('reason', { type: 'string', describe: 'said in the alert' }),
      async (args) => {
        const { runRestart } = await import('./restart.js');
        exitCode = await runRestart({
          config: await loadFor(args),
          name: args.name,
          reason: args.reason ?? null,
        });
      },
    )
    .demandCommand(1, 'Name a command: check, status or restart (see --help).')
    .strict()
    .help()
    .alias('help', 'h')
    .version(packageVersion())
    .wrap(Math.min(110, process.stdout.columns ?? 80))
    .exitProcess(false)
    .fail((message, error) => {
      if (error !== undefined && error !== null) throw error;
      usageError = message;
    });
  try {
    await cli.parseAsync();
    if (usageError !== null) {
      process.stderr.write(`${await cli.getHelp()}\n\n${usageError}\n`);
      return EXIT_USAGE;
    }
    return exitCode;
  } catch (error) {
    if (error instanceof CommandError) {
      process.stderr.write(`${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
}

/** Entry for the scripts: runs `main` and sets the exit code; a crash is reported, not hidden. */
export async function runCli(argv: readonly string[]): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (error) {
    process.stderr.write(`cronwatch: unexpected error: ${redact((error as Error).stack ?? String(error))}\n`);
    process.exitCode = 1;
  }
}
