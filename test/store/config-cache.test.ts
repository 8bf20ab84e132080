/**
 * The parsed-config cache: a hit gives the same Config as parsing, a changed file or changed code
 * never uses it, a corrupt or untrusted one is ignored, and neither an invalid config nor a
 * value from the environment is ever written to it.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CommandError, loadConfig as loadConfigWith } from '../../src/cli/context.js';
import {
  CONFIG_CACHE_FILE,
  identityOf,
  readCachedDocument,
  stateDirHint,
  writeCachedDocument,
} from '../../src/store/config-cache.js';
import { workspace } from '../support/cli.js';

const ws = workspace('cronwatch-config-cache-');
afterAll(() => ws.remove());

let count = 0;

/** Loads as a command that writes to the state dir does: a miss writes the cache. */
const loadConfig = (file: string, env: NodeJS.ProcessEnv) => loadConfigWith(file, env, { writeCache: true });

/** A config in a dir of its own, with its state dir made (the cache is written only into one). */
function place(text: string, stateDir = '.cronwatch'): { file: string; cache: string } {
  count += 1;
  const dir = ws.path(`c${count}`);
  mkdirSync(dir, { mode: 0o700 });
  const file = join(dir, 'cronwatch.yaml');
  writeFileSync(file, text, { mode: 0o600 });
  const state = stateDir.startsWith('/') ? stateDir : join(dir, stateDir);
  mkdirSync(state, { recursive: true, mode: 0o700 });
  return { file, cache: join(state, CONFIG_CACHE_FILE) };
}

const REALISTIC = [
  'interval: 5m',
  'channels:',
  '  telegram:',
  '    token: ${TELEGRAM_BOT_TOKEN}',
  '    chat_id: "-100123"',
  'heartbeat:',
  '  url: http://127.0.0.1:9/ping/abc',
  'targets:',
  '  - name: worker-0',
  "    match: 'node .*/worker-0\\.js'",
  '    start: node /srv/worker-0.js --key ${APP_KEY}',
  '    state_file: /tmp/w0.json',
  '    max_age: 10m',
  '  - name: worker-1',
  '    match: worker-1',
  '    start: node /srv/worker-1.js',
  '',
].join('\n');

/** The Config with the cache missing, then with it, after checking the cache was written. */
async function missThenHit(file: string, cache: string, env: NodeJS.ProcessEnv) {
  expect(existsSync(cache)).toBe(false);
  const miss = await loadConfig(file, env);
  expect(existsSync(cache)).toBe(true);
  const hit = await loadConfig(file, env);
  return { miss, hit };
}

/** Rewrites the cached document, so that a run which used the cache is recognisable. */
function plantDocument(cache: string, edit: (entry: Record<string, unknown>) => void): void {
  const entry = JSON.parse(readFileSync(cache, 'utf8')) as Record<string, unknown>;
  edit(entry);
  writeFileSync(cache, JSON.stringify(entry));
}

function renameFirstTarget(entry: Record<string, unknown>): void {
  const document = entry.document as { targets: { name: string }[] };
  document.targets[0]!.name = 'planted';
}

