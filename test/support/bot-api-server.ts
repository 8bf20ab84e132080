/**
 * A stand-in for the Telegram Bot API on 127.0.0.1, for integration tests: a real HTTP server
 * that the real client (`node-telegram-bot-api`) talks to through `apiRoot`.
 *
 * It answers `POST /bot<token>/sendMessage`, `/getMe` and `/getChat` (urlencoded, JSON or query
 * parameters; the client sends urlencoded), records every request, and fails on demand:
 *
 * ```ts
 * const api = await startBotApiServer();
 * const channel = createTelegramChannel({ token: 'x', chatId: '42', apiRoot: api.apiRoot, threadId: null });
 * api.failNext({ kind: 'rate_limit', retryAfterS: 1 });   // the next request gets a 429
 * api.failNext('server_error', 3);                       // the 3 after it a 500
 * api.setFault('hang');                                   // every later request: never answered
 * api.setFault(null);
 * api.messages();                                         // messages accepted, in order
 * await api.close();                                      // also drops hung connections
 * ```
 *
 * Queued faults (`failNext`) come first, then the standing fault (`setFault`), then success.
 * A fault with `method` applies only to that method; others pass it by.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { type LoopbackServerOptions, startLoopbackServer } from './loopback-server.js';

export type Fault =
  /** 429 with `parameters.retry_after` (seconds; default 1). */
  | { readonly kind: 'rate_limit'; readonly retryAfterS?: number; readonly method?: string }
  /** A 5xx with a Bot API error body (status default 500). */
  | { readonly kind: 'server_error'; readonly status?: number; readonly method?: string }
  /** 401 Unauthorized: a revoked or wrong token. */
  | { readonly kind: 'unauthorized'; readonly method?: string }
  /** 403 Forbidden: bot was blocked by the user. */
  | { readonly kind: 'forbidden'; readonly method?: string }
  /** 400 Bad Request: chat not found. */
  | { readonly kind: 'chat_not_found'; readonly method?: string }
  /** 400 Bad Request: can't parse entities (an HTML message Telegram refuses to parse). */
  | { readonly kind: 'cant_parse_entities'; readonly method?: string }
  /** 400 Bad Request: message is too long. */
  | { readonly kind: 'too_long'; readonly method?: string }
  /** 400 with `parameters.migrate_to_chat_id`: the group became a supergroup. */
  | { readonly kind: 'migrate'; readonly toChatId?: number; readonly method?: string }
  /** Never answers (until `close()`). */
  | { readonly kind: 'hang'; readonly method?: string }
  /** Destroys the connection without an answer. */
  | { readonly kind: 'close'; readonly method?: string };

export type FaultKind = Fault['kind'];

/** One request as received. */
export interface RecordedRequest {
  /** Bot API method from the path, e.g. `sendMessage`. */
  readonly method: string;
  /** The token from the path (tests check it never leaks anywhere else). */
  readonly token: string;
  /** Parameters merged from the query and the body; urlencoded values stay strings. */
  readonly params: Readonly<Record<string, unknown>>;
  /** `ok` when answered successfully, else the fault it met. */
  readonly outcome: 'ok' | FaultKind | 'unknown_method';
}

/** A message the stand-in accepted. */
export interface SentMessage {
  readonly token: string;
  readonly chatId: string;
  readonly text: string;
  readonly parseMode: string | null;
  readonly disableNotification: boolean;
  readonly messageThreadId: number | null;
}

export interface BotApiServer {
  /** Pass as the client's `apiRoot` (`http://127.0.0.1:<port>`). */
  readonly apiRoot: string;
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: readonly RecordedRequest[];
  /** The messages accepted (`sendMessage` answered ok), in order. */
  messages(): SentMessage[];
  /** The next `count` (default 1) requests, after those already queued, meet `fault`. */
  failNext(fault: Fault | FaultKind, count?: number): void;
  /** Every request not taken by a queued fault meets `fault`; null: succeed. */
  setFault(fault: Fault | FaultKind | null): void;
  /** Stops listening and drops every open connection, hung ones included. */
  close(): Promise<void>;
}

