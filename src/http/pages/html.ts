/** Escapes text for HTML element content and attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The shared page frame: mobile-first, no external assets, no build step. */
export function page(title: string, body: string, extraHead = ''): string {
  return `<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
  :root { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a; }
  body { margin: 0; background: #f4f6f8; }
  main { max-width: 40rem; margin: 0 auto; padding: 1rem; }
  h1 { font-size: 1.35rem; color: #8b0000; margin: .5rem 0 1rem; }
  .card { background: #fff; border-radius: .75rem; padding: 1rem; margin-bottom: 1rem; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
  .btn { display: inline-block; padding: .8rem 1.2rem; border-radius: .5rem; border: 0; font-size: 1rem; font-weight: 600; text-decoration: none; cursor: pointer; }
  .primary { background: #0068ff; color: #fff; } .secondary { background: #1477a8; color: #fff; }
  .muted { color: #666; font-size: .9rem; } .btn[disabled] { background: #ccc; color: #555; }
  .code { font: 700 2rem/1.2 ui-monospace, Menlo, Consolas, monospace; letter-spacing: .15em; margin: .5rem 0; }
  label { display: block; margin: .6rem 0 .2rem; font-weight: 600; }
  input, select { width: 100%; box-sizing: border-box; padding: .6rem; font-size: 1rem; border: 1px solid #bbb; border-radius: .4rem; }
  table { width: 100%; border-collapse: collapse; font-size: .9rem; } td, th { text-align: left; padding: .35rem; border-bottom: 1px solid #eee; }
  .error { color: #b00020; font-weight: 600; }
</style>
${extraHead}
</head>
<body><main>
${body}
</main></body>
</html>`;
}

/**
 * What the pages' scripts share: `esc(text)` for HTML, and the API call `call(method, path, body)` with the key in
 * `state.key`, resolving to `{status, data}` (JSON, else text) and throwing `{code}` (the API's error code;
 * `unavailable` when offline).
 */
export const PAGE_SCRIPT_HELPERS = `
const esc = (s) => String(s == null ? '' : s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
async function call(method, path, body) {
  let res;
  try {
    res = await fetch(path, { method, headers: Object.assign({ authorization: 'Bearer ' + state.key }, body ? { 'content-type': 'application/json' } : {}), body: body ? JSON.stringify(body) : undefined });
  } catch {
    throw Object.assign(new Error('network'), { code: 'unavailable' });
  }
  const isJson = (res.headers.get('content-type') || '').includes('json');
  const data = isJson ? await res.json() : await res.text();
  if (!res.ok) throw Object.assign(new Error('api'), { code: (data && data.error && data.error.code) || ({ 401: 'unauthorized', 403: 'forbidden' })[res.status] || 'unknown' });
  return { status: res.status, data };
}
`;