describe('a cache hit', () => {
  const envs: Record<string, NodeJS.ProcessEnv> = {
    'every variable set': { TELEGRAM_BOT_TOKEN: '123:tok', APP_KEY: 'k1' },
    'the channel secret unset': { APP_KEY: 'k1' },
  };
  for (const [name, env] of Object.entries(envs)) {
    it(`gives the Config parsing gives (${name})`, async () => {
      const { file, cache } = place(REALISTIC);
      const { miss, hit } = await missThenHit(file, cache, env);
      expect(hit).toEqual(miss);
    });
  }

  it('substitutes the variables of this run, not of the run that wrote it', async () => {
    const { file, cache } = place(REALISTIC);
    await loadConfig(file, { TELEGRAM_BOT_TOKEN: '123:first', APP_KEY: 'first' });
    const withCache = await loadConfig(file, { APP_KEY: 'second' });
    expect(withCache.targets[0]!.start).toBe('node /srv/worker-0.js --key second');
    expect(withCache.channels.telegram).toBeNull();
    expect(withCache.unsetEnv).toEqual([{ path: 'channels.telegram.token', variable: 'TELEGRAM_BOT_TOKEN' }]);
    rmSync(cache);
    expect(await loadConfig(file, { APP_KEY: 'second' })).toEqual(withCache);
  });

  it('refuses an unset variable outside the lenient sections exactly as parsing does', async () => {
    const { file, cache } = place(REALISTIC);
    await loadConfig(file, { APP_KEY: 'k1' });
    const fromCache = await loadConfig(file, {}).catch((error: unknown) => error);
    rmSync(cache);
    const parsed = await loadConfig(file, {}).catch((error: unknown) => error);
    expect(fromCache).toBeInstanceOf(CommandError);
    expect((fromCache as CommandError).message).toContain(
      'targets[0].start: environment variable APP_KEY is not set',
    );
    expect((fromCache as CommandError).message).toBe((parsed as CommandError).message);
  });

  it('gives the same Config for a state_dir set in the file, relative or absolute', async () => {
    const relative = place(`state_dir: ./state # ours\n${REALISTIC}`, 'state');
    const absoluteDir = ws.path(`abs-state-${count}`);
    const absolute = place(`state_dir: "${absoluteDir}"\n${REALISTIC}`, absoluteDir);
    for (const { file, cache } of [relative, absolute]) {
      const { miss, hit } = await missThenHit(file, cache, { APP_KEY: 'k' });
      expect(hit).toEqual(miss);
      expect(miss.stateDir).toBe(join(cache, '..'));
    }
  });

  it('is what the run uses: a planted document shows through', async () => {
    const { file, cache } = place(REALISTIC);
    await loadConfig(file, { APP_KEY: 'k' });
    plantDocument(cache, renameFirstTarget);
    expect((await loadConfig(file, { APP_KEY: 'k' })).targets[0]!.name).toBe('planted');
  });
});

describe('a cache that must not be used', () => {
  it('is ignored when the file changed with the same size, inode and mtime', async () => {
    const { file, cache } = place(REALISTIC);
    utimesSync(file, 1_700_000_000, 1_700_000_000);
    await loadConfig(file, { APP_KEY: 'k' });
    const before = statSync(file, { bigint: true });
    writeFileSync(file, REALISTIC.replace('match: worker-1', 'match: worker-9'));
    utimesSync(file, 1_700_000_000, 1_700_000_000);
    const after = statSync(file, { bigint: true });
    expect(identityOf(after)).toEqual(identityOf(before));
    const config = await loadConfig(file, { APP_KEY: 'k' });
    expect(config.targets[1]!.match).toBe('worker-9');
    expect(JSON.parse(readFileSync(cache, 'utf8')).text).toContain('worker-9');
  });

  it('is ignored when written by other code', async () => {
    const { file, cache } = place(REALISTIC);
    await loadConfig(file, { APP_KEY: 'k' });
    plantDocument(cache, (entry) => {
      renameFirstTarget(entry);
      entry.code = `${entry.code}-older`;
    });
    expect((await loadConfig(file, { APP_KEY: 'k' })).targets[0]!.name).toBe('worker-0');
  });

  it('is ignored when corrupt, and rewritten', async () => {
    const { file, cache } = place(REALISTIC);
    const parsed = await loadConfig(file, { APP_KEY: 'k' });
    for (const junk of ['', '{"format":1,"document"', '[1,2]', 'null']) {
      writeFileSync(cache, junk);
      expect(await loadConfig(file, { APP_KEY: 'k' })).toEqual(parsed);
      expect(JSON.parse(readFileSync(cache, 'utf8')).document.targets).toHaveLength(2);
    }
  });

  it('is ignored when others could have written it or its dir', async () => {
    const { file, cache } = place(REALISTIC);
    await loadConfig(file, { APP_KEY: 'k' });
    plantDocument(cache, renameFirstTarget);
    chmodSync(cache, 0o640);
    expect((await loadConfig(file, { APP_KEY: 'k' })).targets[0]!.name).toBe('worker-0');
    plantDocument(cache, renameFirstTarget);
    chmodSync(cache, 0o600);
    chmodSync(join(cache, '..'), 0o777);
    expect((await loadConfig(file, { APP_KEY: 'k' })).targets[0]!.name).toBe('worker-0');
  });

  it('does not excuse a config file others can write', async () => {
    const { file } = place(REALISTIC);
    await loadConfig(file, { APP_KEY: 'k' });
    chmodSync(file, 0o666);
    await expect(loadConfig(file, { APP_KEY: 'k' })).rejects.toThrow(
      /is writable by other users \(mode 666\)/,
    );
  });
});

