/**
 * deploy/prometheus/cronwatch.rules.yml checked by the real promtool (Debian's `prometheus`
 * package): the rules parse, their unit tests (cronwatch.rules.test.yml) pass, and the textfile
 * a real `check` run writes passes promtool's metrics lint. Skipped, saying why, without promtool.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cronwatch, ROOT, workspace } from '../support/cli.js';

const RULES_DIR = join(ROOT, 'deploy/prometheus');

function promtoolUnavailable(): string | null {
  const found = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return found.error === undefined && found.status === 0
    ? null
    : 'no promtool binary (apt-get install prometheus; .ci/run does it)';
}

const unavailable = promtoolUnavailable();
if (unavailable !== null) console.warn(`skipping the promtool tests: ${unavailable}`);

function promtool(args: readonly string[], input?: string) {
  return spawnSync('promtool', [...args], { cwd: RULES_DIR, encoding: 'utf8', input });
}

describe.skipIf(unavailable !== null)('deploy/prometheus (real promtool)', () => {
  const ws = workspace('cronwatch-promtool-');
  afterAll(() => ws.remove());

  it('the rules parse', () => {
    const result = promtool(['check', 'rules', 'cronwatch.rules.yml']);
    expect(result.stdout + result.stderr).toContain('SUCCESS: 4 rules found');
    expect(result.status).toBe(0);
  });

  it('the rules fire as their unit tests say: not running, target down, restarting, alerts pending', () => {
    const result = promtool(['test', 'rules', 'cronwatch.rules.test.yml']);
    expect(result.stdout + result.stderr).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('names only metrics a real run writes', async () => {
    const rules = readFileSync(join(RULES_DIR, 'cronwatch.rules.yml'), 'utf8');
    const used = new Set(rules.match(/cronwatch_[a-z_]+/g));
    mkdirSync(ws.path('metrics'));
    writeFileSync(ws.path('job.stamp'), 'ok');
    ws.writeConfig(
      [
        'state_dir: ./state',
        'metrics:',
        '  textfile: ./metrics/cronwatch.prom',
        'targets:',
        '  - name: job',
        `    state_file: ${ws.path('job.stamp')}`,
        '    max_age: 1h',
        '',
      ].join('\n'),
    );
    expect((await cronwatch(['check', '--config', ws.path('cronwatch.yaml')])).code).toBe(0);
    const text = readFileSync(ws.path('metrics/cronwatch.prom'), 'utf8');
    const lint = promtool(['check', 'metrics'], text);
    expect(lint.stdout + lint.stderr).toBe('');
    expect(lint.status).toBe(0);
    const written = new Set(text.match(/^cronwatch_[a-z_]+/gm));
    expect([...used].filter((name) => !written.has(name))).toEqual([]);
  });
});
