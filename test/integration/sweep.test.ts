import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TokenStore } from '../../shared/ports.js';
import { sweep } from '../../shared/services/sweep.js';
import { follow, startTestStack } from '../support/stack.js';
import { connectNew, cuiFrom, freshDeps, later, stored } from '../support/refresh-helpers.js';

type Stack = Awaited<ReturnType<typeof startTestStack>>;
let stack: Stack;
let n = 0;
const tenant = () => `s${++n}-${Date.now().toString(36)}`;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const DAY_S = 86_400;
const control = () => stack.emulator!.control;
const refreshCalls = () => control().stats().tokenCalls.refresh_token;
const forever = { remainingMs: () => Number.POSITIVE_INFINITY };
/** The reconciliation reads the record of every token secret by design; these runs check the due pass alone. */
const duePassOnly = { ...forever, reconcile: false };
let cuiSeq = 2_000_000;
/** Tokens a test created, disconnected after it so that later (clock-shifted) sweeps never see them. */
const created: Array<{ t: string; tokenId: string }> = [];

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});
beforeEach(() => {
  control().reset();
});
afterEach(async () => {
  for (const { t, tokenId } of created.splice(0)) await stack.api.del(`/v1/tenants/${t}/tokens/${tokenId}`);
});

/** Registers a tenant with an ANAF client (the emulator's default one unless given). */
async function newTenant(client = { clientId: 'emulator-client-id', clientSecret: 'emulator-client-secret' }): Promise<string> {
  const t = tenant();
  const res = await stack.api.put(`/v1/tenants/${t}/anaf-client`, client);
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  return t;
}

/** Connects one new company of `t` with its own certificate; access lifetime in days. */
async function newToken(t: string, accessDays: number, refreshDays = 365): Promise<{ t: string; tokenId: string; cui: string }> {
  const cui = cuiFrom(++cuiSeq);
  await stack.api.put(`/v1/tenants/${t}/companies/${cui}`, { name: `Company ${cui}` });
  control().setTokenLifetimes({ accessSeconds: accessDays * DAY_S, refreshSeconds: refreshDays * DAY_S });
  const tokenId = await connectNew(stack.api, stack.emulator!, t, [cui]);
  control().setTokenLifetimes({ accessSeconds: 90 * DAY_S, refreshSeconds: 365 * DAY_S });
  created.push({ t, tokenId });
  return { t, tokenId, cui };
}

/** Deps whose token store records every token read and every due-index query. */
function observedDeps(shiftMs = 0) {
  const deps = later(freshDeps(), shiftMs);
  const reads: string[] = [];
  let dueQueries = 0;
  let lists = 0;
  const tokens: TokenStore = deps.tokens;
  deps.tokens = {
    ...tokens,
    get: (tenantId, tokenId) => {
      reads.push(tokenId);
      return tokens.get(tenantId, tokenId);
    },
    queryDue: (...args) => {
      dueQueries += 1;
      return tokens.queryDue(...args);
    },
    list: (tenantId) => {
      lists += 1;
      return tokens.list(tenantId);
    },
  };
  return { deps, reads, counts: () => ({ dueQueries, lists }) };
}

const trail = async (t: string) => (await stack.api.get(`/v1/tenants/${t}/events?limit=100`)).body.events as Array<{ type: string; details?: any; connectUrl?: string; at: string }>;

