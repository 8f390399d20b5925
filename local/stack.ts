import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { ConfigError } from '../shared/config/config.js';
import { ENV } from '../shared/config/env-names.js';
import { NON_HTTP_FUNCTIONS } from '../shared/http/routes.js';
import type { Clock } from '../shared/ports.js';
import { getRuntime } from '../shared/runtime/runtime.js';
import { ALL_ADAPTERS } from '../shared/runtime/adapters/index.js';
import { sweep, type SweepSummary } from '../shared/services/sweep.js';
import { EMULATOR_DEFAULT_CLIENT, startAnafEmulator, type AnafEmulator, type AuthorizeMode } from './anaf-emulator/server.js';
import { bootstrapLocalResources } from './bootstrap.js';
import type { FunctionBundles } from './bundles.js';
import { createConsole } from './console/server.js';
import { LOCAL_DEFAULTS } from './defaults.js';
import { createGateway } from './gateway.js';
import { startMoto, type MotoServer } from './moto.js';
import { parseLocalSettings } from './settings.js';

/**
 * Settings the refresh CLI reads the way the handlers here do: the banner's env line carries the ones
 * given to `npm run dev`, so that `npm run refresh` behaves like the stack (a cool-down of 0, say).
 */
const CLI_SETTINGS = [
  ENV.tableName,
  ENV.secretPrefix,
  ENV.eventBusName,
  ENV.secretsKmsKeyId,
  ENV.anafTimeoutMs,
  ENV.refreshMarginDays,
  ENV.manualRefreshCooldownSeconds,
  ENV.maxRotationsPerDay,
  ENV.anafRotationCap,
] as const;

export interface LocalStack {
  apiUrl: string;
  apiKey: string;
  /** The moto the stack uses; `process` is null for a moto given by `motoEndpoint` (the caller's to stop). */
  moto: Pick<MotoServer, 'endpoint'> & { process: MotoServer['process'] | null };
  /** Present unless both ANAF base URLs were configured. */
  emulator: AnafEmulator | null;
  /** The emulator's authorize mode at start-up (null without the emulator). */
  authorizeMode: AuthorizeMode | null;
  /** What `npm run refresh` in another terminal needs to reach this stack (AWS_ENDPOINT_URL, ANAF_OAUTH_BASE_URL, …). */
  cliEnv: Record<string, string>;
  /** The folder of the bundles the gateway and the sweep run (`bundles` option), else null: the sources through tsx. */
  bundlesDir: string | null;
  /** Runs one sweep now (the same service the schedule runs). */
  runSweep(): Promise<SweepSummary>;
  stop(): Promise<void>;
}

export interface LocalStackOptions {
  /** Environment to read settings from (default process.env); the stack writes its own values into process.env. */
  env?: Record<string, string | undefined>;
  /** Run the sweep every SWEEP_INTERVAL_SECONDS (dev) or never (tests call runSweep). */
  scheduleSweep?: boolean;
  /** Warnings and errors go to the log always; with this (or LOCAL_LOG=requests) also a line per request and per sweep. */
  verbose?: boolean;
  log?: (line: string) => void;
  /**
   * Serve the functions' esbuild bundles (infra's options, built at start-up into a temporary folder)
   * instead of the sources: the gateway and the scheduled sweep load them in plain ESM, as Lambda does.
   */
  bundles?: boolean;
  /**
   * One clock for the services (the `Clock` port) and the emulator (`npm run simulate` moves it by
   * days); default the wall clock.
   */
  clock?: Clock;
  /**
   * A moto that is already running and empty (the test suite's one per worker, reset before each file):
   * used as it is, neither started nor stopped here. Default: start one for this stack.
   */
  motoEndpoint?: string;
}

