import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { outboxFiles } from '../cli/scene.js';
import { pidsOf, waitFor } from '../support/cli.js';
import { type ExampleWorkspace, exampleWorkspace, heartbeatOf } from './example-workspace.js';

/** The upstream the worker fetches its jobs from, answering with whatever status the test sets. */
interface Upstream {
  readonly url: string;
  status: number;
  close(): Promise<void>;
}

async function startUpstream(): Promise<Upstream> {
  const upstream = { status: 200 } as { status: number };
  const server: Server = createServer((_request, response) => {
    response.writeHead(upstream.status, { 'content-type': 'application/json' });
    response.end('{"job":"resize","id":1}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(upstream, {
    url: `http://127.0.0.1:${port}/jobs/next`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * The daemon example watched by its own stanza (plus `extra` keys), its worker fetching from a
 * test upstream.
 */
async function setUp(extra: Record<string, unknown> = {}) {
  const ex = await exampleWorkspace('daemon');
  cleanups.push(ex.cleanup);
  const upstream = await startUpstream();
  cleanups.push(upstream.close);
  ex.configure((config) => {
    const worker = config.targets[0]!;
    worker.match = `node worker\\.mjs ${ex.marker}`;
    worker.start = `node worker.mjs ${ex.marker}`;
    worker.env = {
      ...(worker.env as Record<string, string>),
      WORK_URL: upstream.url,
      WORK_EVERY_MS: '200',
      HEARTBEAT_EVERY_MS: '200',
      NODE_OPTIONS: ex.env.NODE_OPTIONS!,
      TELEGRAM_API_ROOT: ex.api.apiRoot,
    };
    Object.assign(worker, extra);
  });
  return { ex, upstream };
}

function messagesContaining(ex: ExampleWorkspace, text: string) {
  return ex.api.messages().filter((message) => message.text.includes(text));
}

function onlyWorkerPid(ex: ExampleWorkspace): Promise<number> {
  return waitFor(() => {
    const pids = pidsOf(ex.marker);
    return pids.length === 1 ? pids[0] : undefined;
  }, 'exactly one worker');
}

describe('examples/daemon', () => {
  it('is started by its stanza, and reports 3 failures in a row once, then its recovery', async () => {
    const { ex, upstream } = await setUp();

    const first = await ex.cronwatch('check');
    expect(first.code).toBe(0);
    const pid = await onlyWorkerPid(ex);
    expect(first.stdout).toContain(`started, pid`);
    await heartbeatOf(
      ex.path('worker.heartbeat'),
      (beat) => beat.status === 'ok' && (beat.data as { done: number }).done > 0,
      'a heartbeat after some work',
    );
    expect(await ex.cronwatch('check')).toEqual({ code: 0, stdout: '', stderr: '' });

    upstream.status = 503;
    await waitFor(
      () => (messagesContaining(ex, '3 failures in a row').length > 0 ? true : undefined),
      'the failure report',
    );
    await heartbeatOf(
      ex.path('worker.heartbeat'),
      (beat) => (beat.data as { failuresInARow: number }).failuresInARow > 3,
      'more failures after the report',
    );
    upstream.status = 200;
    await waitFor(
      () => (messagesContaining(ex, 'recovered after').length > 0 ? true : undefined),
      'the recovery report',
    );

    const failures = messagesContaining(ex, 'failures in a row fetching');
    expect(failures).toHaveLength(1);
    expect(failures[0]!.text).toContain(`worker: 3 failures in a row fetching ${upstream.url}: HTTP 503`);
    expect(failures[0]!.disableNotification).toBe(false);
    expect(messagesContaining(ex, 'recovered after')).toHaveLength(1);
    expect(messagesContaining(ex, 'recovered after')[0]!.text).toMatch(
      /worker: recovered after \d+ failures/,
    );
    expect(ex.api.messages().every((message) => message.chatId === '4242')).toBe(true);
    // Transient failures are the worker's own business: cronwatch still sees it up.
    expect(await ex.cronwatch('check')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(pidsOf(ex.marker)).toEqual([pid]);
    expect(outboxFiles(ex.path('.cronwatch'))).toEqual([]);
  });

  it('puts a failure it cannot retry past in its heartbeat: cronwatch says error once and does not restart it', async () => {
    const { ex, upstream } = await setUp();
    expect((await ex.cronwatch('check')).code).toBe(0);
    const pid = await onlyWorkerPid(ex);
    await heartbeatOf(ex.path('worker.heartbeat'), (beat) => beat.status === 'ok', 'an ok heartbeat');
    expect(await ex.cronwatch('check')).toEqual({ code: 0, stdout: '', stderr: '' });
    const before = ex.api.messages().length;

    upstream.status = 401;
    await heartbeatOf(ex.path('worker.heartbeat'), (beat) => beat.status === 'error', 'an error heartbeat');
    const failing = await ex.cronwatch('check', '--json');

    expect(failing.code).toBe(1);
    const report = JSON.parse(failing.stdout) as {
      targets: { name: string; status: string; action: string | null; pid: number | null }[];
    };
    expect(report.targets).toEqual([
      expect.objectContaining({ name: 'worker', status: 'error', action: null, pid }),
    ]);
    const alerts = ex.api.messages().slice(before);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.text).toContain('<b>worker</b>');
    expect(alerts[0]!.text).toContain(`${upstream.url} refused our credentials (HTTP 401)`);
    expect(pidsOf(ex.marker)).toEqual([pid]);

    // One alert per flip: the next run, still failing, is quiet.
    expect((await ex.cronwatch('check')).code).toBe(1);
    expect(ex.api.messages().slice(before)).toHaveLength(1);
    expect(pidsOf(ex.marker)).toEqual([pid]);

    upstream.status = 200;
    await heartbeatOf(ex.path('worker.heartbeat'), (beat) => beat.status === 'ok', 'an ok heartbeat again');
    expect((await ex.cronwatch('check')).code).toBe(0);
    expect(pidsOf(ex.marker)).toEqual([pid]);
  });

  it('is restarted for an error in its heartbeat when its stanza says restart_on_error: true', async () => {
    const { ex, upstream } = await setUp({ restart_on_error: true });
    expect((await ex.cronwatch('check')).code).toBe(0);
    const pid = await onlyWorkerPid(ex);
    await heartbeatOf(ex.path('worker.heartbeat'), (beat) => beat.status === 'ok', 'an ok heartbeat');
    expect(await ex.cronwatch('check')).toEqual({ code: 0, stdout: '', stderr: '' });
    const before = ex.api.messages().length;

    upstream.status = 401;
    await heartbeatOf(ex.path('worker.heartbeat'), (beat) => beat.status === 'error', 'an error heartbeat');
    const restarted = await ex.cronwatch('check');

    expect(restarted.code).toBe(0);
    const newPid = await waitFor(() => {
      const pids = pidsOf(ex.marker);
      return pids.length === 1 && pids[0] !== pid ? pids[0] : undefined;
    }, 'a new worker');
    const alerts = ex.api.messages().slice(before);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.text).toContain('refused our credentials (HTTP 401)');
    expect(alerts[0]!.text).toContain(`new pid`);
    expect(newPid).not.toBe(pid);
  });

  it('sends a silent health line every HEALTH_EVERY_MS', async () => {
    const { ex, upstream } = await setUp();
    // Run by hand rather than by cronwatch: only the worker's own messages are in play.
    const worker = spawn(process.execPath, ['worker.mjs', ex.marker], {
      cwd: ex.dir,
      env: {
        ...process.env,
        ...ex.env,
        WORK_URL: upstream.url,
        WORK_EVERY_MS: '200',
        HEALTH_EVERY_MS: '1000',
        CRONWATCH_STATE_DIR: ex.path('worker-outbox'),
      },
      stdio: 'ignore',
    });
    cleanups.push(async () => {
      worker.kill('SIGKILL');
    });

    const health = await waitFor(() => messagesContaining(ex, 'worker: healthy;')[0], 'a health line');

    expect(health.text).toMatch(
      /worker: healthy; \d+ jobs done, 0 failed since \d{4}-\d\d-\d\d \d\d:\d\d UTC/,
    );
    expect(health.disableNotification).toBe(true);
    expect(health.parseMode).toBe('HTML');
  });
});
