// Headless Chromium for the page tests: Debian's `chromium` (installed by .ci/run), driven by playwright-core, which
// never downloads a browser. Missing Chromium fails the test with how to install it.

import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

import { chromium, type Browser } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** The Chromium executable: `CHROMIUM_PATH`, else Debian's. */
export function chromiumPath(): string {
  const given = process.env.CHROMIUM_PATH;
  if (given) {
    if (!existsSync(given)) throw new Error(`CHROMIUM_PATH=${given} does not exist`);
    return given;
  }
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `the dashboard's browser tests need Chromium and none was found (${CANDIDATES.join(', ')}): install Debian's package ` +
        '(`apt-get update && apt-get install -y chromium`, as .ci/run does) or set CHROMIUM_PATH to a Chromium or Chrome executable',
    );
  }
  return found;
}

export async function launchChromium(): Promise<Browser> {
  // As root (CI, containers) Chromium refuses to start with its sandbox.
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** The folder of a test's screenshots (git-ignored). */
export function outputDir(name: string): string {
  const dir = path.join(__dirname, '..', '..', 'test-output', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}
