import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs, { type Argv } from 'yargs';
import { redact } from '../core/redact.js';
import type { Command, GlobalArgs } from './command.js';
import { COMMANDS } from './commands.js';
import { CommandError, EXIT_USAGE } from './context.js';

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
  return args.option('config', {
    alias: 'c',
    type: 'string',
    describe: 'config file (default: $CRONWATCH_CONFIG, then ./cronwatch.yaml)',
  });
}

/**
 * Parses `argv` (without node and the script) and runs one command. Returns the exit code;
 * the caller sets it, so every command ends in one place. Only the named command's module is
 * loaded; the others are described from the table in commands.ts.
 */
export async function main(argv: readonly string[]): Promise<number> {
  let exitCode = 0;
  let usageError: string | null = null;
  const chosen = argv.find((word) => !word.startsWith('-'));
  const entry = chosen === undefined ? undefined : COMMANDS[chosen];
  let cli = withConfig(yargs([...argv]))
    .scriptName('cronwatch')
    .usage(
      '$0 <command> [options]\n\nA process watchdog run by cron: restarts dead or hung targets and alerts you.',
    );
  if (entry !== undefined) {
    const command = (await entry.load()).command as Command<Record<string, unknown>>;
    cli = cli.command(command.usage, entry.describe, command.builder, async (args) => {
      exitCode = await command.run(args as unknown as Record<string, unknown> & GlobalArgs);
    });
  }
  for (const [name, other] of Object.entries(COMMANDS)) {
    if (other !== entry) cli = cli.command(name, other.describe);
  }
  cli = cli
    .demandCommand(1, `Name a command: ${Object.keys(COMMANDS).join(', ')} (see --help).`)
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
