import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { cronwatch, workspace } from '../support/cli.js';

const spaces: ReturnType<typeof workspace>[] = [];

afterEach(() => {
  for (const space of spaces.splice(0)) space.remove();
});

/** A healthy config: one heartbeat target whose state file was just written. */
function healthyConfig(): string {
  const ws = workspace();
  spaces.push(ws);
  const heartbeat = ws.path('app.heartbeat');
  writeFileSync(heartbeat, JSON.stringify({ ts: new Date().toISOString(), pid: 1, status: 'ok' }));
  return ws.writeConfig(
    [
      `state_dir: ${ws.path('state')}`,
      'targets:',
      '  - name: app',
      `    state_file: ${heartbeat}`,
      '    max_age: 1h',
      '',
    ].join('\n'),
  );
}

describe('check with CRONWATCH_PROFILE=1', () => {
  it("prints each phase's time to stderr, between when node started and when it ended", async () => {
    const config = healthyConfig();
    const result = await cronwatch(['check', '--config', config], { env: { CRONWATCH_PROFILE: '1' } });
    expect(result).toMatchObject({ code: 0, stdout: '' });
    const lines = result.stderr.trim().split('\n');
    expect(lines.every((line) => line.startsWith('cronwatch-profile '))).toBe(true);
    const names = lines.map((line) => line.replace(/^cronwatch-profile /, '').replace(/ [\d.]+$/, ''));
    expect(names).toEqual(
      expect.arrayContaining([
        'origin',
        'node start',
        'module load',
        'config parse',
        'process scan',
        'state save',
        '  cpu (user + system)',
        'end',
      ]),
    );
    const at = (name: string) => Number(lines[names.indexOf(name)]!.split(' ').at(-1));
    expect(at('end')).toBeGreaterThan(at('origin'));
    // The process's own CPU time, which a run that did anything at all has spent some of.
    expect(at('  cpu (user + system)')).toBeGreaterThan(0);
  });

  it('prints nothing without it', async () => {
    const config = healthyConfig();
    expect(await cronwatch(['check', '--config', config])).toEqual({ code: 0, stdout: '', stderr: '' });
  });
});
