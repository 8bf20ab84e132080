/**
 * An example from `examples/<name>/`, copied into a private workspace and run there as a user who
 * installed cronwatch would run it: `node_modules/cronwatch` is this repository, and the
 * `cronwatch-source` condition (with tsx) points `import ... from 'cronwatch'` at `src/index.ts`,
 * so the examples run as they are, without a build.
 *
 * What a test changes in the example's `cronwatch.yaml` is only where this copy lives: the Bot
 * API stand-in, the environment, and a marker in the command line so that workspaces running side
 * by side never match each other's processes.
 */
import { randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { parse, stringify } from 'yaml';
import { type BotApiServer, startBotApiServer } from '../support/bot-api-server.js';
import { type CliResult, cronwatch, killAll, ROOT, runProcess, waitFor, workspace } from '../support/cli.js';

/** Shaped like a real bot token, so that a leak would also be caught by `redact`. */
export const TOKEN = '123456:AAexampleTOKENforTESTSonlyABCDEFGHIJ';
export const CHAT_ID = '4242';

/** `node` for an example's program: `'cronwatch'` resolves to this repository's source. */
export const NODE_OPTIONS = '--conditions=cronwatch-source --import tsx';

const LOCKED = 75;

/** The parsed `cronwatch.yaml` of an example, to adjust before it is written. */
export interface ConfigDocument {
  state_dir?: string;
  channels?: { telegram?: Record<string, unknown> };
  targets: Record<string, unknown>[];
  [key: string]: unknown;
}

export interface ExampleWorkspace {
  readonly dir: string;
  /** Unique to this workspace; put it in every command line it starts. */
  readonly marker: string;
  readonly api: BotApiServer;
  /** The environment an example's program runs with: the token, the stand-in, the source condition. */
  readonly env: Readonly<Record<string, string>>;
  path(name: string): string;
  /** Writes the example's `cronwatch.yaml`, pointed at the stand-in and changed by `edit`. */
  configure(edit?: (config: ConfigDocument) => void): void;
  /** `cronwatch <args> --config cronwatch.yaml`; no output may hold the token. */
  cronwatch(...args: string[]): Promise<CliResult>;
  /** Runs a program of the example to its end, in the workspace (`node prune.mjs`, `sh backup.sh`). */
  runProgram(command: string, args: readonly string[], env?: Record<string, string>): Promise<CliResult>;
  /** Kills what carries the marker, closes the stand-in, removes the workspace. */
  cleanup(): Promise<void>;
}

export async function exampleWorkspace(name: string): Promise<ExampleWorkspace> {
  const ws = workspace(`cronwatch-example-${name}-`);
  const marker = `cw-example-${name}-${randomUUID().slice(0, 8)}`;
  cpSync(join(ROOT, 'examples', name), ws.dir, { recursive: true });
  mkdirSync(ws.path('node_modules'));
  symlinkSync(ROOT, ws.path('node_modules/cronwatch'));
  for (const name of ['tsx', 'zx']) {
    symlinkSync(join(ROOT, 'node_modules', name), ws.path(`node_modules/${name}`));
  }
  // `cronwatch` on the PATH, as `npm install -g cronwatch` would put it, running this repository.
  mkdirSync(ws.path('bin'));
  writeFileSync(
    ws.path('bin/cronwatch'),
    `#!/bin/sh\nexec "${process.execPath}" --import tsx "${join(ROOT, 'scripts/cronwatch.ts')}" "$@"\n`,
    { mode: 0o755 },
  );
  const api = await startBotApiServer();
  const env = {
    TELEGRAM_BOT_TOKEN: TOKEN,
    TELEGRAM_CHAT_ID: CHAT_ID,
    TELEGRAM_API_ROOT: api.apiRoot,
    NODE_OPTIONS,
    PATH: `${ws.path('bin')}:${process.env.PATH ?? ''}`,
  };
  const configFile = ws.path('cronwatch.yaml');
  const exampleConfig = readFileSync(configFile, 'utf8');
  const noLeak = (result: CliResult) => {
    expect(result.stdout).not.toContain(TOKEN);
    expect(result.stderr).not.toContain(TOKEN);
    return result;
  };

  return {
    dir: ws.dir,
    marker,
    api,
    env,
    path: ws.path,
    configure(edit) {
      const config = parse(exampleConfig) as ConfigDocument;
      const telegram = config.channels?.telegram;
      if (telegram !== undefined) telegram.api_root = api.apiRoot;
      edit?.(config);
      ws.writeConfig(stringify(config));
    },
    async cronwatch(...args) {
      // cronwatch's NODE_OPTIONS are its own: the targets it starts get theirs from the config.
      const cliEnv = { TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_CHAT_ID: CHAT_ID, PATH: env.PATH };
      // A program of the example may be delivering its own messages under the run lock at that
      // moment; cron would simply run again, and so does the test.
      return waitForResult(async () => {
        const result = noLeak(
          await cronwatch([...args, '--config', configFile], { env: cliEnv, cwd: ws.dir }),
        );
        return result.code === LOCKED ? undefined : result;
      });
    },
    async runProgram(command, args, extraEnv = {}) {
      return noLeak(await runProcess(command, args, { cwd: ws.dir, env: { ...env, ...extraEnv } }));
    },
    async cleanup() {
      killAll(marker);
      await api.close();
      ws.remove();
    },
  };
}

async function waitForResult(attempt: () => Promise<CliResult | undefined>): Promise<CliResult> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const result = await attempt();
    if (result !== undefined) return result;
    if (Date.now() > deadline) throw new Error('cronwatch kept finding the run lock held');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The heartbeat file's JSON once `accept` likes it. */
export function heartbeatOf(
  path: string,
  accept: (record: Record<string, unknown>) => boolean,
  what: string,
): Promise<Record<string, unknown>> {
  return waitFor(() => {
    try {
      const record = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      return accept(record) ? record : undefined;
    } catch {
      return undefined;
    }
  }, what);
}
