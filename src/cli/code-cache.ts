/**
 * The built CLI's loader (`dist/scripts/cronwatch.cjs`, what `bin` and the crontab lines run;
 * see scripts/bundle.ts): it compiles a bundle beside it, the cron path's with V8's code cache,
 * so that a `check` from cron does not parse and compile the same 300 kB of JavaScript 288 times
 * a day. Node 20 has no compile cache of its own (`module.enableCompileCache` came in 22), so
 * this is `vm.Script` with `cachedData`, the way `v8-compile-cache` does it.
 *
 * The cache is written once, at the end of the first `check` of a bundle and node version, to
 * `$XDG_CACHE_HOME/cronwatch` (else `~/.cache/cronwatch`), 0700, named after the bundle's path,
 * so that two installs sharing a home keep a cache each. Compiled code runs as whoever
 * runs cronwatch, so a cache directory or file that another user could have written is never
 * read. V8 refuses a cache made from other source or by another V8; the run then compiles as
 * usual and writes a new one. Any failure around the cache only costs the time it would save.
 */
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { fnv1a, hex8 } from '../core/fnv.js';

/** What the bundle exports: the CLI's entry (see main.ts). */
interface BundleExports {
  readonly runCli: (argv: readonly string[]) => Promise<void>;
}

/** Where the cache lives for `env`; null when there is no home to keep it in. */
export function cacheDirFor(env: NodeJS.ProcessEnv): string | null {
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'cronwatch');
  return env.HOME ? join(env.HOME, '.cache', 'cronwatch') : null;
}

/** Owned by this user and writable by no one else. */
function trusted(path: string): boolean {
  try {
    const info = statSync(path);
    return info.uid === process.getuid?.() && (info.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

function readCache(dir: string, file: string): Buffer | undefined {
  if (!trusted(dir) || !trusted(file)) return undefined;
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Writes `data` as `file` (temp file and rename), and removes the caches of `prefix`'s older bundles. */
function writeCache(dir: string, file: string, prefix: string, data: Buffer): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!trusted(dir)) return;
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, data, { mode: 0o600 });
    renameSync(temp, file);
    for (const name of readdirSync(dir)) {
      if (name.startsWith(prefix) && name.endsWith('.v8') && name !== basename(file))
        unlinkSync(join(dir, name));
    }
  } catch {
    // No cache: the next run compiles as this one did.
  }
}

/**
 * Runs the CommonJS bundle `bundle` with `argv`; with `cache`, from the code cache when there is
 * a usable one, and writing one when there is not.
 */
export async function runBundle(
  bundle: string,
  argv: readonly string[],
  options: { readonly cache: boolean },
): Promise<void> {
  const source = readFileSync(bundle, 'utf8');
  const dir = options.cache ? cacheDirFor(process.env) : null;
  const place = hex8(fnv1a(bundle));
  const prefix = `${basename(bundle, '.cjs')}-${place}-`;
  // Named by what V8 checks anyway, so that a new bundle or node gets a new file, not a refusal.
  const { size, mtimeMs } = statSync(bundle);
  const name = `${prefix}${process.version}-${process.arch}-${size}-${Math.trunc(mtimeMs)}.v8`;
  const file = dir === null ? null : join(dir, name);
  const cachedData = dir === null || file === null ? undefined : readCache(dir, file);
  const script = new Script(
    `(function (exports, require, module, __filename, __dirname, importDynamic) {${source}\n})`,
    { filename: bundle, cachedData },
  );
  const module = { exports: {} as BundleExports };
  // The bundle's `import()`s, made here (see scripts/bundle.ts): resolved from this file's
  // directory, which is the bundle's.
  const importDynamic = (specifier: string) => import(specifier);
  script.runInThisContext()(
    module.exports,
    createRequire(bundle),
    module,
    bundle,
    dirname(bundle),
    importDynamic,
  );
  // Written at the end of the run, so the cache holds the functions it compiled on the way.
  if (dir !== null && file !== null && (cachedData === undefined || script.cachedDataRejected)) {
    process.once('exit', () => writeCache(dir, file, prefix, script.createCachedData()));
  }
  await module.exports.runCli(argv);
}
