/**
 * `npm run dev`: the whole stack on this machine with no AWS account. Prints the API's address and key
 * once every part answers, plus a ready-made walk through the connect flow.
 */
import { EMULATOR_DEFAULT_CLIENT } from './anaf-emulator/server.js';
import { startLocalStack } from './stack.js';

const stack = await startLocalStack({
  scheduleSweep: true,
  log: (line) => process.stdout.write(`[local] ${line}\n`),
});

const { apiUrl, apiKey, emulator } = stack;
const auth = `-H "Authorization: Bearer $API_KEY"`;
const client = emulator
  ? `{"clientId":"${EMULATOR_DEFAULT_CLIENT.clientId}","clientSecret":"${EMULATOR_DEFAULT_CLIENT.clientSecret}"}`
  : '{"clientId":"<your ANAF client id>","clientSecret":"<your ANAF client secret>"}';

process.stdout.write(`
API: ${apiUrl}
API key: ${apiKey}
Console: ${apiUrl}/ (tenants, companies, the connect flow, tokens, the emulator's switches)
${emulator ? `ANAF emulator: ${emulator.url} (authorize page: interactive; admin: ${emulator.url}/__emulator/state)` : `ANAF: ${process.env.ANAF_OAUTH_BASE_URL}`}
Sweep: every ${process.env.SWEEP_INTERVAL_SECONDS ?? 60} s

Try it (copy into another terminal):
  export API=${apiUrl} API_KEY=${apiKey}
  curl -s -X PUT $API/v1/tenants/acme/anaf-client ${auth} -d '${client}'
  curl -s -X PUT $API/v1/tenants/acme/companies/RO14399840 ${auth} -d '{"name":"Demo SRL"}'
  curl -s -X POST $API/v1/tenants/acme/connect-sessions ${auth} -d '{"cuis":["14399840"]}'
  # open the authorizeUrl it prints in a browser, pick a certificate, type any PIN, then:
  curl -s $API/v1/tenants/acme/companies ${auth}
  curl -s $API/v1/tenants/acme/companies/14399840/access-token ${auth}
  curl -s $API/v1/tenants/acme/events ${auth}

Manual refresh from another terminal (the CLI calls the manual-refresh Lambda handler):
  export AWS_ENDPOINT_URL=${stack.moto.endpoint}${emulator ? ` ANAF_OAUTH_BASE_URL=${emulator.oauthBaseUrl}` : ''}
  npm run refresh -- --tenant acme --cui 14399840

Ctrl+C stops everything.
`);

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\n${signal}: stopping the local stack\n`);
  const force = setTimeout(() => process.exit(1), 5000);
  force.unref();
  stack.stop().then(() => process.exit(0));
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGHUP', () => shutdown('SIGHUP'));
// `npm run dev` killed by a signal of its own does not always pass it on: when our parent goes away,
// stop too, so that no moto or emulator is left behind.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) shutdown('parent exited');
}, 1000).unref();
