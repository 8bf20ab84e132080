/**
 * A stand-in for a healthchecks server (https://github.com/healthchecks/healthchecks) on
 * 127.0.0.1, for tests: a real HTTP server that follows what healthchecks' ping view
 * (`hc/api/views.py` `ping`, `ping_by_slug`), its URL table (`hc/api/urls.py`), its Management
 * API (`create_check`, `get_checks`, `hc/api/decorators.py`) and its docs (`http_api.md`,
 * `api.md`) say, closely enough to catch a client that gets the protocol wrong.
 *
 * Pings (any method, as the view has no method restriction):
 * - `/ping/<uuid>[/start|/fail|/log|/<0-255>]` and `/ping/<ping-key>/<slug>[/...]`;
 * - a check with `methods: "POST"` records a non-POST ping as ignored (`kind: 'ign'`): no start,
 *   no success, no fail (`if check.methods == "POST" and method != "POST": action = "ign"`);
 * - the body is kept up to `pingBodyLimit` bytes, head only (`request.body[: PING_BODY_LIMIT]`),
 *   and every 200 carries `Ping-Body-Limit: <limit>` (none when the limit is null);
 * - a slug with capitals: 400; no such slug: 404 `not found` (with `?create=1`: the check is
 *   created, 201 `Created`); two checks with the slug: 409 `ambiguous slug`;
 * - `?rid=` must be a UUID (400 `invalid uuid format`); an exit status over 255: 400;
 * - `/start` marks the check started, success `up`, `/fail` (or a non-zero exit status)
 *   `down`, `/log` changes nothing; a ping to a paused check resumes it.
 *
 * `/` answers 200, as the web UI's welcome page does; other paths 404.
 *
 * Management API v3 (`X-Api-Key`, 32 characters; on POST also `api_key` in the JSON body):
 * - `GET /api/v3/checks/[?slug=..][&tag=..]`: `{"checks": [...]}`; a read-only key gets them
 *   without `uuid`, `ping_url`, `update_url`, `channels` and with `unique_key`;
 * - `POST /api/v3/checks/`: validated as healthchecks' `Spec` (strict types, timeout and grace
 *   60..31536000, slug `^[a-z0-9-_]*$`); with `unique`, an existing match is updated (200),
 *   else a check is created (201); a read-only key is refused (401 `wrong api key`), as is a
 *   missing (401 `missing api key`) or unknown one.
 *
 * ```ts
 * const hc = await startPingServer({ pingBodyLimit: 2000 });
 * const url = hc.url('cronwatch');       // a new UUID check named cronwatch: <origin>/ping/<uuid>
 * hc.setMode('hang');                     // read each request, record it, never answer
 * hc.setMode('down');                     // reset every connection as it opens
 * hc.setMode({ status: 500 });            // answer every ping with this status
 * hc.failNext(503, 2);                    // the next two pings get a 503, then the mode applies
 * hc.pings; hc.requests; hc.checks;       // what it received and what it holds
 * await hc.close();
 * ```
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { startLoopbackServer } from './loopback-server.js';

/** What healthchecks made of a ping (`ign`: ignored). */
export type PingKind = 'start' | 'success' | 'fail' | 'log' | 'ign';

export interface RecordedPing {
  readonly method: string;
  /** The request path without the query, e.g. `/ping/<uuid>/start`. */
  readonly path: string;
  /** The name of the check pinged; '' when none was found. */
  readonly check: string;
  /** How it was addressed: its UUID, or `<ping-key>/<slug>`. */
  readonly address: string;
  readonly kind: PingKind;
  readonly exitStatus: number | null;
  readonly rid: string | null;
  readonly contentType: string | null;
  readonly userAgent: string | null;
  /** The body as the server stored it: the first `pingBodyLimit` bytes. */
  readonly body: string;
  /** How many bytes of body arrived. */
  readonly receivedBytes: number;
  /** The status answered; null when the ping was left hanging. */
  readonly answered: number | null;
}

/** Every request, as it arrived (for reports and for counting). */
export interface RecordedRequest {
  readonly method: string;
  /** Path and query. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly answered: number | null;
}

export interface StoredCheck {
  uuid: string;
  name: string;
  slug: string;
  tags: string;
  desc: string;
  timeout: number;
  grace: number;
  methods: '' | 'POST';
  channels: string;
  status: 'new' | 'up' | 'down' | 'paused';
  started: boolean;
  lastStartRid: string | null;
  /** Seconds between a start and its end with the same rid. */
  lastDuration: number | null;
  nPings: number;
}

