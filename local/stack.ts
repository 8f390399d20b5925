import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { ENV } from '../shared/config/env-names.js';
import { getRuntime } from '../shared/runtime/runtime.js';
import { sweep, type SweepSummary } from '../shared/services/sweep.js';
import { EMULATOR_DEFAULT_CLIENT, parseClientsEnv, startAnafEmulator, type AnafEmulator } from './anaf-emulator/server.js';
import { bootstrapLocalResources } from './bootstrap.js';
import { createConsole } from './console/server.js';
import { LOCAL_DEFAULTS } from './defaults.js';
import { createGateway } from './gateway.js';
import { startMoto, type MotoServer } from './moto.js';

export interface LocalStack {
  apiUrl: string;
  apiKey: string;
  moto: MotoServer;
  /** Present unless both ANAF base URLs were configured. */
  emulator: AnafEmulator | null;
  /** Runs one sweep now (the same service the schedule runs). */
  runSweep(): Promise<SweepSummary>;
  stop(): Promise<void>;
}

export interface LocalStackOptions {
  /** Environment to read settings from (default process.env); the stack writes its own values into process.env. */
  env?: Record<string, string | undefined>;
  /** Run the sweep every SWEEP_INTERVAL_SECONDS (dev) or never (tests call runSweep). */
  scheduleSweep?: boolean;
  log?: (line: string) => void;
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
  const log = options.log ?? (() => undefined);
  const host = '127.0.0.1';
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch(() => undefined);
  };
  try {
    const moto = await startMoto();
    stops.push(() => moto.stop());
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
    const { kmsKeyId } = await bootstrapLocalResources({ tableName, eventBusName, kmsAlias: LOCAL_DEFAULTS.kmsAlias });

    let emulator: AnafEmulator | null = null;
    const oauthBase = env[ENV.anafOauthBaseUrl];
    const apiBase = env[ENV.anafApiBaseUrl];
    if (!(oauthBase && apiBase)) {
      emulator = await startAnafEmulator({
        host,
        authorizeMode: env.ANAF_EMULATOR_AUTHORIZE_MODE === 'approve' || env.ANAF_EMULATOR_AUTHORIZE_MODE === 'deny' ? env.ANAF_EMULATOR_AUTHORIZE_MODE : 'interactive',
        clients: parseClientsEnv(env.ANAF_EMULATOR_CLIENTS),
        log,
      });
      stops.push(() => emulator!.close());
    }

    const apiKey = env[ENV.localApiKey] || randomBytes(24).toString('base64url');
    // The console reads the settings and runs the sweep only once a request comes, after start-up.
    let runSweep: () => Promise<SweepSummary> = () => Promise.reject(new Error('the stack is still starting'));
    const localConsole = createConsole({
      apiKey,
      settings: () => getRuntime().config,
      emulatorUrl: () => emulator?.url ?? null,
      emulatorClient: () => (emulator ? { ...EMULATOR_DEFAULT_CLIENT } : null),
      runSweep: () => runSweep(),
    });
    const gateway = createGateway({ apiKey, local: localConsole });
    const port = await listen(gateway, Number(env[ENV.port] ?? 3000), host);
    stops.push(() => closeServer(gateway));
    const apiUrl = `http://${host}:${port}`;

    Object.assign(process.env, {
      [ENV.port]: String(port),
      [ENV.localApiKey]: apiKey,
      [ENV.publicBaseUrl]: env[ENV.publicBaseUrl] || `http://localhost:${port}`,
      [ENV.anafOauthBaseUrl]: oauthBase || emulator!.oauthBaseUrl,
      [ENV.anafApiBaseUrl]: apiBase || emulator!.apiBaseUrl,
      [ENV.tableName]: tableName,
      [ENV.secretPrefix]: env[ENV.secretPrefix] || LOCAL_DEFAULTS.secretPrefix,
      [ENV.eventBusName]: eventBusName,
      [ENV.secretsKmsKeyId]: env[ENV.secretsKmsKeyId] || kmsKeyId,
    });
    // Parse configuration now, so a bad variable stops start-up with its message instead of a 500 later.
    const runtime = getRuntime();

    runSweep = () => sweep(runtime.deps, { remainingMs: () => Number.POSITIVE_INFINITY });
    if (options.scheduleSweep) {
      let running = false;
      const timer = setInterval(() => {
        if (running) return;
        running = true;
        runSweep()
          .then((summary) => log(`sweep: ${JSON.stringify(summary)}`))
          .catch((error: unknown) => log(`sweep failed: ${(error as Error).message}`))
          .finally(() => {
            running = false;
          });
      }, runtime.config.sweepIntervalSeconds * 1000);
      timer.unref();
      stops.push(async () => clearInterval(timer));
    }
    return { apiUrl, apiKey, moto, emulator, runSweep, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as { port: number }).port));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
