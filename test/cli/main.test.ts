import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bundleCli } from '../../scripts/bundle.js';
import { YAML_BUNDLE } from '../../src/cli/build-files.js';
import {
  type CliResult,
  FIXTURES,
  killAll,
  pidsOf,
  ROOT,
  runProcess,
  waitFor,
  workspace,
} from '../support/cli.js';

const RECORDER = join(import.meta.dirname, 'fixtures/record-packages.mjs');
const DAEMON = join(FIXTURES, 'cli-daemon.mjs');
const TOKEN = '123456:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr';

const cleanups: (() => void)[] = [];

afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

interface Setup {
  readonly dir: string;
  readonly config: string;
  readonly marker: string;
  readonly path: (name: string) => string;
}

/**
 * A workspace with one running target, watched by a config that also names a Telegram channel
 * (on a port where nothing listens: a healthy run must not even try it).
 */
async function setUp(format: 'yaml' | 'json'): Promise<Setup> {
  const ws = workspace('cronwatch-main-');
  const marker = `cw-main-${randomUUID().slice(0, 8)}`;
  cleanups.push(() => {
    killAll(marker);
    ws.remove();
  });
  const document = {
    state_dir: './state',
    channels: {
      telegram: { token: '${TELEGRAM_BOT_TOKEN}', chat_id: '42', api_root: 'http://127.0.0.1:9' },
    },
    targets: [{ name: 'daemon', match: `cli-daemon\\.mjs ${marker}`, start: `node ${DAEMON} ${marker}` }],
  };
  const config =
    format === 'json'
      ? ws.writeConfig(JSON.stringify(document), 'cronwatch.json')
      : ws.writeConfig(
          [
            'state_dir: ./state',
            'channels:',
            '  telegram:',
            '    token: ${TELEGRAM_BOT_TOKEN}',
            '    chat_id: "42"',
            '    api_root: http://127.0.0.1:9',
            'targets:',
            '  - name: daemon',
            `    match: 'cli-daemon\\.mjs ${marker}'`,
            `    start: node ${DAEMON} ${marker}`,
            '',
          ].join('\n'),
        );
  const daemon = spawn(process.execPath, [DAEMON, marker], { detached: true, stdio: 'ignore' });
  daemon.unref();
  await waitFor(() => (pidsOf(marker).length === 1 ? true : undefined), `the daemon ${marker} to run`);
  return { dir: ws.dir, config, marker, path: ws.path };
}

/** Runs `node [--import tsx] <entry> <args>` with the package recorder; returns what it imported. */
async function runRecorded(
  entry: string,
  args: readonly string[],
  dir: string,
  env: NodeJS.ProcessEnv = {},
): Promise<CliResult & { readonly packages: readonly string[] }> {
  const file = join(dir, `packages-${randomUUID()}.txt`);
  const loader = entry.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const result = await runProcess(process.execPath, [...loader, '--import', RECORDER, entry, ...args], {
    env: { TELEGRAM_BOT_TOKEN: TOKEN, CRONWATCH_TEST_PACKAGES_FILE: file, ...env },
  });
  const packages = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  return { ...result, packages: [...new Set(packages)].sort() };
}

const SOURCE_ENTRY = join(ROOT, 'scripts/cronwatch.ts');

