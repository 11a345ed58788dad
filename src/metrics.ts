// Prometheus metrics of the process (GET /metrics).
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    updates: new Counter({ name: 'webhook_updates_total', help: 'Inbound platform events', labelNames: ['channel', 'result'], registers: [registry] }),
    latency: new Histogram({
      name: 'webhook_handle_seconds',
      help: 'Time to process one inbound event',
      labelNames: ['channel'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
