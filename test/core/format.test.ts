import { describe, expect, it } from 'vitest';
import {
  cutMiddle,
  escapeHtml,
  htmlToPlainText,
  renderPlain,
  renderTelegram,
  TELEGRAM_MAX_CHARS,
} from '../../src/core/format.js';
import type { Alert, Envelope } from '../../src/core/types.js';
import { formatDuration } from '../../src/core/units.js';

const AT_MS = Date.UTC(2024, 4, 1, 12, 3, 0);

function envelope(alerts: Alert[], host = 'web-1'): Envelope {
  return { id: '0001714564980000-0000-abcdef', host, createdMs: AT_MS, silent: false, alerts };
}

function failedStart(target: string, logTail: string[]): Alert {
  return {
    kind: 'problem',
    target,
    status: 'down',
    reason: 'no process matches `node .*monitor\\.js`',
    outcome: { kind: 'start_failed', exitCode: 1, signal: null, error: null, logTail },
    atMs: AT_MS,
  };
}

function restarted(target: string, pid: number): Alert {
  return {
    kind: 'problem',
    target,
    status: 'stale',
    reason: 'state file is 25m old (max_age 20m)',
    outcome: {
      kind: 'started',
      pid,
      identity: { pid, startTicks: 1, startTimeMs: AT_MS, cmdline: 'node monitor.js' },
    },
    atMs: AT_MS,
  };
}

/** Every `&` starts an entity and every tag is closed: what Telegram's HTML parser needs. */
function expectWellFormed(html: string): void {
  expect(html).not.toMatch(/&(?!(amp|lt|gt|quot);)/);
  for (const tag of ['b', 'i', 'pre', 'code']) {
    expect(html.split(`<${tag}>`).length).toBe(html.split(`</${tag}>`).length);
  }
  expect(html.replace(/<\/?(b|i|pre|code)>/g, '')).not.toMatch(/[<>]/);
}

