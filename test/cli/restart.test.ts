import { afterEach, describe, expect, it } from 'vitest';
import { pidsOf, waitFor } from '../support/cli.js';
import { createScene, isGone, runsMarker, type Scene } from './scene.js';

let s: Scene | null = null;

afterEach(async () => {
  await s?.cleanup();
  s = null;
});

describe('cronwatch restart', () => {
  it('stops and starts a running target and sends one message naming the reason', async () => {
    s = await createScene('restart');
    s.configure([{}]);
    const oldPid = await s.spawnDaemon();
    expect((await s.run('check')).code).toBe(0);

    const result = await s.run('restart', 'daemon', '--reason', 'deploy v2');

    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const newPid = Number(/^daemon: restarted, pid (\d+)\n$/.exec(result.stdout)?.[1]);
    expect(newPid).not.toBe(oldPid);
    await waitFor(() => (isGone(oldPid) ? true : undefined), 'the old daemon to be gone');
    expect(runsMarker(newPid, s.marker)).toBe(true);
    expect(pidsOf(s.marker)).toEqual([newPid]);
    const messages = s.api.messages();
    expect(messages).toHaveLength(1);
    expect(messages[0]!.text).toContain(`<b>daemon</b> restarted, new pid ${newPid}`);
    expect(messages[0]!.text).toContain('Reason: deploy v2');

    expect(await s.run('check')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(s.api.messages()).toHaveLength(1);
  });

  it('refuses an unknown target with exit 2, naming the known ones', async () => {
    s = await createScene('restartunknown');
    s.configure([{}]);

    const result = await s.run('restart', 'nosuch');

    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`cronwatch: no target named nosuch in ${s.configFile} (targets: daemon)\n`);
    expect(pidsOf(s.marker)).toEqual([]);
    expect(s.api.requests).toEqual([]);
  });
});
