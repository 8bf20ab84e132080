/**
 * The cron path's arguments, read without yargs: loading yargs costs more than everything else a
 * healthy `check` does once node has started, and cron pays it 288 times a day.
 *
 * Only the plain spellings a crontab line uses are read here. Anything else (help, version,
 * unknown or repeated options, `--flag=value` for a boolean, `--json true`, `--`, options before
 * the command) returns null and goes through the full yargs CLI, so every argv either gets
 * exactly what yargs would give `check`, or is handed to yargs.
 */

/** What yargs gives the `check` command's `run` (the keys it reads). */
export interface CheckArgv {
  readonly config: string | undefined;
  readonly names: string[];
  readonly 'dry-run': boolean;
  readonly json: boolean;
  readonly verbose: boolean;
}

const BOOLEAN_FLAGS = new Set(['--dry-run', '--json', '--verbose']);
const CONFIG_FLAGS = new Set(['--config', '-c']);
// yargs reads `true`/`false` after a boolean option as its value, not as a positional.
const BOOLEAN_WORDS = new Set(['true', 'false']);

/** `check`'s arguments when `argv` is a plain `check ...` line; null when yargs must decide. */
export function parseCheckArgv(argv: readonly string[]): CheckArgv | null {
  if (argv[0] !== 'check') return null;
  let config: string | undefined;
  const names: string[] = [];
  const flags = new Set<string>();
  for (let index = 1; index < argv.length; index += 1) {
    const word = argv[index]!;
    let value: string | undefined;
    if (CONFIG_FLAGS.has(word)) {
      value = argv[index + 1];
      index += 1;
    } else if (word.startsWith('--config=')) {
      value = word.slice('--config='.length);
    } else if (BOOLEAN_FLAGS.has(word)) {
      if (flags.has(word) || BOOLEAN_WORDS.has(argv[index + 1] ?? '')) return null;
      flags.add(word);
      continue;
    } else if (word.length > 0 && !word.startsWith('-')) {
      names.push(word);
      continue;
    } else {
      return null;
    }
    // A missing, empty or dash-led value, or a second --config, is yargs' to interpret.
    if (config !== undefined || value === undefined || value === '' || value.startsWith('-')) return null;
    config = value;
  }
  return {
    config,
    names,
    'dry-run': flags.has('--dry-run'),
    json: flags.has('--json'),
    verbose: flags.has('--verbose'),
  };
}
