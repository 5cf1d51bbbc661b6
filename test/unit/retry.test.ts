/**
 * `fledge retry` in the planner: a RolledBack release starts again from its first step with fresh
 * evidence; a request acts once; a stale one (another release's, a release not RolledBack) is
 * ignored with one Warning Event, and never acts later.
 */
import { describe, expect, it } from 'vitest';
import { ANNOTATIONS } from '../../src/api/constants.ts';
import { releaseId } from '../../src/api/release.ts';
import { readRequests, retryValue, type OperatorRequests } from '../../src/api/requests.ts';
import type { ResolvedRollout } from '../../src/api/resolve.ts';
import type { AnalysisResult, RolloutStatus } from '../../src/api/schema.ts';
import { plan } from '../../src/plan/plan.ts';
import { RETRY_QUIET_MS, retryDecision } from '../../src/plan/retry.ts';
import { MIN_WINDOW_SECONDS } from '../../src/metrics/templates.ts';
import type { PlanResult } from '../../src/plan/types.ts';
import { minimalRollout, resolveValid } from './fixtures.ts';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0 + ms);
const iso = (ms: number) => at(ms).toISOString();
const S = 1000;
const M = 60 * S;

function rollout(analysis = true): ResolvedRollout {
  const doc = minimalRollout();
  doc.metadata.generation = 1;
  doc.spec.strategy = { steps: [10, 50, 100], interval: '1m' };
  if (analysis) doc.spec.analysis = { metrics: [{ name: 'error-rate', template: 'istio-error-rate', max: 0.01 }], failureLimit: 0 };
  return resolveValid(doc);
}

const rel = (r: ResolvedRollout) => releaseId(r.stable.labels, r.canary.labels);
const reasons = (res: PlanResult) => res.events.map((e) => e.reason);

/** Status round-trips through JSON, as through the API server. */
class Sim {
  r: ResolvedRollout;
  status: RolloutStatus | undefined;
  now = 0;
  constructor(r: ResolvedRollout) {
    this.r = r;
  }

  plan(o: { after?: number; requests?: OperatorRequests; analysis?: AnalysisResult } = {}): PlanResult {
    this.now += o.after ?? 0;
    const res = plan({ rollout: this.r, status: this.status, requests: o.requests ?? { paused: false }, now: at(this.now), ...(o.analysis ? { analysis: o.analysis } : {}) });
    this.status = JSON.parse(JSON.stringify(res.status)) as RolloutStatus;
    return res;
  }

  /** Started, then rolled back by a failing analysis at step 2. */
  static rolledBack(): Sim {
    const sim = new Sim(rollout());
    sim.plan();
    const pass: AnalysisResult = { verdict: 'pass', reason: 'ok', at: at(M).toISOString(), stepIndex: 0, final: true, metrics: [] };
    sim.plan({ after: M, analysis: pass });
    expect(sim.status).toMatchObject({ phase: 'Progressing', stepIndex: 1 });
    const fail: AnalysisResult = { verdict: 'fail', reason: 'error-rate 0.2 > 0.01', at: at(sim.now + 10 * S).toISOString(), stepIndex: 1, metrics: [] };
    sim.plan({ after: 10 * S, analysis: fail });
    expect(sim.status).toMatchObject({ phase: 'RolledBack', canaryWeight: 0, failedChecks: 1 });
    return sim;
  }
}

const retry = (release: string, when: number): OperatorRequests => readRequests({ [ANNOTATIONS.retry]: retryValue(release, at(when)) });

describe('the fledge.dev/retry annotation', () => {
  it.each<[string, string | undefined, OperatorRequests['retry']]>([
    ['release and time', 'abc123/2025-01-01T00:00:00.000Z', { release: 'abc123', value: 'abc123/2025-01-01T00:00:00.000Z' }],
    ['no time: not a request', 'abc123', undefined],
    ['not a release id', 'ABC/2025', undefined],
    ['absent', undefined, undefined],
  ])('%s', (_name, value, expected) => {
    expect(readRequests(value === undefined ? {} : { [ANNOTATIONS.retry]: value }).retry).toEqual(expected);
  });
});

