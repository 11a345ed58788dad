import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Listens on a free loopback port; returns the server's base URL. */
export async function listenLocal(server: import('node:http').Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** Closes a test server at once (open keep-alive connections included). */
export async function closeNow(server: import('node:http').Server | undefined): Promise<void> {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
}
