import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bundleCli } from '../../scripts/bundle.js';
import { ROOT, runProcess, workspace } from '../support/cli.js';

let out = '';
let ws: ReturnType<typeof workspace>;

beforeAll(async () => {
  // Under dist/, so that the packages left out of the bundle resolve from node_modules.
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  out = mkdtempSync(join(ROOT, 'dist', '.test-cache-'));
  await bundleCli(out);
});

afterEach(() => {
  ws.remove();
});

afterAll(() => {
  rmSync(out, { recursive: true, force: true });
});

/** A healthy config: one heartbeat target whose state file was just written. */
function setUp(): { readonly config: string; readonly cacheHome: string; readonly cacheDir: string } {
  ws = workspace();
  const heartbeat = ws.path('app.heartbeat');
  writeFileSync(heartbeat, JSON.stringify({ ts: new Date().toISOString(), pid: 1, status: 'ok' }));
  const config = ws.path('cronwatch.yaml');
  writeFileSync(
    config,
    [
      `state_dir: ${ws.path('state')}`,
      'targets:',
      '  - name: app',
      `    state_file: ${heartbeat}`,
      '    max_age: 1h',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const cacheHome = ws.path('cache');
  return { config, cacheHome, cacheDir: join(cacheHome, 'cronwatch') };
}

function run(args: readonly string[], cacheHome: string) {
  return runProcess(process.execPath, [join(out, 'cronwatch.cjs'), ...args], {
    env: { XDG_CACHE_HOME: cacheHome },
    cwd: ws.dir,
  });
}

describe('the built CLI with the code cache', () => {
  it('writes the cache at the end of the first check, private, and only reads it after', async () => {
    const s = setUp();
    expect(await run(['--version'], s.cacheHome)).toMatchObject({ code: 0, stderr: '' });
    expect(() => readdirSync(s.cacheDir)).toThrow(/ENOENT/);

    expect(await run(['check', '--config', s.config], s.cacheHome)).toEqual({
      code: 0,
      stdout: '',
      stderr: '',
    });
    const [name, ...others] = readdirSync(s.cacheDir);
    expect(others).toEqual([]);
    expect(name).toMatch(
      new RegExp(`^cronwatch-check-[0-9a-f]{8}-${process.version}-${process.arch}-\\d+-\\d+\\.v8$`),
    );
    const file = join(s.cacheDir, name!);
    const written = statSync(file);
    expect(statSync(s.cacheDir).mode & 0o777).toBe(0o700);
    expect(written.mode & 0o777).toBe(0o600);

    expect(await run(['check', '--config', s.config], s.cacheHome)).toEqual({
      code: 0,
      stdout: '',
      stderr: '',
    });
    expect(statSync(file)).toMatchObject({ ino: written.ino, mtimeMs: written.mtimeMs });
  });

  it("replaces a cache V8 refuses and removes an older bundle's, not another install's", async () => {
    const s = setUp();
    mkdirSync(s.cacheDir, { recursive: true, mode: 0o700 });
    await run(['check', '--config', s.config], s.cacheHome);
    const [name] = readdirSync(s.cacheDir);
    writeFileSync(join(s.cacheDir, name!), 'not a code cache', { mode: 0o600 });
    const place = name!.split('-').slice(0, 3).join('-');
    writeFileSync(join(s.cacheDir, `${place}-v0.0.0-x64-1-1.v8`), 'an older one', { mode: 0o600 });
    const otherInstall = 'cronwatch-check-00000000-v0.0.0-x64-1-1.v8';
    writeFileSync(join(s.cacheDir, otherInstall), "another install's", { mode: 0o600 });

    expect(await run(['check', '--config', s.config], s.cacheHome)).toEqual({
      code: 0,
      stdout: '',
      stderr: '',
    });
    expect(readdirSync(s.cacheDir).sort()).toEqual([otherInstall, name].sort());
    expect(statSync(join(s.cacheDir, name!)).size).toBeGreaterThan(1000);
  });

  it('neither reads nor writes a cache directory other users can write to', async () => {
    const s = setUp();
    mkdirSync(s.cacheDir, { recursive: true });
    chmodSync(s.cacheDir, 0o777);
    expect(await run(['check', '--config', s.config], s.cacheHome)).toEqual({
      code: 0,
      stdout: '',
      stderr: '',
    });
    expect(readdirSync(s.cacheDir)).toEqual([]);
  });
});
