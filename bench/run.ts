/**
 * `npm run bench`: what one cron run of `cronwatch check` costs, against what it replaces.
 *
 * Starts N cheap marked processes and a config watching all of them, then measures, interleaved
 * in one run: a healthy `check` as the crontab line runs it (node and the compiled entry), a
 * shell watchdog doing one `pgrep -f` per target, and a bare `node -e ''`. Then one `check` that
 * finds 50 dead targets and starts them, and monit over the same targets where it is installed.
 * Prints a Markdown table for the README's Performance section. Every process it starts carries
 * a marker unique to the run and is killed at the end, on Ctrl-C too.
 *
 *   npm run bench -- --sizes 10,100 --reps 7
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  breakdownTable,
  type HeadlineRow,
  headlineTable,
  measureHeadline,
  type StandIns,
  startStandIns,
} from './headline.js';
import {
  type Command,
  killRunning,
  median,
  peakRssBytes,
  type Run,
  run,
  type Series,
  summarize,
} from './measure.js';
import { findMonit, type MonitCost, measureMonit, monitVersion } from './monit.js';
import { killMarked, spawnSleepers, waitForCount } from './processes.js';

const ROOT = resolve(import.meta.dirname, '..');
const DEFAULT_ENTRY = 'dist/scripts/cronwatch.cjs';
const DEFAULT_SIZES = '10,100,1000';
const DEFAULT_REPS = '7';
const DEFAULT_PAIRS = '7';
const DEFAULT_PROFILES = '3';
/** The single target row is always measured: it is the one compared with a bare node. */
const SINGLE = 1;
/** One pgrep baseline run at 1,000 targets takes most of a minute; after this much, no more runs of it. */
const BASELINE_BUDGET_MS = 20_000;
const RESTART_TARGETS = 50;
const RESTART_ROUNDS = 3;
const START_GRACE_MS = 1000;
const MONIT_WINDOW_MS = 5000;
const PROCESS_WAIT_MS = 30_000;
const MIB = 1024 * 1024;
const GOAL_SPEEDUP_AT_1000 = 10;

interface Options {
  readonly entry: string;
  /** The sizes asked for; `sizes` adds the single target row. */
  readonly asked: readonly number[];
  readonly sizes: readonly number[];
  readonly reps: number;
  readonly pairs: number;
  readonly profiles: number;
  /** Only the headline rows (the crontab line on the realistic config), not the comparisons. */
  readonly headlineOnly: boolean;
}

interface Context extends Options {
  /** In every command line the bench starts, and in nothing else on the host. */
  readonly marker: string;
  readonly dir: string;
  /** What every measured command runs with: no NODE_OPTIONS (tsx's loader must not leak in). */
  readonly env: NodeJS.ProcessEnv;
  /** The one-minute load average when the bench started: other work on the host skews wall times. */
  readonly loadAtStart: number;
}

interface SizeResult {
  readonly targets: number;
  readonly check: Series;
  /** The same check with the config in JSON: what parsing YAML costs. */
  readonly json: Series;
  readonly baseline: Series;
  readonly bare: Series;
  readonly peakRssBytes: number;
  readonly monit: MonitCost | null;
}

interface RestartResult {
  readonly wallMs: readonly number[];
  readonly peakRssBytes: number;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      sizes: { type: 'string', default: DEFAULT_SIZES },
      reps: { type: 'string', default: DEFAULT_REPS },
      entry: { type: 'string', default: DEFAULT_ENTRY },
      pairs: { type: 'string', default: DEFAULT_PAIRS },
      profiles: { type: 'string', default: DEFAULT_PROFILES },
      'headline-only': { type: 'boolean', default: false },
    },
  });
  const sizes = values.sizes.split(',').map(Number);
  if (sizes.some((size) => !Number.isSafeInteger(size) || size < 1)) {
    throw new Error(`Expected --sizes to be positive integers separated by commas, got \`${values.sizes}\``);
  }
  const positive = (name: 'reps' | 'pairs' | 'profiles'): number => {
    const value = Number(values[name]);
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new Error(`Expected --${name} to be a positive integer, got \`${values[name]}\``);
    }
    return value;
  };
  const entry = resolve(ROOT, values.entry);
  if (!existsSync(entry)) throw new Error(`${entry} is missing: build it first (npm run build)`);
  return {
    entry,
    asked: [...new Set(sizes)].sort((a, b) => a - b),
    sizes: [...new Set([SINGLE, ...sizes])].sort((a, b) => a - b),
    reps: positive('reps'),
    pairs: positive('pairs'),
    profiles: positive('profiles'),
    headlineOnly: values['headline-only'],
  };
}

