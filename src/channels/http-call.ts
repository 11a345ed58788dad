// One HTTP request over node's http(s) with keep-alive agents: the transport
// of the platform calls made once per reply (telegraf's client and the Zalo
// axios instance send through it). node-fetch and axios's own adapter cost
// two to three times the CPU per call, and under a burst that call is a large
// share of the service's CPU (README, Performance). A proxy named by
// HTTPS_PROXY / HTTP_PROXY (NO_PROXY excepted) is used, as axios and curl do.
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { getProxyForUrl } from 'proxy-from-env';

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

const direct = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

/** Per origin (scheme, host, port): its agent, direct or through the proxy the environment names for it. */
const agentByOrigin = new Map<string, HttpAgent>();

/**
 * The agent for `url`, chosen once per origin (a service calls a handful). An
 * https origin goes through the proxy by a CONNECT tunnel (the proxy sees only
 * host and port), an http one as a request to the proxy.
 */
function agentFor(url: string, secure: boolean): HttpAgent {
  const end = url.indexOf('/', url.indexOf('//') + 2);
  const origin = end < 0 ? url : url.slice(0, end);
  let agent = agentByOrigin.get(origin);
  if (!agent) {
    const proxy = getProxyForUrl(origin);
    if (!proxy) agent = secure ? direct.https : direct.http;
    else agent = secure ? new HttpsProxyAgent(proxy, { keepAlive: true }) : new HttpProxyAgent(proxy, { keepAlive: true });
    agentByOrigin.set(origin, agent);
  }
  return agent;
}

/** The answer, whatever its status; rejects on a network failure or a timeout, with a message that never holds the URL. */
export function httpCall(c: HttpCall): Promise<HttpAnswer> {
  const secure = c.url.startsWith('https:');
  const request = secure ? (httpsRequest as typeof httpRequest) : httpRequest;
  const headers = c.body === undefined ? c.headers : { ...c.headers, 'content-length': String(Buffer.byteLength(c.body)) };
  return new Promise((resolve, reject) => {
    const req = request(c.url, { method: c.method, agent: agentFor(c.url, secure), headers, ...(c.signal ? { signal: c.signal } : {}) }, (res) => {
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
