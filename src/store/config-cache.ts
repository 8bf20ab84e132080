/**
 * The parsed config document, kept in the state dir so that a run whose config has not changed
 * skips the YAML parser: at 1,000 targets parsing is most of a healthy run's config time.
 *
 * What is cached is the document as parsed, before validation and with every `${VAR}` still
 * unexpanded: each run validates it with its own environment, so an unset variable behaves as
 * it does without the cache and no secret from the environment is ever written. A hit needs the
 * same config path, file identity (dev, inode, size, mtime in ns), the same text byte for byte
 * (a changed file never uses a stale document, even with its size and mtime kept), and the same
 * code (cronwatch's version and the YAML parser's build; from source, this module's file).
 * Anything else, or a cache that cannot be read or parsed, is a miss.
 */
import { readFileSync, type Stats, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolvePath } from '../core/config/reader.js';
import { DEFAULT_STATE_DIR } from '../core/config.js';
import { VERSION } from '../core/version.js';
import { writeFileAtomic } from './atomic.js';

export const CONFIG_CACHE_FILE = 'config-cache.json';
const FORMAT = 1;

/** The config file as `stat` saw it when its text was read. */
export interface ConfigFileIdentity {
  readonly dev: string;
  readonly ino: string;
  readonly size: string;
  readonly mtimeNs: string;
}

interface CacheEntry {
  readonly format: number;
  readonly code: string;
  readonly file: string;
  readonly identity: ConfigFileIdentity;
  readonly text: string;
  readonly document: unknown;
}

export function identityOf(info: {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
}): ConfigFileIdentity {
  return { dev: `${info.dev}`, ino: `${info.ino}`, size: `${info.size}`, mtimeNs: `${info.mtimeNs}` };
}

/**
 * Where the state dir is, read from the text without parsing it: a top-level `state_dir:` line
 * with a plain or quoted path, else the default beside the config. Only a guess at where to look;
 * a cache is written only where the validated config's state dir agrees with it. A path with a
 * variable in it depends on the environment, so it gets no cache.
 */
export function stateDirHint(file: string, text: string): string | null {
  const configDir = file.slice(0, Math.max(file.lastIndexOf('/'), 1));
  const found =
    /^state_dir:[ \t]*(?:'([^'\n]*)'|"([^"\\\n]*)"|([^\s#'"{[&*!|>][^#\n]*?))[ \t]*(?:#.*)?$/m.exec(text);
  const path = found === null ? DEFAULT_STATE_DIR : (found[1] ?? found[2] ?? found[3] ?? '');
  if (path === '' || path.includes('$')) return null;
  return resolvePath(configDir, path);
}

/** Whether JSON gives back exactly this document (YAML also has .inf, .nan and -0). */
function jsonFaithful(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0);
  if (Array.isArray(value)) return value.every(jsonFaithful);
  if (typeof value !== 'object') return false;
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  return Object.entries(value).every(([key, item]) => key !== '__proto__' && jsonFaithful(item));
}

/**
 * Set by the build (scripts/bundle.ts) to a digest of the YAML parser's bundle: what a cached
 * document depends on, and the same for the check and the full CLI's bundles, so that neither
 * invalidates the other's cache. Undeclared when run from source.
 */
declare const CRONWATCH_PARSER_BUILD: string | undefined;

let codeIdentity: string | null = null;

function currentCode(): string {
  if (codeIdentity !== null) return codeIdentity;
  if (typeof CRONWATCH_PARSER_BUILD === 'string') {
    codeIdentity = `${VERSION} ${CRONWATCH_PARSER_BUILD}`;
  } else {
    try {
      const info = statSync(fileURLToPath(import.meta.url), { bigint: true });
      codeIdentity = `${VERSION} ${info.size} ${info.mtimeNs}`;
    } catch {
      codeIdentity = VERSION;
    }
  }
  return codeIdentity;
}

/** A dir only this user can change: the cache in it is as trustworthy as the config itself. */
async function ownedDir(dir: string): Promise<boolean> {
  let info: Stats;
  try {
    info = statSync(dir);
  } catch {
    return false;
  }
  return info.isDirectory() && info.uid === process.getuid?.() && (info.mode & 0o022) === 0;
}

/** The cached document for this exact text and file, or null (a miss). */
export async function readCachedDocument(
  file: string,
  identity: ConfigFileIdentity,
  text: string,
): Promise<unknown> {
  const dir = stateDirHint(file, text);
  if (dir === null || !(await ownedDir(dir))) return null;
  const path = join(dir, CONFIG_CACHE_FILE);
  try {
    const info = statSync(path);
    if (!info.isFile() || info.uid !== process.getuid?.() || (info.mode & 0o077) !== 0) return null;
    const entry = JSON.parse(readFileSync(path, 'utf8')) as Partial<CacheEntry>;
    const same =
      entry.format === FORMAT &&
      entry.code === currentCode() &&
      entry.file === file &&
      entry.identity?.dev === identity.dev &&
      entry.identity.ino === identity.ino &&
      entry.identity.size === identity.size &&
      entry.identity.mtimeNs === identity.mtimeNs &&
      entry.text === text;
    return same && entry.document !== undefined ? entry.document : null;
  } catch {
    // Missing, unreadable or corrupt: parse the config instead; the next valid run rewrites it.
    return null;
  }
}

/**
 * Keeps the document of a config that validated, when its state dir already exists where the
 * next run will look. Never fails the run: the cache only saves time.
 */
export async function writeCachedDocument(
  file: string,
  identity: ConfigFileIdentity,
  text: string,
  document: unknown,
  stateDir: string,
): Promise<void> {
  if (stateDirHint(file, text) !== stateDir || !jsonFaithful(document) || !(await ownedDir(stateDir))) return;
  const entry: CacheEntry = { format: FORMAT, code: currentCode(), file, identity, text, document };
  await writeFileAtomic(join(stateDir, CONFIG_CACHE_FILE), JSON.stringify(entry), 0o600).catch(
    () => undefined,
  );
}
