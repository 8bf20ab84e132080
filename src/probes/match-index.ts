/**
 * Which processes each target's `match` could match, found without trying every pattern on every
 * process: with 1,000 targets and as many processes that is a million regular expression
 * searches a run. Most patterns name a program or a marker in plain letters (`node .*monitor\.js`
 * must contain `monitor.js`); a process whose command line lacks that text cannot match, so each
 * pattern is tried only on the processes that contain it, found through an index of three
 * characters of each text. Patterns with no such text (`a|b`, `^\w+$`) are tried on every process.
 */
import type { ProcessInfo } from '../core/types.js';

/** Shorter texts are found in too many command lines to be worth an index. */
const MIN_LITERAL = 3;
/**
 * Escapes followed by more of themselves (`\x41`, `\u{1F600}`, `\cJ`, `\k<n>`, `\p{L}`), and
 * digits: a backreference or, outside unicode mode, an octal escape (`\101` is `A`).
 */
const LONG_ESCAPES = /[xuckpP0-9]/;

/** Index just past the group or class that opens at `start`; -1 when it never closes. */
function skipBracket(source: string, start: number): number {
  let depth = 0;
  let inClass = false;
  for (let index = start; index < source.length; index += 1) {
    const char = source[index]!;
    if (char === '\\') {
      index += 1;
    } else if (inClass) {
      if (char === ']') {
        inClass = false;
        if (depth === 0) return index + 1;
      }
    } else if (char === '[') {
      inClass = true;
    } else if (char === '(') {
      depth += 1;
    } else if (char === ')') {
      depth -= 1;
      if (depth === 0) return index + 1;
    }
  }
  return -1;
}

/**
 * The longest text every match of `source` (a JavaScript regular expression, no flags) must
 * contain, or null when there is none of at least three characters, or when the pattern is more
 * than this reading understands (alternation at the top, long escapes): such patterns are tried
 * on every process. It must never name text a match can lack, so every doubt ends a run of text.
 */
export function requiredLiteral(source: string): string | null {
  let best = '';
  let run = '';
  const endRun = () => {
    if (run.length > best.length) best = run;
    run = '';
  };
  for (let index = 0; index < source.length; ) {
    const char = source[index]!;
    if (char === '|') return null;
    if (char === '(' || char === '[') {
      endRun();
      index = skipBracket(source, index);
      if (index === -1) return null;
      continue;
    }
    if (char === ')' || char === ']') return null;
    if (char === '*' || char === '?' || char === '{') {
      // The atom before may occur zero times (or a counted number of times: kept simple).
      run = run.slice(0, -1);
      endRun();
      index = char === '{' ? source.indexOf('}', index) + 1 : index + 1;
      if (index === 0) return null;
      continue;
    }
    if (char === '+') {
      // At least once: what came before is there; what follows need not be next to it.
      endRun();
      index += 1;
      continue;
    }
    if (char === '.' || char === '^' || char === '$') {
      endRun();
      index += 1;
      continue;
    }
    if (char === '\\') {
      const next = source[index + 1];
      if (next === undefined || LONG_ESCAPES.test(next)) return null;
      if (/[0-9A-Za-z]/.test(next)) {
        // A class (\d, \s, \w), an assertion (\b) or a backreference: no fixed text.
        endRun();
      } else {
        run += next;
      }
      index += 2;
      continue;
    }
    run += char;
    index += 1;
  }
  endRun();
  return best.length >= MIN_LITERAL ? best : null;
}

/** Three UTF-16 code units as one number: no string is made per position of a command line. */
function trigramAt(text: string, index: number): number {
  return text.charCodeAt(index) * 2 ** 32 + text.charCodeAt(index + 1) * 2 ** 16 + text.charCodeAt(index + 2);
}

/** Patterns' required texts, each filed under its rarest three characters. */
export interface MatchIndex {
  /** Each pattern's required text, or null: no pattern, or one without such a text. */
  readonly literals: readonly (string | null)[];
  /** Pattern positions by the trigram they are filed under. */
  readonly filed: ReadonlyMap<number, readonly number[]>;
}

/** Indexes patterns (`match` sources, or null for none) for {@link matchCandidates} and {@link mayMatch}. */
export function indexPatterns(patterns: readonly (string | null)[]): MatchIndex {
  const literals = patterns.map((pattern) => (pattern === null ? null : requiredLiteral(pattern)));
  // Each pattern is filed under its rarest three characters, so that a prefix every target
  // shares (`/opt/app/bin/`) does not make every process a candidate of every pattern.
  const frequency = new Map<number, number>();
  const trigramsOf = literals.map((literal) => {
    if (literal === null) return [];
    const own = new Set<number>();
    for (let index = 0; index + MIN_LITERAL <= literal.length; index += 1) own.add(trigramAt(literal, index));
    for (const trigram of own) frequency.set(trigram, (frequency.get(trigram) ?? 0) + 1);
    return [...own];
  });
  const filed = new Map<number, number[]>();
  for (const [pattern, trigrams] of trigramsOf.entries()) {
    if (trigrams.length === 0) continue;
    let rarest = trigrams[0]!;
    for (const trigram of trigrams) if (frequency.get(trigram)! < frequency.get(rarest)!) rarest = trigram;
    const list = filed.get(rarest);
    if (list === undefined) filed.set(rarest, [pattern]);
    else list.push(pattern);
  }
  return { literals, filed };
}

/**
 * Whether `line` holds the required text of some indexed pattern: whether any pattern with such a
 * text could match it. Patterns without one are left out: they could match any line.
 */
export function mayMatch(index: MatchIndex, line: string): boolean {
  for (let position = 0; position + MIN_LITERAL <= line.length; position += 1) {
    const listed = index.filed.get(trigramAt(line, position));
    if (listed === undefined) continue;
    for (const pattern of listed) if (line.includes(index.literals[pattern]!)) return true;
  }
  return false;
}

/**
 * For each pattern (a `match` source, or null for none), the processes of `table` it could
 * match: every process whose command line contains the pattern's required text, in table order;
 * the whole table for a pattern without one; nothing for null. A pattern still has to be tried on
 * its candidates: containing the text is necessary, not sufficient. `indexed`: the patterns'
 * {@link indexPatterns}, when the caller has it already.
 */
export function matchCandidates(
  patterns: readonly (string | null)[],
  table: readonly ProcessInfo[],
  indexed: MatchIndex = indexPatterns(patterns),
): (readonly ProcessInfo[])[] {
  const { literals, filed } = indexed;
  const candidates: ProcessInfo[][] = patterns.map(() => []);
  // The last process each pattern was tried on: a key may occur more than once in one line.
  const triedOn = new Array<number>(patterns.length).fill(-1);
  for (const [position, entry] of table.entries()) {
    const line = entry.cmdline;
    for (let index = 0; index + MIN_LITERAL <= line.length; index += 1) {
      const listed = filed.get(trigramAt(line, index));
      if (listed === undefined) continue;
      for (const pattern of listed) {
        if (triedOn[pattern] === position) continue;
        triedOn[pattern] = position;
        if (line.includes(literals[pattern]!)) candidates[pattern]!.push(entry);
      }
    }
  }
  return patterns.map((pattern, index) =>
    pattern === null ? [] : literals[index] === null ? table : candidates[index]!,
  );
}