/** A config as the bench writes it: string values only. */
interface ConfigDocument {
  readonly state_dir: string;
  readonly defaults: Readonly<Record<string, string>>;
  readonly targets: readonly Readonly<Record<string, string>>[];
}

/** A YAML double-quoted scalar: JSON's string syntax is a subset of it. */
function yamlString(text: string): string {
  return JSON.stringify(text);
}

/** Writes `document` as `<dir>/cronwatch.yaml` and the same as `<dir>/cronwatch.json`; returns both paths. */
function writeConfigs(
  dir: string,
  document: ConfigDocument,
): { readonly yaml: string; readonly json: string } {
  const entries = (map: Readonly<Record<string, string>>, indent: string) =>
    Object.entries(map).map(([key, value]) => `${indent}${key}: ${yamlString(value)}`);
  const lines = [
    `state_dir: ${yamlString(document.state_dir)}`,
    'defaults:',
    ...entries(document.defaults, '  '),
    'targets:',
    ...document.targets.flatMap((target) =>
      entries(target, '    ').map((line, i) => (i === 0 ? `  - ${line.slice(4)}` : line)),
    ),
  ];
  const paths = { yaml: join(dir, 'cronwatch.yaml'), json: join(dir, 'cronwatch.json') };
  writeFileSync(paths.yaml, `${lines.join('\n')}\n`, { mode: 0o600 });
  writeFileSync(paths.json, JSON.stringify(document, null, 2), { mode: 0o600 });
  return paths;
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** A start command: a small node daemon whose command line ends with `name`. */
function idleCommand(name: string): string {
  return [process.execPath, join(ROOT, 'bench/fixtures/idle.mjs'), name].map(shellQuote).join(' ');
}

/** The command-line pattern of target `i` of a group; the same for cronwatch, pgrep and monit. */
function pattern(ctx: Context, group: string, index: number): string {
  return `${ctx.marker}-${group}${index}( |$)`;
}

function checkCommand(ctx: Context, config: string): Command {
  return { file: process.execPath, args: [ctx.entry, 'check', '--config', config], env: ctx.env, cwd: ROOT };
}

function expectSilentSuccess(result: Run, what: string): Run {
  if (result.status !== 0 || result.stdout !== '') {
    throw new Error(
      `Expected ${what} to exit 0 and print nothing, got exit ${result.status}:\n${result.stdout}${result.stderr}`,
    );
  }
  return result;
}

/** `check` over `count` targets against one `pgrep -f` each and a bare node, interleaved. */
async function measureSize(ctx: Context, count: number): Promise<SizeResult> {
  const dir = join(ctx.dir, `size-${count}`);
  mkdirSync(dir, { mode: 0o700 });
  const targets: Record<string, string>[] = [];
  const pgreps: string[] = [];
  for (let index = 0; index < count; index += 1) {
    targets.push({
      name: `t${index}`,
      match: pattern(ctx, 't', index),
      // Never run while all is well (a run that starts one fails the bench); marked all the same.
      start: idleCommand(`${ctx.marker}-t${index}`),
    });
    pgreps.push(`pgrep -f ${shellQuote(pattern(ctx, 't', index))} >/dev/null || echo 't${index} is down'`);
  }
  const configs = writeConfigs(dir, {
    state_dir: join(dir, 'state'),
    defaults: { start_grace: `${START_GRACE_MS}ms` },
    targets,
  });
  const script = join(dir, 'pgrep-watchdog.sh');
  writeFileSync(script, `${pgreps.join('\n')}\n`);

  const commands = {
    check: checkCommand(ctx, configs.yaml),
    json: checkCommand(ctx, configs.json),
    baseline: { file: '/bin/sh', args: [script], env: ctx.env, cwd: ROOT },
    bare: { file: process.execPath, args: ['-e', ''], env: ctx.env, cwd: ROOT },
  } as const;
  // The first run records every target as seen; the ones measured are the every-5-minutes kind.
  expectSilentSuccess(await run(commands.check), `the first check over ${count} targets`);
  const runs: Record<keyof typeof commands, Run[]> = { check: [], json: [], baseline: [], bare: [] };
  let baselineMs = 0;
  for (let rep = 0; rep < ctx.reps; rep += 1) {
    // Alternating the order cancels whatever the previous command leaves behind (caches, clock).
    const order =
      rep % 2 === 0
        ? (['check', 'bare', 'json', 'baseline'] as const)
        : (['baseline', 'json', 'bare', 'check'] as const);
    for (const name of order) {
      if (name === 'baseline' && runs.baseline.length > 0 && baselineMs > BASELINE_BUDGET_MS) continue;
      const result = expectSilentSuccess(await run(commands[name]), `${name} over ${count} targets`);
      runs[name].push(result);
      if (name === 'baseline') baselineMs += result.wallMs;
    }
  }
  const peak = await peakRssBytes(commands.check, dir);
  expectSilentSuccess(peak.run, `the memory run of check over ${count} targets`);

  const monit = findMonit();
  const monitCost =
    monit === null
      ? null
      : await measureMonit(
          monit,
          dir,
          ctx.marker,
          Array.from({ length: count }, (_, index) => ({
            name: `t${index}`,
            match: pattern(ctx, 't', index),
          })),
          MONIT_WINDOW_MS,
        );
  return {
    targets: count,
    check: summarize(runs.check),
    json: summarize(runs.json),
    baseline: summarize(runs.baseline),
    bare: summarize(runs.bare),
    peakRssBytes: peak.bytes,
    monit: monitCost,
  };
}

/** One `check` that finds 50 targets dead and starts them all, each given `start_grace` to prove itself. */
async function measureRestarts(ctx: Context): Promise<RestartResult> {
  const dir = join(ctx.dir, 'restart');
  mkdirSync(dir, { mode: 0o700 });
  const targets: Record<string, string>[] = [];
  for (let index = 0; index < RESTART_TARGETS; index += 1) {
    targets.push({
      name: `r${index}`,
      match: pattern(ctx, 'r', index),
      start: idleCommand(`${ctx.marker}-r${index}`),
    });
  }
  const configs = writeConfigs(dir, {
    state_dir: join(dir, 'state'),
    defaults: { start_grace: `${START_GRACE_MS}ms`, restart_limit: '100 in 1h' },
    targets,
  });
  const marked = `${ctx.marker}-r`;
  const command = checkCommand(ctx, configs.yaml);
  const wallMs: number[] = [];
  let peak = 0;
  // The rounds after the first find the targets down after having seen them up; the last one
  // measures memory and is not timed.
  for (let round = 0; round <= RESTART_ROUNDS; round += 1) {
    killMarked(marked);
    await waitForCount(marked, 0, PROCESS_WAIT_MS);
    const timed = round < RESTART_ROUNDS;
    const measured = timed ? { run: await run(command), bytes: 0 } : await peakRssBytes(command, dir);
    if (measured.run.status !== 0) {
      throw new Error(
        `Expected check to start all ${RESTART_TARGETS} targets, got exit ${measured.run.status}:\n${measured.run.stdout}${measured.run.stderr}`,
      );
    }
    await waitForCount(marked, RESTART_TARGETS, PROCESS_WAIT_MS);
    if (timed) wallMs.push(measured.run.wallMs);
    else peak = measured.bytes;
  }
  killMarked(marked);
  return { wallMs, peakRssBytes: peak };
}

function ms(value: number): string {
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  return `${value >= 10 ? Math.round(value) : value.toFixed(1)} ms`;
}

function times(value: number): string {
  return `${value >= 10 ? Math.round(value) : value.toFixed(value >= 1 ? 1 : 2)}x`;
}

function mib(bytes: number): string {
  return `${Math.round(bytes / MIB)} MB`;
}

/** `2.1x wall: met` for a ratio that must stay at or under `limit` (or over it, with `atLeast`). */
function verdict(ratio: number, limit: number, what: string, atLeast = false): string {
  const met = atLeast ? ratio >= limit : ratio <= limit;
  return `${times(ratio)} ${what}: ${met ? 'met' : 'NOT met'}`;
}

interface Monit {
  readonly version: string;
}

function monitCell(cost: MonitCost): string {
  return cost.kind === 'measured'
    ? ms(cost.cpuMsPerCycle)
    : `first cycle over ${cost.waitedMs / 1000} s (it scans /proc per target until it knows its pid)`;
}

function table(sizes: readonly SizeResult[], monit: Monit | null): string[] {
  const header = [
    'targets',
    'check wall',
    'check CPU',
    '÷ bare node (wall / CPU)',
    'CPU, JSON config',
    'pgrep wall',
    'pgrep CPU',
    'faster than pgrep (wall / CPU)',
    'check peak RSS',
    ...(monit === null ? [] : [`monit ${monit.version} CPU per cycle`]),
  ];
  const rows = sizes.map((size) => [
    size.targets.toLocaleString('en-US'),
    ms(size.check.wallMs),
    ms(size.check.cpuMs),
    `${times(size.check.wallMs / size.bare.wallMs)} / ${times(size.check.cpuMs / size.bare.cpuMs)}`,
    ms(size.json.cpuMs),
    ms(size.baseline.wallMs),
    ms(size.baseline.cpuMs),
    `${times(size.baseline.wallMs / size.check.wallMs)} / ${times(size.baseline.cpuMs / size.check.cpuMs)}`,
    mib(size.peakRssBytes),
    ...(size.monit === null ? [] : [monitCell(size.monit)]),
  ]);
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---:').join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ];
}

function report(
  ctx: Context,
  sizes: readonly SizeResult[],
  restarts: RestartResult,
  monit: Monit | null,
): string {
  const single = sizes.find((size) => size.targets === SINGLE)!;
  const thousand = sizes.find((size) => size.targets === 1000);
  const restartMedian = median(restarts.wallMs);
  const monitRss = sizes.flatMap((size) => (size.monit?.kind === 'measured' ? [size.monit.rssBytes] : []));
  const lines = [
    machineLine(ctx),
    `measured: \`node ${relative(ROOT, ctx.entry)} check --config cronwatch.yaml\` (the crontab line's form), every target up`,
    '',
    ...table(sizes, monit),
    '',
    `- bare \`node -e ''\`: ${ms(single.bare.wallMs)} wall, ${ms(single.bare.cpuMs)} CPU; each row's ratio is to the bare runs interleaved with it.`,
    `- pgrep: a shell script of one \`pgrep -f '<pattern>' >/dev/null || echo down\` per target. Runs per row: check ${ctx.reps}, pgrep ${sizes.map((size) => size.baseline.runs).join(', ')} (no new pgrep run after ${BASELINE_BUDGET_MS / 1000} s of them).`,
    '- wall: median; CPU: user + system of the process and its children, mean per run (kernel child accounting); peak RSS: maxrss of one more run.',
    '- CPU, JSON config: the same check with the same config written as JSON: the difference is what parsing YAML costs.',
    `- restart ${RESTART_TARGETS} dead targets (\`start_grace: ${START_GRACE_MS / 1000}s\`, one \`check\`): ${ms(restartMedian)} wall (median of ${restarts.wallMs.map(ms).join(', ')}), peak RSS ${mib(restarts.peakRssBytes)}; one at a time would take at least ${(RESTART_TARGETS * START_GRACE_MS) / 1000} s.`,
    monit === null
      ? '- monit: not installed here (Debian: `apt install monit`), not measured.'
      : `- monit ${monit.version}: the same targets as \`check process <name> matching "<pattern>"\`, 1 s cycles; CPU per cycle over whole cycles after its first, at least ${MONIT_WINDOW_MS / 1000} s of them; resident ${monitRss.map(mib).join(', ')}.`,
    '',
    'goal (the headline goals are above):',
    thousand === undefined
      ? `- 1,000 targets at least ${GOAL_SPEEDUP_AT_1000}x faster than pgrep: not measured (add 1000 to --sizes)`
      : `- 1,000 targets at least ${GOAL_SPEEDUP_AT_1000}x faster than pgrep: ${verdict(thousand.baseline.wallMs / thousand.check.wallMs, GOAL_SPEEDUP_AT_1000, 'wall', true)}; ${verdict(thousand.baseline.cpuMs / thousand.check.cpuMs, GOAL_SPEEDUP_AT_1000, 'CPU', true)}`,
    '',
  ];
  return lines.join('\n');
}

function measureHeadlineRow(ctx: Context, standIns: StandIns, count: number): Promise<HeadlineRow> {
  return measureHeadline(
    {
      entry: ctx.entry,
      dir: ctx.dir,
      pairs: ctx.pairs,
      profiles: ctx.profiles,
      pattern: (index) => pattern(ctx, 't', index),
    },
    standIns,
    count,
  );
}

function machineLine(ctx: Context): string {
  return `machine: ${availableParallelism()} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${mib(totalmem())} RAM, Linux ${release()}, node ${process.version}; load average ${ctx.loadAtStart.toFixed(2)} at the start, ${loadavg()[0]!.toFixed(2)} at the end`;
}

function headlineReport(ctx: Context, rows: readonly HeadlineRow[], standIns: StandIns): string {
  if (rows.length === 0) return '';
  const writes = rows[0]!.writes;
  const lines = [
    machineLine(ctx),
    '',
    '### The crontab line, on the config users run',
    '',
    ...headlineTable(rows),
    '',
    `- crontab line: the check line \`cronwatch crontab\` prints, run as cron runs it: \`env -i HOME LOGNAME PATH=/usr/bin:/bin SHELL=/bin/sh /bin/sh -c '<line>'\`; bare node: \`/bin/sh -c 'cd <dir> && node -e "" >> <log> 2>&1'\` the same way. ${rows[0]!.pairs} pairs per row, interleaved, the order alternating; times and the ratio are medians (the ratio of each pair, then the median).`,
    `- contract floor: \`bench/fixtures/floor.cjs\`, run with each pair the same way: what a healthy run must do with none of cronwatch's code (an abstract-socket lock, every process's command line and stat from /proc, a state file with fsync and rename, a start and an end ping over \`node:http\`); its ratio to the bare node is a floor for the crontab line's.`,
    '- the config: every target has a `match` (its own process, running) and a fresh `state_file` (`max_age: 1h`); Telegram is configured with a loopback Bot API stand-in; `heartbeat.url` is a loopback ping endpoint.',
    `- requests: ${rows.map((row) => `${row.pingsPerRun} heartbeat pings per run at ${row.targets}`).join(', ')}; Bot API requests in all: ${standIns.botRequests()}.`,
    `- peak RSS: ${rows[0]!.rssSource} over the row's runs; bare node: ${rows.map((row) => mib(row.bareRssBytes)).join(', ')}.`,
    writes === null
      ? '- writes: strace not installed, not counted.'
      : `- what one healthy run writes (strace -f): ${writes.filesWritten.length} file(s) opened for writing (${writes.filesWritten.join(', ')}), ${writes.fsyncs} fsync(s), ${writes.renames} rename(s), ${writes.links} link(s), ${writes.unlinks} unlink(s).`,
    '',
    '### Where a healthy run spends its time',
    '',
    ...breakdownTable(rows),
    '',
    `- from \`CRONWATCH_PROFILE=1\` (timers at each phase's end; ${ctx.profiles} runs per size, the crontab line without its \`>> log\`); exec: from the spawn of \`env -i\` to node's time origin; node start: to node's bootstrap; module load: to cronwatch's main; exit: from the last JavaScript to the child reaped.`,
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (process.platform !== 'linux') throw new Error('The bench reads /proc: it runs on Linux only');
  const options = parseOptions(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'cronwatch-bench-'));
  chmodSync(dir, 0o700);
  const { NODE_OPTIONS: _tsxLoader, CRONWATCH_CONFIG: _config, ...env } = process.env;
  const ctx: Context = {
    ...options,
    marker: `cwbench${randomBytes(6).toString('hex')}`,
    dir,
    env,
    loadAtStart: loadavg()[0]!,
  };
  const cleanUp = () => {
    killRunning();
    killMarked(ctx.marker);
    rmSync(dir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`bench: ${signal}: killing what it started and removing ${dir}\n`);
      cleanUp();
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    });
  }
  const standIns = await startStandIns();
  try {
    // The headline first, printed as soon as it is known; then the comparisons.
    const headline: HeadlineRow[] = [];
    let running = 0;
    const runSleepers = async (count: number) => {
      if (count <= running) return;
      spawnSleepers(`${ctx.marker}-t`, running, count);
      running = count;
      await waitForCount(`${ctx.marker}-t`, count, PROCESS_WAIT_MS);
    };
    for (const count of ctx.asked) {
      await runSleepers(count);
      process.stderr.write(`bench: ${count} target(s), the crontab line...\n`);
      headline.push(await measureHeadlineRow(ctx, standIns, count));
    }
    process.stdout.write(headlineReport(ctx, headline, standIns));
    if (ctx.headlineOnly) return;
    killMarked(`${ctx.marker}-t`);
    await waitForCount(`${ctx.marker}-t`, 0, PROCESS_WAIT_MS);
    running = 0;
    const sizes: SizeResult[] = [];
    for (const count of ctx.sizes) {
      await runSleepers(count);
      process.stderr.write(`bench: ${count} target(s), the comparisons...\n`);
      sizes.push(await measureSize(ctx, count));
    }
    killMarked(`${ctx.marker}-t`);
    await waitForCount(`${ctx.marker}-t`, 0, PROCESS_WAIT_MS);
    process.stderr.write(`bench: restarting ${RESTART_TARGETS} dead targets...\n`);
    const restarts = await measureRestarts(ctx);
    const monit = findMonit();
    process.stdout.write(
      report(ctx, sizes, restarts, monit === null ? null : { version: monitVersion(monit) }),
    );
  } finally {
    await standIns.close();
    cleanUp();
    await waitForCount(ctx.marker, 0, PROCESS_WAIT_MS).catch(() => undefined);
  }
}

await main();
