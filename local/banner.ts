import { EMULATOR_DEFAULT_CLIENT, type AuthorizeMode } from './anaf-emulator/server.js';

/** What `npm run dev` knows once every part answers. */
export interface BannerFacts {
  apiUrl: string;
  apiKey: string;
  /** Null when both ANAF base URLs point elsewhere. */
  emulator: { url: string; authorizeMode: AuthorizeMode } | null;
  anafOauthBaseUrl: string;
  anafApiBaseUrl: string;
  publicBaseUrl: string;
  returnUrlAllowlist: string[];
  sweepIntervalSeconds: number;
  logRequests: boolean;
  /** The variables `npm run refresh` needs in another terminal. */
  cliEnv: Record<string, string>;
  /** Where the served bundles are (`--bundles`); absent or null: the sources through tsx. */
  bundlesDir?: string | null;
}

/** A value as a POSIX shell word: bare when it is safe, else single-quoted. */
export function shellWord(value: string): string {
  return /^[\w./:@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The `export …` line that points a shell at the stack's moto and ANAF (one line, to paste). */
export function cliEnvLine(env: Record<string, string>): string {
  return `export ${Object.entries(env).map(([name, value]) => `${name}=${shellWord(value)}`).join(' ')}`;
}

/**
 * The text `npm run dev` prints when it is ready: where everything is, in the one host form the API
 * uses (the allowlist and authorizeUrl are built from it), and ready-made commands.
 */
export function renderBanner(facts: BannerFacts): string {
  const { apiUrl, apiKey, emulator } = facts;
  const auth = `-H "Authorization: Bearer $API_KEY"`;
  const client = emulator
    ? `{"clientId":"${EMULATOR_DEFAULT_CLIENT.clientId}","clientSecret":"${EMULATOR_DEFAULT_CLIENT.clientSecret}"}`
    : '{"clientId":"<your ANAF client id>","clientSecret":"<your ANAF client secret>"}';
  const anaf = emulator
    ? `ANAF emulator: ${emulator.url} (authorize mode: ${emulator.authorizeMode}; admin: ${emulator.url}/__emulator/state)`
    : `ANAF: ${facts.anafOauthBaseUrl} (OAuth), ${facts.anafApiBaseUrl} (e-Factura)`;
  const browsers = new URL(facts.publicBaseUrl).origin === new URL(apiUrl).origin ? [] : [`Browsers reach the API at: ${facts.publicBaseUrl} (PUBLIC_BASE_URL)`];
  const openStep = emulator?.authorizeMode === 'interactive'
    ? '# open the authorizeUrl it prints in a browser, pick a certificate, type any PIN, then:'
    : emulator
      ? `# open the authorizeUrl it prints (the emulator answers "${emulator.authorizeMode}" at once; curl -L follows it), then:`
      : '# open the authorizeUrl it prints in a browser and log in at ANAF, then:';
  return [
    '',
    `API: ${apiUrl}`,
    `API key: ${apiKey}`,
    `Console: ${apiUrl}/ (tenants, companies, the connect flow, tokens, the emulator's switches)`,
    `OpenAPI: ${apiUrl}/openapi.json`,
    anaf,
    ...browsers,
    `Return URLs allowed: ${facts.returnUrlAllowlist.join(', ')} (RETURN_URL_ALLOWLIST)`,
    `Sweep: every ${facts.sweepIntervalSeconds} s`,
    facts.bundlesDir
      ? `Handlers: the esbuild bundles cdk synth deploys, in ${facts.bundlesDir} (each answer names its bundle in x-local-handler)`
      : 'Handlers: the TypeScript sources through tsx (npm run dev -- --bundles serves the deployed bundles)',
    facts.logRequests
      ? 'Log: warnings and a line per request'
      : 'Log: warnings only (LOCAL_LOG=requests or npm run dev -- --verbose adds a line per request)',
    'State: in memory (moto and the emulator); stopping npm run dev forgets tenants, tokens and events.',
    '',
    'Try it (copy into another terminal):',
    `  export API=${apiUrl} API_KEY=${shellWord(apiKey)}`,
    `  curl -s -X PUT $API/v1/tenants/acme/anaf-client ${auth} -d '${client}'`,
    `  curl -s -X PUT $API/v1/tenants/acme/companies/RO14399840 ${auth} -d '{"name":"Demo SRL"}'`,
    `  curl -s -X POST $API/v1/tenants/acme/connect-sessions ${auth} -d '{"cuis":["14399840"]}'`,
    `  ${openStep}`,
    `  curl -s $API/v1/tenants/acme/companies ${auth}`,
    `  curl -s $API/v1/tenants/acme/companies/14399840/access-token ${auth}`,
    `  curl -s $API/v1/tenants/acme/events ${auth}`,
    '',
    'Manual refresh from another terminal (the CLI calls the manual-refresh Lambda handler):',
    `  ${cliEnvLine(facts.cliEnv)}`,
    '  npm run refresh -- --tenant acme --cui 14399840',
    '',
    'Ctrl+C stops everything.',
    '',
  ].join('\n');
}
