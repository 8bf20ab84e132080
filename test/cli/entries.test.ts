/**
 * `npx tsx scripts/<command>.ts` runs the same command as `cronwatch <command>` (product.md):
 * one thin entry per command of the registry, so a command added there without its entry, or an
 * entry left behind by a removed command, fails here.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands.js';
import { ROOT, runProcess } from '../support/cli.js';

/** Files in scripts/ that are not a command's entry: the whole CLI, the build step, `npm start`. */
const NOT_COMMANDS: ReadonlySet<string> = new Set(['cronwatch', 'bundle', 'demo']);

const SCRIPTS = join(ROOT, 'scripts');
const commands = Object.keys(COMMANDS).sort();

describe('scripts/<command>.ts', () => {
  it('has one entry per command of the registry, and none for a command that does not exist', () => {
    const entries = readdirSync(SCRIPTS)
      .filter((file) => file.endsWith('.ts'))
      .map((file) => file.slice(0, -'.ts'.length))
      .filter((name) => !NOT_COMMANDS.has(name))
      .sort();
    expect(entries).toEqual(commands);
  });

  it.concurrent.each(commands)('scripts/%s.ts runs that command (its --help)', async (name) => {
    const result = await runProcess(process.execPath, [
      '--import',
      'tsx',
      join(SCRIPTS, `${name}.ts`),
      '--help',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toMatch(new RegExp(`^cronwatch ${name}( |$)`));
  });
});
