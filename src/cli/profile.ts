/**
 * Where a run's time goes, for `npm run bench`: with `CRONWATCH_PROFILE=1` in the environment,
 * `check` prints its phases to stderr as it exits, one `cronwatch-profile <phase> <ms>` line
 * each, after `origin <epoch ms>` (when node started) and before `end <epoch ms>` (its last
 * moment in JavaScript), which the bench sets against the spawn and exit it observes.
 * Unset (every cron run), `mark` and `measure` cost one comparison, and node's global
 * `performance`, which loads perf_hooks when first touched, is never touched.
 */
import type { Performance } from 'node:perf_hooks';

const enabled = process.env.CRONWATCH_PROFILE === '1';
const marks: [string, number][] = [];
const totals = new Map<string, number>();

/** Ends the phase `name`: the time since the previous mark (the first: since node's bootstrap). */
export function mark(name: string): void {
  if (!enabled) return;
  if (marks.length === 0) {
    marks.push(['node start', (performance as unknown as Performance).nodeTiming.bootstrapComplete]);
    process.once('exit', report);
  }
  marks.push([name, performance.now()]);
}

/** Runs `step`, adding its time to the total of `name`: for a step repeated once per target. */
export function measure<T>(name: string, step: () => T): T {
  if (!enabled) return step();
  const started = performance.now();
  try {
    return step();
  } finally {
    totals.set(name, (totals.get(name) ?? 0) + performance.now() - started);
  }
}

function report(): void {
  const lines = [`origin ${performance.timeOrigin}`];
  let previous = 0;
  for (const [name, at] of marks) {
    lines.push(`${name} ${(at - previous).toFixed(2)}`);
    previous = at;
  }
  for (const [name, ms] of totals) lines.push(`  ${name} ${ms.toFixed(2)}`);
  // CPU time says what wall time hides on a busy host: the run's own work, not its waiting.
  const cpu = process.cpuUsage();
  lines.push(`  cpu (user + system) ${((cpu.user + cpu.system) / 1000).toFixed(2)}`);
  lines.push(`end ${performance.timeOrigin + performance.now()}`);
  process.stderr.write(lines.map((line) => `cronwatch-profile ${line}\n`).join(''));
}
