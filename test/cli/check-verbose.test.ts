/** `check --verbose` says what it saw even when all is well, including alerts still waiting to go out. */
import { afterEach, describe, expect, it } from 'vitest';
import { createScene, outboxFiles, type Scene } from './scene.js';

let s: Scene | null = null;

afterEach(async () => {
  await s?.cleanup();
  s = null;
});

describe('cronwatch check --verbose', () => {
  it('names the alerts waiting in the outbox from an earlier run, which a quiet run leaves unsaid', async () => {
    s = await createScene('verboseoutbox');
    s.configure([{}]);
    s.api.setFault('server_error');
    const first = await s.run('check');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('1 alert(s) not delivered yet');
    expect(outboxFiles(s.stateDir)).toHaveLength(1);

    const quiet = await s.run('check');
    const verbose = await s.run('check', '--verbose');

    expect(quiet).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(verbose.code).toBe(0);
    expect(verbose.stdout).toMatch(/^daemon: up, pid \d+$/m);
    expect(verbose.stdout).toMatch(
      /^cronwatch: 1 alert\(s\) not delivered yet \(.*500.*\); kept in the outbox for the next run$/m,
    );
    expect(s.api.messages()).toEqual([]);
  });
});
