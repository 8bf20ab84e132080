/**
 * Reading one config document: `${VAR}` expansion (lenient in the secret-holding sections), typed
 * getters that each return a usable fallback, and the errors, at most one per key.
 */
import type { UnsetVariable } from '../types.js';
import { parseDurationMs, parseSizeBytes } from '../units.js';
import { LENIENT_SECTIONS, unsetUnder } from '../unset-env.js';

export type Dict = Readonly<Record<string, unknown>>;

/** An empty, `.` or `..` segment, or a trailing slash: what `resolvePath` has to remove. */
const NOT_NORMAL = /\/\/|\/\.\.?(\/|$)|\/$/;

/** Joins path segments the POSIX way; the core stays free of `node:path`. */
export function resolvePath(base: string, path: string): string {
  const joined = path.startsWith('/') ? path : `${base}/${path}`;
  // Most paths are already in this form; a thousand targets have thousands of them.
  if (!NOT_NORMAL.test(joined)) return joined;
  const out: string[] = [];
  for (const part of joined.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}

/** A value as an error message quotes it. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

export function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The shape both `Reader.url` and `channels.telegram.api_root` accept. */
export const HTTP_URL = /^https?:\/\/[^\s/]+/;

/** Collects errors while reading one document; every getter returns a usable fallback. */
export class Reader {
  readonly errors: string[] = [];
  /** Variables expanded under a lenient section: secrets, kept from the targets' environment. */
  readonly secretEnv = new Set<string>();
  /** Unset variables under a lenient section, with the key that uses each. */
  readonly unset: UnsetVariable[] = [];
  private readonly failed = new Set<string>();

  constructor(private readonly env: Readonly<Record<string, string | undefined>>) {}

  /** Whether the part at a key path (`channels.telegram`, `heartbeat`) has no unset variable. */
  usable(part: string): boolean {
    return unsetUnder(this.unset, part).length === 0;
  }

  /** Records the first problem of a key; what follows from it would only repeat it. */
  fail(path: string, message: string): void {
    if (this.failed.has(path)) return;
    // A value that rests on an unset variable is unknown, not wrong: its part is unusable instead.
    if (!this.usable(path)) return;
    this.failed.add(path);
    this.errors.push(`${path}: ${message}`);
  }

  /**
   * Replaces `${VAR}` everywhere in the document. An unset variable is an error naming its key,
   * except in a lenient section, where the value becomes null and the variable is recorded.
   */
  expand(value: unknown, path: string): unknown {
    if (typeof value === 'string') {
      if (!value.includes('${')) return value;
      const lenient = LENIENT_SECTIONS.includes(path.split(/[.[]/, 1)[0]!);
      const missing: string[] = [];
      const expanded = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_whole, name: string) => {
        const found = this.env[name];
        if (lenient) this.secretEnv.add(name);
        if (found === undefined) {
          missing.push(name);
          if (!lenient) this.fail(path, `environment variable ${name} is not set`);
          return '';
        }
        return found;
      });
      if (!lenient || missing.length === 0) return expanded;
      for (const variable of missing) this.unset.push({ path, variable });
      return null;
    }
    // A list or mapping with nothing to expand is returned as it is: copying every mapping of a
    // 1,000-target document cost a tenth of its validation.
    if (Array.isArray(value)) {
      let copy: unknown[] | null = null;
      value.forEach((item, index) => {
        const expanded = this.expand(item, `${path}[${index}]`);
        if (expanded !== item) copy ??= [...value];
        if (copy !== null) copy[index] = expanded;
      });
      return copy ?? value;
    }
    if (isDict(value)) {
      const entries = Object.entries(value);
      let changed = false;
      for (const entry of entries) {
        const item = entry[1];
        entry[1] = this.expand(item, path ? `${path}.${entry[0]}` : entry[0]);
        if (entry[1] !== item) changed = true;
      }
      return changed ? Object.fromEntries(entries) : value;
    }
    return value;
  }

  dict(value: unknown, path: string, keys: readonly string[]): Dict {
    if (value === undefined || value === null) return {};
    if (!isDict(value)) {
      this.fail(path, `expected a mapping, got ${show(value)}`);
      return {};
    }
    for (const key of Object.keys(value)) {
      if (!keys.includes(key)) {
        const prefix = path === '' ? key : `${path}.${key}`;
        this.fail(prefix, `unknown key (expected one of: ${keys.join(', ')})`);
      }
    }
    return value;
  }

  /** A key that must be given: `expected <what>, got nothing` when it is absent. */
  required(raw: Dict, key: string, path: string, what: string): void {
    if (raw[key] === undefined) this.fail(`${path}.${key}`, `expected ${what}, got nothing`);
  }

  string(value: unknown, path: string): string | null {
    if (value === undefined || value === null) return null;
    if (typeof value === 'string' && value.trim() !== '') return value;
    this.fail(path, `expected a non-empty string, got ${show(value)}`);
    return null;
  }

  /** A file path, resolved against `base`. */
  path(value: unknown, path: string, base: string): string | null {
    const given = this.string(value, path);
    return given === null ? null : resolvePath(base, given);
  }

  url(value: unknown, path: string): string | null {
    const text = this.string(value, path);
    if (text !== null && !HTTP_URL.test(text)) {
      // Webhook and ping URLs embed secrets: quote only enough to recognise the value.
      this.fail(path, `expected an http(s) URL, got ${show(`${text.slice(0, 8)}...`)}`);
      return null;
    }
    return text;
  }

  size(value: unknown, path: string): number | null {
    if (value === undefined || value === null) return null;
    const bytes = typeof value === 'string' ? parseSizeBytes(value) : null;
    if (bytes === null) this.fail(path, `expected a size like 512KB, 500MB, 2GB, got ${show(value)}`);
    return bytes;
  }

  percent(value: unknown, path: string): number | null {
    if (value === undefined || value === null) return null;
    const found = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(value) : null;
    const percent = found === null ? (typeof value === 'number' ? value : Number.NaN) : Number(found[1]);
    if (!Number.isFinite(percent) || percent <= 0) {
      this.fail(path, `expected a percentage of one core like 90%, got ${show(value)}`);
      return null;
    }
    return percent;
  }

  count(value: unknown, path: string, fallback: number): number {
    if (value === undefined || value === null) return fallback;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 1) return value;
    this.fail(path, `expected a whole number of at least 1, got ${show(value)}`);
    return fallback;
  }

  boolean(value: unknown, path: string, fallback: boolean): boolean {
    if (value === undefined || value === null) return fallback;
    if (typeof value === 'boolean') return value;
    this.fail(path, `expected true or false, got ${show(value)}`);
    return fallback;
  }

  duration(value: unknown, path: string): number | null {
    if (value === undefined || value === null) return null;
    const ms = typeof value === 'string' ? parseDurationMs(value) : null;
    if (ms === null) this.fail(path, `expected a duration like 30s, 5m, got ${show(value)}`);
    return ms;
  }
}
