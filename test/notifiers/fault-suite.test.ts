/**
 * The alert path under injected faults, end to end: the real CLI in its own processes, real
 * targets that die (SIGKILL), and the Bot API stand-in (and a webhook receiver) failing on purpose.
 *
 * Every alert a run enqueues (from `check --json`) is checked off against what the receivers
 * accepted, over the whole suite, and the suite prints the figure
 * `enqueued / delivered / duplicated / lost` with a timeline of each scenario.
 *
 * The scenarios run side by side: the hung server costs its run the Telegram channel's whole send
 * timeout (30 s), which the other scenarios use meanwhile.
 */

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/core/types.js';
import type { DeliveryReport } from '../../src/notifiers/deliver.js';
import { type BotApiServer, type SentMessage, startBotApiServer } from '../support/bot-api-server.js';
import { type CliResult, cronwatch, FIXTURES, killAll, pidsOf, waitFor, workspace } from '../support/cli.js';
import { startWebhookServer, type WebhookServer } from '../support/webhook-server.js';

const TOKEN = '777888999:AAFfaultSuite_token-secret_abcdefGHIJ';
const HOOK_PATH = '/services/T0FAULT001/B0FAULT002/faultHookSecretToken42xyz';
const SECRETS = [TOKEN, encodeURIComponent(TOKEN), HOOK_PATH, 'faultHookSecretToken42xyz'];
const DAEMON = join(FIXTURES, 'cli-daemon.mjs');
const SUITE = `cw-fault-${randomUUID().slice(0, 8)}`;
const HUNG_RUN_TIMEOUT_MS = 120_000;

/** `target#pid` for a restart, `target#failed` for a failed start: unique per alert in this suite. */
function alertKey(alert: Alert): string {
  if (alert.kind !== 'problem') return `${alert.kind}:${'target' in alert ? alert.target : ''}`;
  return `${alert.target}#${alert.outcome?.kind === 'started' ? alert.outcome.pid : 'failed'}`;
}

// Titles as rendered: `<b>name</b> was down, restarted, new pid 123` (Telegram HTML), or the
// same without tags (webhook text).
const TELEGRAM_TITLE = /<b>([a-z0-9_-]+)<\/b> (?:was|is) [^\n]*?(?:restarted, new pid (\d+)|restart failed)/g;
const PLAIN_TITLE = /^\s*([a-z0-9_-]+) (?:was|is) [^\n]*?(?:restarted, new pid (\d+)|restart failed)/gm;

function keysIn(text: string, title: RegExp): string[] {
  return [...text.matchAll(title)].map((match) => `${match[1]}#${match[2] ?? 'failed'}`);
}

/** Every alert enqueued in the suite, with the channels it must reach, and every delivery seen. */
const ledger = {
  enqueued: new Map<string, readonly string[]>(),
  deliveries: new Map<string, number>(),
};
const timelines = new Map<string, string[]>();

afterAll(() => {
  killAll(SUITE);
  let delivered = 0;
  let duplicated = 0;
  const lost: string[] = [];
  for (const [key, channels] of ledger.enqueued) {
    const counts = channels.map((channel) => ledger.deliveries.get(`${channel} ${key}`) ?? 0);
    if (counts.every((count) => count >= 1)) delivered += 1;
    else lost.push(key);
    if (counts.some((count) => count > 1)) duplicated += 1;
  }
  const unexpected = [...ledger.deliveries.keys()].filter(
    (entry) => !ledger.enqueued.has(entry.slice(entry.indexOf(' ') + 1)),
  );
  const lines = [...timelines].flatMap(([label, lines]) => [
    `[${label}]`,
    ...lines.map((line) => `  ${line}`),
  ]);
  console.log(
    [
      'fault suite timeline:',
      ...lines,
      `fault suite: alerts enqueued ${ledger.enqueued.size} / delivered ${delivered} / duplicated ${duplicated} / lost ${lost.length}` +
        (lost.length > 0 ? ` (${lost.join(', ')})` : '') +
        (unexpected.length > 0 ? `; delivered but never enqueued: ${unexpected.join(', ')}` : ''),
    ].join('\n'),
  );
});

