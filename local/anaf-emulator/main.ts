/**
 * Standalone ANAF emulator: `npx tsx local/anaf-emulator/main.ts`.
 * Env: ANAF_EMULATOR_PORT (default 0 = a free port), ANAF_EMULATOR_CLIENTS (`id:secret,id2:secret2`),
 * ANAF_EMULATOR_AUTHORIZE_MODE (interactive | approve | deny; default interactive).
 * Listens on 127.0.0.1 and prints the base URLs to put in ANAF_OAUTH_BASE_URL / ANAF_API_BASE_URL /
 * ANAF_PUBLIC_API_BASE_URL.
 */
import { AUTHORIZE_MODES, EMULATOR_DEFAULT_CLIENT, parseClientsEnv, startAnafEmulator, type AuthorizeMode } from './server.js';

const port = Number(process.env.ANAF_EMULATOR_PORT ?? '0');
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error('ANAF_EMULATOR_PORT must be a port number (0 = any free port)');
  process.exit(2);
}
const mode = (process.env.ANAF_EMULATOR_AUTHORIZE_MODE || 'interactive') as AuthorizeMode;
if (!AUTHORIZE_MODES.includes(mode)) {
  console.error(`ANAF_EMULATOR_AUTHORIZE_MODE must be one of ${AUTHORIZE_MODES.join(', ')}`);
  process.exit(2);
}
let clients: Record<string, string>;
try {
  clients = parseClientsEnv(process.env.ANAF_EMULATOR_CLIENTS);
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}

const emulator = await startAnafEmulator({
  host: '127.0.0.1',
  port,
  clients,
  authorizeMode: mode,
  log: (line) => console.log(`[anaf-emulator] ${line}`),
});

console.log(`ANAF emulator: ${emulator.url} (authorize mode: ${mode})`);
console.log(`ANAF_OAUTH_BASE_URL=${emulator.oauthBaseUrl}`);
console.log(`ANAF_API_BASE_URL=${emulator.apiBaseUrl}`);
console.log(`ANAF_PUBLIC_API_BASE_URL=${emulator.publicApiBaseUrl}`);
console.log(`Admin: ${emulator.url}/__emulator/state`);
console.log(`Clients: ${[EMULATOR_DEFAULT_CLIENT.clientId, ...Object.keys(clients)].join(', ')}`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void emulator.close().then(() => process.exit(0));
  });
}
