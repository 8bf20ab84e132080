import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Argv } from 'yargs';
import { parseCheckArgv } from './check-argv.js';
import type { Command, GlobalArgs } from './command.js';
import { COMMANDS } from './commands.js';
import { EXIT_USAGE } from './context.js';
import { runCommand, runEntry } from './entry.js';
import { mark } from './profile.js';

/** A command whatever its arguments, as the dispatcher sees it. */
type AnyCommand = Command<Record<string, unknown>>;

/** What yargs reports while it parses. */
export interface CliHandlers {
  /** The command chosen and its arguments; not yet validated, so not to be run from here. */
  readonly chosen: (command: AnyCommand, args: Record<string, unknown> & GlobalArgs) => void;
  /** Bad usage: yargs' message, e.g. an unknown option. */
  readonly fail: (message: string) => void;
}

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

function withConfig(args: Argv): Argv<GlobalArgs> {
  return args
    .option('config', {
      alias: 'c',
      type: 'string',
      describe: 'config file (default: $CRONWATCH_CONFIG, then ./cronwatch.yaml)',
    })
    .option('verbose', {
      type: 'boolean',
      describe: 'when cronwatch itself fails, print the stack too',
    });
}

/**
 * The full yargs CLI over `argv`. Only the named command's module is loaded; the others are
 * described from the table in commands.ts.
 */
export async function buildCli(argv: readonly string[], handlers: CliHandlers): Promise<Argv> {
  const { default: yargs } = await import('yargs');
  const chosen = argv.find((word) => !word.startsWith('-'));
  const entry = chosen === undefined ? undefined : COMMANDS[chosen];
  let cli = withConfig(yargs([...argv]))
    .scriptName('cronwatch')
    .usage(
      '$0 <command> [options]\n\nA process watchdog run by cron: restarts dead or hung targets and alerts you.',
    );
  if (entry !== undefined) {
    const command = (await entry.load()).command as AnyCommand;
    cli = cli.command(command.usage, entry.describe, command.builder, (args) =>
      handlers.chosen(command, args as unknown as Record<string, unknown> & GlobalArgs),
    );
  }
  for (const [name, other] of Object.entries(COMMANDS)) {
    if (other !== entry) cli = cli.command(name, other.describe);
  }
  return cli
    .demandCommand(1, `Name a command: ${Object.keys(COMMANDS).join(', ')} (see --help).`)
    .strict()
    .help()
    .alias('help', 'h')
    .version(packageVersion())
    .wrap(Math.min(110, process.stdout.columns ?? 80))
    .exitProcess(false)
    .fail((message, error) => {
      if (error !== undefined && error !== null) throw error;
      handlers.fail(message);
    });
}

/**
 * Runs the command yargs chose only once it has validated everything: yargs calls a command's
 * handler before its strict check of unknown options, and `check --dryrun` must not be a real run.
 */
async function runWithYargs(argv: readonly string[]): Promise<number> {
  const parsed: { chosen?: Parameters<CliHandlers['chosen']>; usageError?: string } = {};
  const cli = await buildCli(argv, {
    chosen: (...chosen) => {
      parsed.chosen = chosen;
    },
    fail: (message) => {
      parsed.usageError = message;
    },
  });
  await cli.parseAsync();
  if (parsed.usageError !== undefined) {
    process.stderr.write(`${await cli.getHelp()}\n\n${parsed.usageError}\n`);
    return EXIT_USAGE;
  }
  if (parsed.chosen === undefined) return 0; // --help or --version, printed by yargs
  const [command, args] = parsed.chosen;
  return command.run(args);
}

/**
 * Runs the one command `argv` (without node and the script) names. A plain `check` line, what
 * cron runs, skips yargs (see check-argv.ts); everything else goes through it.
 */
async function dispatch(argv: readonly string[]): Promise<number> {
  mark('module load');
  const check = parseCheckArgv(argv);
  if (check === null) return runWithYargs(argv);
  const { command } = (await COMMANDS.check!.load()) as typeof import('./check.js');
  return command.run(check);
}

/** Parses `argv` and runs one command. Returns the exit code; the caller sets it. */
export function main(argv: readonly string[]): Promise<number> {
  return runCommand(argv, dispatch);
}

/** Entry for the scripts and the full CLI's bundle: runs one command and sets the exit code. */
export function runCli(argv: readonly string[]): Promise<void> {
  return runEntry(argv, dispatch);
}
