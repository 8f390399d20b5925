/**
 * One simulated run: the real services (the scheduled sweep's handler, the access-token and manual
 * refresh services, the connect-link → ANAF → callback path over HTTP) against the real local parts
 * (single-threaded moto, the ANAF emulator over HTTP), both on one virtual clock moved a day at a time.
 * The scenario (outages, renewals, lost answers, …) is injected through the emulator's switches only.
 */
import type { Context } from 'aws-lambda';
import { handler as sweepHandler } from '../../functions/refresh-sweep/handler.js';
import type { AuditEvent, CompanyRecord, TokenRecord } from '../../shared/domain/model.js';
import { authorizationEnd, sweepLeadMs } from '../../shared/domain/refresh-policy.js';
import type { Clock } from '../../shared/ports.js';
import { getRuntime } from '../../shared/runtime/runtime.js';
import { ALL_ADAPTERS } from '../../shared/runtime/adapters/index.js';
import { issueAccessToken, manualRefresh } from '../../shared/services/access.js';
import { cuiFrom } from '../../test/support/refresh-helpers.js';
import { apiClient, follow, type Api } from '../../test/support/stack.js';
import type { RefreshVerdict } from '../anaf-emulator/oauth-state.js';
import { EMULATOR_DEFAULT_CLIENT, type EmulatorControl } from '../anaf-emulator/server.js';
import { startLocalStack } from '../stack.js';
import type { SimulationOptions } from './options.js';
import { ANAF_UNAVAILABLE, linkVerdict, mirrorVerdict, type LinkAttempt } from './check.js';
import { createRng, streamOf, type Rng } from './prng.js';
import { EXPIRED_UNUSED } from './report.js';

export const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** The first simulated day (a Monday); the initial logins lie before it. */
export const SIMULATION_START = Date.parse('2027-01-04T00:00:00Z');
/** A refresh token ending within this is "the warning window" (the first of REFRESH_EXPIRY_WARNING_DAYS). */
const WARNING_WINDOW_MS = 30 * DAY_MS;

/** Why a company had no valid access token: a person was needed (ANAF's side or the certificate), or not (us). */
export type LossCause = 'us' | 'certificate-renewed' | 'refresh-window-end' | 'rotation-cap' | 'answer-lost';

export interface LossEpisode {
  tokenIndex: number;
  cause: LossCause;
  startDay: number;
  days: number;
  companies: number;
  /** Days from the first warning with a link to the loss; null: no warning came before it. */
  leadDays: number | null;
  /** Whether the first warning's link led to ANAF's login when it was sent (null: no warning). */
  linkWorkedWhenSent: boolean | null;
  /** Whether the newest link restored the companies when the person used it (null: nobody used it). */
  linkWorked: boolean | null;
  /**
   * Why the link did not work, from its page (`other-certificate`, `link-expired`, `anaf-unavailable`, …);
   * with `linkWorked` null, EXPIRED_UNUSED says that nobody opened it and it was dead by the loss.
   */
  linkProblem: string | null;
}

export interface DayStatus {
  day: number;
  active: number;
  failing: number;
  reauthRequired: number;
  disconnected: number;
  companiesWithoutToken: number;
  anafDown: boolean;
}

export interface SimulationResult {
  options: SimulationOptions;
  companies: number;
  companyDays: number;
  lostCompanyDays: Record<LossCause, number>;
  episodes: LossEpisode[];
  perTokenYear: { anafTokenCalls: number; rotations: number; secretWrites: number; dynamoItemsRead: number };
  totals: { anafTokenCalls: number; rotations: number; secretWrites: number; dynamoItemsRead: number; accessReads: number; manualRefreshes: number; reconnects: number; sweepFailures: number };
  /**
   * Successful reconnects by the link that did it: the event's own link, or a fresh one the ERP minted
   * after it failed; `renewed*`: those of a holder whose certificate was renewed (another serial).
   */
  reconnectedBy: { eventLink: number; freshLink: number; renewedEventLink: number; renewedFreshLink: number };
  events: Record<string, number>;
  days: DayStatus[];
  wallSeconds: number;
  profile: SimulationProfile;
}