describe('cronwatch check as cron runs it', () => {
  it('loads no package at all for a healthy run with a JSON config: not yargs, not yaml, not the Telegram client', async () => {
    const s = await setUp('json');
    for (let run = 0; run < 2; run += 1) {
      const result = await runRecorded(SOURCE_ENTRY, ['check', '--config', s.config], s.dir);
      expect(result).toEqual({ code: 0, stdout: '', stderr: '', packages: [] });
    }
  });

  it('loads yaml, and neither yargs nor the Telegram client, for a healthy run with a YAML config', async () => {
    const s = await setUp('yaml');
    const result = await runRecorded(SOURCE_ENTRY, ['check', '-c', s.config], s.dir);
    expect(result).toEqual({ code: 0, stdout: '', stderr: '', packages: ['yaml'] });
  });

  it('loads yargs for anything but a plain check line, which shows the recorder sees imports', async () => {
    const s = await setUp('yaml');
    const result = await runRecorded(SOURCE_ENTRY, ['check', '--json', 'true', '-c', s.config], s.dir);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ dryRun: false, exitCode: 0 });
    expect(result.packages).toContain('yargs');
    expect(result.packages).not.toContain('node-telegram-bot-api');
    expect(result.packages).not.toContain('zx');
  });

  it("loads zx only where cronwatch shells out: crontab editing and doctor's crontab read, never a check", async () => {
    const s = await setUp('yaml');
    const check = await runRecorded(SOURCE_ENTRY, ['check', '-c', s.config], s.dir);
    expect(check).toMatchObject({ code: 0, stderr: '' });
    expect(check.packages).not.toContain('zx');
    // The control: `--remove` of a block that is not there only reads the crontab (`crontab -l`).
    const crontab = await runRecorded(SOURCE_ENTRY, ['crontab', '--remove', '-c', s.config], s.dir);
    expect(crontab.packages).toContain('zx');
    // doctor reads the crontab the same way; with --no-cron it shells out to nothing.
    const doctor = await runRecorded(SOURCE_ENTRY, ['doctor', '-c', s.config], s.dir);
    expect(doctor.packages).toContain('zx');
    const noCron = await runRecorded(SOURCE_ENTRY, ['doctor', '--no-cron', '-c', s.config], s.dir);
    expect(noCron.stdout).toContain('- crontab: not checked');
    expect(noCron.packages).not.toContain('zx');
  });

  it('runs nothing when an option is misspelled: `check --dryrun` is a usage error, not a real run', async () => {
    const s = await setUp('yaml');
    killAll(s.marker);
    await waitFor(() => (pidsOf(s.marker).length === 0 ? true : undefined), 'the daemon to die');
    const result = await runRecorded(SOURCE_ENTRY, ['check', '--dryrun', '-c', s.config], s.dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Unknown argument: dryrun');
    expect(result.stdout).toBe('');
    // Nothing was started and nothing recorded.
    expect(pidsOf(s.marker)).toEqual([]);
    expect(existsSync(s.path('state'))).toBe(false);
  });
});

describe('the bundled CLI (npm run build)', () => {
  it('runs a healthy check from its own bundle, loading no package, and the full CLI from node_modules', async () => {
    const s = await setUp('yaml');
    // Under dist/, so that yargs and the others resolve from the project's node_modules.
    mkdirSync(join(ROOT, 'dist'), { recursive: true });
    const out = mkdtempSync(join(ROOT, 'dist', '.test-bundle-'));
    cleanups.push(() => rmSync(out, { recursive: true, force: true }));
    const bundle = join(out, 'cronwatch.cjs');
    await bundleCli(out);

    // The second run compiles from the code cache the first one wrote.
    const cache = { XDG_CACHE_HOME: join(s.dir, 'cache') };
    for (let run = 0; run < 2; run += 1) {
      const result = await runRecorded(bundle, ['check', '--config', s.config], s.dir, cache);
      expect(result).toEqual({ code: 0, stdout: '', stderr: '', packages: [] });
    }
    // The check and the full CLI share the parsed config: a `status` neither misses (without the
    // YAML parser's bundle a miss could not parse) nor rewrites it.
    const cached = statSync(s.path('state/config-cache.json'));
    const parser = join(out, YAML_BUNDLE);
    renameSync(parser, `${parser}.aside`);
    expect((await runRecorded(bundle, ['status', '--config', s.config], s.dir, cache)).code).toBe(0);
    renameSync(`${parser}.aside`, parser);
    expect(statSync(s.path('state/config-cache.json'))).toMatchObject({
      ino: cached.ino,
      mtimeMs: cached.mtimeMs,
    });
    // The entry crontab lines installed before the loader was CommonJS still run the same check.
    const legacy = await runRecorded(
      join(out, 'cronwatch.js'),
      ['check', '--config', s.config],
      s.dir,
      cache,
    );
    expect(legacy).toEqual({ code: 0, stdout: '', stderr: '', packages: [] });
    const version = await runRecorded(bundle, ['--version'], s.dir, cache);
    expect(version.stdout.trim()).toBe(
      (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    );
    expect(version.packages).toContain('yargs');
  });
});