describe('core/format', () => {
  describe('escapeHtml()', () => {
    it('escapes the characters Telegram HTML gives meaning to', () => {
      expect(escapeHtml('<b>&"x"</b>')).toBe('&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;');
    });
  });

  describe('formatDuration()', () => {
    it('gives the two largest units, rounded down', () => {
      expect(formatDuration(45_000)).toBe('45s');
      expect(formatDuration(12 * 60_000 + 59_000)).toBe('12m');
      expect(formatDuration(3 * 3_600_000 + 5 * 60_000)).toBe('3h 5m');
      expect(formatDuration(2 * 3_600_000)).toBe('2h');
      expect(formatDuration(2 * 86_400_000 + 3 * 3_600_000 + 7 * 60_000)).toBe('2d 3h');
    });
  });

  describe('renderTelegram()', () => {
    it('escapes target names and log lines but keeps its own markup', () => {
      const [html] = renderTelegram(
        envelope([failedStart('<b>&', ['error: <script>&amp;', 'x < y'])], 'h<&>'),
      );
      expect(html).toContain('<b>&lt;b&gt;&amp;</b>');
      expect(html).toContain('<pre>error: &lt;script&gt;&amp;amp;\nx &lt; y</pre>');
      expect(html).toContain('<b>h&lt;&amp;&gt;</b>');
      expectWellFormed(html!);
      expect(htmlToPlainText(html!)).toContain('<b>& is down, restart failed');
    });

    it('says what was done: restarted with the new pid, or the exit code and log of a failed start', () => {
      const [ok, failed] = renderTelegram(
        envelope([restarted('site-monitor', 1234), failedStart('bot', ['boom'])]),
      );
      expect(ok).toContain('<b>site-monitor</b> was stale (hung), restarted, new pid 1234');
      expect(ok).toContain('Reason: state file is 25m old (max_age 20m)');
      expect(failed).toContain('Start failed: exit code 1');
      expect(failed).toContain('<pre>boom</pre>');
    });

    it('says how long a recovered target was down', () => {
      const [html] = renderTelegram(
        envelope([{ kind: 'recovered', target: 'scraper', downForMs: 12 * 60_000, pid: 77, atMs: AT_MS }]),
      );
      expect(html).toContain('<b>scraper</b> recovered after 12m, pid 77');
    });

    it('says when a flapping target settled, its state now and how many changes were merged', () => {
      const flappingAt = AT_MS - 24 * 60_000;
      const settled = renderTelegram(
        envelope([
          {
            kind: 'settled',
            target: 'worker',
            status: 'up',
            reason: null,
            sinceMs: AT_MS - 31 * 60_000,
            merged: 7,
            mergedSinceMs: flappingAt,
            flappingSinceMs: flappingAt,
            atMs: AT_MS,
          },
        ]),
      );
      expect(htmlToPlainText(settled[0]!)).toContain(
        '✅ worker settled: up since 2024-05-01 11:32 UTC\n7 changes merged since the flapping alert at 2024-05-01 11:39 UTC.',
      );
      const still = renderTelegram(
        envelope([
          {
            kind: 'still_flapping',
            target: 'worker',
            status: 'up',
            merged: 1,
            mergedSinceMs: AT_MS - 6 * 3_600_000,
            lastReason: 'no process matches /worker/',
            flappingSinceMs: flappingAt - 6 * 3_600_000,
            atMs: AT_MS,
          },
        ]),
      );
      expect(htmlToPlainText(still[0]!)).toContain(
        '🔀 worker still flapping, up now\n1 change merged since 2024-05-01 06:03 UTC (flapping since 2024-05-01 05:39 UTC).\nLast: no process matches /worker/',
      );
    });

    it('names the host in every message and sends up to three alerts as one message each', () => {
      const messages = renderTelegram(envelope([restarted('a', 1), restarted('b', 2), restarted('c', 3)]));
      expect(messages).toHaveLength(3);
      for (const message of messages) expect(message).toContain('<b>web-1</b>');
    });

    it('cuts a 10,000-character log tail in the middle, keeping the header, the start and the end', () => {
      const lines = Array.from(
        { length: 100 },
        (_, i) => `line ${String(i).padStart(3, '0')} ${'x'.repeat(91)}`,
      );
      const [html, ...rest] = renderTelegram(envelope([failedStart('site-monitor', lines)]));
      expect(lines.join('\n').length).toBeGreaterThan(10_000);
      expect(rest).toEqual([]);
      expect(html!.length).toBeLessThanOrEqual(TELEGRAM_MAX_CHARS);
      expect(html).toContain('<b>web-1</b>');
      expect(html).toContain('<b>site-monitor</b> is down, restart failed');
      expect(html).toContain('line 000');
      expect(html).toContain(`line 099 ${'x'.repeat(91)}</pre>`);
      expect(html).toMatch(/\[… \d+ characters cut …\]/);
      expectWellFormed(html!);
    });

    it('never splits an entity when the text to cut is full of characters that need escaping', () => {
      const [html] = renderTelegram(envelope([failedStart('t', ['&<>'.repeat(4000)])]));
      expect(html!.length).toBeLessThanOrEqual(TELEGRAM_MAX_CHARS);
      expectWellFormed(html!);
    });

    it('sends eight alerts as one digest message', () => {
      const alerts = Array.from({ length: 8 }, (_, i) => restarted(`target-${i}`, 1000 + i));
      const messages = renderTelegram(envelope(alerts));
      expect(messages).toHaveLength(1);
      expect(messages[0]).toContain('<b>web-1</b> · cronwatch: 8 alerts');
      for (let i = 0; i < 8; i += 1) expect(messages[0]).toContain(`<b>target-${i}</b>`);
      expectWellFormed(messages[0]!);
    });

    it('splits a digest only to stay within 4096 characters, keeping every alert once and in order', () => {
      const log = Array.from({ length: 20 }, (_, i) => `${i} ${'y'.repeat(150)}`);
      const alerts = Array.from({ length: 8 }, (_, i) => failedStart(`target-${i}`, log));
      const messages = renderTelegram(envelope(alerts));
      expect(messages.length).toBeGreaterThan(1);
      const order: number[] = [];
      messages.forEach((message, index) => {
        expect(message.length).toBeLessThanOrEqual(TELEGRAM_MAX_CHARS);
        expect(message).toContain(`8 alerts (${index + 1}/${messages.length})`);
        expectWellFormed(message);
        for (const match of message.matchAll(/<b>target-(\d)<\/b>/g)) order.push(Number(match[1]));
      });
      expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    });

    it('marks a delayed envelope without changing how it is split', () => {
      const log = Array.from({ length: 20 }, (_, i) => `${i} ${'y'.repeat(150)}`);
      const alerts = Array.from({ length: 8 }, (_, i) => failedStart(`target-${i}`, log));
      const onTime = renderTelegram(envelope(alerts));
      const late = renderTelegram(envelope(alerts), { delayed: true });
      expect(late).toHaveLength(onTime.length);
      for (const message of late) {
        expect(message).toContain('<i>delayed, raised at 2024-05-01 12:03 UTC</i>');
        expect(message.length).toBeLessThanOrEqual(TELEGRAM_MAX_CHARS);
      }
    });
  });

  describe('renderPlain()', () => {
    it('prints the alerts without markup, log tail included', () => {
      const text = renderPlain(envelope([failedStart('<b>&', ['first', 'last'])]));
      expect(text).toContain('cronwatch on web-1, 2024-05-01 12:03 UTC:');
      expect(text).toContain('<b>& is down, restart failed');
      expect(text).toContain('      | first\n      | last');
      expect(text).not.toContain('&amp;');
    });
  });

  describe('htmlToPlainText()', () => {
    it('drops tags and decodes entities', () => {
      expect(htmlToPlainText('<b>a &lt;b&gt; &amp;amp;</b>\n<pre>x</pre>')).toBe('a <b> &amp;\nx');
    });
  });

  describe('cutMiddle()', () => {
    it('keeps the start and the end within the limit without splitting a surrogate pair', () => {
      const text = `start${'😀'.repeat(500)}end`;
      const cut = cutMiddle(text, 100);
      expect(cut.length).toBeLessThanOrEqual(100);
      expect(cut.startsWith('start')).toBe(true);
      expect(cut.endsWith('end')).toBe(true);
      expect(cut).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
    });
  });
});
