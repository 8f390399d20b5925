/**
 * `npm run dev`: the whole stack on this machine with no AWS account. Prints the API's address and key
 * once every part answers, plus a ready-made walk through the connect flow. A start-up error is one
 * line on stderr (exit 1), never a stack trace; `--verbose` (or LOCAL_LOG=requests) adds a line per
 * request to the log, which otherwise holds warnings, errors and the banner. `--bundles` serves the
 * functions' esbuild bundles (what `cdk synth` deploys) instead of the sources.
 */
import { getConfig } from '../shared/config/config.js';
import { renderBanner } from './banner.js';
import { watchCaller } from './parent-watch.js';
import { startLocalStack, type LocalStack } from './stack.js';

const args = process.argv.slice(2);
const verbose = args.includes('--verbose');
// `npm run dev -- --bundles` passes the flag on; `npm run dev --bundles` makes it npm's own setting.
const bundles = args.includes('--bundles') || process.env.npm_config_bundles === 'true';
const log = (line: string) => process.stdout.write(`[local] ${line}\n`);

let stack: LocalStack | undefined;
let stopping = false;
const shutdown = (reason: string) => {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\n${reason}: stopping the local stack\n`);
  const force = setTimeout(() => {
    // moto is our child: never leave it behind, even when stopping hangs.
    stack?.moto.process?.kill('SIGKILL');
    process.exit(1);
  }, 5000);
  force.unref();
  // A stop asked for during start-up waits for the start to finish (or fail), then stops what started.
  started.then((s) => s.stop(), () => undefined).then(() => process.exit(0));
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGHUP', () => shutdown('SIGHUP'));
// npm killed with SIGKILL (an IDE's stop button) passes nothing on, and the `sh -c` it ran us through
// stays: watch npm itself, so that no moto, emulator or port is left behind.
watchCaller(() => shutdown('npm exited'));

const started = startLocalStack({ scheduleSweep: true, verbose, log, bundles });
try {
  stack = await started;
} catch (error) {
  process.stderr.write(`npm run dev: ${oneLine(error)}\n`);
  if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  process.exit(1);
}

if (!stopping) {
  const config = getConfig();
  process.stdout.write(
    renderBanner({
      apiUrl: stack.apiUrl,
      apiKey: stack.apiKey,
      emulator: stack.emulator && stack.authorizeMode ? { url: stack.emulator.url, authorizeMode: stack.authorizeMode } : null,
      anafOauthBaseUrl: config.anafOauthBaseUrl,
      anafApiBaseUrl: config.anafApiBaseUrl,
      publicBaseUrl: config.publicBaseUrl,
      returnUrlAllowlist: config.returnUrlAllowlist,
      sweepIntervalSeconds: config.sweepIntervalSeconds,
      logRequests: verbose || process.env.LOCAL_LOG === 'requests',
      cliEnv: stack.cliEnv,
      bundlesDir: stack.bundlesDir,
    }),
  );
}

/** A start-up error as one line: its message (a ConfigError names every bad variable), newlines folded. */
function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s*\n\s*/g, ' ').trim();
}
