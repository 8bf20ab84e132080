/**
 * A YAML config's text into a document, with parse errors a user can act on. Loaded only for
 * YAML configs (JSON users skip yaml's start-up cost).
 */
import { CST, Parser, parse, YAMLParseError } from 'yaml';

type QuotedScalar = CST.FlowScalar & { readonly type: 'single-quoted-scalar' | 'double-quoted-scalar' };

function isQuoted(token: CST.Token | null | undefined): token is QuotedScalar {
  return token?.type === 'single-quoted-scalar' || token?.type === 'double-quoted-scalar';
}

/** The quoted scalar that runs from its opening quote up to `endOffset`, the end of the text. */
function unclosedQuote(text: string, endOffset: number): QuotedScalar | null {
  let found: QuotedScalar | null = null;
  for (const token of new Parser().parse(text)) {
    if (token.type !== 'document') continue;
    CST.visit(token, (item) => {
      for (const candidate of [item.key, item.value]) {
        if (
          isQuoted(candidate) &&
          candidate.offset < endOffset &&
          endOffset <= candidate.offset + candidate.source.length
        ) {
          found = candidate;
          return CST.visit.BREAK;
        }
      }
      return undefined;
    });
    if (found !== null) break;
  }
  return found;
}

/**
 * yaml reports a quote that is never closed where the text runs out, often the end of the file:
 * say instead where it opened, and show that line.
 */
function describe(text: string, error: YAMLParseError): string {
  const scalar = error.code === 'MISSING_CHAR' ? unclosedQuote(text, error.pos[0]) : null;
  if (scalar === null) return error.message;
  const before = text.slice(0, scalar.offset);
  const line = before.split('\n').length;
  const col = scalar.offset - before.lastIndexOf('\n');
  const source = text.split('\n')[line - 1] ?? '';
  return (
    `line ${line}, column ${col}: the ${scalar.source[0]} quote opened here is never closed:\n` +
    `  ${source}\n  ${' '.repeat(col - 1)}^`
  );
}

/** Parses YAML; on a syntax error throws an Error whose message says where and what. */
export function parseYaml(text: string): unknown {
  try {
    return parse(text, { prettyErrors: true });
  } catch (error) {
    if (!(error instanceof YAMLParseError)) throw error;
    throw new Error(describe(text, error), { cause: error });
  }
}
