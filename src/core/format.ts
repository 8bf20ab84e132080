/**
 * Turns an envelope of alerts into text for a channel: Telegram HTML (parse_mode HTML, within
 * Telegram's 4096-character limit) and plain text for the console. Pure: no clock, no I/O.
 *
 * A message is built as lines of spans (plain text, one tag around plain text, or an icon) and
 * only escaped when rendered, so cutting an over-long message cuts raw text and the markup stays
 * balanced: no tag or entity is ever split.
 */

import { alertBlock, type Block, formatTime, type Line, type Span, type Tag } from './alert-text.js';
import type { Envelope } from './types.js';

export { formatTime };

/** Telegram's limit for one message's text, in UTF-16 code units. */
export const TELEGRAM_MAX_CHARS = 4096;
/** More alerts than this in one envelope go out as one digest message. */
export const DIGEST_THRESHOLD = 3;

const CUT_MIN_KEEP_CHARS = 64;
// Room kept for a digest part's header, so the split does not depend on the part count or on
// whether the envelope is delayed (a resumed send skips the parts already accepted).
const DIGEST_PART_SUFFIX_SAMPLE = ' (999/999)';
const HOST_MAX_CHARS = 200;

export interface RenderOptions {
  /** The envelope is sent late (e.g. after an outage): say when it was raised. */
  readonly delayed: boolean;
}

const DEFAULT_RENDER_OPTIONS: RenderOptions = { delayed: false };

/** Escapes text for Telegram's HTML parse mode (`&`, `<`, `>`; `"` for attribute safety). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (char) => HTML_ESCAPES[char as keyof typeof HTML_ESCAPES]);
}

const HTML_ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' } as const;

/**
 * The text a reader sees of a message rendered by `renderTelegram`: tags dropped, entities
 * decoded. Used to resend a message Telegram refused to parse.
 */
