/**
 * The headline row: the config users actually run, run the way cron runs it. Each target has a
 * `match` and a fresh `state_file`, Telegram is configured (with nothing to send), and
 * `heartbeat.url` pings a loopback stand-in. The command is the crontab's own check line, as
 * `cronwatch crontab` prints it, given to `/bin/sh -c` under `env -i` with cron's environment;
 * each run is paired with a bare `node -e ''` started the same way, in alternating order.
 *
 * Peak RSS comes from the kernel: `/usr/bin/time -f %M` (GNU time; maxrss from wait4, which
 * covers the shell and the node it waited for) wraps both commands of every pair, so both pay
 * the same wrapper; without it, the `--import` hook `fixtures/peak-rss.mjs` measures an extra run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { type Command, median, type Run, run } from './measure.js';

const GNU_TIME = '/usr/bin/time';
/** cron's environment for a job (Debian's cron: these four, PATH its default). */
const CRON_PATH = '/usr/bin:/bin';
const MIB = 1024 * 1024;

/** Goals: the crontab line over a bare node, per target count; and peak memory at 1,000. */
export const RATIO_GOALS: ReadonlyMap<number, number> = new Map([
  [10, 1.25],
  [100, 1.5],
  [1000, 2.5],
]);
export const GOAL_PEAK_RSS_TARGETS = 1000;
export const GOAL_PEAK_RSS_BYTES = 64 * MIB;

export interface HeadlineOptions {
  readonly entry: string;
  readonly dir: string;
  readonly pairs: number;
  /** Runs with `CRONWATCH_PROFILE=1` for the breakdown. */
  readonly profiles: number;
  /** The command-line pattern of target `index`: the bench's sleepers. */
  readonly pattern: (index: number) => string;
}

/**
 * Loopback stand-ins: the Bot API (nothing should reach it), the heartbeat's ping endpoint, and
 * the one the contract's floor (fixtures/floor.cjs) pings, counted apart.
 */
export interface StandIns {
  readonly apiRoot: string;
  readonly heartbeatUrl: string;
  readonly floorUrl: string;
  readonly botRequests: () => number;
  readonly pings: () => number;
  readonly close: () => Promise<void>;
}