describe('what is written', () => {
  it('is 0600 and holds no value from the environment', async () => {
    const { file, cache } = place(REALISTIC);
    await loadConfig(file, { TELEGRAM_BOT_TOKEN: '987654:SECRET-token-value', APP_KEY: 'app-SECRET-key' });
    const text = readFileSync(cache, 'utf8');
    expect(text).not.toContain('SECRET');
    expect(text).toContain('${TELEGRAM_BOT_TOKEN}');
    expect(statSync(cache).mode & 0o777).toBe(0o600);
  });

  it('is nothing for an invalid config, or one invalid in this environment', async () => {
    const typo = place(`${REALISTIC}    max_agee: 5m\n`);
    await expect(loadConfig(typo.file, { APP_KEY: 'k' })).rejects.toThrow(/unknown key/);
    expect(existsSync(typo.cache)).toBe(false);
    const unset = place(REALISTIC);
    await expect(loadConfig(unset.file, {})).rejects.toThrow(/APP_KEY is not set/);
    expect(existsSync(unset.cache)).toBe(false);
  });

  it('is nothing for a document JSON cannot give back', async () => {
    const { file, cache } = place('x: 1\n');
    const identity = identityOf(statSync(file, { bigint: true }));
    await writeCachedDocument(file, identity, 'x: 1\n', { x: Number.POSITIVE_INFINITY }, join(cache, '..'));
    expect(existsSync(cache)).toBe(false);
    await writeCachedDocument(file, identity, 'x: 1\n', { x: 1 }, join(cache, '..'));
    expect(await readCachedDocument(file, identity, 'x: 1\n')).toEqual({ x: 1 });
  });

  it('is nothing when the state dir does not exist yet (the next run, after it is made, writes it)', async () => {
    const { file, cache } = place(REALISTIC, 'unused');
    await loadConfig(file, { APP_KEY: 'k' });
    expect(existsSync(join(cache, '../../.cronwatch'))).toBe(false);
    expect(existsSync(cache)).toBe(false);
  });
});

describe('where the cache is looked for', () => {
  const file = '/etc/cw/cronwatch.yaml';
  it.each([
    ['targets: []\n', '/etc/cw/.cronwatch'],
    ['state_dir: /var/lib/cronwatch\n', '/var/lib/cronwatch'],
    ["state_dir: 'state dir' # why\n", '/etc/cw/state dir'],
    ['state_dir: "../cw-state"\n', '/etc/cw-state'],
    ['x:\n  state_dir: /nested\n', '/etc/cw/.cronwatch'],
  ])('%j: %s', (text, dir) => {
    expect(stateDirHint(file, text)).toBe(dir);
  });
  it('nowhere for a state_dir that depends on the environment', () => {
    expect(stateDirHint(file, 'state_dir: ${HOME}/.cw\n')).toBeNull();
  });
});
