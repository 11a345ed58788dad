// One HTTP request over node's http(s) with keep-alive agents: the transport
// of the platform calls made once per reply (telegraf's client and the Zalo
// axios instance send through it). node-fetch and axios's own adapter cost
// two to three times the CPU per call, and under a burst that call is a large
// share of the service's CPU (README, Performance).
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface HttpAnswer {
  status: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface HttpCall {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** No answer by then: the request fails (the socket is dropped). */
  timeoutMs: number;
  signal?: AbortSignal;
}

const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

/** The answer, whatever its status; rejects on a network failure or a timeout, with a message that never holds the URL. */
export function httpCall(c: HttpCall): Promise<HttpAnswer> {
  const secure = c.url.startsWith('https:');
  const request = secure ? (httpsRequest as typeof httpRequest) : httpRequest;
  const headers = c.body === undefined ? c.headers : { ...c.headers, 'content-length': String(Buffer.byteLength(c.body)) };
  return new Promise((resolve, reject) => {
    const req = request(c.url, { method: c.method, agent: secure ? agents.https : agents.http, headers, ...(c.signal ? { signal: c.signal } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.setTimeout(c.timeoutMs, () => req.destroy(new Error(`no answer in ${c.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(c.body);
  });
}
