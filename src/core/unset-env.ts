/**
 * `${VAR}`s that cron's environment lacks. A secret of a way to tell someone (a channel, a ping)
 * that is unset must never stop the watching: it makes only that channel or ping unusable, and
 * every command says so (once per change, for `check`, since cron mails every line).
 */
import type { UnsetVariable } from './types.js';

/**
 * Top-level sections where an unset variable disables only the part it is in; anywhere else it is
 * a config error. Their variables are also kept from the targets' environment.
 */
export const LENIENT_SECTIONS: readonly string[] = ['channels', 'heartbeat', 'healthchecks'];

/**
 * The variables unset under `part`, a key path: `channels.telegram`, `heartbeat`,
 * `healthchecks.ping_key`. Non-empty means that part cannot be used in this environment.
 */
export function unsetUnder(unset: readonly UnsetVariable[], part: string): string[] {
  const names = unset
    .filter((entry) => entry.path === part || entry.path.startsWith(`${part}.`))
    .map((entry) => entry.variable);
  return [...new Set(names)];
}

/** What an unset variable switches off, named for a person: `the telegram channel`. */
function partName(path: string): string {
  const [section, name] = path.split(/[.[]/);
  if (section === 'channels' && name !== undefined) return `the ${name} channel`;
  if (section === 'heartbeat') return 'the heartbeat ping';
  return `the ${section} pings`;
}

function listed(items: readonly string[]): string {
  return items.length === 1 ? items[0]! : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/**
 * One sentence naming each unset variable, the key that uses it, and what is off because of it
 * (never a value: there is none); null when every variable is set.
 */
export function describeUnset(unset: readonly UnsetVariable[]): string | null {
  if (unset.length === 0) return null;
  const parts = [...new Set(unset.map((entry) => partName(entry.path)))];
  return (
    `${listed(unset.map((entry) => `${entry.variable} (${entry.path})`))} ${unset.length === 1 ? 'is' : 'are'} ` +
    `not set in this environment: ${listed(parts)} ${parts.length === 1 ? 'is' : 'are'} off`
  );
}

/** The names of the unset variables, sorted: what `check` remembers having said. */
export function unsetNames(unset: readonly UnsetVariable[]): string[] {
  return [...new Set(unset.map((entry) => entry.variable))].sort();
}
