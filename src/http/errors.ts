// The HTTP edge: errors become `{error: {code, message}}` with a status.
// Domain errors are mapped by kind; only a dependency that cannot be reached
// is a 503 ("retry later"): a deterministic rejection by the database (a
// validation failure, an invalid key) is a bug of ours, not an outage.
import type { ErrorRequestHandler } from 'express';
import type { z } from 'zod';
import { DomainError, type DomainErrorKind } from '../errors.js';
import { LockBusyError } from '../keyed-lock.js';
import type { Logger } from '../log.js';

/** An error with the HTTP status and code the client sees. */
/** Request input checked against its schema: the parsed value, or a 400 naming every problem for the integrator. */
export function validInput<T extends z.ZodTypeAny>(schema: T, value: unknown, code = 'invalid_body'): z.infer<T> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const msg = r.error.issues
    .map((i) => (i.code === 'unrecognized_keys' ? `unknown field(s): ${i.keys.join(', ')}` : `${i.path.join('.') || '(body)'}: ${i.message}`))
    .join('; ');
  throw new HttpError(400, code, msg);
}

export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const STATUS_OF: Record<DomainErrorKind, number> = { invalid: 400, forbidden: 403, not_found: 404, conflict: 409, unavailable: 503 };

/** MongoDB server error codes that mean "not reachable now" (shutting down, stepped down, network), not "your request is wrong". */
const MONGO_TRANSIENT_CODES = new Set([6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436]);

/** Whether an error means a dependency is unreachable right now, so the client should retry (503). */
export function isUnavailable(err: unknown): boolean {
  const e = err as { name?: string; code?: string | number; message?: string };
  if (!e || typeof e !== 'object') return false;
  if (
    /^(MongoNetworkError|MongoNetworkTimeoutError|MongoServerSelectionError|MongoNotConnectedError|MongoTopologyClosedError|MongooseServerSelectionError)$/.test(
      e.name ?? '',
    )
  )
    return true;
  if (e.name === 'MongoServerError') return typeof e.code === 'number' && MONGO_TRANSIENT_CODES.has(e.code);
  return (
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE)$/.test(String(e.code ?? '')) ||
    /Connection is closed|Stream isn't writeable|enableOfflineQueue|Reached the max retries/i.test(e.message ?? '') ||
    // A Redis Cluster in failover: a master lost, its replica not yet promoted (ioredis gives up after its redirections).
    /^(CLUSTERDOWN|TRYAGAIN|MOVED|ASK) |Too many Cluster redirections|Failed to refresh slots cache/.test(e.message ?? '')
  );
}

/** Any error as the client sees it. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof DomainError) return new HttpError(STATUS_OF[err.kind], err.code, err.message);
  // Another writer of the same record held its lock for seconds: the write did not happen, and may be tried again.
  if (err instanceof LockBusyError) return new HttpError(503, 'busy', 'this record is being changed by another request, retry later');
  if (isUnavailable(err)) return new HttpError(503, 'unavailable', 'a dependency is unavailable, retry later');
  return new HttpError(500, 'internal', 'internal error');
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const e = err as { status?: number; type?: string; message?: string; limit?: number };
    let http: HttpError;
    if (e.type === 'entity.too.large') http = new HttpError(413, 'too_large', `request body is larger than ${Math.round((e.limit ?? 0) / 1024)} KB`);
    else if (e.type === 'entity.parse.failed' || e.type === 'encoding.unsupported' || e.type === 'charset.unsupported')
      http = new HttpError(400, 'bad_json', 'request body is not valid JSON');
    else if (e.type === 'request.aborted') http = new HttpError(400, 'aborted', 'the client closed the request');
    else if (!(err instanceof HttpError) && !(err instanceof DomainError) && typeof e.status === 'number' && e.status >= 400 && e.status < 500)
      http = new HttpError(e.status, 'bad_request', e.message ?? 'bad request');
    else http = toHttpError(err);
    if (http.status >= 500) log.error({ err, path: req.path }, 'request failed');
    if (!res.headersSent) res.status(http.status).json({ error: { code: http.code, message: http.message } });
  };
}
