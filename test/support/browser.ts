import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Flags for Chromium in containers and CI: no sandbox, no GPU, no calls home. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/** The browsers looked for on PATH, in this order, after `CHROMIUM_PATH`. */
export const PATH_BROWSERS = ['chromium', 'chromium-browser', 'google-chrome'] as const;

export interface BrowserChoice {
  executablePath: string;
  /** Where it came from, for the test log: `CHROMIUM_PATH`, `PATH:<name>` or `@sparticuz/chromium`. */
  source: string;
  /** Launch flags. */
  args: string[];
}

/** What a machine offers; injectable so that the order and the failure message are unit-tested. */
export interface BrowserSources {
  env: NodeJS.ProcessEnv;
  onPath(name: string): string | undefined;
  /** Unpacks and returns the binary shipped inside `@sparticuz/chromium`, or undefined when unusable. */
  npmChromium(): Promise<string | undefined>;
}

export const NO_BROWSER_MESSAGE =
  'No Chromium for the browser tests. Any one of these works: ' +
  '(1) set CHROMIUM_PATH to a Chromium or Chrome binary; ' +
  `(2) put ${PATH_BROWSERS.join(' / ')} on PATH (e.g. apt-get install chromium); ` +
  '(3) run `npm ci` so that the devDependency @sparticuz/chromium (which ships its own binary) is installed.';

/**
 * Picks the browser in the documented order: `CHROMIUM_PATH`, then a browser on PATH, then the binary
 * inside the npm package `@sparticuz/chromium`. Throws (never skips) when none is usable, naming the
 * three ways; a `CHROMIUM_PATH` that is set but not executable is an error of its own, not a fallback.
 */
export async function chooseBrowser(sources: BrowserSources): Promise<BrowserChoice> {
  const fromEnv = sources.env.CHROMIUM_PATH?.trim();
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`CHROMIUM_PATH=${fromEnv} is not an executable file. ${NO_BROWSER_MESSAGE}`);
    return { executablePath: fromEnv, source: 'CHROMIUM_PATH', args: CHROMIUM_ARGS };
  }
  for (const name of PATH_BROWSERS) {
    const found = sources.onPath(name);
    if (found) return { executablePath: found, source: `PATH:${name}`, args: CHROMIUM_ARGS };
  }
  const shipped = await sources.npmChromium();
  if (shipped) {
    return { executablePath: shipped, source: '@sparticuz/chromium', args: CHROMIUM_ARGS };
  }
  throw new Error(NO_BROWSER_MESSAGE);
}

/** The machine's real sources. */
export const machineBrowserSources: BrowserSources = {
  env: process.env,
  onPath(name) {
    try {
      const path = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
      return path || undefined;
    } catch {
      return undefined;
    }
  },
  async npmChromium() {
    let mod: { default: { executablePath(): Promise<string> } };
    try {
      mod = await import('@sparticuz/chromium');
    } catch {
      return undefined;
    }
    // The package's own `args` are tuned for Lambda (single process, web security off); the house
    // flags launch its binary on Debian as they do the system one, and keep same-origin rules on, which
    // the Referer and redirect assertions of the browser tests depend on.
    return mod.default.executablePath();
  },
};

let chosen: Promise<BrowserChoice> | undefined;

/** Launches headless Chromium through playwright-core with the chosen binary and flags. */
export async function launchChromium(): Promise<Browser> {
  chosen ??= chooseBrowser(machineBrowserSources);
  const choice = await chosen;
  return chromium.launch({ executablePath: choice.executablePath, headless: true, args: choice.args });
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
