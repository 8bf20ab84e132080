/**
 * The few calls of healthchecks' Management API v3 that `healthchecks sync` and `doctor` make:
 * list the project's checks, and create or update one by slug (`unique: ["slug"]`). The key goes
 * in `X-Api-Key` and into no message: every error names the origin only, quotes the server's own
 * `error` (which a proxy's page might fill with anything) and passes through `redact` with the
 * project's keys. A request is given up after a channel's request timeout, and not retried:
 * `sync` and `doctor` are run by hand, and say what failed.
 */
import type { DesiredCheck, ExistingCheck } from '../core/healthchecks.js';
import { healthchecksSecrets, redact } from '../core/redact.js';
import type { HealthchecksConfig } from '../core/types.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, describeCauses } from './http-policy.js';
import { type HttpAnswer, httpRequest } from './node-http.js';

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
  const failure = (why: string, status: number | null, cause?: unknown) =>
    new HealthchecksApiError(redact(`${where}: ${why}`, healthchecksSecrets(hc)), status, { cause });
  let answer: HttpAnswer;
  try {
    answer = await httpRequest(url, {
      method,
      headers: {
        'x-api-key': hc.apiKey ?? '',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? null : JSON.stringify(body),
      timeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
    });
  } catch (error) {
    throw failure(describeCauses(error), null, error);
  }
  if (answer.status >= 300) {
    const said = errorOf(answer.body);
    throw failure(`HTTP ${answer.status}${said === '' ? '' : ` (${said})`}`, answer.status);
  }
  try {
    return { status: answer.status, json: JSON.parse(answer.body) };
  } catch (error) {
    throw failure(`HTTP ${answer.status} but not JSON`, answer.status, error);
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