interface RunReport {
  readonly alerts: readonly Alert[];
  readonly delivery: DeliveryReport | null;
  readonly exitCode: number;
}

interface Scenario {
  readonly api: BotApiServer;
  readonly hook: WebhookServer | null;
  readonly stateDir: string;
  configure(options?: { readonly chatId?: string }): void;
  /** `check --json`: records its alerts in the ledger and a line in the timeline. */
  check(): Promise<RunReport & { readonly result: CliResult }>;
  status(): Promise<CliResult>;
  /** Any other command against the scenario's config. */
  cli(...args: string[]): Promise<CliResult>;
  /** Starts a target's daemon as someone else would, so the first run finds it up. */
  spawnTarget(name: string): Promise<void>;
  /** SIGKILLs a target's daemon and waits until it is gone. */
  killTarget(name: string): Promise<void>;
  stopApi(): Promise<void>;
  startApi(): Promise<void>;
  /** Messages accepted by every stand-in of the scenario (it may have been restarted). */
  messages(): SentMessage[];
  outbox(): string[];
  note(line: string): void;
  finish(): Promise<void>;
}

async function scenario(
  label: string,
  targets: readonly { readonly name: string; readonly start?: string; readonly match?: string }[],
  options: { readonly webhook?: boolean } = {},
): Promise<Scenario> {
  const space = workspace(`cronwatch-fault-${label}-`);
  const marker = (name: string) => `${SUITE}-${label}-${name}`;
  const channels = options.webhook ? ['telegram', 'webhook'] : ['telegram'];
  const earlier: SentMessage[] = [];
  const timeline: string[] = [];
  timelines.set(label, timeline);
  const startedMs = Date.now();
  let api = await startBotApiServer();
  const hook = options.webhook ? await startWebhookServer() : null;
  let runs = 0;
  let chatId = '4242';
  const since = () => `+${((Date.now() - startedMs) / 1000).toFixed(1)}s`;

  const run = async (args: string[]) => {
    const result = await cronwatch([...args, '--config', space.path('cronwatch.yaml')], {
      env: { TG_TOKEN: TOKEN, HOOK_URL: hook?.url(HOOK_PATH) ?? '' },
    });
    for (const secret of SECRETS) {
      expect(result.stdout).not.toContain(secret);
      expect(result.stderr).not.toContain(secret);
    }
    return result;
  };

  const self: Scenario = {
    get api() {
      return api;
    },
    hook,
    stateDir: space.path('state'),
    configure(overrides = {}) {
      chatId = overrides.chatId ?? chatId;
      const lines = [
        'state_dir: ./state',
        'host: fault-host',
        'channels:',
        '  telegram:',
        '    token: ${TG_TOKEN}',
        `    chat_id: '${chatId}'`,
        `    api_root: ${api.apiRoot}`,
        ...(hook ? ['  webhook:', '    url: ${HOOK_URL}', '    format: slack'] : []),
        'targets:',
      ];
      for (const target of targets) {
        lines.push(
          `  - name: ${target.name}`,
          `    match: '${target.match ?? `cli-daemon\\.mjs ${marker(target.name)}$`}'`,
          `    start: ${JSON.stringify(target.start ?? `node ${DAEMON} ${marker(target.name)}`)}`,
          '    start_grace: 500ms',
        );
      }
      space.writeConfig(`${lines.join('\n')}\n`);
    },
    async check() {
      runs += 1;
      const at = since();
      const requestsBefore = api.requests.length;
      const hookBefore = hook?.requests.length ?? 0;
      const beganMs = Date.now();
      const result = await run(['check', '--json']);
      const tookS = ((Date.now() - beganMs) / 1000).toFixed(1);
      const report = JSON.parse(result.stdout) as RunReport;
      for (const alert of report.alerts) ledger.enqueued.set(alertKey(alert), channels);
      const telegram = api.requests.slice(requestsBefore).map((request) => request.outcome);
      const webhook = hook?.requests.slice(hookBefore).map((request) => request.status ?? 'no answer') ?? [];
      const errors = [...(report.delivery?.retryErrors ?? []), ...(report.delivery?.permanentErrors ?? [])];
      timeline.push(
        `run ${runs} at ${at}, took ${tookS}s, exit ${result.code}: ` +
          `alerts [${report.alerts.map(alertKey).join(', ')}]; ` +
          `Bot API [${telegram.join(', ')}]${hook ? `; webhook [${webhook.join(', ')}]` : ''}; ` +
          `outbox left ${report.delivery?.pending.length ?? 0}` +
          (errors.length > 0
            ? `; errors: ${errors.map((error) => `${error.channel}: ${error.error}`).join(' | ')}`
            : ''),
      );
      return { ...report, result };
    },
    status: () => run(['status']),
    cli: (...args) => run(args),
    async spawnTarget(name) {
      const child = spawn(process.execPath, [DAEMON, marker(name)], { detached: true, stdio: 'ignore' });
      child.unref();
      await waitFor(() => (pidsOf(marker(name)).length === 1 ? true : undefined), `${name} to run`);
    },
    async killTarget(name) {
      killAll(marker(name));
      await waitFor(() => (pidsOf(marker(name)).length === 0 ? true : undefined), `${name} to die`);
    },
    async stopApi() {
      earlier.push(...api.messages());
      await api.close();
    },
    async startApi() {
      api = await startBotApiServer({ port: api.port });
    },
    messages: () => [...earlier, ...api.messages()],
    outbox: () => {
      try {
        return readdirSync(join(self.stateDir, 'outbox')).filter(
          (name) => name.endsWith('.json') && !name.startsWith('.'),
        );
      } catch {
        return [];
      }
    },
    note: (line) => timeline.push(`${since()}: ${line}`),
    async finish() {
      for (const message of self.messages()) {
        for (const key of keysIn(message.text, TELEGRAM_TITLE)) count('telegram', key);
      }
      for (const body of hook?.accepted() ?? []) {
        for (const key of keysIn((body as { text: string }).text, PLAIN_TITLE)) count('webhook', key);
      }
      // Nothing cronwatch wrote (state, outbox, logs) holds the token or the webhook URL.
      const written = filesUnder(space.path('state'));
      expect(written.length).toBeGreaterThan(0);
      for (const file of written) {
        for (const secret of SECRETS) expect(readFileSync(file, 'utf8'), file).not.toContain(secret);
      }
      for (const target of targets) killAll(marker(target.name));
      await Promise.all([api.close(), hook?.close()]);
      space.remove();
    },
  };
  self.configure();
  return self;
}

