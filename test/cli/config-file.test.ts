/**
 * A config file that cannot be read as one: the error names the file and the place to fix, and
 * the run exits 2 having touched nothing.
 */
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { cronwatch, workspace } from '../support/cli.js';

const ws = workspace('cronwatch-config-file-');
afterAll(() => ws.remove());

async function refused(file: string): Promise<string> {
  const result = await cronwatch(['check', '--config', file]);
  expect(result.code).toBe(2);
  expect(result.stdout).toBe('');
  expect(existsSync(ws.path('.cronwatch'))).toBe(false);
  return result.stderr;
}

describe('a config file that is not a config', () => {
  it('reports an unclosed quote at the line where it opened, not where the file ends', async () => {
    const file = ws.writeConfig(
      [
        'interval: 5m',
        "host: 'web-1",
        'targets:',
        '  - name: web',
        '    match: web\\.js',
        '    start: node web.js',
        '',
        '# the end',
        '',
      ].join('\n'),
      'quote.yaml',
    );
    expect(await refused(file)).toBe(
      `cronwatch: config ${file} is not valid YAML: line 2, column 7: the ' quote opened here is never closed:\n` +
        "  host: 'web-1\n" +
        '        ^\n',
    );
  });

  it('reports an unclosed double quote in a flow sequence at its line too', async () => {
    const file = ws.writeConfig('targets: [ "web, db ]\n', 'flow.yaml');
    expect(await refused(file)).toContain(
      `config ${file} is not valid YAML: line 1, column 12: the " quote opened here is never closed:`,
    );
  });

  it.each([
    ['an empty file', 'empty.yaml', ''],
    ['blank lines only', 'blank.yaml', '\n  \n'],
    ['comments only', 'comments.yaml', '# targets: to come\n'],
    ['an empty JSON file', 'empty.json', ''],
  ])('says the file is empty for %s', async (_, name, text) => {
    const file = ws.writeConfig(text, name);
    expect(await refused(file)).toBe(
      `cronwatch: config ${file} is empty: expected a mapping with targets (see examples/cronwatch.yaml)\n`,
    );
  });
});
