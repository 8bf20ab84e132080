/**
 * A webhook receiver on 127.0.0.1 for integration tests (Slack, Discord or any JSON webhook): a
 * real HTTP server that records every request and answers as told.
 *
 * ```ts
 * const hook = await startWebhookServer();
 * const url = hook.url('/services/T0/B0/secret');         // any path is accepted
 * hook.replyNext({ status: 429, headers: { 'retry-after': '1' } });
 * hook.replyNext({ status: 500 }, 3);
 * hook.setReply('hang');                                  // every later request: never answered
 * hook.accepted();                                        // bodies answered 2xx, parsed, in order
 * await hook.close();
 * ```
 *
 * Queued replies (`replyNext`) come first, then the standing one (`setReply`), then 200 `ok`.
 */

import type { IncomingHttpHeaders } from 'node:http';
import { type LoopbackServerOptions, startLoopbackServer } from './loopback-server.js';

export type WebhookReply =
  | { readonly status: number; readonly headers?: Readonly<Record<string, string>>; readonly body?: string }
  /** Never answers (until `close()`). */
  | 'hang'
  /** Destroys the connection without an answer. */
  | 'close';

export interface WebhookRequest {
  readonly method: string;
  /** Path and query as received. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The status it was answered with; null when hung or closed. */
  readonly status: number | null;
}

export interface WebhookServer {
  readonly port: number;
  /** `http://127.0.0.1:<port><path>`. */
  url(path: string): string;
  /** Every request received, in order. */
  readonly requests: readonly WebhookRequest[];
  /** The JSON bodies of requests answered 2xx, in order. */
  accepted(): unknown[];
  /** The next `count` (default 1) requests, after those already queued, get `reply`. */
  replyNext(reply: WebhookReply, count?: number): void;
  /** Every request not taken by a queued reply gets `reply`; null: 200 `ok`. */
  setReply(reply: WebhookReply | null): void;
  /** Stops listening and drops every open connection, hung ones included. */
  close(): Promise<void>;
}

const OK: WebhookReply = { status: 200, body: 'ok' };

export async function startWebhookServer(options: LoopbackServerOptions = {}): Promise<WebhookServer> {
  const requests: WebhookRequest[] = [];
  const queue: WebhookReply[] = [];
  let standing: WebhookReply | null = null;

  const server = await startLoopbackServer((request, body, response) => {
    const reply = queue.shift() ?? standing ?? OK;
    const record = (status: number | null) =>
      requests.push({
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
        body,
        status,
      });
    if (reply === 'hang') {
      record(null);
      return;
    }
    if (reply === 'close') {
      record(null);
      request.socket.destroy();
      return;
    }
    record(reply.status);
    const text = reply.body ?? '';
    response.writeHead(reply.status, {
      'content-type': 'text/plain',
      'content-length': Buffer.byteLength(text),
      ...reply.headers,
    });
    response.end(text);
  }, options);

  return {
    port: server.port,
    url: (path) => `${server.origin}${path}`,
    requests,
    accepted: () =>
      requests
        .filter((request) => request.status !== null && request.status >= 200 && request.status < 300)
        .map((request) => JSON.parse(request.body) as unknown),
    replyNext: (reply, count = 1) => {
      for (let i = 0; i < count; i += 1) queue.push(reply);
    },
    setReply: (reply) => {
      standing = reply;
    },
    close: server.close,
  };
}