/** Where a run's time went: the world's setup, each part of a simulated day, and the AWS requests per day. */
export interface SimulationProfile {
  setupSeconds: number;
  /** Mean wall time per simulated day of each part of it, in ms. */
  dayMs: { sweep: number; office: number; reconnects: number; check: number; other: number };
  /** Requests per simulated day (`DynamoDB.GetItem`, …) and their mean answer time in ms (moto's answer, as the SDK saw it). */
  requestsPerDay: Record<string, { n: number; ms: number }>;
}

/**
 * Time runs on from where it was set, so leases and timeouts behave; the simulation sets it forward.
 * `freeze` stops it (until the next `set`) for the parts of a day whose stamps later decide a due time:
 * a refresh at 03:00:01 makes a token due at 03:00:01 weeks later, which the sweep that starts at
 * 03:00:00.00x on that day does not find, while one at 03:00:00.9 is found; with time running, which
 * tokens a sweep refreshes in its first second, and so the year, would depend on the machine's speed.
 */
class VirtualClock implements Clock {
  private offsetMs = 0;
  private frozenAt: number | null = null;
  now(): Date {
    return new Date(this.frozenAt ?? Date.now() + this.offsetMs);
  }
  set(ms: number): void {
    this.frozenAt = null;
    this.offsetMs = ms - Date.now();
  }
  freeze(ms: number): void {
    this.frozenAt = ms;
  }
  get frozen(): boolean {
    return this.frozenAt !== null;
  }
}

/**
 * Lets time run again after `ms` of real time if it is still frozen: a wait that counts on the clock (a
 * lease held by a call that never returns) must not hang the run. Answers the watchdog's stop.
 */
function thawAfter(clock: VirtualClock, ms: number, what: string): () => void {
  const timer = setTimeout(() => {
    if (!clock.frozen) return;
    process.stderr.write(`simulate: ${what} still running after ${ms / 1000} s of frozen time; time runs on\n`);
    clock.set(clock.now().getTime());
  }, ms);
  return () => clearTimeout(timer);
}

interface SimToken {
  index: number;
  tenantId: string;
  cuis: string[];
  serial: string;
  holder: string;
  /** The holder's own draws (how long they take to act on a warning): independent of the order events arrive in. */
  holderRng: Rng;
  tokenId: string;
  renewalDay: number | null;
  /** The warning that opened the current trouble, and the newest link the holder got. */
  firstWarningAt: number | null;
  firstLinkAlive: boolean | null;
  link: string | null;
  reconnectDay: number | null;
  /** The verdict of the first reconnect attempt of this trouble that said something about its link (linkVerdict). */
  linkAttempt: LinkAttempt | null;
  episode: LossEpisode | null;
}

