/**
 * Damping end to end: a target made to flap by SIGKILLs, then a new kind of incident, through
 * the real CLI and the Bot API stand-in. Whatever damping merges, the owner hears of it.
 */
import { copyFileSync, renameSync } from 'node:fs';
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import { FLAP_WINDOW_INTERVALS } from '../../src/core/damping.js';
import { FIXTURES, killAll, pidsOf, waitFor } from '../support/cli.js';
import { createScene, HOST, isGone, runsMarker, type Scene } from './scene.js';

/** The texts each scene's target received, printed at the end: what an owner reads. */
const received = new Map<string, string[]>();

afterAll(() => {
  const lines = [...received].flatMap(([label, texts]) => [
    `[${label}]`,
    ...texts.map((text) => `  ${text.replaceAll('\n', '\n  ')}`),
  ]);
  console.log(['damping scenes, messages received:', ...lines].join('\n'));
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A scene the test cleans up when it ends (the tests run side by side). */
async function scene(context: TestContext, label: string): Promise<Scene> {
  const created = await createScene(label);
  context.onTestFinished(() => created.cleanup());
  return created;
}

/** The messages about the target (not cronwatch's own overdue alerts), recorded for the report. */
function texts(s: Scene, label: string): string[] {
  const about = s.api
    .messages()
    .map((message) => message.text)
    .filter((text) => text.includes('<b>daemon</b>'));
  received.set(label, about);
  return about;
}

/** Kills the target's process and waits until it is gone. */
async function crash(s: Scene): Promise<void> {
  const pids = pidsOf(s.marker);
  expect(pids).toHaveLength(1);
  killAll(s.marker);
  await waitFor(() => (pids.every(isGone) ? true : undefined), 'the daemon to die');
}

/** A run that must end with every target up. */
async function check(s: Scene): Promise<void> {
  const result = await s.run('check');
  expect(result, `${result.stdout}${result.stderr}`).toMatchObject({ code: 0 });
}

/** Three problems in a row, each fixed by a restart: a flapping alert on the third. */
async function makeFlap(s: Scene, label: string): Promise<void> {
  await check(s);
  for (let index = 0; index < 2; index += 1) {
    await crash(s);
    await check(s);
  }
  const sent = texts(s, label);
  expect(sent).toHaveLength(3);
  expect(sent[2]).toContain('<b>daemon</b> is flapping');
}

// Side by side: the settle scene mostly waits out its window, which the other two use meanwhile.
describe.concurrent('cli: damping never drops an incident', () => {
  it('replaces a SIGSTOPped worker after a flapping alert AND says so, while a plain repeat is merged', {
    timeout: 240_000,
  }, async (context) => {
    const s = await scene(context, 'sigstop');
    const heartbeat = s.path('heartbeat.json');
    s.configure([{ start: s.daemonCommand(heartbeat), extra: [`state_file: ${heartbeat}`, 'max_age: 3s'] }]);
    await makeFlap(s, 'sigstop');
    // The same incident again, fixed by a restart: merged into the count.
    await crash(s);
    await check(s);
    expect(texts(s, 'sigstop')).toHaveLength(3);

    const [stopped] = pidsOf(s.marker);
    process.kill(stopped!, 'SIGSTOP');
    await sleep(4000);
    await check(s);
    expect(isGone(stopped!)).toBe(true);
    const [replacement] = pidsOf(s.marker);
    expect(runsMarker(replacement!, s.marker)).toBe(true);
    const sent = texts(s, 'sigstop');
    expect(sent).toHaveLength(4);
    expect(sent[3]).toContain(`<b>daemon</b> was stale (hung), restarted, new pid ${replacement}`);
    expect(sent[3]).toMatch(/Reason: state file \S+heartbeat\.json last written \d+s ago \(max_age 3s\)/);
  });

  it('sends a failed start after a flapping alert, with its log tail (the program was moved away)', {
    timeout: 240_000,
  }, async (context) => {
    const s = await scene(context, 'moved');
    copyFileSync(`${FIXTURES}/cli-daemon.mjs`, s.path('worker.mjs'));
    const worker = { start: `node worker.mjs ${s.marker}`, match: `worker\\.mjs ${s.marker}\\b` };
    // A start that works waits out its whole grace: the flap's three keep the scene's 700 ms.
    s.configure([worker]);
    await makeFlap(s, 'moved');
    // Node may take longer than 700 ms to fail under load; a failed start must be seen as one.
    s.configure([{ ...worker, startGrace: '5s' }]);
    renameSync(s.path('worker.mjs'), s.path('worker.mjs.moved'));
    await crash(s);
    const run = await s.run('check');
    expect(run.code).toBe(1);
    expect(pidsOf(s.marker)).toEqual([]);
    const sent = texts(s, 'moved');
    expect(sent).toHaveLength(4);
    expect(sent[3]).toContain('<b>daemon</b> is down, restart failed');
    expect(sent[3]).toContain('Start failed: exit code 1');
    expect(sent[3]).toMatch(/<pre>[\s\S]*Cannot find module[\s\S]*worker\.mjs[\s\S]*<\/pre>/);
  });

  it('says once that a flapping target settled, with its state and how many changes were merged', {
    timeout: 240_000,
  }, async (context) => {
    const s = await scene(context, 'settle');
    // The flap window, and the settle window, are FLAP_WINDOW_INTERVALS intervals: with a 3 s
    // interval, 18 s, which the few seconds of makeFlap's runs fit in many times over.
    const intervalMs = 3000;
    s.configure([{}], [`interval: ${intervalMs}ms`]);
    await makeFlap(s, 'settle');
    await crash(s);
    await check(s);
    expect(texts(s, 'settle')).toHaveLength(3);
    await sleep(FLAP_WINDOW_INTERVALS * intervalMs + 1000);
    await check(s);
    await check(s);
    const sent = texts(s, 'settle');
    expect(sent).toHaveLength(4);
    expect(sent[3]).toMatch(
      /^🖥 <b>e2e-host<\/b> · cronwatch\n✅ <b>daemon<\/b> settled: up since \d{4}-\d\d-\d\d \d\d:\d\d UTC\n1 change merged since the flapping alert at \d{4}-\d\d-\d\d \d\d:\d\d UTC\.$/,
    );
    expect(sent[3]).toContain(HOST);
  });
});