export type PingMode = 'ok' | 'hang' | 'down' | { readonly status: number };

export interface PingServerOptions {
  /** healthchecks' `PING_BODY_LIMIT`; default 10000 (its settings.py); null: no limit, no header. */
  readonly pingBodyLimit?: number | null;
}

export interface PingServer {
  readonly port: number;
  /** `http://127.0.0.1:<port>`: the instance's SITE_ROOT. */
  readonly origin: string;
  /** The ping endpoint, `<origin>/ping`. */
  readonly pingEndpoint: string;
  /** The project's ping key, for slug URLs. */
  readonly pingKey: string;
  /** A read-write and a read-only Management API key (32 characters each). */
  readonly apiKey: string;
  readonly readOnlyApiKey: string;
  /** The UUID ping URL of the check named `name`, created (as in the web UI) on first use. */
  url(name: string): string;
  /** Adds a check as the web UI would; returns it. */
  addCheck(fields: Partial<StoredCheck> & { readonly name: string }): StoredCheck;
  readonly checks: readonly StoredCheck[];
  readonly pings: readonly RecordedPing[];
  readonly requests: readonly RecordedRequest[];
  /** The pings of the check named `name`, in order. */
  pingsOf(name: string): RecordedPing[];
  setMode(mode: PingMode): void;
  /** The next `count` pings (default 1) are answered with `status`. */
  failNext(status: number, count?: number): void;
  close(): Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Django's `slug` converter is [-a-zA-Z0-9_]+; `<int:...>` is [0-9]+.
const UUID_PATH = /^\/ping\/([0-9a-f-]{36})(?:\/(start|fail|log|\d+))?$/i;
const SLUG_PATH = /^\/ping\/([-a-zA-Z0-9_]+)\/([-a-zA-Z0-9_]+)(?:\/(start|fail|log|\d+))?$/;
const SPEC_FIELDS = ['name', 'slug', 'tags', 'desc', 'timeout', 'grace', 'methods', 'channels', 'unique'];
const UNIQUE_FIELDS = ['name', 'slug', 'tags', 'timeout', 'grace'] as const;

function key32(): string {
  return randomUUID().replaceAll('-', '');
}

/** healthchecks' `Spec.model_validate(..., strict=True)`, first error only, in its words. */
function validateSpec(json: Record<string, unknown>): string | null {
  for (const [field, value] of Object.entries(json)) {
    if (field === 'api_key' || !SPEC_FIELDS.includes(field)) continue;
    if (
      ['name', 'slug', 'tags', 'desc', 'channels', 'methods'].includes(field) &&
      typeof value !== 'string'
    ) {
      return `json validation error: ${field} is not a string`;
    }
    if (field === 'name' && (value as string).length > 100) return 'json validation error: name is too long';
    if (field === 'slug' && !/^[a-z0-9-_]*$/.test(value as string)) {
      return 'json validation error: slug does not match pattern';
    }
    if (field === 'methods' && value !== '' && value !== 'POST') {
      return 'json validation error: methods has unexpected value';
    }
    if (field === 'timeout' || field === 'grace') {
      if (typeof value !== 'number' || !Number.isInteger(value))
        return `json validation error: ${field} is not a number`;
      if (value < 60) return `json validation error: ${field} is too small`;
      if (value > 31_536_000) return `json validation error: ${field} is too large`;
    }
    if (field === 'unique') {
      if (!Array.isArray(value)) return 'json validation error: unique is not an array';
      if (!value.every((item) => (UNIQUE_FIELDS as readonly unknown[]).includes(item))) {
        return "json validation error: an item in 'unique' has unexpected value";
      }
    }
  }
  return null;
}

export async function startPingServer(options: PingServerOptions = {}): Promise<PingServer> {
  const limit = options.pingBodyLimit === undefined ? 10_000 : options.pingBodyLimit;
  const pingKey = `pk${randomUUID().replaceAll('-', '').slice(0, 20)}`;
  const apiKey = key32();
  const readOnlyApiKey = key32();
  const checks: StoredCheck[] = [];
  const pings: RecordedPing[] = [];
  const requests: RecordedRequest[] = [];
  const queued: number[] = [];
  let mode: PingMode = 'ok';
  let origin = '';

  const addCheck = (fields: Partial<StoredCheck> & { readonly name: string }): StoredCheck => {
    const check: StoredCheck = {
      uuid: randomUUID(),
      slug: '',
      tags: '',
      desc: '',
      timeout: 86_400,
      grace: 3600,
      methods: '',
      channels: '',
      status: 'new',
      started: false,
      lastStartRid: null,
      lastDuration: null,
      nPings: 0,
      ...fields,
    };
    checks.push(check);
    return check;
  };

  const toDict = (check: StoredCheck, readonly: boolean) => ({
    name: check.name,
    slug: check.slug,
    tags: check.tags,
    desc: check.desc,
    grace: check.grace,
    n_pings: check.nPings,
    status: check.status,
    started: check.started,
    methods: check.methods,
    timeout: check.timeout,
    ...(readonly
      ? { unique_key: check.uuid.replaceAll('-', '').padEnd(40, '0') }
      : {
          uuid: check.uuid,
          ping_url: `${origin}/ping/${check.uuid}`,
          update_url: `${origin}/api/v3/checks/${check.uuid}`,
          channels: check.channels,
        }),
  });

  const handlePing = (
    request: IncomingMessage,
    url: URL,
    body: Buffer,
    reply: (status: number, text: string, headers?: Record<string, string>) => void,
  ): void => {
    const method = request.method ?? '';
    const byUuid = UUID_PATH.exec(url.pathname);
    const bySlug = byUuid === null ? SLUG_PATH.exec(url.pathname) : null;
    const suffix = byUuid?.[2] ?? bySlug?.[3];
    const exitStatus = suffix !== undefined && /^\d+$/.test(suffix) ? Number(suffix) : null;
    let check: StoredCheck | undefined;
    let status = 200;
    let text = 'OK';
    if (byUuid !== null) {
      check = checks.find((candidate) => candidate.uuid === byUuid[1]!.toLowerCase());
      if (check === undefined) [status, text] = [404, 'not found'];
    } else if (bySlug !== null) {
      const [, key, slug] = bySlug as unknown as [string, string, string];
      if (slug !== slug.toLowerCase()) [status, text] = [400, 'invalid url format'];
      else {
        const found = key === pingKey ? checks.filter((candidate) => candidate.slug === slug) : [];
        if (found.length > 1) [status, text] = [409, 'ambiguous slug'];
        else if (found.length === 1) check = found[0];
        else if (url.searchParams.get('create') === '1' && key === pingKey) {
          check = addCheck({ name: slug, slug });
          [status, text] = [201, 'Created'];
        } else [status, text] = [404, 'not found'];
      }
    } else [status, text] = [404, 'not found'];
    if (check !== undefined && exitStatus !== null && exitStatus > 255) {
      [status, text] = [400, 'invalid url format'];
    }
    const rid = url.searchParams.get('rid');
    if (check !== undefined && status < 300 && rid !== null && !UUID.test(rid)) {
      [status, text] = [400, 'invalid uuid format'];
    }
    let kind: PingKind =
      exitStatus !== null
        ? exitStatus > 0
          ? 'fail'
          : 'success'
        : ((suffix as PingKind | undefined) ?? 'success');
    if (check?.methods === 'POST' && method !== 'POST') kind = 'ign';
    const stored = limit === null ? body : body.subarray(0, limit);
    const fault = status < 300 ? (queued.shift() ?? null) : null;
    const hang = status < 300 && fault === null && mode === 'hang';
    if (fault !== null) [status, text] = [fault, fault >= 500 ? 'server error' : 'refused'];
    else if (status < 300 && typeof mode === 'object') {
      status = mode.status;
      text = status >= 500 ? 'server error' : 'refused';
    }
    if (check !== undefined && status < 300) {
      check.nPings += 1;
      if (kind === 'start') {
        check.started = true;
        check.lastStartRid = rid;
      } else if (kind === 'success' || kind === 'fail') {
        if (check.started && (check.lastStartRid === rid || kind === 'fail' || rid === null))
          check.started = false;
        check.status = kind === 'fail' ? 'down' : 'up';
      }
    }
    pings.push({
      method,
      path: url.pathname,
      check: check?.name ?? '',
      address: byUuid?.[1] ?? (bySlug === null ? '' : `${bySlug[1]}/${bySlug[2]}`),
      kind,
      exitStatus,
      rid,
      contentType: request.headers['content-type'] ?? null,
      userAgent: request.headers['user-agent'] ?? null,
      body: stored.toString('utf8'),
      receivedBytes: body.length,
      answered: hang ? null : status,
    });
    if (hang) return;
    reply(status, text, status === 200 && limit !== null ? { 'ping-body-limit': String(limit) } : {});
  };

  const handleApi = (request: IncomingMessage, url: URL, body: Buffer): [number, unknown] => {
    if (url.pathname !== '/api/v3/checks/') return [404, { error: 'not found' }];
    const method = request.method ?? '';
    if (method !== 'GET' && method !== 'POST') return [405, {}];
    let spec: Record<string, unknown> = {};
    if (method === 'POST' && body.length > 0) {
      try {
        const parsed: unknown = JSON.parse(body.toString('utf8'));
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          return [400, { error: 'json validation error: value is not an object' }];
        }
        spec = parsed as Record<string, unknown>;
      } catch {
        return [400, { error: 'could not parse request body' }];
      }
    }
    const headerKey = request.headers['x-api-key'];
    const key =
      typeof headerKey === 'string'
        ? headerKey
        : method === 'POST' && 'api_key' in spec
          ? String(spec.api_key)
          : '';
    if (key.length !== 32) return [401, { error: 'missing api key' }];
    const readonly = key === readOnlyApiKey;
    // Writes take only the read-write key (`for_api_key(..., accept_ro=False)`).
    if (key !== apiKey && !(readonly && method === 'GET')) return [401, { error: 'wrong api key' }];
    if (method === 'GET') {
      const tags = url.searchParams.getAll('tag');
      const slug = url.searchParams.get('slug');
      const listed = checks.filter(
        (check) => (!slug || check.slug === slug) && tags.every((tag) => check.tags.split(' ').includes(tag)),
      );
      return [200, { checks: listed.map((check) => toDict(check, readonly)) }];
    }
    const invalid = validateSpec(spec);
    if (invalid !== null) return [400, { error: invalid }];
    const unique = (spec.unique as string[] | undefined) ?? [];
    const existing =
      unique.length === 0 || unique.some((field) => spec[field] === undefined)
        ? undefined
        : checks.find((check) => unique.every((field) => check[field as keyof StoredCheck] === spec[field]));
    const check = existing ?? addCheck({ name: '' });
    for (const field of [
      'name',
      'slug',
      'tags',
      'desc',
      'timeout',
      'grace',
      'methods',
      'channels',
    ] as const) {
      if (spec[field] !== undefined) (check as unknown as Record<string, unknown>)[field] = spec[field];
    }
    return [existing === undefined ? 201 : 200, toDict(check, false)];
  };

