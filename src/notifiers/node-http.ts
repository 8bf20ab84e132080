/**
 * One HTTP request over `node:http`/`node:https`, loaded on first use. The cron path sends its
 * pings with it rather than `fetch`: loading undici's fetch costs a run more start-up time than
 * everything else it does when all is well.
 */
import type { Agent, IncomingHttpHeaders } from 'node:http';
import { VERSION } from '../core/version.js';

/** Sent with every request: the server's log shows who asked. */
export const USER_AGENT = `cronwatch/${VERSION}`;

export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface HttpRequestOptions {
  readonly method: 'GET' | 'POST' | 'HEAD';
  /** Besides `user-agent: cronwatch/<version>` and the body's `content-length`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent with its content-length; null: no body. */
  readonly body?: string | null;
  /** The request is abandoned after this long, with an error named `TimeoutError`. */
  readonly timeoutMs: number;
  /** Aborts the request (an error named `AbortError`). */
  readonly signal?: AbortSignal;
  /** A keep-alive agent of the caller's, for several requests to one host; default: Node's. */
  readonly agent?: Agent;
}

/** What both `node:http` and `node:https` offer. */
type Transport = Pick<typeof import('node:http'), 'request' | 'Agent'>;

/** The module for `url`'s protocol. */
export async function transportFor(url: URL): Promise<Transport> {
  return url.protocol === 'https:'
    ? ((await import('node:https')) as unknown as Transport)
    : import('node:http');
}

/** Sends one request and reads the whole answer. Rejects on a network error, timeout or abort. */
export async function httpRequest(target: string, options: HttpRequestOptions): Promise<HttpAnswer> {
  const url = new URL(target);
  const transport = await transportFor(url);
  const body = options.body ?? null;
  return new Promise<HttpAnswer>((resolve, reject) => {
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...options.headers };
    if (body !== null) headers['content-length'] = String(Buffer.byteLength(body));
    const request = transport.request(url, {
      method: options.method,
      headers,
      ...(options.agent === undefined ? {} : { agent: options.agent }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    const timer = setTimeout(() => {
      const error = new Error(`no answer within ${options.timeoutMs} ms`);
      error.name = 'TimeoutError';
      request.destroy(error);
    }, options.timeoutMs);
    const settle = () => clearTimeout(timer);
    request.on('error', (error) => {
      settle();
      reject(error);
    });
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', (error) => {
        settle();
        reject(error);
      });
      response.on('close', () => {
        settle();
        if (!response.complete) reject(new Error('the connection closed before the answer ended'));
      });
      response.on('end', () => {
        settle();
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    request.end(body ?? undefined);
  });
}