const FAULT_RESPONSES: {
  readonly [K in Exclude<FaultKind, 'hang' | 'close'>]: (fault: Extract<Fault, { kind: K }>) => {
    status: number;
    body: Record<string, unknown>;
  };
} = {
  rate_limit: (fault) => {
    const retryAfter = fault.retryAfterS ?? 1;
    return apiError(429, `Too Many Requests: retry after ${retryAfter}`, { retry_after: retryAfter });
  },
  server_error: (fault) => apiError(fault.status ?? 500, 'Internal Server Error'),
  unauthorized: () => apiError(401, 'Unauthorized'),
  forbidden: () => apiError(403, 'Forbidden: bot was blocked by the user'),
  chat_not_found: () => apiError(400, 'Bad Request: chat not found'),
  cant_parse_entities: () =>
    apiError(400, 'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0'),
  too_long: () => apiError(400, 'Bad Request: message is too long'),
  migrate: (fault) =>
    apiError(400, 'Bad Request: group chat was upgraded to a supergroup chat', {
      migrate_to_chat_id: fault.toChatId ?? -1001234567890,
    }),
};

function apiError(status: number, description: string, parameters?: Record<string, unknown>) {
  return {
    status,
    body: { ok: false, error_code: status, description, ...(parameters ? { parameters } : {}) },
  };
}

export async function startBotApiServer(options: LoopbackServerOptions = {}): Promise<BotApiServer> {
  const requests: RecordedRequest[] = [];
  const sent: SentMessage[] = [];
  const queue: Fault[] = [];
  let standing: Fault | null = null;
  let messageId = 0;

  const takeFault = (method: string): Fault | null => {
    const index = queue.findIndex((fault) => fault.method === undefined || fault.method === method);
    if (index >= 0) return queue.splice(index, 1)[0]!;
    if (standing && (standing.method === undefined || standing.method === method)) return standing;
    return null;
  };

  const handle = (request: IncomingMessage, body: string, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const match = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    if (!match) {
      reply(response, 404, { ok: false, error_code: 404, description: 'Not Found' });
      return;
    }
    const token = decodeURIComponent(match[1]!);
    const method = match[2]!;
    const params = {
      ...Object.fromEntries(url.searchParams),
      ...parseBody(body, request.headers['content-type']),
    };
    const record = (outcome: RecordedRequest['outcome']) => requests.push({ method, token, params, outcome });

    const fault = takeFault(method);
    if (fault?.kind === 'hang') {
      record('hang');
      return;
    }
    if (fault?.kind === 'close') {
      record('close');
      request.socket.destroy();
      return;
    }
    if (fault) {
      record(fault.kind);
      const format = FAULT_RESPONSES[fault.kind] as (value: Fault) => { status: number; body: object };
      const { status, body: errorBody } = format(fault);
      reply(response, status, errorBody);
      return;
    }
    if (method === 'getMe') {
      record('ok');
      reply(response, 200, {
        ok: true,
        result: { id: 100000001, is_bot: true, first_name: 'cronwatch test', username: 'cronwatch_test_bot' },
      });
      return;
    }
    if (method === 'getChat') {
      record('ok');
      reply(response, 200, {
        ok: true,
        result: { id: Number(params.chat_id) || 0, type: 'private', first_name: 'cronwatch owner' },
      });
      return;
    }
    if (method === 'sendMessage') {
      record('ok');
      const message: SentMessage = {
        token,
        chatId: String(params.chat_id),
        text: String(params.text ?? ''),
        parseMode: params.parse_mode === undefined ? null : String(params.parse_mode),
        disableNotification: params.disable_notification === true || params.disable_notification === 'true',
        messageThreadId: params.message_thread_id === undefined ? null : Number(params.message_thread_id),
      };
      sent.push(message);
      messageId += 1;
      reply(response, 200, {
        ok: true,
        result: {
          message_id: messageId,
          date: Math.floor(Date.now() / 1000),
          chat: { id: Number(message.chatId) || 0, type: 'private' },
          text: message.text,
        },
      });
      return;
    }
    record('unknown_method');
    reply(response, 404, { ok: false, error_code: 404, description: 'Not Found: method not found' });
  };

  const server = await startLoopbackServer(handle, options);

  const normalize = (fault: Fault | FaultKind): Fault =>
    typeof fault === 'string' ? { kind: fault } : fault;

  return {
    apiRoot: server.origin,
    port: server.port,
    requests,
    messages: () => [...sent],
    failNext: (fault, count = 1) => {
      for (let i = 0; i < count; i += 1) queue.push(normalize(fault));
    },
    setFault: (fault) => {
      standing = fault === null ? null : normalize(fault);
    },
    close: server.close,
  };
}

function parseBody(body: string, contentType: string | undefined): Record<string, unknown> {
  if (body.length === 0) return {};
  if (contentType?.includes('application/json')) {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  }
  // The client sends application/x-www-form-urlencoded when there is no file to upload.
  return Object.fromEntries(new URLSearchParams(body));
}

function reply(response: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}
