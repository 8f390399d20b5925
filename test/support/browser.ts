import { execFileSync } from 'node:child_process';
import { chromium, type Browser } from 'playwright-core';

/** Flags for the Debian Chromium in containers and CI: no sandbox, no GPU, no calls home. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * The path of the system Chromium (`command -v chromium`). Throws when there is none: the browser
 * tests must fail loudly on a machine without it, never skip.
 */
export function findChromium(): string {
  let path = '';
  try {
    path = execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  } catch {
    // not found: handled below
  }
  if (!path) {
    throw new Error(
      'Chromium not found (`command -v chromium` is empty). The browser tests need it: apt-get update && apt-get install -y chromium',
    );
  }
  return path;
}

/** Launches headless Chromium through playwright-core with the house flags. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: findChromium(), headless: true, args: CHROMIUM_ARGS });
}
