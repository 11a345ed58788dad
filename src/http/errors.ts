import type { ErrorRequestHandler } from 'express';
import type { Logger } from '../log.js';

/** An error with the HTTP status and code the client sees: `{error: {code, message}}`. */
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

/** Errors of our dependencies being down: the client should retry (503). */
export function isUnavailable(err: unknown): boolean {
  const e = err as { name?: string; code?: string; message?: string };
  return (
    /Mongo(Server|Network|NotConnected)|MongooseServerSelection/.test(e?.name ?? '') ||
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE/.test(e?.code ?? '') ||
    /Connection is closed|Stream isn't writeable|enableOfflineQueue|connection closed|Reached the max retries/i.test(e?.message ?? '')
  );
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const e = err as { status?: number; type?: string; message?: string };
    let status = 500;
    let code = 'internal';
    let message = 'internal error';
    if (err instanceof HttpError) {
      ({ status, code, message } = err);
    } else if (e.type === 'entity.too.large') {
      [status, code, message] = [413, 'too_large', 'request body is larger than 1 MB'];
    } else if (e.type === 'entity.parse.failed' || e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
      [status, code, message] = [400, 'bad_json', 'request body is not valid JSON'];
    } else if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      [status, code, message] = [e.status, 'bad_request', e.message ?? 'bad request'];
    } else if (isUnavailable(err)) {
      [status, code, message] = [503, 'unavailable', 'a dependency is unavailable, retry later'];
    }
    if (status >= 500) log.error({ err, path: req.path }, 'request failed');
    if (!res.headersSent) res.status(status).json({ error: { code, message } });
  };
}