export async function startStandIns(): Promise<StandIns> {
  let botRequests = 0;
  let pings = 0;
  const server: Server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      if (request.url?.startsWith('/bot')) {
        botRequests += 1;
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{"ok":true,"result":{"message_id":1}}');
      } else {
        if (!request.url?.startsWith('/floor/')) pings += 1;
        response.writeHead(200, { 'content-type': 'text/plain' });
        response.end('OK');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    apiRoot: `http://127.0.0.1:${port}`,
    heartbeatUrl: `http://127.0.0.1:${port}/ping/cronwatch-bench`,
    floorUrl: `http://127.0.0.1:${port}/floor/cronwatch-bench`,
    botRequests: () => botRequests,
    pings: () => pings,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Phase {
  readonly name: string;
  readonly ms: number;
}

export interface HeadlineRow {
  readonly targets: number;
  readonly lineMs: number;
  readonly bareMs: number;
  /** Median of the pairs' ratios. */
  readonly ratio: number;
  /** The contract's floor (fixtures/floor.cjs) run with each pair, and its ratio to the bare node. */
  readonly floorMs: number;
  readonly floorRatio: number;
  readonly peakRssBytes: number;
  readonly bareRssBytes: number;
  /** How peak RSS was measured. */
  readonly rssSource: string;
  readonly pairs: number;
  /** Heartbeat pings per run, and Bot API requests in all. */
  readonly pingsPerRun: number;
  readonly botRequests: number;
  /** Median per phase over the profiled runs, in the order a run goes through them. */
  readonly phases: readonly Phase[];
  readonly profiledWallMs: number;
  /** What one healthy run wrote, from strace; null without strace. */
  readonly writes: Writes | null;
}

function yamlString(text: string): string {
  return JSON.stringify(text);
}

function configText(
  stateDir: string,
  standIns: StandIns,
  targets: number,
  options: HeadlineOptions,
  files: string,
): string {
  const lines = [
    `state_dir: ${yamlString(stateDir)}`,
    'interval: 5m',
    'channels:',
    '  telegram:',
    '    token: "123456789:bench-token-not-a-secret"',
    '    chat_id: "42"',
    `    api_root: ${yamlString(standIns.apiRoot)}`,
    'heartbeat:',
    `  url: ${yamlString(standIns.heartbeatUrl)}`,
    'defaults:',
    '  max_age: 1h',
    '  start_grace: 1s',
    'targets:',
  ];
  for (let index = 0; index < targets; index += 1) {
    lines.push(
      `  - name: t${index}`,
      `    match: ${yamlString(options.pattern(index))}`,
      // Never run while all is well (a run that starts one fails the bench).
      '    start: "false"',
      `    state_file: ${yamlString(join(files, `t${index}.state`))}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The check line of the crontab block `cronwatch crontab` prints, without its schedule. */
function crontabCheckLine(entry: string, config: string, env: NodeJS.ProcessEnv): string {
  const block = execFileSync(process.execPath, [entry, 'crontab', '--config', config], {
    encoding: 'utf8',
    env,
  });
  const line = block.split('\n').find((candidate) => / check /.test(candidate) && !candidate.startsWith('#'));
  if (line === undefined) throw new Error(`Expected a check line in the crontab block, got:\n${block}`);
  return line.split(' ').slice(5).join(' ');
}

function cronEnv(): string[] {
  const user = userInfo();
  return [`HOME=${user.homedir}`, `LOGNAME=${user.username}`, `PATH=${CRON_PATH}`, 'SHELL=/bin/sh'];
}

/** `line` as cron runs it: `/bin/sh -c` under cron's environment alone, wrapped in GNU time when present. */
function asCron(
  line: string,
  cwd: string,
  rssFile: string | null,
  extraEnv: readonly string[] = [],
): Command {
  const time = rssFile === null ? [] : [GNU_TIME, '-f', '%M', '-o', rssFile];
  return {
    file: '/usr/bin/env',
    args: ['-i', ...cronEnv(), ...extraEnv, ...time, '/bin/sh', '-c', line],
    env: {},
    cwd,
  };
}

function readRssKiB(file: string): number {
  // GNU time writes "Command exited with non-zero status" first when it did; the number is last.
  const last = readFileSync(file, 'utf8').trim().split('\n').at(-1) ?? '';
  const kib = Number(last);
  if (!Number.isFinite(kib) || kib <= 0)
    throw new Error(`Expected a maxrss in KiB in ${file}, got \`${last}\``);
  return kib;
}

function expectHealthy(result: Run, log: string, logBytes: number, what: string): void {
  const grown = existsSync(log) ? statSync(log).size : 0;
  if (result.status !== 0 || grown !== logBytes) {
    const said = existsSync(log) ? readFileSync(log, 'utf8').slice(logBytes) : '';
    throw new Error(
      `Expected ${what} to exit 0 and log nothing, got exit ${result.status}:\n${said}${result.stderr}`,
    );
  }
}

/** Phase timings from a profiled run's stderr, with exec (spawn to node) and exit (JS end to reaped). */
function phasesOf(result: Run): { readonly phases: Phase[]; readonly wallMs: number } {
  const phases: Phase[] = [];
  let origin = Number.NaN;
  let end = Number.NaN;
  for (const line of result.stderr.split('\n')) {
    const found = /^cronwatch-profile (\s*)(.+) (\S+)$/.exec(line);
    if (found === null) continue;
    const [, indent, name, value] = found as unknown as [string, string, string, string];
    if (name === 'origin') origin = Number(value);
    else if (name === 'end') end = Number(value);
    else phases.push({ name: indent === '' ? name : `  ${name}`, ms: Number(value) });
  }
  if (Number.isNaN(origin) || Number.isNaN(end)) {
    throw new Error(`Expected profile lines on stderr, got:\n${result.stderr}`);
  }
  return {
    phases: [
      { name: 'exec (fork, env, sh, to node)', ms: origin - result.startedEpochMs },
      ...phases,
      { name: 'exit (last JS to reaped)', ms: result.endedEpochMs - end },
    ],
    wallMs: result.wallMs,
  };
}

function medianPhases(runs: readonly Phase[][]): Phase[] {
  return runs[0]!.map((phase, index) => ({
    name: phase.name,
    ms: median(runs.map((one) => one[index]?.ms ?? 0)),
  }));
}

/** What one run wrote: files opened for writing, fsyncs, renames, links and unlinks. */
export interface Writes {
  readonly filesWritten: readonly string[];
  readonly fsyncs: number;
  readonly renames: number;
  readonly links: number;
  readonly unlinks: number;
}

function findStrace(): string | null {
  for (const candidate of ['/usr/bin/strace', '/bin/strace']) if (existsSync(candidate)) return candidate;
  return null;
}

/** One healthy run under strace: what it wrote. */
async function countWrites(
  line: string,
  cwd: string,
  scratch: string,
  stateDir: string,
): Promise<Writes | null> {
  const strace = findStrace();
  if (strace === null) return null;
  const out = join(scratch, 'strace.out');
  rmSync(out, { force: true });
  const command = asCron(line, cwd, null);
  const log = join(stateDir, 'cron.log');
  const logBytes = existsSync(log) ? statSync(log).size : 0;
  const traced = await run({
    ...command,
    args: [
      '-i',
      ...cronEnv(),
      strace,
      '-f',
      '-qq',
      '-o',
      out,
      '-e',
      'trace=openat,open,creat,fsync,fdatasync,rename,renameat,renameat2,link,linkat,unlink,unlinkat',
      '/bin/sh',
      '-c',
      line,
    ],
  });
  expectHealthy(traced, log, logBytes, 'the check run under strace');
  const files: string[] = [];
  let fsyncs = 0;
  let renames = 0;
  let links = 0;
  let unlinks = 0;
  for (const entry of readFileSync(out, 'utf8').split('\n')) {
    const call = /^\d+\s+(\w+)\((.*)\)\s+=\s+(-?\d+)/.exec(entry);
    if (call === null) continue;
    const [, name, args] = call as unknown as [string, string, string];
    if (name === 'fsync' || name === 'fdatasync') fsyncs += 1;
    else if (name.startsWith('rename')) renames += 1;
    else if (name.startsWith('link')) links += 1;
    else if (name.startsWith('unlink')) unlinks += 1;
    else if (/O_WRONLY|O_RDWR|O_CREAT/.test(args)) {
      const path = /"([^"]*)"/.exec(args)?.[1] ?? '?';
      if (!path.startsWith('/dev/'))
        files.push(path.startsWith(stateDir) ? path.slice(stateDir.length + 1) : path);
    }
  }
  return { filesWritten: files, fsyncs, renames, links, unlinks };
}

/** The headline row for `targets` targets, whose processes are already running. */
export async function measureHeadline(
  options: HeadlineOptions,
  standIns: StandIns,
  targets: number,
): Promise<HeadlineRow> {
  const dir = join(options.dir, `headline-${targets}`);
  const files = join(dir, 'files');
  const stateDir = join(dir, 'state');
  mkdirSync(files, { recursive: true, mode: 0o700 });
  const config = join(dir, 'cronwatch.yaml');
  writeFileSync(config, configText(stateDir, standIns, targets, options, files), { mode: 0o600 });
  const now = new Date();
  for (let index = 0; index < targets; index += 1) {
    const file = join(files, `t${index}.state`);
    writeFileSync(file, '');
    utimesSync(file, now, now);
  }
  const env = { PATH: CRON_PATH, HOME: userInfo().homedir };
  const line = crontabCheckLine(options.entry, config, env);
  const node = line.split(' && ')[1]?.split(' ')[0] ?? process.execPath;
  const bareLine = `cd ${dir} && ${node} -e '' >> ${join(dir, 'bare.log')} 2>&1`;
  const floorScript = join(import.meta.dirname, 'fixtures/floor.cjs');
  const floorLine = `cd ${dir} && ${node} ${floorScript} ${standIns.floorUrl} ${dir} >> ${join(dir, 'floor.log')} 2>&1`;
  const log = join(stateDir, 'cron.log');
  const useTime = existsSync(GNU_TIME);
  const rssFile = join(dir, 'rss');

  // The first run records every target as seen; the ones measured are the every-5-minutes kind.
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  expectHealthy(await run(asCron(line, dir, null)), log, 0, `the first check over ${targets} targets`);
  const pingsBefore = standIns.pings();
  const lineMs: number[] = [];
  const bareMs: number[] = [];
  const ratios: number[] = [];
  const floorMs: number[] = [];
  const floorRatios: number[] = [];
  const lineRss: number[] = [];
  const bareRss: number[] = [];
  let checkRuns = 0;
  const lines = { line, bare: bareLine, floor: floorLine } as const;
  for (let pair = 0; pair < options.pairs; pair += 1) {
    const measured: Record<'line' | 'bare' | 'floor', Run | null> = { line: null, bare: null, floor: null };
    const order = ['line', 'bare', 'floor'] as const;
    for (const which of pair % 2 === 0 ? order : [...order].reverse()) {
      const result = await run(asCron(lines[which], dir, useTime && which !== 'floor' ? rssFile : null));
      if (which === 'line') {
        expectHealthy(result, log, 0, `check over ${targets} targets`);
        checkRuns += 1;
      } else if (result.status !== 0) {
        const said = existsSync(join(dir, 'floor.log')) ? readFileSync(join(dir, 'floor.log'), 'utf8') : '';
        throw new Error(`Expected the ${which} run to exit 0, got ${result.status}: ${result.stderr}${said}`);
      }
      measured[which] = result;
      if (useTime && which !== 'floor')
        (which === 'line' ? lineRss : bareRss).push(readRssKiB(rssFile) * 1024);
    }
    lineMs.push(measured.line!.wallMs);
    bareMs.push(measured.bare!.wallMs);
    ratios.push(measured.line!.wallMs / measured.bare!.wallMs);
    floorMs.push(measured.floor!.wallMs);
    floorRatios.push(measured.floor!.wallMs / measured.bare!.wallMs);
  }
  const pingsPerRun = (standIns.pings() - pingsBefore) / checkRuns;
  let rssSource = `${GNU_TIME} -f %M (wait4 maxrss), every run; max`;
  if (!useTime) {
    const hook = join(import.meta.dirname, 'fixtures/peak-rss.mjs');
    const hooked = line.replace(`${node} `, `${node} --import ${hook} `);
    const rssEnv = [`CRONWATCH_BENCH_RSS_FILE=${rssFile}`];
    expectHealthy(await run(asCron(hooked, dir, null, rssEnv)), log, 0, 'the memory run');
    lineRss.push(Number(readFileSync(rssFile, 'utf8')) * 1024);
    await run(asCron(bareLine.replace(`${node} `, `${node} --import ${hook} `), dir, null, rssEnv));
    bareRss.push(Number(readFileSync(rssFile, 'utf8')) * 1024);
    rssSource = 'process.resourceUsage().maxRSS at exit (--import fixtures/peak-rss.mjs), one extra run';
  }

  // The breakdown: the same line, its output to stderr instead of the log.
  const profiled: Phase[][] = [];
  const profiledWall: number[] = [];
  const direct = line.replace(/ >> .*$/, '');
  for (let index = 0; index < options.profiles; index += 1) {
    const result = await run(asCron(direct, dir, null, ['CRONWATCH_PROFILE=1']));
    if (result.status !== 0)
      throw new Error(`Expected a profiled check to exit 0, got ${result.status}:\n${result.stderr}`);
    const { phases, wallMs } = phasesOf(result);
    profiled.push(phases);
    profiledWall.push(wallMs);
  }
  const writes = await countWrites(line, dir, dir, stateDir);
  return {
    targets,
    lineMs: median(lineMs),
    bareMs: median(bareMs),
    ratio: median(ratios),
    floorMs: median(floorMs),
    floorRatio: median(floorRatios),
    peakRssBytes: Math.max(...lineRss),
    bareRssBytes: Math.max(...bareRss),
    rssSource,
    pairs: options.pairs,
    pingsPerRun,
    botRequests: standIns.botRequests(),
    phases: medianPhases(profiled),
    profiledWallMs: median(profiledWall),
    writes,
  };
}

function ms(value: number): string {
  return `${value >= 100 ? Math.round(value) : value.toFixed(1)} ms`;
}

function mib(bytes: number): string {
  return `${Math.round(bytes / MIB)} MB`;
}

export function headlineTable(rows: readonly HeadlineRow[]): string[] {
  const lines = [
    '| targets | crontab line | bare node | ratio | goal | met | contract floor | peak RSS | RSS goal |',
    '|---:|---:|---:|---:|---:|:--|---:|---:|:--|',
  ];
  for (const row of rows) {
    const goal = RATIO_GOALS.get(row.targets);
    const rssGoal =
      row.targets === GOAL_PEAK_RSS_TARGETS
        ? `≤ ${mib(GOAL_PEAK_RSS_BYTES)}: ${row.peakRssBytes <= GOAL_PEAK_RSS_BYTES ? 'met' : 'NOT met'}`
        : '';
    lines.push(
      `| ${row.targets.toLocaleString('en-US')} | ${ms(row.lineMs)} | ${ms(row.bareMs)} | ${row.ratio.toFixed(2)}x | ${goal === undefined ? '' : `≤ ${goal}x`} | ${goal === undefined ? '' : row.ratio <= goal ? 'met' : 'NOT met'} | ${ms(row.floorMs)} (${row.floorRatio.toFixed(2)}x) | ${mib(row.peakRssBytes)} | ${rssGoal} |`,
    );
  }
  return lines;
}

export function breakdownTable(rows: readonly HeadlineRow[]): string[] {
  const names = rows[0]?.phases.map((phase) => phase.name) ?? [];
  const lines = [
    `| phase (ms, median of ${rows.map((row) => row.targets).join('/')}-target profiled runs) | ${rows.map((row) => row.targets.toLocaleString('en-US')).join(' | ')} |`,
    `|:--|${rows.map(() => '---:').join('|')}|`,
  ];
  for (const [index, name] of names.entries()) {
    lines.push(
      `| ${name.startsWith('  ') ? `&nbsp;&nbsp;${name.trim()}` : name} | ${rows.map((row) => (row.phases[index]?.ms ?? 0).toFixed(1)).join(' | ')} |`,
    );
  }
  lines.push(`| wall (profiled run) | ${rows.map((row) => row.profiledWallMs.toFixed(1)).join(' | ')} |`);
  return lines;
}
