// Ensures the local Redis and MongoDB-compatible server (unless REDIS_URL /
// MONGODB_URI are given) and hands their URLs to the test files.
import type { TestProject } from 'vitest/node';
import { ensureLocalServices } from '../src/local/servers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    mongoUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const say = (m: string) => console.log(`[services] ${m}`);
  const local = await ensureLocalServices({ redis: !process.env.REDIS_URL, mongo: !process.env.MONGODB_URI }, say);
  for (const s of [local.redis, local.mongo]) if (s) say(`${s.name}: ${s.how} ${s.kind} at ${s.url}`);
  project.provide('redisUrl', process.env.REDIS_URL ?? local.redis!.url);
  project.provide('mongoUrl', process.env.MONGODB_URI ?? local.mongo!.url);
}
