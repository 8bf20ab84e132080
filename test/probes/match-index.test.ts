import { describe, expect, it } from 'vitest';
import type { ProcessInfo } from '../../src/core/types.js';
import { indexPatterns, matchCandidates, mayMatch, requiredLiteral } from '../../src/probes/match-index.js';
import { scanProcessTable } from '../../src/probes/process-table.js';

function entry(pid: number, cmdline: string): ProcessInfo {
  return {
    pid,
    ppid: 1,
    pgid: pid,
    sid: pid,
    startTimeMs: 1_700_000_000_000,
    startTicks: 1000,
    cmdline,
    state: 'S',
    rssBytes: 4096,
    cpuMs: 0,
  };
}

const LINES = [
  'node /srv/site-monitor/monitor.js --port 8080',
  'node /srv/site-monitor/monitorXjs',
  '/usr/bin/python3 app.py',
  '/usr/bin/python app.py --debug',
  'sh -c node bot.js --x',
  'node bot.js --x',
  'worker-12 --queue=mail',
  'worker- --queue=mail',
  'java -jar /opt/app/bin/app-1.2.jar',
  'AAAbcd',
  'xyzzy',
  'redis-server *:6379',
  'ab',
  '',
  'nginx: worker process',
  'nginx: master process /usr/sbin/nginx',
  'émigré --naïve',
];

const PATTERNS = [
  'node .*monitor\\.js',
  'monitor.js',
  '^/usr/bin/python3? app\\.py$',
  'python3?',
  'bot\\.js --x',
  'worker-\\d+ --queue=mail',
  'worker-\\d* --queue',
  'app-1\\.2\\.jar',
  '\\x41AAbcd',
  '\\101bcd',
  'A{3}bcd',
  'a|xyzzy',
  '(node|python) app',
  'redis-server \\*:6379',
  'nginx: (master|worker) process',
  '[a-z]+: worker',
  'na(?:ï)ve',
  'émigré',
  'ab+c',
  'x(?=yzzy)yzz',
  'process$',
];

describe('requiredLiteral()', () => {
  it('finds the longest text every match must contain', () => {
    expect(requiredLiteral('node .*monitor\\.js')).toBe('monitor.js');
    expect(requiredLiteral('^/usr/bin/python3? app\\.py$')).toBe('/usr/bin/python');
    expect(requiredLiteral('worker-\\d+ --queue=mail')).toBe(' --queue=mail');
    expect(requiredLiteral('redis-server \\*:6379')).toBe('redis-server *:6379');
    expect(requiredLiteral('nginx: (master|worker) process')).toBe(' process');
    expect(requiredLiteral('A{3}bcdef')).toBe('bcdef');
  });

  it('drops a character a quantifier makes optional, keeps one that must occur', () => {
    expect(requiredLiteral('abcd*')).toBe('abc');
    expect(requiredLiteral('abcd?e')).toBe('abc');
    expect(requiredLiteral('abcd+e')).toBe('abcd');
  });

  it('names nothing for alternation, short texts and escapes it does not read', () => {
    expect(requiredLiteral('a|xyzzy')).toBeNull();
    expect(requiredLiteral('ab')).toBeNull();
    expect(requiredLiteral('\\x41AAbcd')).toBeNull();
    expect(requiredLiteral('x\\u0041yz')).toBeNull();
    expect(requiredLiteral('\\101bcd')).toBeNull();
    expect(requiredLiteral('(unclosed')).toBeNull();
  });
});

describe('matchCandidates()', () => {
  it('leaves out no process a pattern matches, on made-up command lines', () => {
    const table = LINES.map((line, index) => entry(index + 1, line));
    const candidates = matchCandidates(PATTERNS, table);
    for (const [index, pattern] of PATTERNS.entries()) {
      const regex = new RegExp(pattern);
      const expected = table.filter((process) => regex.test(process.cmdline)).map((p) => p.pid);
      const found = candidates[index]!.filter((process) => regex.test(process.cmdline)).map((p) => p.pid);
      expect({ pattern, found }).toEqual({ pattern, found: expected });
    }
  });

  it('offers a pattern only the processes that hold its text', () => {
    const table = LINES.map((line, index) => entry(index + 1, line));
    const [monitor, alternation, none] = matchCandidates(['monitor\\.js', 'a|xyzzy', null], table);
    expect(monitor!.map((process) => process.cmdline)).toEqual([LINES[0]]);
    expect(alternation).toBe(table);
    expect(none).toEqual([]);
  });

  it.skipIf(process.platform !== 'linux')(
    "finds what every pattern matches in this host's process table, patterns taken from it",
    async () => {
      const table = await scanProcessTable();
      const patterns = table
        .filter((process) => process.cmdline.length >= 6)
        .flatMap((process) => {
          const words = process.cmdline.split(' ');
          const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
          return [
            escaped(words[0]!),
            `${escaped(words.at(-1)!)}$`,
            `^${escaped(process.cmdline.slice(0, 5))}.*`,
          ];
        });
      const candidates = matchCandidates(patterns, table);
      for (const [index, pattern] of patterns.entries()) {
        const regex = new RegExp(pattern);
        const expected = table.filter((process) => regex.test(process.cmdline)).map((p) => p.pid);
        const found = candidates[index]!.filter((process) => regex.test(process.cmdline)).map((p) => p.pid);
        expect({ pattern, found }).toEqual({ pattern, found: expected });
      }
      expect(patterns.length).toBeGreaterThan(0);
    },
  );
});

describe('mayMatch()', () => {
  it('accepts exactly the lines that are candidates of a pattern with a required text', () => {
    const table = LINES.map((line, index) => entry(index + 1, line));
    const withText = PATTERNS.filter((pattern) => requiredLiteral(pattern) !== null);
    const index = indexPatterns(withText);
    const candidates = new Set(matchCandidates(withText, table, index).flat());
    for (const process of table) {
      expect({ line: process.cmdline, may: mayMatch(index, process.cmdline) }).toEqual({
        line: process.cmdline,
        may: candidates.has(process),
      });
    }
  });

  it('accepts nothing when no pattern has a required text', () => {
    const index = indexPatterns(['a|xyzzy', null]);
    expect(LINES.some((line) => mayMatch(index, line))).toBe(false);
  });
});
