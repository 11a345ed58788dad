// Debian's Chromium driven by playwright-core (no browser download). Installed
// with apt-get when missing and we are root, like redis-server.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { projectRoot } from '../../src/local/paths.js';
import { aptInstall } from '../../src/local/processes.js';
import { startTestService, type TestService, type TestServiceOptions } from './context.js';

const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    if (process.getuid?.() !== 0) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (sudo apt-get install -y chromium)`);
    aptInstall('chromium', () => {});
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    // The machine's network is closed: without these Chromium keeps trying to reach Google.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Where the browser tests keep their screenshots (test artifacts). */
export const SHOTS = join(projectRoot, 'test-results');

/** A test file's service and Chromium, started before its tests and closed after them. */
export function browserSuite(options: TestServiceOptions): { t: TestService; browser: Browser } {
  const suite = {} as { t: TestService; browser: Browser };
  beforeAll(async () => {
    suite.t = await startTestService(options);
    suite.browser = await launchChromium();
    mkdirSync(SHOTS, { recursive: true });
  }, 300_000);
  afterAll(async () => {
    await suite.browser?.close();
    await suite.t?.close();
  });
  return suite;
}