const serialOf = (index: number, generation: number) => {
  const hex = (index * 4 + generation).toString(16).padStart(6, '0');
  return `5e:${generation.toString(16).padStart(2, '0')}:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
};

/** `onStarted` receives the stack's stop, for a caller that must tear it down early (its parent went away). */
export async function runSimulation(
  options: SimulationOptions,
  onDay?: (day: number) => void,
  onStarted?: (stop: () => Promise<void>) => void,
): Promise<SimulationResult> {
  const started = performance.now();
  const rng = createRng(options.seed);
  const clock = new VirtualClock();
  clock.set(SIMULATION_START - options.historyDays * DAY_MS - DAY_MS);
  const stack = await startLocalStack({
    env: {
      PORT: '0',
      ANAF_EMULATOR_AUTHORIZE_MODE: 'approve',
      LOCAL_API_KEY: 'simulate-key-0123456789abcdef',
      ANAF_TIMEOUT_MS: '1000',
      // The broker assumes the cap the emulator enforces (rotation-cap scenario).
      ...(options.rotationCap === null ? {} : { ANAF_ROTATION_CAP: String(options.rotationCap) }),
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    },
    clock,
  });
  onStarted?.(stack.stop);
  try {
    return await simulate(options, rng, clock, stack.emulator!.control, apiClient(stack), onDay, started);
  } finally {
    await stack.stop();
  }
}

async function simulate(
  options: SimulationOptions,
  rng: Rng,
  clock: VirtualClock,
  control: EmulatorControl,
  api: Api,
  onDay: ((day: number) => void) | undefined,
  started: number,
): Promise<SimulationResult> {
  const runtime = getRuntime(...ALL_ADAPTERS);
  const deps = runtime.deps;
  control.setTokenBehaviour({ refreshWindow: options.refreshWindow, maxRotations: options.rotationCap, refusedRefreshError: options.refusedRefreshError });

  // ---- what the simulation watches: every write of a token or company (a mirror, no extra reads) and every event ----
  const tokens = new Map<string, TokenRecord>();
  const companies = new Map<string, CompanyRecord>();
  const companyKey = (tenantId: string, cui: string) => `${tenantId}/${cui}`;
  const sims: SimToken[] = [];
  const simOfToken = new Map<string, SimToken>();
  const events: Record<string, number> = {};
  let measuring = false;
  let rotations = 0;
  const store = deps.tokens;
  deps.tokens = {
    ...store,
    async replace(record, condition) {
      const ok = await store.replace(record, condition);
      if (ok) tokens.set(record.tokenId, record);
      return ok;
    },
    async connect(write) {
      await store.connect(write);
      tokens.set(write.token.tokenId, write.token);
      for (const cui of write.cuis) {
        const company = companies.get(companyKey(write.token.tenantId, cui));
        if (company) companies.set(companyKey(company.tenantId, cui), { ...company, tokenId: write.token.tokenId });
      }
    },
    async disconnect(current, disconnected) {
      await store.disconnect(current, disconnected);
      tokens.set(disconnected.tokenId, disconnected);
    },
  };
  const companyStore = deps.companies;
  deps.companies = {
    ...companyStore,
    async put(company) {
      const stored = await companyStore.put(company);
      companies.set(companyKey(stored.tenantId, stored.cui), stored);
      return stored;
    },
    async unlinkToken(tenantId, cui, tokenId, at) {
      await companyStore.unlinkToken(tenantId, cui, tokenId, at);
      const company = companies.get(companyKey(tenantId, cui));
      if (company?.tokenId === tokenId) companies.set(companyKey(tenantId, cui), { ...company, tokenId: null });
    },
  };
  const audit = deps.audit;
  deps.audit = {
    ...audit,
    async append(event, appendOptions) {
      await audit.append(event, appendOptions);
      await observe(event);
    },
  };
  const observe = async (event: AuditEvent) => {
    if (measuring) events[event.type] = (events[event.type] ?? 0) + 1;
    if (measuring && event.type === 'refreshed' && !event.details?.recovered) rotations++;
    const sim = event.tokenId ? simOfToken.get(event.tokenId) : undefined;
    if (!sim || !measuring) return;
    const at = Date.parse(event.at);
    if ((event.type === 'expiring' || event.type === 'reauth-required') && event.connectUrl) {
      sim.link = event.connectUrl;
      if (sim.firstWarningAt === null) {
        sim.firstWarningAt = at;
        sim.firstLinkAlive = await linkAlive(event.connectUrl);
        const delay = sim.holderRng.weighted(options.reconnect).days;
        sim.reconnectDay = delay === null ? null : dayOf(at) + delay;
      }
    }
    if (event.type === 'refreshed') {
      // The trouble is over once the refresh token's end is out of the warning window again.
      const record = tokens.get(event.tokenId!);
      if (record && Date.parse(authorizationEnd(record, deps.settings).at) - at > WARNING_WINDOW_MS) clearTrouble(sim);
    }
  };
  const dayOf = (ms: number) => Math.floor((ms - SIMULATION_START) / DAY_MS);
  const clearTrouble = (sim: SimToken) => {
    sim.firstWarningAt = null;
    sim.firstLinkAlive = null;
    sim.link = null;
    sim.reconnectDay = null;
    sim.linkAttempt = null;
  };

  // ---- the cost of staying connected: items DynamoDB read, Secrets Manager writes (as the SDK sends them) ----
  let dynamoItemsRead = 0;
  let secretWrites = 0;
  runtime.clients.dynamodb!.middlewareStack.add(
    (next: (args: any) => Promise<any>) => async (args: any) => {
      const result = await next(args);
      if (measuring) dynamoItemsRead += itemsRead(result.output);
      return result;
    },
    // At initialize the answer is parsed (once per command, whatever the SDK's retries).
    { step: 'initialize', name: 'simulateItemsRead', override: true },
  );
  runtime.clients.secretsManager!.middlewareStack.add(
    (next: (args: any) => Promise<any>) => async (args: any) => {
      const target = String(args.request?.headers?.['x-amz-target'] ?? '');
      if (measuring && /\.(PutSecretValue|CreateSecret)$/.test(target)) secretWrites++;
      return next(args);
    },
    { step: 'deserialize', name: 'simulateSecretWrites', override: true },
  );

  // ---- the profile: every AWS request the services send during the simulated days, by operation ----
  const requests = new Map<string, { n: number; ms: number }>();
  for (const client of Object.values(runtime.clients) as Array<{ middlewareStack: any }>) {
    client.middlewareStack.add(
      (next: (args: any) => Promise<any>, context: { clientName?: string; commandName?: string }) => async (args: any) => {
        if (!measuring) return next(args);
        const t0 = performance.now();
        try {
          return await next(args);
        } finally {
          const name = `${(context.clientName ?? '').replace(/Client$/, '')}.${(context.commandName ?? '').replace(/Command$/, '')}`;
          const entry = requests.get(name) ?? { n: 0, ms: 0 };
          entry.n++;
          entry.ms += performance.now() - t0;
          requests.set(name, entry);
        }
      },
      { step: 'initialize', name: 'simulateProfile', override: true },
    );
  }
  // A slower machine (options.sweepCallDelayMs): each AWS call of the sweep waits that long first.
  let sweeping = false;
  if (options.sweepCallDelayMs > 0) {
    for (const client of Object.values(runtime.clients) as Array<{ middlewareStack: any }>) {
      client.middlewareStack.add(
        (next: (args: any) => Promise<any>) => async (args: any) => {
          if (sweeping) await new Promise((resolve) => setTimeout(resolve, options.sweepCallDelayMs));
          return next(args);
        },
        { step: 'initialize', name: 'simulateSlowerMachine', override: true },
      );
    }
  }
  /** Per company, the linked record the service last refused an access token for (see the 23:00 check). */
  const refusedFor = new Map<string, TokenRecord>();
  const partMs = { sweep: 0, office: 0, reconnects: 0, check: 0, other: 0 };
  let partStart = 0;
  const part = (name: keyof typeof partMs) => {
    const now = performance.now();
    partMs[name] += now - partStart;
    partStart = now;
  };

  // ---- the world before day 0: tenants of 1–8 tokens, tokens of 1–5 companies, logins spread over the past ----
  let cuiSeq = 20_000_000;
  let tenantSeq = 0;
  const tenants: string[] = [];
  while (sims.length < options.tokens) {
    const tenantId = `sim-${tenantSeq++}`;
    tenants.push(tenantId);
    const put = await api.put(`/v1/tenants/${tenantId}/anaf-client`, { ...EMULATOR_DEFAULT_CLIENT });
    if (put.status !== 200) throw new Error(`anaf-client: ${put.status} ${JSON.stringify(put.body)}`);
    const count = Math.min(rng.int(1, 8), options.tokens - sims.length);
    for (let t = 0; t < count; t++) {
      const cuis = Array.from({ length: rng.int(1, 5) }, () => cuiFrom(cuiSeq++));
      for (const cui of cuis) {
        const res = await api.put(`/v1/tenants/${tenantId}/companies/${cui}`, { name: `Company ${cui}` });
        if (res.status !== 200) throw new Error(`company: ${res.status}`);
      }
      const index = sims.length;
      const renewalDay = rng.chance(options.renewalShare) ? rng.int(0, options.days - 1) : null;
      sims.push({
        index,
        tenantId,
        cuis,
        serial: serialOf(index, 0),
        holder: `Holder ${index}`,
        holderRng: streamOf(options.seed, index),
        tokenId: '',
        renewalDay,
        firstWarningAt: null,
        firstLinkAlive: null,
        link: null,
        reconnectDay: null,
        linkAttempt: null,
        episode: null,
      });
    }
  }
  // The sweep rotated each token every (access lifetime − margin − a sweep period) since its login: the pair it holds on
  // day 0 is the one of the last of those rotations, so the login is made then, with the refresh token's
  // end the first login gave it when ANAF keeps that end (the rotation count before day 0 is not kept).
  const cadence = 90 * DAY_MS - sweepLeadMs(deps.settings);
  const yearS = 365 * 86_400;
  for (const sim of sims) {
    const login = SIMULATION_START - rng.int(1, Math.max(1, options.historyDays)) * DAY_MS - rng.int(0, 23) * HOUR_MS;
    const lastRotation = login + Math.max(0, Math.floor((SIMULATION_START - DAY_MS - login) / cadence)) * cadence;
    clock.freeze(lastRotation);
    const refreshSeconds = options.refreshWindow === 'fixed' ? yearS - Math.round((lastRotation - login) / 1000) : yearS;
    control.setTokenLifetimes({ refreshSeconds });
    const stopWatch = thawAfter(clock, 60_000, `the login of token ${sim.index}`);
    await connectWith(sim, null);
    stopWatch();
  }
  control.setTokenLifetimes({ refreshSeconds: yearS });

  /** The whole connect flow through a link (a warning's, or a fresh one the ERP mints); answers the problem, or null when it worked. */
  async function connectWith(sim: SimToken, link: string | null): Promise<string | null> {
    control.setCertificate({ serial: sim.serial, holder: sim.holder });
    let url = link;
    if (!url) {
      const session = await api.post(`/v1/tenants/${sim.tenantId}/connect-sessions`, { cuis: sim.cuis });
      if (session.status !== 201) return `session-${session.status}`;
      url = session.body.authorizeUrl as string;
    }
    const hops = await follow(url, 6);
    const last = hops[hops.length - 1];
    const linked = sim.cuis.map((cui) => companies.get(companyKey(sim.tenantId, cui))?.tokenId ?? null);
    const tokenId = linked[0];
    const record = tokenId ? tokens.get(tokenId) : undefined;
    const worked = Boolean(tokenId && linked.every((id) => id === tokenId) && record?.status === 'active' && record.serial === sim.serial);
    if (worked) {
      if (sim.tokenId !== tokenId) simOfToken.delete(sim.tokenId);
      sim.tokenId = tokenId!;
      simOfToken.set(sim.tokenId, sim);
      return null;
    }
    const status = last?.status ?? 0;
    return status === 409 ? 'other-certificate' : status === 400 ? 'link-expired-or-used' : status === 503 || status === 502 ? ANAF_UNAVAILABLE : `page-${status}`;
  }

  // ---- the simulated days ----
  const setupSeconds = (performance.now() - started) / 1000;
  const startStats = control.stats();
  measuring = true;
  const lost: Record<LossCause, number> = { us: 0, 'certificate-renewed': 0, 'refresh-window-end': 0, 'rotation-cap': 0, 'answer-lost': 0 };
  const episodes: LossEpisode[] = [];
  const days: DayStatus[] = [];
  let accessReads = 0;
  let manualRefreshes = 0;
  let reconnects = 0;
  let sweepFailures = 0;
  const reconnectedBy = { eventLink: 0, freshLink: 0, renewedEventLink: 0, renewedFreshLink: 0 };
  let clientSecret: string = EMULATOR_DEFAULT_CLIENT.clientSecret;
  const allCompanies = sims.flatMap((sim) => sim.cuis.map((cui) => ({ sim, cui })));
  const context = { getRemainingTimeInMillis: () => 15 * 60_000 } as Context;

  for (let day = 0; day < options.days; day++) {
    partStart = performance.now();
    const dayStart = SIMULATION_START + day * DAY_MS;
    const down = options.outages.some((o) => day >= o.startDay && day < o.startDay + o.days);
    const blip = !down && rng.chance(options.blipRate) ? (rng.chance(0.5) ? 'server_error' : 'hang') : null;
    control.clearFailures();
    control.setTokenOutage(down ? 'unavailable' : blip);
    control.setLatency(rng.chance(options.slowRate) ? options.slowLatencyMs : 0);
    if (options.secretRotationDay === day) {
      // The vendor rotates its client secret at ANAF; the tenants' copies are updated the next day.
      clientSecret = `rotated-${day}-0123456789`;
      control.addClient(EMULATOR_DEFAULT_CLIENT.clientId, clientSecret);
    }
    if (options.secretRotationDay !== null && options.secretRotationDay + 1 === day) {
      for (const tenantId of tenants) await api.put(`/v1/tenants/${tenantId}/anaf-client`, { clientId: EMULATOR_DEFAULT_CLIENT.clientId, clientSecret });
    }
    for (const sim of sims) {
      if (sim.renewalDay === day) {
        control.revokeCertificate(sim.serial);
        sim.serial = serialOf(sim.index, 1);
      }
    }
    const sweepAt = dayStart + 3 * HOUR_MS;
    if (!down && !blip && options.lostAnswerRate > 0) {
      // Which due tokens lose the sweep's answer is drawn here, token by token, and the drop waits at
      // the emulator for that token's certificate: the sweep's eight workers reach ANAF in an order that
      // varies from run to run, and a drop of "the next N calls" would hit different tokens each time.
      for (const sim of sims) {
        const record = tokens.get(sim.tokenId);
        const due = record?.status === 'active' && record.dueAt !== null && Date.parse(record.dueAt) <= sweepAt;
        if (due && rng.chance(options.lostAnswerRate)) {
          if (record.serial !== null) control.failNext('drop', 1, { serial: record.serial });
          else control.failNext('drop', 1);
        }
      }
    }

    // 03:00 the schedule fires the sweep, exactly as EventBridge invokes it, with time standing at 03:00
    // (VirtualClock.freeze: the year must not depend on how fast the machine runs the sweep).
    clock.freeze(sweepAt);
    part('other');
    const stopWatch = thawAfter(clock, 120_000, `the sweep of day ${day}`);
    sweeping = true;
    // A failed invocation (e.g. moto or ANAF timing out under it) is what EventBridge would record; the
    // next day's schedule runs it again. Counted, never the end of the run.
    await sweepHandler({}, context).catch(() => {
      if (measuring) sweepFailures++;
    });
    sweeping = false;
    stopWatch();
    control.clearFailures();
    part('sweep');

    // Office hours: the ERP reads access tokens, someone presses "Refresh Token".
    clock.set(dayStart + 10 * HOUR_MS);
    for (const { sim, cui } of allCompanies) {
      if (!rng.chance(options.readShare)) continue;
      accessReads++;
      await issueAccessToken(deps, sim.tenantId, cui).catch(() => undefined);
    }
    for (const sim of sims) {
      if (!rng.chance(options.manualShare)) continue;
      manualRefreshes++;
      await manualRefresh(deps, { tenantId: sim.tenantId, tokenId: sim.tokenId }).catch(() => undefined);
    }
    part('office');

    // The accountants who were warned act on their day, while the ERP still shows the warning.
    clock.set(dayStart + 11 * HOUR_MS);
    for (const sim of sims) {
      if (sim.reconnectDay === null || sim.reconnectDay > day) continue;
      const record = tokens.get(sim.tokenId);
      const needed =
        record !== undefined &&
        (record.status === 'reauth-required' ||
          (record.status === 'active' && (record.failedAttempts > 0 || Date.parse(authorizationEnd(record, deps.settings).at) - clock.now().getTime() <= WARNING_WINDOW_MS)));
      if (!needed) {
        clearTrouble(sim);
        continue;
      }
      reconnects++;
      // A renewed certificate (the holder's serial is no longer the token's) answers through the same
      // link, signing in with the renewed certificate.
      const renewed = record.serial !== sim.serial;
      let problem = sim.link ? await connectWith(sim, sim.link) : 'no-link';
      sim.linkAttempt = linkVerdict(sim.linkAttempt, problem);
      const byEventLink = problem === null;
      // The link did not do it: the ERP mints a fresh one for the companies and the holder tries that.
      if (problem !== null && problem !== ANAF_UNAVAILABLE) problem = await connectWith(sim, null);
      if (problem === null) {
        if (renewed) reconnectedBy[byEventLink ? 'renewedEventLink' : 'renewedFreshLink']++;
        else reconnectedBy[byEventLink ? 'eventLink' : 'freshLink']++;
        if (sim.episode && sim.episode.linkWorked === null && sim.linkAttempt) {
          sim.episode.linkWorked = sim.linkAttempt.worked;
          sim.episode.linkProblem = sim.linkAttempt.problem;
        }
        clearTrouble(sim);
      } else {
        sim.reconnectDay = day + 1;
      }
    }

    part('reconnects');

    // 23:00: could each company have been handed a valid access token today?
    const checkAt = dayStart + 23 * HOUR_MS;
    clock.set(checkAt);
    const status: DayStatus = { day, active: 0, failing: 0, reauthRequired: 0, disconnected: 0, companiesWithoutToken: 0, anafDown: down };
    for (const sim of sims) {
      const record = tokens.get(sim.tokenId);
      if (record?.status === 'active') status[record.failedAttempts > 0 ? 'failing' : 'active']++;
      else if (record?.status === 'reauth-required') status.reauthRequired++;
      else status.disconnected++;
      let without = 0;
      for (const cui of sim.cuis) {
        const key = companyKey(sim.tenantId, cui);
        const company = companies.get(key);
        const linked = company?.tokenId ? tokens.get(company.tokenId) : undefined;
        // An active token with time left is handed out as it is; a record the service already refused
        // and that nothing has written since gets the same refusal; anything else is asked (check.ts).
        const verdict = mirrorVerdict(linked, refusedFor.get(key), checkAt);
        let valid = verdict === 'valid';
        if (verdict === 'ask' && linked) {
          valid = await issueAccessToken(deps, sim.tenantId, cui).then(() => true, () => false);
          if (!valid) refusedFor.set(key, linked);
        }
        if (!valid) without++;
      }
      status.companiesWithoutToken += without;
      if (without === 0) {
        if (sim.episode) episodes.push(sim.episode);
        sim.episode = null;
        continue;
      }
      if (!sim.episode) sim.episode = await openEpisode(sim, record, day, without);
      sim.episode.days++;
      lost[sim.episode.cause] += without;
    }
    days.push(status);
    part('check');
    onDay?.(day);
  }
  measuring = false;
  for (const sim of sims) if (sim.episode) episodes.push(sim.episode);

  async function openEpisode(sim: SimToken, record: TokenRecord | undefined, day: number, without: number): Promise<LossEpisode> {
    const cause = record ? await causeOf(record) : 'us';
    // The loss began when the access token expired, or (a token refused while its access token was still valid) at the verdict.
    const lossAt = !record
      ? clock.now().getTime()
      : Date.parse(record.accessExpiresAt) <= clock.now().getTime()
        ? Date.parse(record.accessExpiresAt)
        : Date.parse(record.updatedAt);
    const linkWorked: boolean | null = sim.linkAttempt?.worked ?? null;
    let linkProblem = sim.linkAttempt?.problem ?? null;
    // Nobody used it yet, and it no longer leads to ANAF's login: still "not used" (a link nobody
    // opened did not fail anyone), with the reason kept for the episode table.
    if (linkWorked === null && sim.link && !(await linkAlive(sim.link))) linkProblem = EXPIRED_UNUSED;
    return {
      tokenIndex: sim.index,
      cause,
      startDay: day,
      days: 0,
      companies: without,
      leadDays: sim.firstWarningAt === null ? null : Math.round(((lossAt - sim.firstWarningAt) / DAY_MS) * 10) / 10,
      linkWorkedWhenSent: sim.firstLinkAlive,
      linkWorked,
      linkProblem,
    };
  }

  /** Why the stored refresh token no longer gives a token: ANAF's own verdict on it, read without spending it. */
  async function causeOf(record: TokenRecord): Promise<LossCause> {
    const wasMeasuring = measuring;
    measuring = false;
    try {
      // A pair that cannot be read now (a timeout) is put down to us: the count errs against the broker.
      const pair = await deps.secrets.getTokenPair(record.tenantId, record.tokenId, record.secretVersionId ?? undefined).catch(() => null);
      const verdict: RefreshVerdict = pair ? control.refreshVerdict(pair.refreshToken) : 'unknown';
      switch (verdict) {
        case 'revoked':
          return 'certificate-renewed';
        case 'answer-lost':
          return 'answer-lost';
        case 'rotation-cap':
          return 'rotation-cap';
        case 'expired':
          return options.refreshWindow === 'fixed' ? 'refresh-window-end' : 'us';
        default:
          return 'us';
      }
    } finally {
      measuring = wasMeasuring;
    }
  }

  const stats = control.stats();
  const anafTokenCalls =
    stats.tokenCalls.refresh_token + stats.tokenCalls.authorization_code - startStats.tokenCalls.refresh_token - startStats.tokenCalls.authorization_code;
  const tokenYears = (options.tokens * options.days) / 365;
  const perYear = (n: number) => Math.round((n / tokenYears) * 10) / 10;
  return {
    options,
    companies: allCompanies.length,
    companyDays: allCompanies.length * options.days,
    lostCompanyDays: lost,
    episodes,
    perTokenYear: { anafTokenCalls: perYear(anafTokenCalls), rotations: perYear(rotations), secretWrites: perYear(secretWrites), dynamoItemsRead: perYear(dynamoItemsRead) },
    totals: { anafTokenCalls, rotations, secretWrites, dynamoItemsRead, accessReads, manualRefreshes, reconnects, sweepFailures },
    reconnectedBy,
    events,
    days,
    wallSeconds: Math.round((performance.now() - started) / 1000),
    profile: {
      setupSeconds: Math.round(setupSeconds),
      dayMs: Object.fromEntries(Object.entries(partMs).map(([k, v]) => [k, Math.round(v / options.days)])) as SimulationProfile['dayMs'],
      requestsPerDay: Object.fromEntries(
        [...requests.entries()]
          .sort(([, a], [, b]) => b.n - a.n)
          .map(([name, { n, ms }]) => [name, { n: Math.round((n / options.days) * 10) / 10, ms: Math.round((ms / n) * 10) / 10 }]),
      ),
    },
  };
}

/** Whether a connect link leads to ANAF's login now (its first hop; nothing is completed). */
async function linkAlive(link: string): Promise<boolean> {
  const res = await fetch(link, { redirect: 'manual' });
  await res.body?.cancel();
  return res.status === 302 && (res.headers.get('location') ?? '').includes('/authorize');
}

/** Items a DynamoDB answer read: a GetItem's item, a Query's scanned items, a transaction's or batch's items. */
function itemsRead(output: any): number {
  if (!output || typeof output !== 'object') return 0;
  let n = output.Item ? 1 : 0;
  if (typeof output.ScannedCount === 'number') n += output.ScannedCount;
  else if (Array.isArray(output.Items)) n += output.Items.length;
  if (Array.isArray(output.Responses)) n += output.Responses.filter((r: any) => r?.Item).length;
  else if (output.Responses && typeof output.Responses === 'object') {
    for (const items of Object.values(output.Responses)) if (Array.isArray(items)) n += items.length;
  }
  return n;
}