describe('scheduled sweep (moto + emulator)', () => {
  it('over many tokens — some due, some not, some failing — reads only the due ones, refreshes the due ones, records the failures', async () => {
    const a = await newTenant();
    control().addClient('vendor-b', 'b-secret-1');
    const b = await newTenant({ clientId: 'vendor-b', clientSecret: 'b-secret-1' });
    const due = [];
    for (let i = 0; i < 5; i++) due.push(await newToken(a, 10));
    due.push(await newToken(a, 29));
    const notDue = [];
    for (let i = 0; i < 4; i++) notDue.push(await newToken(a, 45));
    notDue.push(await newToken(b, 90));
    const failing = [];
    for (let i = 0; i < 3; i++) failing.push(await newToken(b, 10));
    control().addClient('vendor-b', 'b-secret-2'); // tenant b's stored secret no longer works
    const callsBefore = refreshCalls();

    const { deps, reads, counts } = observedDeps();
    const summary = await sweep(deps, duePassOnly);
    expect(summary).toMatchObject({ due: 9, refreshed: 6, failed: 3, reauthRequired: 0, stoppedEarly: false });
    expect(counts()).toMatchObject({ lists: 0 });
    expect(counts().dueQueries).toBeGreaterThanOrEqual(1);
    const dueIds = new Set([...due, ...failing].map((x) => x.tokenId));
    expect(reads.filter((id) => !dueIds.has(id))).toEqual([]);
    for (const x of notDue) expect(reads).not.toContain(x.tokenId);
    expect(refreshCalls() - callsBefore).toBe(9);

    for (const x of due) {
      const { record, pair } = await stored(x.t, x.tokenId);
      expect(record).toMatchObject({ status: 'active', version: 2 });
      expect(control().isRefreshTokenLive(pair!.refreshToken)).toBe(true);
      expect(Date.parse(record.dueAt!)).toBeGreaterThan(Date.now() + 48 * DAY); // 90 days − the margin − the outage allowance − a sweep period
    }
    for (const x of notDue) expect((await stored(x.t, x.tokenId)).record.version).toBe(1);
    for (const x of failing) {
      const { record } = await stored(x.t, x.tokenId);
      expect(record).toMatchObject({ status: 'active', lastError: 'CLIENT_REJECTED', failedAttempts: 1, version: 1 });
      expect(Date.parse(record.dueAt!)).toBeGreaterThan(Date.now() + 55 * 60_000);
    }
    expect((await trail(b)).filter((e) => e.type === 'refresh-failed')).toHaveLength(3);
    expect((await trail(a)).filter((e) => e.type === 'refreshed')).toHaveLength(6);
    const companies = (await stack.api.get(`/v1/tenants/${b}/companies`)).body.companies;
    expect(companies.every((c: { status: string }) => c.status === 'active')).toBe(true);

    // Right after: nothing is due, nothing is read.
    const again = observedDeps();
    expect((await sweep(again.deps, duePassOnly)).due).toBe(0);
    expect(again.reads).toEqual([]);

    // An hour later the failing ones are retried (and only they); after the vendor fixes its secret, they heal.
    const retry = observedDeps(HOUR + 5000);
    const retried = await sweep(retry.deps, duePassOnly);
    expect(retried).toMatchObject({ due: 3, failed: 3 });
    expect(new Set(retry.reads)).toEqual(new Set(failing.map((x) => x.tokenId)));
    await stack.api.put(`/v1/tenants/${b}/anaf-client`, { clientId: 'vendor-b', clientSecret: 'b-secret-2' });
    const healed = await sweep(later(freshDeps(), 3 * HOUR + 10_000), forever);
    expect(healed).toMatchObject({ due: 3, refreshed: 3 });
    for (const x of failing) expect((await stored(x.t, x.tokenId)).record).toMatchObject({ version: 2, failedAttempts: 0, lastError: null });
  }, 30_000);

  it('ANAF down: each run retries (3 attempts with backoff), the token stays active, 3 failed runs in a row send one warning with a connect link', async () => {
    const t = await newTenant();
    const x = await newToken(t, 10);
    control().failNext('server_error', 9);
    const offsets = [0, HOUR + 5000, 3 * HOUR + 10_000];
    for (const [run, offset] of offsets.entries()) {
      const summary = await sweep(later(freshDeps(), offset), forever);
      expect(summary).toMatchObject({ due: 1, failed: 1 });
      expect(refreshCalls()).toBe(3 * (run + 1));
      expect((await stored(t, x.tokenId)).record).toMatchObject({ status: 'active', lastError: 'ANAF_UNAVAILABLE', failedAttempts: run + 1 });
      // between runs the token is not due
      expect((await sweep(later(freshDeps(), offset + 60_000), forever)).due).toBe(0);
    }
    const warnings = (await trail(t)).filter((e) => e.type === 'expiring');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.details).toMatchObject({ reason: 'REFRESH_FAILING', failedAttempts: 3 });
    expect(warnings[0]!.connectUrl).toMatch(/\/v1\/oauth\/authorize\?session=cs_/);
    expect((await trail(t)).filter((e) => e.type === 'refresh-failed')).toHaveLength(3);

    // ANAF is back: the next run refreshes and clears the error.
    const back = await sweep(later(freshDeps(), 7 * HOUR + 15_000), forever);
    expect(back).toMatchObject({ due: 1, refreshed: 1 });
    expect((await stored(t, x.tokenId)).record).toMatchObject({ failedAttempts: 0, lastError: null, version: 2 });
  }, 30_000);

  it('warns when the refresh token ends within 30, 14, 7 and 1 days, each once, with a ready connect link; then reauth-required', async () => {
    const t = await newTenant();
    const x = await newToken(t, 90, 20);
    const runs: Array<[number, number[]]> = [
      [0, [30]],
      [HOUR, [30]],
      [6 * DAY + HOUR, [30, 14]],
      [6 * DAY + 2 * HOUR, [30, 14]],
      [13 * DAY + HOUR, [30, 14, 7]],
      [19 * DAY + HOUR, [30, 14, 7, 1]],
      [19 * DAY + 2 * HOUR, [30, 14, 7, 1]],
    ];
    for (const [offset, expected] of runs) {
      await sweep(later(freshDeps(), offset), forever);
      const warnings = (await trail(t)).filter((e) => e.type === 'expiring').reverse();
      expect(warnings.map((e) => e.details.thresholdDays), `at +${offset / HOUR} h`).toEqual(expected);
    }
    const warnings = (await trail(t)).filter((e) => e.type === 'expiring');
    const refreshEnd = (await stored(t, x.tokenId)).record.refreshExpiresAt;
    for (const w of warnings) {
      expect(w.details.reason).toBe('REFRESH_TOKEN_ENDING');
      expect(w.details).toMatchObject({ refreshExpiresAt: refreshEnd, daysLeft: Math.floor((Date.parse(refreshEnd) - Date.parse(w.at)) / DAY) });
      expect(w.connectUrl).toMatch(/\/v1\/oauth\/authorize\?session=cs_/);
    }
    expect(refreshCalls()).toBe(0);
    expect((await stored(t, x.tokenId)).record).toMatchObject({ status: 'active', warningsSent: [30, 14, 7, 1] });

    const end = await sweep(later(freshDeps(), 20 * DAY + HOUR), forever);
    expect(end.reauthRequired).toBe(1);
    expect((await stored(t, x.tokenId)).record).toMatchObject({ status: 'reauth-required', lastError: 'REFRESH_TOKEN_EXPIRED' });
    expect(refreshCalls()).toBe(0);

    // The link in the first warning is ready to use: the holder reconnects and the token is active again.
    const hops = await follow(warnings.at(-1)!.connectUrl!);
    expect(hops.at(-1)!.status).toBe(200);
    expect((await stored(t, x.tokenId)).record).toMatchObject({ status: 'active', warningsSent: [] });
  }, 30_000);

  it.each([
    ['rolling', 0],
    ['fixed', 1],
  ] as const)(
    'a refresh token entering its warning window is rotated once; warned only when the end did not move (ANAF window %s)',
    async (window, expectedWarnings) => {
      const t = await newTenant();
      // Access long enough that the margin is not what makes it due: only the refresh token's end is near.
      const x = await newToken(t, 200, 100);
      control().setTokenBehaviour({ refreshWindow: window });
      // The emulator's clock is not shifted: the rotated pair's access token must outlast the shift too.
      control().setTokenLifetimes({ accessSeconds: 200 * DAY_S });
      const before = (await stored(t, x.tokenId)).record.refreshExpiresAt;
      await sweep(later(freshDeps(), 71 * DAY), duePassOnly);
      expect(refreshCalls()).toBe(1);
      const after = (await stored(t, x.tokenId)).record;
      expect(after.refreshExpiresAt === before).toBe(window === 'fixed');
      await sweep(later(freshDeps(), 72 * DAY), duePassOnly);
      expect(refreshCalls()).toBe(1);
      const warnings = (await trail(t)).filter((e) => e.type === 'expiring');
      expect(warnings).toHaveLength(expectedWarnings);
      if (expectedWarnings) expect(warnings[0]!.details).toMatchObject({ reason: 'REFRESH_TOKEN_ENDING', thresholdDays: 30, refreshExpiresAt: before });
    },
    30_000,
  );

  it('under a rotation cap (ANAF_ROTATION_CAP = the emulator\'s cap = 2): the warnings with a link count down to where the rotations run out, the first ≥ 30 days before ANAF refuses the 3rd rotation', async () => {
    const CAP = 2;
    const t = await newTenant();
    const x = await newToken(t, 90);
    control().setTokenBehaviour({ maxRotations: CAP });
    const capped = () => {
      const deps = freshDeps();
      deps.settings = { ...deps.settings, rotationCap: CAP };
      return deps;
    };
    // Walk from one due time to the next, the emulator's clock in step, until the token leaves `active`.
    for (let run = 0; run < 12; run++) {
      const { record } = await stored(t, x.tokenId);
      if (record.status !== 'active') break;
      const offset = Date.parse(record.dueAt!) - Date.now() + 1000;
      control().setClock(Date.now() + offset);
      await sweep(later(capped(), offset), duePassOnly);
    }
    const { record } = await stored(t, x.tokenId);
    expect(record).toMatchObject({ status: 'reauth-required', lastError: 'INVALID_GRANT', rotationCount: CAP });
    // the emulator rotated twice and refused the third
    expect(refreshCalls()).toBe(CAP + 1);
    const events = (await trail(t)).reverse();
    const warnings = events.filter((e) => e.type === 'expiring');
    expect(warnings.map((w) => w.details.thresholdDays)).toEqual([30, 14, 7, 1]);
    for (const w of warnings) {
      expect(w.details).toMatchObject({ reason: 'ROTATION_CAP', rotationsLeft: 0, rotationCap: CAP });
      expect(w.connectUrl).toMatch(/\/v1\/oauth\/authorize\?session=cs_/);
    }
    const refusedAt = Date.parse(events.find((e) => e.type === 'reauth-required')!.at);
    // Both are sent by a sweep at its due time (30 days apart): the events' times differ only by what each run took.
    expect(refusedAt - Date.parse(warnings[0]!.at)).toBeGreaterThanOrEqual(30 * DAY - 60_000);
    // Access is lost only when the last access token expires, the sweep's lead after the refusal: the margin
    // (30 days) and the outage allowance (10), so 30 + 40 days after the first warning.
    expect(Date.parse(record.accessExpiresAt) - Date.parse(warnings[0]!.at)).toBeGreaterThanOrEqual(70 * DAY - 60_000);
  }, 30_000);

  it('the refresh-sweep Lambda: refreshes what is due, and stops taking work when its time is nearly up', async () => {
    const { handler } = await import('../../functions/refresh-sweep/handler.js');
    const t = await newTenant();
    const x = await newToken(t, 10);
    const nearlyOut = await handler({}, { getRemainingTimeInMillis: () => 5_000 } as never);
    expect(nearlyOut).toMatchObject({ stoppedEarly: true, refreshed: 0 });
    expect((await stored(t, x.tokenId)).record.version).toBe(1);
    const full = await handler({}, { getRemainingTimeInMillis: () => 900_000 } as never);
    expect(full).toMatchObject({ due: 1, refreshed: 1, stoppedEarly: false });
    expect((await stored(t, x.tokenId)).record.version).toBe(2);
  });
});
