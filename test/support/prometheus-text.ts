/**
 * A strict parser of the Prometheus text exposition format (0.0.4), as node_exporter's textfile
 * collector reads it, for tests: it throws, naming the line, on anything the collector would
 * refuse or a scrape would misread.
 *
 * Checked: metric and label names; label value escapes (only `\\`, `\"`, `\n`) and HELP escapes
 * (only `\\`, `\n`); values as Go floats (`NaN`, `+Inf`, `-Inf` included); one HELP and one TYPE
 * per family, before its samples; a family's samples contiguous; no repeated series nor label;
 * the final line feed; and, as the textfile collector requires, no timestamps.
 *
 * (The npm package `parse-prometheus-text-format` was considered: it accepts invalid metric
 * names, non-numeric values and unknown escapes, the very mistakes this is here to catch.)
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface ParsedSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface ParsedFamily {
  readonly name: string;
  help: string | null;
  type: MetricType;
  readonly samples: ParsedSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Inf|inf)$/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseFloatStrict(text: string, where: string): number {
  if (text === 'NaN') return Number.NaN;
  if (!FLOAT.test(text)) throw new Error(`${where}: invalid value \`${text}\``);
  if (/inf$/i.test(text)) return text.startsWith('-') ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  return Number(text);
}

function unescapeHelp(text: string, where: string): string {
  return text.replace(/\\(.?)/g, (_all, char: string) => {
    if (char === '\\') return '\\';
    if (char === 'n') return '\n';
    throw new Error(`${where}: invalid escape \`\\${char}\` in HELP`);
  });
}

/** Parses `{a="x",b="y"}` at the start of `text`; returns the labels and the rest. */
function parseLabels(text: string, where: string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let rest = text.slice(1);
  for (;;) {
    if (rest.startsWith('}')) return { labels, rest: rest.slice(1) };
    const name = LABEL_NAME.exec(rest)?.[0];
    if (name === undefined) throw new Error(`${where}: invalid label name at \`${rest}\``);
    if (name.startsWith('__')) throw new Error(`${where}: reserved label name \`${name}\``);
    if (Object.hasOwn(labels, name)) throw new Error(`${where}: label \`${name}\` repeated`);
    rest = rest.slice(name.length);
    if (!rest.startsWith('="')) throw new Error(`${where}: expected =" after label \`${name}\``);
    rest = rest.slice(2);
    let value = '';
    for (;;) {
      const char = rest[0];
      if (char === undefined) throw new Error(`${where}: unterminated label value`);
      if (char === '"') break;
      if (char === '\\') {
        const next = rest[1];
        if (next === '\\' || next === '"') value += next;
        else if (next === 'n') value += '\n';
        else throw new Error(`${where}: invalid escape \`\\${next ?? ''}\` in label value`);
        rest = rest.slice(2);
        continue;
      }
      if (char === '\n') throw new Error(`${where}: raw line feed in label value`);
      value += char;
      rest = rest.slice(1);
    }
    labels[name] = value;
    rest = rest.slice(1);
    if (rest.startsWith(',')) rest = rest.slice(1);
    else if (!rest.startsWith('}')) throw new Error(`${where}: expected , or } after label \`${name}\``);
  }
}

/** The families of `text`, by name, in order of appearance. Throws on the first problem. */
export function parsePrometheusText(text: string): Map<string, ParsedFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the last line does not end in a line feed');
  const families = new Map<string, ParsedFamily>();
  const finished = new Set<string>();
  let current: ParsedFamily | null = null;
  const seriesSeen = new Set<string>();

  const familyFor = (name: string, where: string): ParsedFamily => {
    if (current?.name === name) return current;
    if (current !== null) finished.add(current.name);
    if (finished.has(name)) throw new Error(`${where}: family \`${name}\` continues after another one`);
    const family: ParsedFamily = { name, help: null, type: 'untyped', samples: [] };
    families.set(name, family);
    current = family;
    return family;
  };

  const lines = text.split('\n').slice(0, -1);
  lines.forEach((line, index) => {
    const where = `line ${index + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const meta = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (meta === null) return;
      const [, keyword, name, rest = ''] = meta;
      if (!METRIC_NAME.test(name!) || METRIC_NAME.exec(name!)![0] !== name)
        throw new Error(`${where}: invalid metric name \`${name}\``);
      const family = familyFor(name!, where);
      if (keyword === 'HELP') {
        if (family.help !== null) throw new Error(`${where}: second HELP for \`${name}\``);
        family.help = unescapeHelp(rest, where);
      } else {
        if (family.samples.length > 0) throw new Error(`${where}: TYPE for \`${name}\` after its samples`);
        if (family.type !== 'untyped' || !TYPES.has(rest.trim() as MetricType))
          throw new Error(`${where}: invalid or second TYPE \`${rest}\` for \`${name}\``);
        family.type = rest.trim() as MetricType;
      }
      return;
    }
    const name = METRIC_NAME.exec(line)?.[0];
    if (name === undefined) throw new Error(`${where}: invalid metric name in \`${line}\``);
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, where));
    const fields = rest.split(/[ \t]+/).filter((field) => field !== '');
    if (!/^[ \t]/.test(rest) || fields.length === 0)
      throw new Error(`${where}: expected a value after the labels`);
    if (fields.length > 1)
      throw new Error(`${where}: has a timestamp or trailing text, refused by the textfile collector`);
    const value = parseFloatStrict(fields[0]!, where);
    const grouped = current !== null && (current.type === 'histogram' || current.type === 'summary');
    const base = grouped && current !== null && name.startsWith(current.name) ? current.name : name;
    const family = familyFor(base, where);
    const series = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seriesSeen.has(series)) throw new Error(`${where}: series ${series} repeated`);
    seriesSeen.add(series);
    family.samples.push({ name, labels, value });
  });
  return families;
}
