/** What the gateway injects into the console page (local only: the page is served to loopback hosts). */
export interface ConsoleConfig {
  /** The local bearer key (`npm run dev` prints it too). */
  apiKey: string;
  /** Where the browser comes back after the ANAF login; null when RETURN_URL_ALLOWLIST has no origin of the console. */
  returnUrl: string | null;
  /** True when the ANAF emulator runs (its switches are shown). */
  emulator: boolean;
  /** The emulator's always-accepted client (fake values), offered as a one-click fill. */
  emulatorClient: { clientId: string; clientSecret: string } | null;
}
