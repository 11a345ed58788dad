// Platform webhooks are served before express: they are the hot path, and a
// webhook needs only the raw body (Zalo signs the bytes as received), a size
// limit, the channel's verification and parsing, and a JSON answer.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InboundRejected, type WebhookInbound } from '../channels/channel.js';
import type { InboundEvent } from '../conversations/runner.js';
import type { Logger } from '../log.js';
import { HttpError, toHttpError } from './errors.js';

export interface WebhookOptions {
  limitBytes?: number;
  /** Answer within this time or say 503 so the platform retries. */
  timeoutMs?: number;
  log: Logger;
  unreachable?: (userKey: string) => Promise<void>;
  delivered?: (trackingId: string) => Promise<void>;
}

export function webhookHandler(inbound: WebhookInbound, handle: (ev: InboundEvent) => Promise<unknown>, o: WebhookOptions) {
  const limit = o.limitBytes ?? 1_048_576;
  const timeoutMs = o.timeoutMs ?? 10_000;
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      inbound.checkHeaders?.(req.headers);
      const raw = await readBody(req, limit);
      const parsed = inbound.parse(raw, req.headers);
      await withTimeout(
        (async () => {
          for (const u of parsed.unreachable ?? []) await o.unreachable?.(u);
          for (const id of parsed.delivered ?? []) await o.delivered?.(id);
          for (const ev of parsed.events) await handle(ev);
        })(),
        timeoutMs,
      );
      send(res, 200, parsed.answer ?? {});
    } catch (err) {
      const e = err instanceof InboundRejected ? new HttpError(err.kind === 'unauthorized' ? 401 : 400, err.code, err.message) : toHttpError(err);
      if (e.status >= 500) o.log.error({ err, path: req.url }, 'webhook failed');
      // An oversize body is not read: close the connection once the answer is out.
      if (e.status === 413) {
        res.setHeader('connection', 'close');
        res.on('finish', () => req.destroy());
      }
      if (!res.headersSent) send(res, e.status, { error: { code: e.code, message: e.message } });
    }
  };
}

function send(res: ServerResponse, status: number, body: unknown) {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(new HttpError(413, 'too_large', `request body is larger than ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) reject(new HttpError(413, 'too_large', `request body is larger than ${limit} bytes`));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('aborted', () => reject(new HttpError(400, 'aborted', 'the client closed the request')));
    req.on('error', reject);
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HttpError(503, 'timeout', `not processed within ${ms} ms; the platform will retry`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
