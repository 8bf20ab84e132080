/**
 * Config validation: a pure function from the parsed document to a `Config` or a list of
 * errors, each naming the key path and what was expected. Hand-written rather than a schema
 * library: cron starts this 288 times a day, and the messages are the product.
 *
 * The parts live in `config/`: the reader (expansion, typed getters, errors), the top-level
 * sections, the target keys, and the rules across targets (one claim each, slug mode).
 */
import { checkOneClaimEach } from './config/claims.js';
import { isDict, Reader, resolvePath, show } from './config/reader.js';
import { readSections } from './config/sections.js';
import { checkSlugMode, pingUrls } from './config/slug-mode.js';
import { readTargets } from './config/target.js';
import type { Config } from './types.js';

export interface ConfigInput {
  /** The parsed YAML or JSON document. */
  readonly document: unknown;
  /** Absolute path of the file, named in errors; its directory anchors relative paths. */
  readonly file: string;
  /** For `${VAR}` expansion. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Default for `host`. */
  readonly hostname: string;
}

export type ConfigResult =
  | { readonly kind: 'valid'; readonly config: Config }
  | { readonly kind: 'invalid'; readonly errors: readonly string[] };

const DEFAULT_INTERVAL_MS = 5 * 60_000;
export const DEFAULT_STATE_DIR = '.cronwatch';

const TOP_KEYS = [
  'state_dir',
  'interval',
  'host',
  'channels',
  'alerts',
  'heartbeat',
  'healthchecks',
  'metrics',
  'defaults',
  'targets',
] as const;

function dirOf(file: string): string {
  const index = file.lastIndexOf('/');
  return index <= 0 ? '/' : file.slice(0, index);
}

/** Validates a parsed config document. Errors are `<key path>: <what was expected>`. */
export function validateConfig(input: ConfigInput): ConfigResult {
  const reader = new Reader(input.env);
  const document = reader.expand(input.document, '');
  if (!isDict(document)) {
    return {
      kind: 'invalid',
      errors: [`(top level): expected a mapping with targets, got ${show(document)}`],
    };
  }
  const top = reader.dict(document, '', TOP_KEYS);
  const configDir = dirOf(input.file);
  const stateDir =
    reader.path(top.state_dir, 'state_dir', configDir) ?? resolvePath(configDir, DEFAULT_STATE_DIR);
  const intervalMs = reader.duration(top.interval, 'interval') ?? DEFAULT_INTERVAL_MS;
  const host = reader.string(top.host, 'host') ?? input.hostname;
  const sections = readSections(reader, top, configDir);
  const placed = readTargets(reader, top, configDir, stateDir);
  if (placed !== null) checkOneClaimEach(reader, placed);
  if (sections.healthchecks !== null) checkSlugMode(reader, host, sections.heartbeatUrl, placed ?? []);
  if (reader.errors.length > 0) return { kind: 'invalid', errors: reader.errors };
  const pings = pingUrls(
    reader,
    sections.healthchecks,
    host,
    sections.heartbeatUrl,
    (placed ?? []).map((entry) => entry.target),
  );
  return {
    kind: 'valid',
    config: {
      file: input.file,
      stateDir,
      intervalMs,
      host,
      channels: sections.channels,
      reminderMs: sections.reminderMs,
      heartbeatUrl: pings.heartbeatUrl,
      healthchecks: sections.healthchecks,
      metricsTextfile: sections.metricsTextfile,
      targets: pings.targets,
      secretEnv: [...reader.secretEnv],
      unsetEnv: reader.unset,
    },
  };
}
