// The Zalo channel's axios instance. Its requests go through httpCall (node's
// http, keep-alive) rather than axios's own adapter: the same axios API and
// response, at about two thirds of the CPU per call (one call per reply).
import axios, { type AxiosAdapter, AxiosError, type AxiosInstance, type AxiosResponse } from 'axios';
import { httpCall } from '../../src/channels/http-call.js';

/** A call with no answer by then fails (axios's 0, "no timeout", is not honoured: a call held forever holds its job). */
const DEFAULT_TIMEOUT_MS = 15_000;

/**
 * The call's URL, by axios's rule (a relative url joins baseURL), from the config axios already merged: its getUri
 * merges the config with the defaults again, which was a sixth of axios's CPU per call. With params, axios builds it.
 */
function urlOf(config: Parameters<AxiosAdapter>[0]): string {
  const url = config.url ?? '';
  if (config.params) return axios.getUri(config);
  if (!config.baseURL || /^([a-z][a-z\d+\-.]*:)?\/\//i.test(url)) return url;
  return url ? `${config.baseURL.replace(/\/?\/$/, '')}/${url.replace(/^\/+/, '')}` : config.baseURL;
}

/** axios's request (its body already serialized by axios), sent by httpCall; the status is judged by validateStatus. */
const adapter: AxiosAdapter = async (config) => {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(config.headers.toJSON())) if (v !== undefined && v !== null) headers[k] = String(v);
  let answer: Awaited<ReturnType<typeof httpCall>>;
  try {
    answer = await httpCall({
      method: (config.method ?? 'get').toUpperCase(),
      url: urlOf(config),
      headers,
      ...(config.data === undefined || config.data === null ? {} : { body: String(config.data) }),
      timeoutMs: config.timeout || DEFAULT_TIMEOUT_MS,
    });
  } catch (err) {
    throw new AxiosError((err as Error).message, AxiosError.ERR_NETWORK, config);
  }
  const response: AxiosResponse = { data: answer.body, status: answer.status, statusText: answer.statusText, headers: answer.headers, config };
  if (config.validateStatus && !config.validateStatus(answer.status)) {
    throw new AxiosError(`Request failed with status code ${answer.status}`, AxiosError.ERR_BAD_RESPONSE, config, undefined, response);
  }
  return response;
};

/** Every status is an answer (the callers read Zalo's error codes); a call with no answer in `timeoutMs` fails. */
export const zaloHttp = (baseURL?: string, timeoutMs = DEFAULT_TIMEOUT_MS): AxiosInstance =>
  axios.create({ ...(baseURL ? { baseURL: baseURL.replace(/\/+$/, '') } : {}), timeout: timeoutMs, validateStatus: () => true, adapter });
