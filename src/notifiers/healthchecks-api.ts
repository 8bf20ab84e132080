/**
 * The few calls of healthchecks' Management API v3 that `healthchecks sync` and `doctor` make:
 * list the project's checks, and create or update one by slug (`unique: ["slug"]`). The key goes
 * in `X-Api-Key` and into no message.
 */
import type { DesiredCheck, ExistingCheck } from '../core/healthchecks.js';
import type { HealthchecksConfig } from '../core/types.js';
import { USER_AGENT } from './heartbeat-ping.js';
import { httpRequest } from './node-http.js';

/** One API request is given up after this long. */
export const API_TIMEOUT_MS = 10_000;

/** A call the API did not answer, or answered with an error; `status` null: no answer. */
export class HealthchecksApiError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function errorOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // Not JSON: a proxy's page, say; its status is what matters.
  }
  return body.slice(0, 80).trim();
}

async function call(
  hc: HealthchecksConfig,
  method: 'GET' | 'POST',
  path: string,
  body: unknown,
): Promise<{ status: number; json: unknown }> {
  const url = `${hc.url}/api/v3/${path}`;
  const where = `${method} ${new URL(url).origin}/api/v3/${path.split('?')[0]}`;
  let answer: Awaited<ReturnType<typeof httpRequest>>;
  try {
    answer = await httpRequest(url, {
      method,
      headers: {
        'x-api-key': hc.apiKey ?? '',
        'user-agent': USER_AGENT,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? null : JSON.stringify(body),
      timeoutMs: API_TIMEOUT_MS,
    });
  } catch (error) {
    const why =
      error instanceof Error && error.name === 'TimeoutError'
        ? 'no answer in time'
        : ((error as NodeJS.ErrnoException).code ?? (error as Error).message);
    throw new HealthchecksApiError(`${where}: ${why}`, null, { cause: error });
  }
  if (answer.status >= 300) {
    const said = errorOf(answer.body);
    throw new HealthchecksApiError(
      `${where}: HTTP ${answer.status}${said === '' ? '' : ` (${said})`}`,
      answer.status,
    );
  }
  try {
    return { status: answer.status, json: JSON.parse(answer.body) };
  } catch (error) {
    throw new HealthchecksApiError(`${where}: HTTP ${answer.status} but not JSON`, answer.status, {
      cause: error,
    });
  }
}

/** Every check of the project, or those with `slug`. */
export async function listChecks(hc: HealthchecksConfig, slug?: string): Promise<ExistingCheck[]> {
  const query = slug === undefined ? '' : `?slug=${encodeURIComponent(slug)}`;
  const { json } = await call(hc, 'GET', `checks/${query}`, undefined);
  const checks = (json as { checks?: unknown }).checks;
  if (!Array.isArray(checks))
    throw new HealthchecksApiError('GET checks/: no "checks" list in the answer', 200);
  return checks as ExistingCheck[];
}

/**
 * Creates the check or updates the one with its slug. `created` is the API's word for it (201
 * against 200). A new check is given all the project's channels (`"*"`), as one made in the web
 * UI is; an existing one keeps those its owner chose.
 */
export async function upsertCheck(
  hc: HealthchecksConfig,
  check: DesiredCheck,
  isNew: boolean,
): Promise<{ created: boolean }> {
  const { of: _of, ...fields } = check;
  const { status } = await call(hc, 'POST', 'checks/', {
    ...fields,
    ...(isNew ? { channels: '*' } : {}),
    unique: ['slug'],
  });
  return { created: status === 201 };
}