function count(channel: string, key: string): void {
  const entry = `${channel} ${key}`;
  ledger.deliveries.set(entry, (ledger.deliveries.get(entry) ?? 0) + 1);
}

function filesUnder(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** A scenario whose one target runs, is seen up (silently), then dies before the faulty run. */
async function withDeadTarget(label: string, options: { readonly webhook?: boolean } = {}) {
  const scene = await scenario(label, [{ name: label }], options);
  await scene.spawnTarget(label);
  const quiet = await scene.check();
  expect(quiet.alerts).toEqual([]);
  expect(scene.api.requests).toEqual([]);
  await scene.killTarget(label);
  scene.note(`${label} killed (SIGKILL)`);
  return scene;
}

/** The next run keeps `held` alerts and sends the Bot API nothing: a refusal is not retried at once. */
async function expectHeldUntried(scene: Awaited<ReturnType<typeof scenario>>, held: number): Promise<void> {
  const requests = scene.api.requests.length;
  expect((await scene.check()).delivery?.pending).toHaveLength(held);
  expect(scene.api.requests).toHaveLength(requests);
}

describe.concurrent('notifiers: fault suite (CLI end to end)', () => {
  it('a 429 is waited out and the alert delivered once, in the same run', async () => {
    const scene = await withDeadTarget('ratelimit');
    try {
      scene.api.failNext({ kind: 'rate_limit', retryAfterS: 2 });
      const run = await scene.check();
      expect(run.alerts).toHaveLength(1);
      expect(run.delivery?.delivered).toHaveLength(1);
      expect(scene.api.requests.map((request) => request.outcome)).toEqual(['rate_limit', 'ok']);
      expect(scene.messages()).toHaveLength(1);
      expect(scene.outbox()).toEqual([]);
    } finally {
      await scene.finish();
    }
  });

  it('an alert raised while the Bot API is down is kept and delivered once on the next run', async () => {
    const scene = await withDeadTarget('apidown');
    try {
      await scene.stopApi();
      scene.note('Bot API stopped');
      const down = await scene.check();
      expect(down.alerts).toHaveLength(1);
      expect(down.delivery?.pending).toHaveLength(1);
      expect(down.delivery?.retryErrors[0]?.error).toMatch(/^Could not reach Telegram: .*ECONNREFUSED/);
      expect(scene.outbox()).toHaveLength(1);
      expect((await scene.status()).stdout).toMatch(
        /^outbox: 1 alert\(s\) waiting to be sent \(last error: /m,
      );

      await scene.startApi();
      scene.note('Bot API back on the same port');
      const back = await scene.check();
      expect(back.alerts).toEqual([]);
      expect(back.delivery?.delivered).toHaveLength(1);
      expect(scene.messages()).toHaveLength(1);
      expect(scene.outbox()).toEqual([]);
      await scene.check();
      expect(scene.messages()).toHaveLength(1);
      expect((await scene.status()).stdout).toMatch(/^outbox: empty$/m);
    } finally {
      await scene.finish();
    }
  });

  it('500s are retried within the run, then the alert waits for the next run and goes out once', async () => {
    const scene = await withDeadTarget('servererror');
    try {
      scene.api.setFault('server_error');
      const failing = await scene.check();
      expect(failing.alerts).toHaveLength(1);
      expect(failing.delivery?.pending).toHaveLength(1);
      expect(failing.delivery?.retryErrors[0]?.error).toMatch(/Telegram 500/);
      expect(scene.api.requests.map((request) => request.outcome)).toEqual([
        'server_error',
        'server_error',
        'server_error',
      ]);
      scene.api.setFault(null);
      scene.note('Bot API healthy again');
      const healthy = await scene.check();
      expect(healthy.delivery?.delivered).toHaveLength(1);
      expect(scene.messages()).toHaveLength(1);
      expect(scene.outbox()).toEqual([]);
    } finally {
      await scene.finish();
    }
  });

  it(
    'a hung Bot API costs the run its send timeout, not forever; the alert goes out once next run',
    async () => {
      const scene = await withDeadTarget('hung');
      try {
        scene.api.setFault('hang');
        const hung = await scene.check();
        expect(hung.alerts).toHaveLength(1);
        expect(hung.delivery?.pending).toHaveLength(1);
        expect(hung.delivery?.retryErrors[0]?.error).toMatch(/Telegram did not (accept|answer)/);
        expect(scene.messages()).toEqual([]);
        scene.api.setFault(null);
        scene.note('Bot API answering again');
        const healthy = await scene.check();
        expect(healthy.delivery?.delivered).toHaveLength(1);
        expect(scene.messages()).toHaveLength(1);
        expect(scene.outbox()).toEqual([]);
      } finally {
        await scene.finish();
      }
    },
    HUNG_RUN_TIMEOUT_MS,
  );

  it('a 403 is recorded, shown by status, not retried, and delivered once the channel is fixed', async () => {
    const scene = await withDeadTarget('forbidden');
    try {
      scene.api.setFault('forbidden');
      const refused = await scene.check();
      expect(refused.alerts).toHaveLength(1);
      expect(refused.delivery?.permanentErrors[0]?.error).toMatch(
        /^Telegram 403: Forbidden: bot was blocked/,
      );
      const status = await scene.status();
      expect(status.stdout).toMatch(/^outbox: 1 alert\(s\) waiting to be sent/m);
      expect(status.stdout).toMatch(
        /^outbox: 1 alert\(s\) held on telegram after a refusal \(\S+\): Telegram 403: Forbidden.*; next try \S+Z, or at once when test-alert or doctor sees the channel work$/m,
      );

      await expectHeldUntried(scene, 1);

      scene.api.setFault(null);
      scene.configure({ chatId: '4343' });
      scene.note('chat_id changed to 4343 (the fix), Bot API accepting');
      const fixed = await scene.check();
      expect(fixed.delivery?.delivered).toHaveLength(1);
      expect(scene.messages().map((message) => message.chatId)).toEqual(['4343']);
      expect(scene.outbox()).toEqual([]);
    } finally {
      await scene.finish();
    }
  });

  it('alerts a 403 held go out when test-alert gets through: at once, in order, exactly once', {
    timeout: 240_000,
  }, async () => {
    const scene = await withDeadTarget('heldtest');
    try {
      scene.api.setFault('forbidden');
      const first = await scene.check();
      expect(first.delivery?.permanentErrors[0]?.error).toMatch(/^Telegram 403: Forbidden/);
      const status = JSON.parse((await scene.cli('status', '--json')).stdout);
      expect(status.outbox.refused).toEqual([
        {
          channel: 'telegram',
          error: expect.stringMatching(/^Telegram 403/),
          at: expect.any(String),
          held: 1,
          nextTryAt: expect.any(String),
        },
      ]);
      expect(Date.parse(status.outbox.refused[0].nextTryAt) - Date.parse(status.outbox.refused[0].at)).toBe(
        5 * 60_000,
      );
      // A second incident: its alert gets one try, the held one first; refused again, both wait.
      await scene.killTarget('heldtest');
      const second = await scene.check();
      expect(second.delivery?.permanentErrors).toEqual([]);
      expect(second.delivery?.pending).toHaveLength(2);
      await expectHeldUntried(scene, 2);

      scene.api.setFault(null);
      scene.note('bot unblocked; test-alert');
      const test = await scene.cli('test-alert');
      expect(test.stdout).toBe('telegram: delivered\noutbox: 2 held alert(s) delivered\n');
      const texts = scene.messages().map((message) => message.text);
      expect(texts[0]).toContain('Test alert from cronwatch');
      expect(texts.slice(1).flatMap((text) => keysIn(text, TELEGRAM_TITLE))).toEqual(
        [...first.alerts, ...second.alerts].map(alertKey),
      );
      expect(scene.outbox()).toEqual([]);
      expect((await scene.check()).delivery).toBeNull();
      expect(scene.messages()).toHaveLength(3);
    } finally {
      await scene.finish();
    }
  });

  it('alerts a 403 held go out with the next run once doctor finds the bot and chat answering', async () => {
    const scene = await withDeadTarget('helddoctor');
    try {
      scene.api.setFault('forbidden');
      await scene.check();
      scene.api.setFault(null);
      await expectHeldUntried(scene, 1);
      const doctor = await scene.cli('doctor', '--no-cron');
      expect(doctor.stdout).toMatch(
        /^✓ outbox telegram: the bot and chat answer now: the next check sends the held alert\(s\)$/m,
      );
      expect(scene.messages()).toEqual([]);
      const next = await scene.check();
      expect(next.delivery?.delivered).toHaveLength(1);
      expect(scene.messages()).toHaveLength(1);
      expect(scene.outbox()).toEqual([]);
    } finally {
      await scene.finish();
    }
  });

  it('a held alert is tried again on the backoff without any sign the channel works', {
    timeout: 240_000,
  }, async () => {
    const scene = await withDeadTarget('heldbackoff');
    try {
      scene.api.setFault('forbidden');
      await scene.check();
      scene.api.setFault(null);
      await expectHeldUntried(scene, 1);
      // Five minutes pass (the first backoff step): the refusal is made that much older.
      const [name] = scene.outbox();
      const file = join(scene.stateDir, 'outbox', name!);
      const entry = JSON.parse(readFileSync(file, 'utf8'));
      entry.permanent.telegram.atMs -= 5 * 60_000;
      writeFileSync(file, JSON.stringify(entry));
      scene.note('refusal aged by 5 minutes');
      const retried = await scene.check();
      expect(retried.delivery?.delivered).toHaveLength(1);
      expect(scene.messages()).toHaveLength(1);
      expect(scene.outbox()).toEqual([]);
    } finally {
      await scene.finish();
    }
  });

  it('eight targets dying at once go out as one digest message', async () => {
    const names = Array.from({ length: 8 }, (_, i) => `storm-${i + 1}`);
    const scene = await scenario(
      'storm',
      names.map((name) => ({ name })),
    );
    try {
      await Promise.all(names.map((name) => scene.spawnTarget(name)));
      expect((await scene.check()).alerts).toEqual([]);
      await Promise.all(names.map((name) => scene.killTarget(name)));
      scene.note('all 8 targets killed (SIGKILL)');
      const storm = await scene.check();
      expect(storm.alerts).toHaveLength(8);
      const [digest, ...others] = scene.messages();
      expect(others).toEqual([]);
      expect(digest!.text.length).toBeLessThanOrEqual(4096);
      expect(digest!.text).toContain(': 8 alerts');
      expect(new Set(keysIn(digest!.text, TELEGRAM_TITLE))).toEqual(new Set(storm.alerts.map(alertKey)));
    } finally {
      await scene.finish();
    }
  });

  it('a failed start with a 10,000-character log and markup in its reason gives one valid message', async () => {
    const script = join(FIXTURES, 'noisy-fail.mjs');
    const marker = `${SUITE}-noisy`;
    const scene = await scenario('noisy', [
      { name: 'noisy', start: `node ${script} ${marker}`, match: `noisy-fail\\.mjs ${marker}( <b>&)?$` },
    ]);
    try {
      const run = await scene.check();
      expect(run.exitCode).toBe(1);
      expect(run.alerts).toHaveLength(1);
      const [message, ...others] = scene.messages();
      expect(others).toEqual([]);
      const text = message!.text;
      expect(message!.parseMode).toBe('HTML');
      expect(text.length).toBeLessThanOrEqual(4096);
      expect(text).toContain('HEAD-OF-LOG &lt;b&gt;&amp;');
      expect(text).toContain('TAIL-OF-LOG &lt;/b&gt;&amp;');
      expect(text).toMatch(/characters cut/);
      expect(text).toContain(`${marker}( &lt;b&gt;&amp;)?$`);
      // Only our own tags remain, and every & starts an entity.
      expect(text.replace(/<\/?(b|i|code|pre)>/g, '')).not.toMatch(/[<>]/);
      expect(text).not.toMatch(/&(?!amp;|lt;|gt;|quot;)/);
    } finally {
      await scene.finish();
    }
  });

  it('with Telegram and a failing webhook, each channel gets the alert once', async () => {
    const scene = await withDeadTarget('webhook', { webhook: true });
    try {
      scene.hook!.setReply({ status: 500, body: 'internal_error' });
      const failing = await scene.check();
      expect(failing.alerts).toHaveLength(1);
      expect(failing.delivery?.pending.map((entry) => entry.waitingFor)).toEqual([['webhook']]);
      expect(failing.delivery?.retryErrors[0]?.error).toMatch(/^Webhook \(127\.0\.0\.1:\d+\) answered 500/);
      expect(scene.messages()).toHaveLength(1);
      scene.hook!.setReply(null);
      scene.note('webhook healthy again');
      const healthy = await scene.check();
      expect(healthy.delivery?.delivered).toHaveLength(1);
      expect(scene.messages()).toHaveLength(1);
      expect(scene.hook!.accepted()).toHaveLength(1);
      expect(scene.outbox()).toEqual([]);
    } finally {
      await scene.finish();
    }
  });
});
