/**
 * One end-to-end scene: a private workspace, a Bot API stand-in, a config whose Telegram channel
 * points at it with the token taken from `${TELEGRAM_BOT_TOKEN}`, and a marker unique to the test
 * in every command line it starts, so that test files running side by side never see each
 * other's processes.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { readProcess } from '../../src/probes/process-table.js';
import { type BotApiServer, startBotApiServer } from '../support/bot-api-server.js';
import { type CliResult, cronwatch, FIXTURES, killAll, pidsOf, waitFor, workspace } from '../support/cli.js';

/** Shaped like a real bot token, so that `redact` would also catch it if it leaked. */
export const TOKEN = '123456:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr';
export const CHAT_ID = '4242';
export const HOST = 'e2e-host';
const DAEMON = join(FIXTURES, 'cli-daemon.mjs');
export const ENV = { TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_CHAT_ID: CHAT_ID };

export interface TargetOptions {
  readonly name?: string;
  /** Replaces the default start command (the daemon fixture with the marker). */
  readonly start?: string;
  /** Replaces the default match (the daemon fixture with the marker). */
  readonly match?: string;
  /** Replaces the default `start_grace` (700ms). */
  readonly startGrace?: string;
  /** Further YAML lines of the target, each indented by four spaces. */
  readonly extra?: readonly string[];
}

export interface Scene {
  readonly marker: string;
  readonly dir: string;
  readonly stateDir: string;
  readonly configFile: string;
  api: BotApiServer;
  /** `cronwatch <args> --config <file>` with the token in the environment; no output may hold it. */
  run(...args: string[]): Promise<CliResult>;
  /** Writes the config: the header (plus `top`, top-level YAML lines) and one target per entry. */
  configure(targets: readonly TargetOptions[], top?: readonly string[]): void;
  /** The daemon fixture's command line for this scene, optionally with a heartbeat file. */
  daemonCommand(heartbeat?: string): string;
  /** Starts the daemon fixture as someone else would (not cronwatch); returns its pid once it runs. */
  spawnDaemon(heartbeat?: string): Promise<number>;
  path(name: string): string;
  /** Kills what carries the marker, closes the stand-in, removes the workspace. */
  cleanup(): Promise<void>;
}

export async function createScene(label: string): Promise<Scene> {
  const ws = workspace(`cronwatch-e2e-${label}-`);
  const marker = `cw-e2e-${label}-${randomUUID().slice(0, 8)}`;
  const api = await startBotApiServer();
  const scene: Scene = {
    marker,
    dir: ws.dir,
    stateDir: ws.path('state'),
    configFile: ws.path('cronwatch.yaml'),
    api,
    async run(...args) {
      const result = await cronwatch([...args, '--config', scene.configFile], { env: ENV });
      expect(result.stdout).not.toContain(TOKEN);
      expect(result.stderr).not.toContain(TOKEN);
      return result;
    },
    configure(targets, top = []) {
      const lines = [
        'state_dir: ./state',
        `host: ${HOST}`,
        ...top,
        'channels:',
        '  telegram:',
        '    token: ${TELEGRAM_BOT_TOKEN}',
        '    chat_id: ${TELEGRAM_CHAT_ID}',
        `    api_root: ${scene.api.apiRoot}`,
        'targets:',
      ];
      for (const target of targets) {
        lines.push(
          `  - name: ${target.name ?? 'daemon'}`,
          `    match: '${target.match ?? `cli-daemon\\.mjs ${marker}\\b`}'`,
          `    start: ${JSON.stringify(target.start ?? scene.daemonCommand())}`,
          `    start_grace: ${target.startGrace ?? '700ms'}`,
          '    stop_timeout: 5s',
          ...(target.extra ?? []).map((line) => `    ${line}`),
        );
      }
      ws.writeConfig(`${lines.join('\n')}\n`);
    },
    daemonCommand: (heartbeat) => `node ${DAEMON} ${marker}${heartbeat === undefined ? '' : ` ${heartbeat}`}`,
    async spawnDaemon(heartbeat) {
      const child = spawn(
        process.execPath,
        [DAEMON, marker, ...(heartbeat === undefined ? [] : [heartbeat])],
        {
          cwd: ws.dir,
          detached: true,
          stdio: 'ignore',
        },
      );
      child.unref();
      const pid = child.pid!;
      await waitFor(() => (pidsOf(marker).includes(pid) ? true : undefined), `daemon ${marker} to run`);
      return pid;
    },
    path: ws.path,
    async cleanup() {
      killAll(marker);
      await scene.api.close();
      ws.remove();
    },
  };
  return scene;
}

/** Whether `pid` is a live (non-zombie) process whose command line contains `marker`. */
export function runsMarker(pid: number, marker: string): boolean {
  const info = readProcess(pid);
  return info !== null && info.state !== 'Z' && info.cmdline.includes(marker);
}

/** Whether `pid` is gone (or a zombie waiting to be reaped). */
export function isGone(pid: number): boolean {
  const info = readProcess(pid);
  return info === null || info.state === 'Z';
}

/** Every regular file under `dir`, recursively, with its text. */
export function filesUnder(dir: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push({ path, text: readFileSync(path, 'utf8') });
  }
  return out;
}

/** The json envelopes waiting in the outbox. */
export function outboxFiles(stateDir: string): string[] {
  try {
    return readdirSync(join(stateDir, 'outbox')).filter(
      (name) => name.endsWith('.json') && !name.startsWith('.'),
    );
  } catch {
    return [];
  }
}