/**
 * The whole local stack in this process: moto (DynamoDB, Secrets Manager, EventBridge), the table and
 * bus, the ANAF emulator (unless both ANAF base URLs are set), the HTTP gateway mounting the Lambda
 * handlers, and optionally the sweep on an interval. Handlers read configuration from process.env,
 * so this writes the resolved values there before the first request.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  if (options.env) {
    for (const [name, value] of Object.entries(options.env)) if (value !== undefined) process.env[name] = value;
  }
  const env = process.env;
  const given = { ...env };
  const log = options.log ?? (() => undefined);
  const host = '127.0.0.1';
  // Every variable is checked before anything starts, so a typo costs one line, not a moto start.
  const settings = parseLocalSettings(env);
  const verbose = options.verbose || settings.logRequests;
  // Handlers log a line per request at INFO; locally that is noise unless asked for.
  process.env.POWERTOOLS_LOG_LEVEL ||= verbose ? 'INFO' : 'WARN';
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch(() => undefined);
  };
  try {
    // A port someone else holds fails now, before moto and the emulator are started for nothing.
    if (settings.port !== 0) {
      const [probe] = await listenOn(createServer(), settings.port, host);
      await closeServer(probe);
    }
    // Built while moto starts; a build error stops start-up like a bad variable. Imported only then:
    // the bundle options come from infra, and aws-cdk-lib takes seconds to load (every test stack paid it).
    const building = options.bundles ? import('./bundles.js').then((m) => m.buildFunctionBundles()) : null;
    building?.catch(() => undefined);
    let moto: LocalStack['moto'] = { endpoint: options.motoEndpoint ?? '', process: null };
    if (!options.motoEndpoint) {
      const started = await startMoto();
      stops.push(() => started.stop());
      moto = started;
    }
    const bundles: FunctionBundles | null = building ? await building : null;
    if (bundles) stops.push(() => bundles.remove());
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_REGION: env.AWS_REGION || LOCAL_DEFAULTS.region,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
    delete process.env.AWS_PROFILE;
    // EMF metric lines are for CloudWatch; locally they would only clutter the output.
    process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
    // The machines run Node 20 and Lambda runs Node 22: the SDK's Node-version notice is not news here.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

    const tableName = env[ENV.tableName] || LOCAL_DEFAULTS.tableName;
    const eventBusName = env[ENV.eventBusName] || LOCAL_DEFAULTS.eventBusName;
    const invoiceBucketName = env[ENV.invoiceBucketName] || LOCAL_DEFAULTS.invoiceBucketName;
    const { kmsKeyId } = await bootstrapLocalResources({ tableName, eventBusName, kmsAlias: LOCAL_DEFAULTS.kmsAlias, invoiceBucketName });

    let emulator: AnafEmulator | null = null;
    const oauthBase = env[ENV.anafOauthBaseUrl];
    const apiBase = env[ENV.anafApiBaseUrl];
    if (!(oauthBase && apiBase)) {
      emulator = await startAnafEmulator({
        host,
        authorizeMode: settings.authorizeMode,
        clients: settings.emulatorClients,
        ...(options.clock ? { now: () => options.clock!.now().getTime() } : {}),
        log: verbose ? (line) => log(`emulator: ${line}`) : undefined,
      });
      stops.push(() => emulator!.close());
    }

    const apiKey = settings.apiKey || randomBytes(24).toString('base64url');
    // The console reads the settings and runs the sweep only once a request comes, after start-up.
    let runSweep: () => Promise<SweepSummary> = () => Promise.reject(new Error('the stack is still starting'));
    const localConsole = createConsole({
      apiKey,
      settings: () => getRuntime(...ALL_ADAPTERS).config,
      emulatorUrl: () => emulator?.url ?? null,
      emulatorClient: () => (emulator ? { ...EMULATOR_DEFAULT_CLIENT } : null),
      runSweep: () => runSweep(),
    });
    const gateway = createGateway({
      apiKey,
      local: localConsole,
      ...(bundles ? { loadHandler: (fn: string) => bundles.load(fn), handlerFile: (fn: string) => bundles.files.get(fn) ?? null } : {}),
    });
    const [, port] = await listenOn(gateway, settings.port, host);
    stops.push(() => closeServer(gateway));
    // One host form everywhere: the address printed, authorizeUrl, the callback and the return-URL allowlist.
    const apiUrl = `http://${host}:${port}`;

    Object.assign(process.env, {
      [ENV.port]: String(port),
      [ENV.localApiKey]: apiKey,
      [ENV.publicBaseUrl]: env[ENV.publicBaseUrl] || apiUrl,
      [ENV.anafOauthBaseUrl]: oauthBase || emulator!.oauthBaseUrl,
      [ENV.anafApiBaseUrl]: apiBase || emulator!.apiBaseUrl,
      [ENV.tableName]: tableName,
      [ENV.secretPrefix]: env[ENV.secretPrefix] || LOCAL_DEFAULTS.secretPrefix,
      [ENV.eventBusName]: eventBusName,
      [ENV.secretsKmsKeyId]: env[ENV.secretsKmsKeyId] || kmsKeyId,
      [ENV.invoiceBucketName]: invoiceBucketName,
      // validare / transformare (no token) go to the emulator's public host unless one is given (issue 9).
      ...(emulator && !env.ANAF_PUBLIC_API_BASE_URL ? { ANAF_PUBLIC_API_BASE_URL: emulator.publicApiBaseUrl } : {}),
    });
    // Parse configuration now, so a bad variable stops start-up with its message instead of a 500 later.
    const runtime = getRuntime(...ALL_ADAPTERS);
    if (options.clock) runtime.deps.clock = options.clock;

    runSweep = bundles
      ? async () => (await bundles.load<(event: object) => Promise<SweepSummary>>(NON_HTTP_FUNCTIONS.sweep))({})
      : () => sweep(runtime.deps, { remainingMs: () => Number.POSITIVE_INFINITY });
    if (options.scheduleSweep) {
      let running = false;
      const timer = setInterval(() => {
        if (running) return;
        running = true;
        runSweep()
          .then((summary) => {
            if (verbose || sweepDidSomething(summary)) log(`sweep: ${JSON.stringify(summary)}`);
          })
          .catch((error: unknown) => log(`sweep failed: ${(error as Error).message}`))
          .finally(() => {
            running = false;
          });
      }, runtime.config.sweepIntervalSeconds * 1000);
      timer.unref();
      stops.push(async () => clearInterval(timer));
    }
    const cliEnv: Record<string, string> = {
      AWS_ENDPOINT_URL: moto.endpoint,
      [ENV.anafOauthBaseUrl]: runtime.config.anafOauthBaseUrl,
      [ENV.publicBaseUrl]: runtime.config.publicBaseUrl,
    };
    for (const name of CLI_SETTINGS) if (given[name]) cliEnv[name] = given[name]!;
    return { apiUrl, apiKey, moto, emulator, authorizeMode: emulator ? settings.authorizeMode : null, cliEnv, bundlesDir: bundles?.dir ?? null, runSweep, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Listens on `port` (0 = any free one); answers the server and its port. A port in use is a ConfigError. */
function listenOn(server: Server, port: number, host: string): Promise<[Server, number]> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') reject(new ConfigError([`PORT: ${port} is in use on ${host} (another npm run dev? set PORT=0 for any free port)`]));
      else if (error.code === 'EACCES') reject(new ConfigError([`PORT: ${port} needs privileges on this machine (set PORT=0 for any free port)`]));
      else reject(error);
    });
    server.listen(port, host, () => resolve([server, (server.address() as { port: number }).port]));
  });
}

/** A sweep worth a line in the quiet log: it found or changed something. */
function sweepDidSomething(summary: SweepSummary): boolean {
  return summary.stoppedEarly || Object.values(summary).some((value) => typeof value === 'number' && value > 0);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