describe('retryDecision', () => {
  const R = 'aaaa';
  const q = (release: string, value = `${release}/t1`): OperatorRequests => ({ paused: false, retry: { release, value } });
  const fell = (ms: number): RolloutStatus => ({
    release: R, phase: 'RolledBack', conditions: [{ type: 'Ready', status: 'False', reason: 'RolledBack', message: '', lastTransitionTime: iso(ms) }],
  });
  it.each<[string, RolloutStatus, OperatorRequests, 'act' | 'wait' | 'ignore' | 'none']>([
    ['RolledBack, this release: act', { release: R, phase: 'RolledBack' }, q(R), 'act'],
    ['rolled back just now: wait', fell(-S), q(R), 'wait'],
    ['rolled back a quiet period ago: act', fell(-RETRY_QUIET_MS), q(R), 'act'],
    ['failing judgement later than the Ready transition: wait from it', { ...fell(-10 * M), lastAnalysis: { verdict: 'fail', reason: '', at: iso(-S), stepIndex: 0, metrics: [] } }, q(R), 'wait'],
    ['no request', { release: R, phase: 'RolledBack' }, { paused: false }, 'none'],
    ['already handled: nothing, even if RolledBack again', { release: R, phase: 'RolledBack', handledRetry: `${R}/t1` }, q(R), 'none'],
    ['a new request after one handled: act', { release: R, phase: 'RolledBack', handledRetry: `${R}/t0` }, q(R), 'act'],
    ['another release', { release: R, phase: 'RolledBack' }, q('bbbb'), 'ignore'],
    ['Progressing', { release: R, phase: 'Progressing' }, q(R), 'ignore'],
    ['Promoted', { release: R, phase: 'Promoted' }, q(R), 'ignore'],
    ['Paused', { release: R, phase: 'Paused' }, q(R), 'ignore'],
    ['status on an older release', { release: 'cccc', phase: 'RolledBack' }, q(R), 'ignore'],
  ])('%s', (_name, status, requests, expected) => {
    const d = retryDecision(status, requests, R, at(0));
    expect(d?.kind ?? 'none').toBe(expected);
  });

  it('waits until the failed attempt\'s last requests are out of every analysis window (the floor, and a 15 s scrape)', () => {
    expect(RETRY_QUIET_MS).toBeGreaterThanOrEqual(MIN_WINDOW_SECONDS * 1000 + 15_000);
    expect(retryDecision(fell(-S), q(R), R, at(0))).toEqual({ kind: 'wait', value: `${R}/t1`, waitMs: RETRY_QUIET_MS - S });
  });
});