  const server = await startLoopbackServer(
    (request, bodyText, response, body) => {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers)) {
        if (typeof value === 'string') headers[name] = value;
      }
      const entry = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers,
        body: bodyText,
        answered: null as number | null,
      };
      requests.push(entry);
      const reply = (status: number, text: string, extra: Record<string, string> = {}) => {
        entry.answered = status;
        response.writeHead(status, {
          'content-type': 'text/plain; charset=utf-8',
          'content-length': Buffer.byteLength(text),
          ...extra,
        });
        response.end(text);
      };
      if (url.pathname.startsWith('/api/')) {
        const [status, value] = handleApi(request, url, body);
        entry.answered = status;
        const text = JSON.stringify(value);
        response.writeHead(status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
        });
        response.end(text);
      } else if (url.pathname.startsWith('/ping/')) handlePing(request, url, body, reply);
      // The web UI's pages: what doctor's look at the ping host's root finds.
      else if (url.pathname === '/') reply(200, 'healthchecks stand-in');
      else reply(404, 'not found');
    },
    { dropConnection: () => mode === 'down' },
  );
  const { port } = server;
  origin = server.origin;
  return {
    port,
    origin,
    pingEndpoint: `${origin}/ping`,
    pingKey,
    apiKey,
    readOnlyApiKey,
    url: (name) => {
      const check = checks.find((candidate) => candidate.name === name) ?? addCheck({ name });
      return `${origin}/ping/${check.uuid}`;
    },
    addCheck,
    checks,
    pings,
    requests,
    pingsOf: (name) => pings.filter((ping) => ping.check === name),
    setMode: (next) => {
      mode = next;
    },
    failNext: (status, count = 1) => {
      for (let i = 0; i < count; i += 1) queued.push(status);
    },
    close: server.close,
  };
}
