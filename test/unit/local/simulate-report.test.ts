import { describe, expect, it } from 'vitest';
import { defaultOptions } from '../../../local/simulate/options.js';
import { goalsOf, markdownReport } from '../../../local/simulate/report.js';
import type { LossEpisode, SimulationResult } from '../../../local/simulate/run.js';

const episode = (tokenIndex: number, link: Pick<LossEpisode, 'linkWorked' | 'linkProblem'>): LossEpisode => ({
  tokenIndex,
  cause: 'refresh-window-end',
  startDay: 200,
  days: 3,
  companies: 1,
  leadDays: 45,
  linkWorkedWhenSent: true,
  ...link,
});

function resultWith(episodes: LossEpisode[]): SimulationResult {
  return {
    options: { ...defaultOptions(3, 10), refreshWindow: 'fixed', rotationCap: 64 },
    companies: 3,
    companyDays: 30,
    lostCompanyDays: { us: 0, 'certificate-renewed': 0, 'refresh-window-end': 9, 'rotation-cap': 0, 'answer-lost': 0 },
    episodes,
    perTokenYear: { anafTokenCalls: 0, rotations: 0, secretWrites: 0, dynamoItemsRead: 0 },
    totals: { anafTokenCalls: 0, rotations: 0, secretWrites: 0, dynamoItemsRead: 0, accessReads: 0, manualRefreshes: 0, reconnects: 0, sweepFailures: 0 },
    reconnectedBy: { eventLink: 0, freshLink: 0, renewedEventLink: 0, renewedFreshLink: 0 },
    events: {},
    days: [],
    wallSeconds: 0,
    profile: { setupSeconds: 0, dayMs: { sweep: 0, office: 0, reconnects: 0, check: 0, other: 0 }, requestsPerDay: {} },
  };
}

describe('the simulation report: the link the person held', () => {
  const result = resultWith([
    // A holder who never acted: the link expired unopened before the loss.
    episode(0, { linkWorked: null, linkProblem: 'expired-unused' }),
    // A holder who acted with a dead link (the ERP's fresh link did it).
    episode(1, { linkWorked: false, linkProblem: 'link-expired' }),
    // A holder whose link restored the companies.
    episode(2, { linkWorked: true, linkProblem: null }),
  ]);

  it('counts a link nobody opened as not used, not as a link that failed', () => {
    const goals = goalsOf(result);
    expect(goals.usedLink.map((e) => e.tokenIndex)).toEqual([1, 2]);
    expect(goals.staleWhenUsed.map((e) => e.tokenIndex)).toEqual([1]);
  });

  it('shows worked/used and the unused apart in the goals table, and each episode says why', () => {
    const md = markdownReport([result], 'npm run simulate');
    const row = md.split('\n').find((line) => line.startsWith('| refresh window fixed'))!;
    expect(row.split(' | ')[6]).toBe('❌ 1/2 (1 not used)');
    expect(md).toContain('| 0 | ' + "refresh token's fixed 365-day end");
    expect(md).toMatch(/\| 0 \| .* \| not used \(expired unused by the loss\) \|/);
    expect(md).toMatch(/\| 1 \| .* \| no \(link-expired\) \|/);
  });
});
