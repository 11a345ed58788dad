import { Router } from 'express';
import type { Registry } from 'prom-client';

export interface Check {
  name: string;
  check(): Promise<void>;
}

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref())]);
}

/** `warnings`: problems shown in /readyz's detail that do not make the process unready (one channel's trouble must not stop the others). */
export function healthRoutes(checks: Check[], registry: Registry, warnings: Array<{ name: string; check(): Promise<string | undefined> }> = []): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  r.get('/readyz', async (_req, res) => {
    const results = await Promise.all(
      checks.map(async (c) => {
        try {
          await within(c.check(), 2_000);
          return [c.name, 'ok'] as const;
        } catch (err) {
          return [c.name, `down: ${(err as Error).message}`] as const;
        }
      }),
    );
    const down = results.filter(([, s]) => s !== 'ok');
    const trouble = await Promise.all(warnings.map(async (w) => [w.name, await within(w.check(), 2_000).catch((e: Error) => e.message)] as const));
    const body = Object.fromEntries([...results, ...trouble.map(([n, t]) => [n, t ? `trouble: ${t}` : 'ok'] as const)]);
    if (down.length === 0) return void res.json({ status: 'ready', checks: body });
    res.status(503).json({ error: { code: 'not_ready', message: down.map(([n, s]) => `${n} ${s}`).join('; ') }, checks: body });
  });
  r.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return r;
}