describe('retry in the planner', () => {
  it('starts a RolledBack release again at step 1, with fresh evidence and counters', () => {
    const sim = Sim.rolledBack();
    const requests = retry(rel(sim.r), sim.now);
    const res = sim.plan({ after: 5 * M, requests });
    expect(res.status).toMatchObject({
      phase: 'Progressing', stepIndex: 0, canaryWeight: 10, stableWeight: 90, failedChecks: 0, inconclusiveChecks: 0,
      stepStartedAt: at(sim.now).toISOString(), analysisStartedAt: at(sim.now).toISOString(), release: rel(sim.r),
      handledRetry: requests.retry!.value, step: '1/3',
    });
    expect(res.status.lastAnalysis).toBeUndefined();
    expect(res.status.conditions?.find((c) => c.type === 'Analysis')).toBeUndefined();
    expect(res.status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'Progressing' });
    expect(res.routing.canaryWeight).toBe(10);
    expect(reasons(res)).toEqual(['Retried', 'RolloutStarted']);
  });

  it('acts once: the annotation left behind does not restart the release when it is rolled back again', () => {
    const sim = Sim.rolledBack();
    const requests = retry(rel(sim.r), sim.now);
    sim.plan({ after: RETRY_QUIET_MS, requests });
    const fail: AnalysisResult = { verdict: 'fail', reason: 'still bad', at: at(sim.now + 10 * S).toISOString(), stepIndex: 0, metrics: [] };
    expect(sim.plan({ after: 10 * S, requests, analysis: fail }).status.phase).toBe('RolledBack');
    const later = sim.plan({ after: 10 * M, requests });
    expect(later.status).toMatchObject({ phase: 'RolledBack', canaryWeight: 0 });
    expect(later.events).toEqual([]);
    // A second `fledge retry` is a new request: it acts.
    expect(sim.plan({ after: S, requests: retry(rel(sim.r), sim.now) }).status).toMatchObject({ phase: 'Progressing', stepIndex: 0 });
  });

  it('right after the rollback, holds the request (status unchanged, nothing said) and acts once the quiet period is over', () => {
    const sim = Sim.rolledBack();
    const before = sim.status;
    const requests = retry(rel(sim.r), sim.now);
    const held = sim.plan({ after: S, requests });
    expect(held.status).toEqual(before);
    expect(held.events).toEqual([]);
    expect(held.routing.canaryWeight).toBe(0);
    expect(held.requeueAfterMs).toBe(RETRY_QUIET_MS - S);
    const res = sim.plan({ after: held.requeueAfterMs!, requests });
    expect(res.status).toMatchObject({ phase: 'Progressing', stepIndex: 0, canaryWeight: 10, handledRetry: requests.retry!.value });
  });

  it('a retry then an unchanged re-plan writes nothing new and says nothing', () => {
    const sim = Sim.rolledBack();
    const requests = retry(rel(sim.r), sim.now);
    const first = sim.plan({ after: RETRY_QUIET_MS, requests });
    const again = sim.plan({ requests });
    expect(again.status).toEqual(first.status);
    expect(again.events).toEqual([]);
  });

  it('a retry of a release that is not RolledBack is ignored with one Warning, and never acts later', () => {
    const sim = new Sim(rollout(false));
    sim.plan();
    const requests = retry(rel(sim.r), 0);
    const res = sim.plan({ after: S, requests });
    expect(res.status).toMatchObject({ phase: 'Progressing', stepIndex: 0, handledRetry: requests.retry!.value });
    expect(res.events).toEqual([{ type: 'Warning', reason: 'RetryIgnored', message: expect.stringContaining('is Progressing, not RolledBack') }]);
    expect(sim.plan({ after: S, requests }).events).toEqual([]);
    // Rolled back later: the old request does not start it again.
    sim.plan({ after: S, requests: { ...requests, abort: rel(sim.r) } });
    expect(sim.status?.phase).toBe('RolledBack');
    expect(sim.plan({ after: S, requests }).status.phase).toBe('RolledBack');
  });

  it('a retry for another release is ignored with a Warning naming both releases', () => {
    const sim = Sim.rolledBack();
    const other = releaseId({ version: 'v1' }, { version: 'v0' });
    const res = sim.plan({ after: S, requests: retry(other, sim.now) });
    expect(res.status).toMatchObject({ phase: 'RolledBack', canaryWeight: 0 });
    expect(res.events).toHaveLength(1);
    expect(res.events[0]).toMatchObject({ type: 'Warning', reason: 'RetryIgnored' });
    expect(res.events[0]!.message).toContain(other);
    expect(res.events[0]!.message).toContain(rel(sim.r));
  });

  it('a retried release paused by `fledge pause` holds at step 1', () => {
    const sim = Sim.rolledBack();
    const requests = { ...retry(rel(sim.r), sim.now), paused: true };
    sim.plan({ after: RETRY_QUIET_MS, requests });
    const held = sim.plan({ after: S, requests });
    expect(held.status).toMatchObject({ phase: 'Paused', pausedBy: 'user', stepIndex: 0, canaryWeight: 10 });
  });
});