export function htmlToPlainText(html: string): string {
  return html
    .replace(/<[^>]*>/g, '')
    .replace(
      /&(lt|gt|quot|amp|#(\d+)|#x([0-9a-f]+));/gi,
      (entity, name: string, dec?: string, hex?: string) => {
        if (dec !== undefined) return String.fromCodePoint(Number(dec));
        if (hex !== undefined) return String.fromCodePoint(Number.parseInt(hex, 16));
        return PLAIN_ENTITIES[name.toLowerCase() as keyof typeof PLAIN_ENTITIES] ?? entity;
      },
    );
}

const PLAIN_ENTITIES = { lt: '<', gt: '>', quot: '"', amp: '&' } as const;

/**
 * Cuts `text` in the middle so that it is at most `maxChars` long, keeping its start and its end
 * and saying how much was cut. Never splits a surrogate pair.
 */
export function cutMiddle(text: string, maxChars: number): string {
  return cutMiddleMeasured(text, maxChars, (char) => char.length);
}

/**
 * Telegram messages (parse_mode HTML) for an envelope: one per alert, or, with more than
 * `DIGEST_THRESHOLD` alerts, one digest split only to stay within `TELEGRAM_MAX_CHARS`. Every
 * message is within the limit: an over-long alert is cut in the middle (its log tail first).
 * The number of messages and which alerts each carries do not depend on `options`.
 */
export function renderTelegram(
  envelope: Envelope,
  options: RenderOptions = DEFAULT_RENDER_OPTIONS,
): string[] {
  const blocks = envelope.alerts.map(alertBlock);
  if (blocks.length === 0) return [];
  if (blocks.length <= DIGEST_THRESHOLD) {
    const header = headerLines(envelope, options, null);
    return blocks.map((block) =>
      renderHtmlLines(fitLines([...header, ...blockLines(block)], TELEGRAM_MAX_CHARS)),
    );
  }
  return renderDigest(envelope, blocks, options);
}

/** The envelope as plain text for the console (stderr): no markup, nothing cut. */
export function renderPlain(envelope: Envelope, options: RenderOptions = DEFAULT_RENDER_OPTIONS): string {
  const count = envelope.alerts.length;
  const head = `cronwatch on ${envelope.host}, ${formatTime(envelope.createdMs)}${options.delayed ? ' (delayed)' : ''}`;
  const lines = [count > DIGEST_THRESHOLD ? `${head}: ${count} alerts` : `${head}:`];
  for (const block of envelope.alerts.map(alertBlock)) {
    lines.push(`  ${renderPlainLine(block.title)}`);
    for (const line of block.details) {
      const pre = line.find((span): span is { tag: 'pre'; text: string } => isTagged(span, 'pre'));
      if (pre) {
        for (const logLine of pre.text.split('\n')) lines.push(`      | ${logLine}`);
      } else {
        lines.push(`    ${renderPlainLine(line)}`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

function blockLines(block: Block): Line[] {
  return [block.title, ...block.details];
}

function headerLines(envelope: Envelope, options: RenderOptions, digest: string | null): Line[] {
  const host = cutMiddle(envelope.host, HOST_MAX_CHARS);
  const lines: Line[] = [[{ icon: '🖥' }, { tag: 'b', text: host }, ' · cronwatch', digest ?? '']];
  if (options.delayed)
    lines.push([{ tag: 'i', text: `delayed, raised at ${formatTime(envelope.createdMs)}` }]);
  return lines;
}

// ---- digest -------------------------------------------------------------------------------

function renderDigest(envelope: Envelope, blocks: readonly Block[], options: RenderOptions): string[] {
  const count = `: ${blocks.length} alerts`;
  const reserve =
    htmlLength(headerLines(envelope, { delayed: true }, `${count}${DIGEST_PART_SUFFIX_SAMPLE}`)) + 2;
  const room = TELEGRAM_MAX_CHARS - reserve;
  const parts: Line[][][] = [];
  let current: Line[][] = [];
  let used = 0;
  for (const block of blocks) {
    const lines = fitLines(blockLines(block), room);
    const size = htmlLength(lines);
    // Blocks are joined by a blank line: two newlines.
    if (current.length > 0 && used + 2 + size > room) {
      parts.push(current);
      current = [];
      used = 0;
    }
    used += (current.length > 0 ? 2 : 0) + size;
    current.push(lines);
  }
  parts.push(current);
  return parts.map((part, index) => {
    const suffix = parts.length > 1 ? ` (${index + 1}/${parts.length})` : '';
    const header = renderHtmlLines(headerLines(envelope, options, `${count}${suffix}`));
    return [header, ...part.map(renderHtmlLines)].join('\n\n');
  });
}

// ---- rendering and cutting ----------------------------------------------------------------

function isTagged<T extends Tag>(span: Span, tag: T): span is { tag: T; text: string } {
  return typeof span === 'object' && 'tag' in span && span.tag === tag;
}

function renderHtmlSpan(span: Span): string {
  if (typeof span === 'string') return escapeHtml(span);
  if ('icon' in span) return `${span.icon} `;
  return `<${span.tag}>${escapeHtml(span.text)}</${span.tag}>`;
}

function renderHtmlLines(lines: readonly Line[]): string {
  return lines.map((line) => line.map(renderHtmlSpan).join('')).join('\n');
}

function renderPlainLine(line: Line): string {
  return line.map((span) => (typeof span === 'string' ? span : 'icon' in span ? '' : span.text)).join('');
}

function htmlLength(lines: readonly Line[]): number {
  return renderHtmlLines(lines).length;
}

function spanText(span: Span): string | null {
  if (typeof span === 'string') return span;
  return 'icon' in span ? null : span.text;
}

function withText(span: Span, text: string): Span {
  return typeof span === 'string' ? text : { ...span, text };
}

/**
 * Cuts the longest texts of `lines` in the middle until the rendered HTML fits `maxChars`. The
 * log tail, being the longest, goes first; escaping is measured, so `&` counts as five.
 */
function fitLines(lines: readonly Line[], maxChars: number): Line[] {
  const result = lines.map((line) => [...line]);
  const done = new Set<string>();
  for (let length = htmlLength(result); length > maxChars; length = htmlLength(result)) {
    let best: { line: number; span: number; size: number } | null = null;
    result.forEach((line, lineIndex) => {
      line.forEach((span, spanIndex) => {
        const text = spanText(span);
        if (text === null || done.has(`${lineIndex}:${spanIndex}`)) return;
        const size = escapeHtml(text).length;
        if (best === null || size > best.size) best = { line: lineIndex, span: spanIndex, size };
      });
    });
    if (best === null) break;
    const { line, span, size } = best;
    const target = Math.max(CUT_MIN_KEEP_CHARS, size - (length - maxChars));
    const original = result[line]![span]!;
    result[line]![span] = withText(
      original,
      cutMiddleMeasured(spanText(original)!, target, (char) => escapeHtml(char).length),
    );
    if (target === CUT_MIN_KEEP_CHARS) done.add(`${line}:${span}`);
  }
  return result;
}

function cutMiddleMeasured(text: string, maxSize: number, measure: (char: string) => number): string {
  let total = 0;
  const chars = Array.from(text);
  for (const char of chars) total += measure(char);
  if (total <= maxSize) return text;
  // The marker's own digits count too; measure it with the largest count it can show.
  const budget = Math.max(0, maxSize - marker(chars.length).length);
  let head = 0;
  let headSize = 0;
  let tail = chars.length;
  let tailSize = 0;
  // Alternate ends so the start and the end keep about half each.
  for (let turn = 0; head < tail; turn += 1) {
    const fromHead = turn % 2 === 0;
    const size = measure(fromHead ? chars[head]! : chars[tail - 1]!);
    if (headSize + tailSize + size > budget) break;
    if (fromHead) {
      head += 1;
      headSize += size;
    } else {
      tail -= 1;
      tailSize += size;
    }
  }
  return `${chars.slice(0, head).join('')}${marker(tail - head)}${chars.slice(tail).join('')}`;
}

function marker(cutChars: number): string {
  return `\n[… ${cutChars} characters cut …]\n`;
}
