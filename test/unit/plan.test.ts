import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { releaseId } from '../../src/api/release.ts';
import type { OperatorRequests } from '../../src/api/requests.ts';
import type { ResolvedRollout } from '../../src/api/resolve.ts';
import type { AnalysisResult, Condition, Labels, RolloutStatus, Verdict } from '../../src/api/schema.ts';
import { analysisCheck, analysisDue, plan } from '../../src/plan/plan.ts';
import { planInvalid, planRoutingRefused } from '../../src/plan/invalid.ts';
import type { PlanResult } from '../../src/plan/types.ts';
import { minimalRollout, resolveValid, resolvedExample } from './fixtures.ts';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0 + ms);
const iso = (ms: number) => at(ms).toISOString();
const NO: OperatorRequests = { paused: false };
const S = 1000;
const M = 60 * S;

const ANALYSIS = { metrics: [{ name: 'error-rate', template: 'istio-error-rate', max: 0.01 }] };

interface Opts {
  steps?: unknown[];
  stepWeight?: number;
  interval?: string;
  /** undefined: no analysis; a number: analysis with that failureLimit; true: analysis with the default limit. */
  analysis?: number | true;
  /** More fields of spec.analysis (inconclusiveLimit, checkInterval...), when analysis is on. */
  analysisSpec?: Record<string, unknown>;
  stable?: Labels;
  canary?: Labels;
  generation?: number;
  name?: string;
}

function rollout(o: Opts = {}): ResolvedRollout {
  const doc = minimalRollout();
  doc.metadata.generation = o.generation ?? 1;
  if (o.name) doc.metadata.name = o.name;
  doc.spec.strategy = {
    ...(o.stepWeight !== undefined ? { stepWeight: o.stepWeight } : { steps: o.steps ?? [10, 50, 100] }),
    ...(o.interval ? { interval: o.interval } : {}),
  };
  if (o.stable) doc.spec.stable = { labels: o.stable };
  if (o.canary) doc.spec.canary = { labels: o.canary };
  if (o.analysis !== undefined) doc.spec.analysis = { ...ANALYSIS, ...(o.analysis === true ? {} : { failureLimit: o.analysis }), ...o.analysisSpec };
  return resolveValid(doc);
}

const V = (v: string): Labels => ({ version: v });
const rel = (r: ResolvedRollout) => releaseId(r.stable.labels, r.canary.labels);

function verdict(v: Verdict, status: RolloutStatus | undefined, now: number, final?: boolean): AnalysisResult {
  return { verdict: v, reason: `${v} at step ${status?.stepIndex}`, at: iso(now), stepIndex: status?.stepIndex ?? 0, metrics: [], ...(final !== undefined ? { final } : {}) };
}

/** A controller in miniature: status round-trips through JSON like it does through the API server. */
class Sim {
  r: ResolvedRollout;
  status: RolloutStatus | undefined;
  now = 0;
  last!: PlanResult;
  constructor(r: ResolvedRollout, status?: RolloutStatus) {
    this.r = r;
    this.status = status;
  }

  /** `final` is what the analyzer says about the hold; left out, the planner reads its own clock. */
  plan(o: { after?: number; requests?: OperatorRequests; verdict?: Verdict; final?: boolean; rollout?: ResolvedRollout } = {}): PlanResult {
    this.now += o.after ?? 0;
    if (o.rollout) this.r = o.rollout;
    const analysis = o.verdict ? verdict(o.verdict, this.status, this.now, o.final) : undefined;
    this.last = plan({ rollout: this.r, status: this.status, requests: o.requests ?? NO, now: at(this.now), ...(analysis ? { analysis } : {}) });
    this.status = JSON.parse(JSON.stringify(this.last.status)) as RolloutStatus;
    return this.last;
  }

  /** Let the step's hold run out and judge it, as the controller does when `analysisDue` says so. */
  judge(v: Verdict, hold = this.r.intervalMs, requests: OperatorRequests = NO): PlanResult {
    this.now += hold;
    expect(analysisDue(this.r, this.status, at(this.now))).toBe(true);
    return this.plan({ verdict: v, requests });
  }

  /** Wait as long as the last plan asked, insist that a check is due then (not a moment sooner), and judge. */
  check(v: Verdict, requests: OperatorRequests = NO): PlanResult {
    const wait = this.last.requeueAfterMs!;
    expect(wait).toBeGreaterThan(0);
    expect(analysisDue(this.r, this.status, at(this.now + wait - 1))).toBe(false);
    return this.judge(v, wait, requests);
  }
}

const reasons = (res: PlanResult) => res.events.map((e) => e.reason);
const cond = (st: RolloutStatus | undefined, type: string): Condition | undefined => st?.conditions?.find((c) => c.type === type);

/** A release walked to Promoted: stable `from`, canary `to`. */
function promotedSim(from: string, to: string, o: Opts = {}): Sim {
  const sim = new Sim(rollout({ ...o, stable: V(from), canary: V(to) }));
  sim.plan();
  sim.plan({ requests: { paused: false, promote: rel(sim.r) } });
  expect(sim.status?.phase).toBe('Promoted');
  return sim;
}

describe('fresh start', () => {
  it('starts the staff example at its first step: risky 10, safe 90', () => {
    const r = resolvedExample('staff-safe-risky.yaml');
    const res = plan({ rollout: r, status: undefined, requests: NO, now: at(0) });
    expect(res.status).toMatchObject({
      phase: 'Progressing', canaryWeight: 10, stableWeight: 90, stepIndex: 0, stepStartedAt: iso(0),
      release: releaseId({ version: 'safe' }, { version: 'risky' }),
      stableLabels: { version: 'safe' }, canaryLabels: { version: 'risky' }, failedChecks: 0,
    });
    expect(res.routing).toEqual({ stableLabels: { version: 'safe' }, canaryLabels: { version: 'risky' }, canaryWeight: 10 });
    expect(reasons(res)).toEqual(['RolloutStarted']);
    expect(res.requeueAfterMs).toBe(30 * S);
  });

  it('starts a rollout whose first step is a manual pause at weight 0, Paused', () => {
    const r = resolvedExample('product-service.yaml');
    const res = plan({ rollout: r, status: undefined, requests: NO, now: at(0) });
    expect(res.status).toMatchObject({ phase: 'Paused', canaryWeight: 0, stableWeight: 100, stepIndex: 0, pausedBy: 'step' });
    expect(reasons(res)).toEqual(['RolloutStarted', 'Paused']);
    expect(res.routing.canaryWeight).toBe(0);
  });

  it('starts from an empty status object the same as from none', () => {
    const r = rollout();
    const a = plan({ rollout: r, status: undefined, requests: NO, now: at(0) });
    const b = plan({ rollout: r, status: {}, requests: NO, now: at(0) });
    expect(b).toEqual(a);
  });
});

describe('holding and advancing on time (no analysis)', () => {
  // staff: steps 10, 50, 100, interval 30s
  it.each([
    [0, 30 * S],
    [1 * S, 29 * S],
    [15 * S, 15 * S],
    [29_999, 1],
  ])('at +%d ms holds step 0 and asks to come back in %d ms', (after, left) => {
    const sim = new Sim(resolvedExample('staff-safe-risky.yaml'));
    sim.plan();
    const res = sim.plan({ after });
    expect(res.status).toMatchObject({ phase: 'Progressing', stepIndex: 0, canaryWeight: 10, stepStartedAt: iso(0) });
    expect(res.requeueAfterMs).toBe(left);
    expect(res.events).toEqual([]);
  });

  it.each([30 * S, 45 * S, 10 * M])('at +%d ms moves on to step 1', (after) => {
    const sim = new Sim(resolvedExample('staff-safe-risky.yaml'));
    sim.plan();
    const res = sim.plan({ after });
    expect(res.status).toMatchObject({ phase: 'Progressing', stepIndex: 1, canaryWeight: 50, stableWeight: 50, stepStartedAt: iso(after) });
    expect(reasons(res)).toEqual(['StepAdvanced']);
    expect(res.requeueAfterMs).toBe(30 * S);
  });

  it('walks the whole schedule and promotes after the last step', () => {
    const sim = new Sim(resolvedExample('staff-safe-risky.yaml'));
    const seen: [string | undefined, number | undefined, number | undefined][] = [];
    for (let i = 0; i < 5; i++) {
      const res = sim.plan({ after: i === 0 ? 0 : 30 * S });
      seen.push([res.status.phase, res.status.stepIndex, res.routing.canaryWeight]);
    }
    expect(seen).toEqual([
      ['Progressing', 0, 10],
      ['Progressing', 1, 50],
      ['Progressing', 2, 100],
      ['Promoted', 3, 100],
      ['Promoted', 3, 100],
    ]);
    expect(sim.status?.stableWeight).toBe(0);
    expect(sim.last.requeueAfterMs).toBeUndefined();
  });

  it('promotes after the last step even when it is below 100 (maxWeight 90)', () => {
    const sim = new Sim(resolvedExample('httpping-mesh.yaml'));
    sim.plan();
    for (let i = 1; i < 9; i++) sim.judge('pass');
    expect(sim.status).toMatchObject({ stepIndex: 8, canaryWeight: 90 });
    const res = sim.judge('pass');
    expect(res.status).toMatchObject({ phase: 'Promoted', canaryWeight: 100, stableWeight: 0 });
    expect(reasons(res)).toEqual(['Promoted']);
  });

  it('does not restart when only the interval changes mid-rollout', () => {
    const sim = new Sim(rollout({ interval: '1m' }));
    sim.plan();
    sim.plan({ after: M });
    const res = sim.plan({ after: 10 * S, rollout: rollout({ interval: '5m', generation: 2 }) });
    expect(res.status).toMatchObject({ stepIndex: 1, canaryWeight: 50, stepStartedAt: iso(M), observedGeneration: 2 });
    expect(res.requeueAfterMs).toBe(5 * M - 10 * S);
    expect(res.events).toEqual([]);
  });

  it('does not restart when the label maps are only written in another order', () => {
    const a = rollout({ stable: { app: 'web', version: 'v1' }, canary: { app: 'web', version: 'v2' } });
    const b = rollout({ stable: { version: 'v1', app: 'web' }, canary: { version: 'v2', app: 'web' } });
    const sim = new Sim(a);
    sim.plan();
    sim.plan({ after: M });
    const res = sim.plan({ after: S, rollout: b });
    expect(res.status).toMatchObject({ stepIndex: 1, canaryWeight: 50 });
    expect(res.events).toEqual([]);
  });
});

describe('analysis', () => {
  // rollout({ analysis }) holds each step 1m and checks every 10s (the default checkInterval).
  it('advances on a pass when the hold ends: the final judgement', () => {
    const sim = new Sim(rollout({ analysis: 2 }));
    sim.plan();
    const res = sim.judge('pass');
    expect(res.status).toMatchObject({ phase: 'Progressing', stepIndex: 1, canaryWeight: 50, stepStartedAt: iso(M), lastAnalysis: { verdict: 'pass', final: true, at: iso(M) } });
    expect(reasons(res)).toEqual(['StepAdvanced']);
    expect(res.requeueAfterMs).toBe(10 * S);
    expect(cond(res.status, 'Analysis')).toMatchObject({ status: 'True', reason: 'Passed' });
  });

  it('judges every checkInterval inside the step; passes there only record, the one when the hold ends advances', () => {
    const sim = new Sim(rollout({ analysis: 2 }));
    expect(sim.plan().requeueAfterMs).toBe(10 * S);
    for (let t = 10 * S; t < M; t += 10 * S) {
      const res = sim.check('pass');
      expect(sim.now).toBe(t);
      expect(res.status).toMatchObject({
        phase: 'Progressing', stepIndex: 0, canaryWeight: 10, stepStartedAt: iso(0), failedChecks: 0, inconclusiveChecks: 0,
        lastAnalysis: { verdict: 'pass', final: false, at: iso(t), stepIndex: 0 },
      });
      expect(res.events).toEqual([]);
      expect(res.requeueAfterMs).toBe(10 * S);
      expect(cond(res.status, 'Analysis')).toMatchObject({ status: 'True', reason: 'Passed' });
    }
    const res = sim.check('pass');
    expect(sim.now).toBe(M);
    expect(res.status).toMatchObject({ stepIndex: 1, canaryWeight: 50, stepStartedAt: iso(M), lastAnalysis: { verdict: 'pass', final: true } });
    expect(reasons(res)).toEqual(['StepAdvanced']);
  });

  it('judges inside the step every checkInterval: a fail counts at once, a pass does not advance early', () => {
    const sim = new Sim(rollout({ analysis: 0 }));
    sim.plan();
    expect(analysisDue(sim.r, sim.status, at(5 * S))).toBe(false);
    expect(analysisDue(sim.r, sim.status, at(10 * S))).toBe(true);
    const early = sim.plan({ after: 10 * S, verdict: 'pass' });
    expect(early.status).toMatchObject({ phase: 'Progressing', stepIndex: 0, canaryWeight: 10, lastAnalysis: { final: false } });
    expect(early.requeueAfterMs).toBe(10 * S);
    expect(analysisDue(sim.r, sim.status, at(15 * S))).toBe(false);
    expect(analysisDue(sim.r, sim.status, at(20 * S))).toBe(true);
    const bad = sim.plan({ after: 10 * S, verdict: 'fail' });
    expect(bad.status).toMatchObject({ phase: 'RolledBack', canaryWeight: 0, failedChecks: 1, lastAnalysis: { verdict: 'fail', final: false } });
    expect(bad.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'RolledBack']]);
  });

  it('a tolerated failure inside the hold warns and restarts the window from that check', () => {
    const sim = new Sim(rollout({ analysis: 2 }));
    sim.plan();
    const res = sim.check('fail');
    expect(res.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'AnalysisFailed']]);
    expect(res.events[0]!.message).toContain('(1 of 2 tolerated)');
    expect(res.status).toMatchObject({ phase: 'Progressing', stepIndex: 0, failedChecks: 1, stepStartedAt: iso(10 * S), lastAnalysis: { verdict: 'fail', final: false } });
    expect(res.requeueAfterMs).toBe(10 * S);
    // The new window is held a full interval: the final judgement is due at 10s + 1m, not at 1m.
    expect(analysisDue(sim.r, sim.status, at(M))).toBe(true); // a periodic check
    sim.plan({ after: M - 10 * S, verdict: 'pass' });
    expect(sim.status).toMatchObject({ stepIndex: 0, lastAnalysis: { final: false } });
    expect(sim.last.requeueAfterMs).toBe(10 * S);
    expect(sim.check('pass').status).toMatchObject({ stepIndex: 1, stepStartedAt: iso(M + 10 * S) });
  });

  it('asks for a final judgement exactly when the hold ends, even between periodic checks', () => {
    const sim = new Sim(rollout({ analysis: 2, analysisSpec: { checkInterval: '25s' } }));
    expect(sim.r.analysis?.checkIntervalMs).toBe(25 * S);
    // Requeue: the sooner of the next check and the end of the hold.
    expect(sim.plan().requeueAfterMs).toBe(25 * S);
    expect(sim.check('pass').requeueAfterMs).toBe(25 * S); // at 25s: next check 50s, hold ends 60s
    expect(sim.check('pass').requeueAfterMs).toBe(10 * S); // at 50s: the hold ends before the next check at 75s
    expect(analysisDue(sim.r, sim.status, at(59 * S))).toBe(false);
    const res = sim.check('pass');
    expect(sim.now).toBe(M);
    expect(res.status).toMatchObject({ stepIndex: 1, lastAnalysis: { final: true } });
  });

  it('a hold shorter than the checkInterval is judged once, when it ends', () => {
    const sim = new Sim(rollout({ analysis: 2, steps: [{ weight: 10, pause: '5s' }, 100] }));
    expect(sim.plan().requeueAfterMs).toBe(5 * S);
    const res = sim.check('pass');
    expect(sim.now).toBe(5 * S);
    expect(res.status).toMatchObject({ stepIndex: 1, canaryWeight: 100, lastAnalysis: { final: true } });
  });

  it('a late check sets the next one a checkInterval after it was made', () => {
    const sim = new Sim(rollout({ analysis: 2 }));
    sim.plan();
    const res = sim.plan({ after: 17 * S, verdict: 'pass' });
    expect(res.requeueAfterMs).toBe(10 * S);
    expect(analysisDue(sim.r, sim.status, at(27 * S - 1))).toBe(false);
    expect(analysisDue(sim.r, sim.status, at(27 * S))).toBe(true);
  });

  it('trusts the analyzer on finality: a non-final pass never advances, a final pass never cuts the hold short', () => {
    // The analyzer leaves threshold metrics unjudged in a non-final check; advancing on one would skip them.
    const late = new Sim(rollout({ analysis: 2 }));
    late.plan();
    const res = late.plan({ after: M, verdict: 'pass', final: false });
    expect(res.status).toMatchObject({ phase: 'Progressing', stepIndex: 0, stepStartedAt: iso(0), lastAnalysis: { verdict: 'pass', final: false } });
    expect(res.events).toEqual([]);
    expect(res.requeueAfterMs).toBe(10 * S);

    const early = new Sim(rollout({ analysis: 2 }));
    early.plan();
    const e = early.plan({ after: 10 * S, verdict: 'pass', final: true });
    expect(e.status).toMatchObject({ phase: 'Progressing', stepIndex: 0, stepStartedAt: iso(0), lastAnalysis: { final: true } });
    expect(e.requeueAfterMs).toBe(10 * S);
    expect(early.plan({ after: M - 10 * S }).status.stepIndex).toBe(0); // the hold is over, but no judgement of it yet
  });

  it('holds on an inconclusive judgement; the window keeps growing from the step start', () => {
    const sim = new Sim(rollout({ analysis: 2 }));
    sim.plan();
    const res = sim.judge('inconclusive');
    expect(res.status).toMatchObject({
      phase: 'Progressing', stepIndex: 0, canaryWeight: 10, inconclusiveChecks: 1, failedChecks: 0, stepStartedAt: iso(0),
      lastAnalysis: { verdict: 'inconclusive', final: true },
    });
    expect(reasons(res)).toEqual(['AnalysisInconclusive']);
    expect(res.events[0]).toMatchObject({ type: 'Normal', message: expect.stringContaining('step 1 held') });
    expect(res.requeueAfterMs).toBe(10 * S);
    expect(cond(res.status, 'Analysis')).toMatchObject({ status: 'Unknown', reason: 'Inconclusive' });
    // Inconclusive never counts as a failure, however often it happens, and says so only once.
    for (let i = 0; i < 5; i++) expect(reasons(sim.check('inconclusive'))).toEqual([]);
    expect(sim.now).toBe(M + 50 * S);
    expect(sim.status).toMatchObject({ phase: 'Progressing', stepIndex: 0, inconclusiveChecks: 6, failedChecks: 0, stepStartedAt: iso(0) });
    // Once enough traffic has come in, the same step passes and moves on.
    expect(sim.check('pass').status).toMatchObject({ stepIndex: 1, canaryWeight: 50, stepStartedAt: iso(M + 60 * S) });
  });

  it('a non-final inconclusive only records: no event, no count, no restart', () => {
    const sim = new Sim(rollout({ analysis: 2, analysisSpec: { inconclusiveLimit: 0 } }));
    sim.plan();
    const res = sim.check('inconclusive');
    expect(res.status).toMatchObject({
      phase: 'Progressing', stepIndex: 0, inconclusiveChecks: 0, failedChecks: 0, stepStartedAt: iso(0),
      lastAnalysis: { verdict: 'inconclusive', final: false, at: iso(10 * S) },
    });
    expect(res.events).toEqual([]);
    expect(res.requeueAfterMs).toBe(10 * S);
    expect(cond(res.status, 'Analysis')).toMatchObject({ status: 'Unknown', reason: 'Inconclusive' });
    for (let i = 0; i < 4; i++) sim.check('inconclusive');
    expect(sim.judge('pass', 10 * S).status).toMatchObject({ stepIndex: 1 });
  });

  it('says AnalysisInconclusive again in a new window', () => {
    const sim = new Sim(rollout({ analysis: 2 }));
    sim.plan();
    expect(reasons(sim.judge('inconclusive'))).toEqual(['AnalysisInconclusive']);
    expect(reasons(sim.check('inconclusive'))).toEqual([]);
    expect(reasons(sim.check('fail'))).toEqual(['AnalysisFailed']); // the window restarts at M + 20s
    expect(sim.status).toMatchObject({ stepStartedAt: iso(M + 20 * S), inconclusiveChecks: 2, failedChecks: 1 });
    const res = sim.judge('inconclusive');
    expect(reasons(res)).toEqual(['AnalysisInconclusive']);
    expect(res.status).toMatchObject({ inconclusiveChecks: 3, stepStartedAt: iso(M + 20 * S) });
  });

  it('pauses, never rolls back or promotes, after inconclusiveLimit extra holds without a conclusive judgement', () => {
    const sim = new Sim(rollout({ analysis: 2, analysisSpec: { inconclusiveLimit: 2 } }));
    expect(sim.r.analysis?.inconclusiveLimit).toBe(2);
    sim.plan();
    sim.judge('inconclusive');
    // 3 holds (the hold plus 2 extra) after the step began, the wait is a pause for a person.
    while (sim.now + 10 * S < 3 * M) {
      expect(analysisCheck(sim.r, sim.status, at(sim.now + sim.last.requeueAfterMs!))?.lastChance).toBe(false);
      expect(sim.check('inconclusive').status.phase).toBe('Progressing');
    }
    expect(sim.now).toBe(3 * M - 10 * S);
    // The check that will pause says so, so the judge can tell how much traffic is missing.
    expect(analysisCheck(sim.r, sim.status, at(3 * M))?.lastChance).toBe(true);
    const res = sim.check('inconclusive');
    expect(sim.now).toBe(3 * M);
    expect(res.status).toMatchObject({ phase: 'Paused', pausedBy: 'analysis', canaryWeight: 10, stepIndex: 0, inconclusiveChecks: 13, failedChecks: 0 });
    expect(res.status.message).toContain('step 1/3 paused: no conclusive analysis after 3 hold(s): inconclusive at step 0');
    expect(res.status.message).toContain('`fledge resume`');
    expect(res.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'Paused']]);
    expect(cond(res.status, 'Progressing')).toMatchObject({ status: 'False', reason: 'Inconclusive' });
    // Still judged while paused: checks keep coming, and stay paused while inconclusive.
    expect(res.requeueAfterMs).toBe(10 * S);
    for (let i = 0; i < 5; i++) expect(sim.check('inconclusive').status).toMatchObject({ phase: 'Paused', pausedBy: 'analysis', canaryWeight: 10 });
    expect(analysisCheck(sim.r, sim.status, at(sim.now + 10 * S))?.lastChance).toBe(true);
  });

  it('a Rollout paused for evidence goes on when `fledge resume` asks, or the evidence arrives; a failure still rolls it back', () => {
    const paused = () => {
      const sim = new Sim(rollout({ analysis: 0, analysisSpec: { inconclusiveLimit: 0 } }));
      sim.plan();
      sim.judge('inconclusive');
      expect(sim.status).toMatchObject({ phase: 'Paused', pausedBy: 'analysis' });
      return sim;
    };
    const resumed = paused();
    const res = resumed.check('inconclusive', { paused: false, resume: { release: rel(resumed.r), stepIndex: 0 } });
    expect(res.status).toMatchObject({ phase: 'Progressing', stepIndex: 1, canaryWeight: 50 });
    expect(res.status.pausedBy).toBeUndefined();
    expect(reasons(res)).toEqual(['Resumed', 'StepAdvanced']);

    const evidence = paused();
    expect(evidence.check('pass').status).toMatchObject({ phase: 'Progressing', stepIndex: 1, canaryWeight: 50 });
    expect(reasons(evidence.last)).toEqual(['Resumed', 'StepAdvanced']);

    const bad = paused();
    expect(bad.check('fail').status).toMatchObject({ phase: 'RolledBack', canaryWeight: 0 });

    // A resume for another step, or another release, is not for this pause.
    const other = paused();
    expect(other.check('inconclusive', { paused: false, resume: { release: rel(other.r), stepIndex: 1 } }).status).toMatchObject({ phase: 'Paused', stepIndex: 0 });
  });

  it('inconclusiveLimit 0 pauses at the first final inconclusive; a timed pause is the hold it multiplies', () => {
    const zero = new Sim(rollout({ analysis: 2, analysisSpec: { inconclusiveLimit: 0 } }));
    zero.plan();
    zero.check('inconclusive');
    expect(zero.judge('inconclusive', M - 10 * S).status).toMatchObject({ phase: 'Paused', pausedBy: 'analysis', inconclusiveChecks: 1 });

    const timed = new Sim(rollout({ analysis: 2, analysisSpec: { inconclusiveLimit: 1 }, steps: [{ weight: 10, pause: '2m' }, 100] }));
    timed.plan();
    timed.judge('inconclusive', 2 * M);
    while (timed.now + 10 * S < 4 * M) expect(timed.check('inconclusive').status.phase).toBe('Progressing');
    expect(timed.check('inconclusive').status).toMatchObject({ phase: 'Paused', pausedBy: 'analysis', canaryWeight: 10 });
    expect(timed.now).toBe(4 * M);
  });

  it('the release window starts with the first step and spans every later one; a tolerated failure restarts the step\'s only', () => {
    const sim = new Sim(rollout({ analysis: 1 }));
    sim.plan();
    expect(sim.status?.analysisStartedAt).toBe(iso(0));
    sim.judge('pass');
    expect(sim.status).toMatchObject({ stepIndex: 1, stepStartedAt: iso(M), analysisStartedAt: iso(0) });
    const c = analysisCheck(sim.r, sim.status, at(M + 10 * S))!;
    expect(c).toMatchObject({
      stepIndex: 1, final: false, nextWeight: 100, promotes: false, lastChance: false,
      // Stable's window reaches its baselineWindow (10m) before the release, and at least that far for a step.
      release: { startedAt: iso(0), seconds: 70, stableSeconds: 670 }, step: { startedAt: iso(M), seconds: 10, stableSeconds: 600 },
    });
    sim.check('fail');
    expect(sim.status).toMatchObject({ stepIndex: 1, failedChecks: 1, stepStartedAt: iso(M + 10 * S), analysisStartedAt: iso(0) });
    sim.judge('pass');
    expect(analysisCheck(sim.r, sim.status, at(sim.now + M))).toMatchObject({ stepIndex: 2, nextWeight: 100, promotes: true });
    // A status written before analysisStartedAt existed: the release window is the step's.
    const { analysisStartedAt: _gone, ...old } = sim.status!;
    expect(analysisCheck(sim.r, old, at(sim.now + M))?.release).toEqual({ startedAt: old.stepStartedAt, seconds: 60, stableSeconds: 660 });
  });

  it('a failure on the comparison\'s evidence rolls back at once, whatever failureLimit tolerates for thresholds', () => {
    const sim = new Sim(rollout({ analysis: 3 }));
    sim.plan();
    const decisive: AnalysisResult = { ...verdict('fail', sim.status, 10 * S, false), decisive: true, reason: 'errors: release so far: canary 62.50% (5/8)' };
    sim.now += 10 * S;
    const res = plan({ rollout: sim.r, status: sim.status, requests: NO, now: at(sim.now), analysis: decisive });
    expect(res.status).toMatchObject({ phase: 'RolledBack', canaryWeight: 0, failedChecks: 1 });
    expect(res.status.message).toBe('rolled back: analysis failed on the evidence: errors: release so far: canary 62.50% (5/8)');
    // The same failure from a threshold metric is tolerated up to the limit.
    const threshold = new Sim(rollout({ analysis: 3 }));
    threshold.plan();
    expect(threshold.check('fail').status).toMatchObject({ phase: 'Progressing', failedChecks: 1 });
  });

  it('holds, and asks again soon, when a judgement is due but none was given', () => {
    const sim = new Sim(rollout({ analysis: 2 }));
    sim.plan();
    const res = sim.plan({ after: M });
    expect(res.status).toMatchObject({ phase: 'Progressing', stepIndex: 0, canaryWeight: 10, stepStartedAt: iso(0) });
    expect(res.requeueAfterMs).toBe(S);
    expect(res.events).toEqual([]);
    expect(analysisDue(sim.r, sim.status, at(M))).toBe(true);
  });

  // [failureLimit, verdicts (each when the hold ends), expected phase at the end, expected failedChecks, expected canary weight]
  it.each<[number, Verdict[], string, number, number]>([
    [2, ['fail'], 'Progressing', 1, 10],
    [2, ['fail', 'fail'], 'Progressing', 2, 10],
    [2, ['fail', 'fail', 'fail'], 'RolledBack', 3, 0],
    [2, ['fail', 'inconclusive', 'fail', 'inconclusive'], 'Progressing', 2, 10],
    [2, ['fail', 'pass', 'fail'], 'Progressing', 2, 50],
    [2, ['fail', 'pass', 'fail', 'fail'], 'RolledBack', 3, 0],
    [1, ['fail'], 'Progressing', 1, 10],
    [1, ['fail', 'fail'], 'RolledBack', 2, 0],
    [0, ['fail'], 'RolledBack', 1, 0],
    [0, ['pass', 'pass', 'fail'], 'RolledBack', 1, 0],
  ])('failureLimit %d, verdicts %j: %s with %d failed checks at canary %d', (limit, verdicts, phase, failed, weight) => {
    const sim = new Sim(rollout({ analysis: limit }));
    sim.plan();
    for (const v of verdicts) sim.judge(v);
    expect(sim.status).toMatchObject({ phase, failedChecks: failed, canaryWeight: weight, stableWeight: 100 - weight });
    expect(sim.last.routing.canaryWeight).toBe(weight);
  });

  // The same, judged at every check as the controller does: [failureLimit, verdicts, phase, failedChecks, weight, time at the end]
  it.each<[number, Verdict[], string, number, number, number]>([
    [1, ['fail', 'fail'], 'RolledBack', 2, 0, 20 * S],
    [2, ['fail', 'pass', 'pass', 'fail'], 'Progressing', 2, 10, 40 * S],
    [0, ['pass', 'pass', 'pass', 'pass', 'pass', 'pass'], 'Progressing', 0, 50, M],
    [0, ['pass', 'pass', 'pass', 'pass', 'pass', 'inconclusive', 'fail'], 'RolledBack', 1, 0, M + 10 * S],
    [1, ['inconclusive', 'fail', 'pass', 'pass', 'pass', 'pass', 'pass', 'pass'], 'Progressing', 1, 50, 20 * S + M],
  ])('failureLimit %d, checks %j: %s with %d failed checks at canary %d, at %d ms', (limit, verdicts, phase, failed, weight, end) => {
    const sim = new Sim(rollout({ analysis: limit }));
    sim.plan();
    for (const v of verdicts) sim.check(v);
    expect(sim.status).toMatchObject({ phase, failedChecks: failed, canaryWeight: weight });
    expect(sim.now).toBe(end);
  });

  it('records a rollback with a Warning event, the reason, and Ready=False', () => {
    const sim = new Sim(rollout({ analysis: 0 }));
    sim.plan();
    sim.judge('pass');
    const res = sim.judge('fail');
    expect(res.status).toMatchObject({ phase: 'RolledBack', canaryWeight: 0, stepIndex: 1 });
    expect(res.events).toHaveLength(1);
    expect(res.events[0]).toMatchObject({ type: 'Warning', reason: 'RolledBack' });
    expect(res.events[0]!.message).toContain('fail at step 1');
    expect(res.status.message).toContain('rolled back');
    expect(cond(res.status, 'Ready')).toMatchObject({ status: 'False', reason: 'RolledBack' });
    expect(cond(res.status, 'Stalled')).toMatchObject({ status: 'True', reason: 'RolledBack' });
    expect(cond(res.status, 'Analysis')).toMatchObject({ status: 'False', reason: 'Failed' });
    expect(res.requeueAfterMs).toBeUndefined();
  });

  it('a tolerated failure when the hold ends warns and restarts the window', () => {
    const sim = new Sim(rollout({ analysis: 2 }));
    sim.plan();
    const res = sim.judge('fail');
    expect(res.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'AnalysisFailed']]);
    expect(res.status).toMatchObject({ stepIndex: 0, stepStartedAt: iso(M), failedChecks: 1, lastAnalysis: { verdict: 'fail', final: true } });
    // The next check comes a checkInterval into the new window; its final one a whole interval later.
    expect(res.requeueAfterMs).toBe(10 * S);
    expect(analysisDue(sim.r, sim.status, at(M + 10 * S - 1))).toBe(false);
    expect(analysisDue(sim.r, sim.status, at(M + 10 * S))).toBe(true);
    expect(sim.judge('pass', M).status).toMatchObject({ stepIndex: 1, stepStartedAt: iso(2 * M) });
  });

  it('stays rolled back: time passing and passes change nothing', () => {
    const sim = new Sim(rollout({ analysis: 0 }));
    sim.plan();
    sim.judge('fail');
    const before = sim.status;
    expect(analysisDue(sim.r, sim.status, at(sim.now + 10 * M))).toBe(false);
    const res = sim.plan({ after: 10 * M, verdict: 'pass' });
    expect(res.status).toEqual(before);
    expect(res.events).toEqual([]);
  });
});

describe('analysisDue', () => {
  // Interval 1m, checkInterval 10s; step 1 is a timed pause of 5m, step 2 a manual pause.
  const withAnalysis = rollout({ analysis: 1, interval: '1m', steps: [10, { weight: 20, pause: '5m' }, { weight: 30, pause: 'manual' }, 100] });
  const release = rel(withAnalysis);
  const base: RolloutStatus = { phase: 'Progressing', release, stepIndex: 0, stepStartedAt: iso(0), canaryWeight: 10 };
  /** A status whose last judgement was of `step` at `ms`. */
  const judged = (st: RolloutStatus, step: number, ms: number, final = false): RolloutStatus =>
    ({ ...st, lastAnalysis: { verdict: 'pass', reason: 'ok', at: iso(ms), stepIndex: step, final, metrics: [] } });
  const step1 = { ...base, stepIndex: 1, canaryWeight: 20 };

  it.each<[string, ResolvedRollout, RolloutStatus | undefined, number, boolean]>([
    ['no analysis configured', rollout({ interval: '1m' }), { ...base, release: rel(rollout()) }, 2 * M, false],
    ['no status yet', withAnalysis, undefined, 2 * M, false],
    ['a status of another release', withAnalysis, { ...base, release: '0123456789' }, 2 * M, false],
    ['before the first check', withAnalysis, base, 10 * S - 1, false],
    ['at the first check, inside the hold', withAnalysis, base, 10 * S, true],
    ['between checks, after one at 30s', withAnalysis, judged(base, 0, 30 * S), 40 * S - 1, false],
    ['a checkInterval after one at 30s', withAnalysis, judged(base, 0, 30 * S), 40 * S, true],
    ['after a check at 55s, before the interval ends', withAnalysis, judged(base, 0, 55 * S), M - 1, false],
    ['after a check at 55s, when the interval ends (the final check)', withAnalysis, judged(base, 0, 55 * S), M, true],
    ['when the interval ends', withAnalysis, base, M, true],
    ['after the interval ends', withAnalysis, base, 3 * M, true],
    ['after the final check, before the next checkInterval', withAnalysis, judged(base, 0, M, true), M + 10 * S - 1, false],
    ['after the final check, a checkInterval later', withAnalysis, judged(base, 0, M, true), M + 10 * S, true],
    ['a check recorded for another step does not count', withAnalysis, judged(base, 1, 30 * S), 35 * S, true],
    ['a check from before the window restarted does not count', withAnalysis, judged({ ...base, stepStartedAt: iso(20 * S) }, 0, 15 * S), 30 * S - 1, false],
    ['the restarted window is checked a checkInterval after it began', withAnalysis, judged({ ...base, stepStartedAt: iso(20 * S) }, 0, 15 * S), 30 * S, true],
    ['a check made when the window began counts', withAnalysis, judged({ ...base, stepStartedAt: iso(20 * S) }, 0, 20 * S), 30 * S, true],
    ['on a timed pause step, between checks after the interval', withAnalysis, judged(step1, 1, 4 * M - 5 * S), 4 * M, false],
    ['on a timed pause step, a checkInterval after the last check', withAnalysis, judged(step1, 1, 4 * M - 10 * S), 4 * M, true],
    ['on a timed pause step, just before the pause ends', withAnalysis, judged(step1, 1, 5 * M - S), 5 * M - 1, false],
    ['on a timed pause step, when the pause ends', withAnalysis, judged(step1, 1, 5 * M - S), 5 * M, true],
    ['on a manual step, paused, before the first check', withAnalysis, { ...base, phase: 'Paused', pausedBy: 'step', stepIndex: 2 }, 10 * S - 1, false],
    ['on a manual step, paused, at the first check', withAnalysis, { ...base, phase: 'Paused', pausedBy: 'step', stepIndex: 2 }, 10 * S, true],
    ['on a manual step, paused, when the interval ends', withAnalysis, judged({ ...base, phase: 'Paused', pausedBy: 'step', stepIndex: 2 }, 2, 55 * S), M, true],
    ['paused by the user, at a check', withAnalysis, { ...base, phase: 'Paused', pausedBy: 'user' }, 10 * S, true],
    ['paused by the user, after the interval', withAnalysis, { ...base, phase: 'Paused', pausedBy: 'user' }, M, true],
    ['while restarting (step -1)', withAnalysis, { ...base, stepIndex: -1 }, 3 * M, false],
    ['when Promoted', withAnalysis, { ...base, phase: 'Promoted', stepIndex: 4, canaryWeight: 100 }, 3 * M, false],
    ['when RolledBack', withAnalysis, { ...base, phase: 'RolledBack', canaryWeight: 0 }, 3 * M, false],
    ['when Pending', withAnalysis, { ...base, phase: 'Pending' }, 3 * M, false],
    ['when Invalid', withAnalysis, { ...base, phase: 'Invalid' }, 3 * M, false],
    ['without a step start time', withAnalysis, { ...base, stepStartedAt: undefined }, 0, true],
  ])('%s: %s', (_name, r, status, now, expected) => {
    expect(analysisDue(r, status, at(now))).toBe(expected);
  });
});

describe('manual pause', () => {
  const manual = () => rollout({ steps: [{ weight: 0, pause: 'manual' }, { weight: 20, pause: 'manual' }, 100] });

  it('waits, however long, until resumed', () => {
    const sim = new Sim(manual());
    sim.plan();
    const res = sim.plan({ after: 24 * 60 * M });
    expect(res.status).toMatchObject({ phase: 'Paused', pausedBy: 'step', stepIndex: 0, canaryWeight: 0 });
    expect(res.status.message).toContain('fledge resume');
    expect(cond(res.status, 'Progressing')).toMatchObject({ status: 'False', reason: 'ManualStep' });
    expect(res.events).toEqual([]);
    expect(res.requeueAfterMs).toBeUndefined();
  });

  const stale = (r: ResolvedRollout) => releaseId(r.stable.labels, V('v9'));
  it.each<[string, (r: ResolvedRollout) => OperatorRequests['resume'], number, string]>([
    ['a resume for this release and step 0', (r) => ({ release: rel(r), stepIndex: 0 }), 1, 'Paused'],
    ['a resume for this release and step 1', (r) => ({ release: rel(r), stepIndex: 1 }), 0, 'Paused'],
    ['a resume for another release and step 0', (r) => ({ release: stale(r), stepIndex: 0 }), 0, 'Paused'],
    ['no resume', () => undefined, 0, 'Paused'],
  ])('%s: ends at step %d, %s', (_name, resume, stepIndex, phase) => {
    const sim = new Sim(manual());
    sim.plan();
    const r = resume(sim.r);
    const res = sim.plan({ after: S, requests: { paused: false, ...(r ? { resume: r } : {}) } });
    expect(res.status).toMatchObject({ phase, stepIndex, canaryWeight: [0, 20, 100][stepIndex] });
  });

  it('a resume left on the object from step 0 does not skip the manual step 1', () => {
    const sim = new Sim(manual());
    sim.plan();
    const requests = { paused: false, resume: { release: rel(sim.r), stepIndex: 0 } };
    sim.plan({ after: S, requests });
    for (let i = 0; i < 3; i++) {
      const res = sim.plan({ after: 10 * M, requests });
      expect(res.status).toMatchObject({ phase: 'Paused', stepIndex: 1, canaryWeight: 20 });
    }
    const res = sim.plan({ after: S, requests: { paused: false, resume: { release: rel(sim.r), stepIndex: 1 } } });
    expect(res.status).toMatchObject({ phase: 'Progressing', stepIndex: 2, canaryWeight: 100 });
  });

  it('resuming the product example moves to 20 % and then on time', () => {
    const sim = new Sim(resolvedExample('product-service.yaml'));
    sim.plan();
    const res = sim.plan({ after: S, requests: { paused: false, resume: { release: rel(sim.r), stepIndex: 0 } } });
    expect(res.status).toMatchObject({ phase: 'Progressing', stepIndex: 1, canaryWeight: 20 });
    expect(reasons(res)).toEqual(['StepAdvanced']);
    sim.judge('pass');
    expect(sim.status).toMatchObject({ stepIndex: 2, canaryWeight: 40 });
  });

  it('a failing analysis on a manual step still rolls back, at the first check', () => {
    const sim = new Sim(rollout({ steps: [{ weight: 10, pause: 'manual' }, 100], analysis: 0 }));
    sim.plan();
    expect(sim.last.requeueAfterMs).toBe(10 * S);
    const res = sim.check('fail');
    expect(sim.now).toBe(10 * S);
    expect(res.status).toMatchObject({ phase: 'RolledBack', canaryWeight: 0, failedChecks: 1, lastAnalysis: { final: false } });
  });

  it('a passing analysis on a manual step keeps it paused; only the pass when the interval ends starts a new window', () => {
    const sim = new Sim(rollout({ steps: [{ weight: 10, pause: 'manual' }, 100], analysis: 0 }));
    sim.plan();
    // The interval is the hold that sets the cadence on a manual step: checks every 10s, the final one at 1m.
    for (let t = 10 * S; t < M; t += 10 * S) {
      const res = sim.check('pass');
      expect(res.status).toMatchObject({ phase: 'Paused', pausedBy: 'step', stepIndex: 0, stepStartedAt: iso(0), lastAnalysis: { final: false } });
      expect(res.events).toEqual([]);
      expect(res.requeueAfterMs).toBe(10 * S);
    }
    const res = sim.check('pass');
    expect(sim.now).toBe(M);
    expect(res.status).toMatchObject({ phase: 'Paused', pausedBy: 'step', stepIndex: 0, canaryWeight: 10, stepStartedAt: iso(M), lastAnalysis: { final: true } });
    expect(res.events).toEqual([]);
    expect(res.requeueAfterMs).toBe(10 * S);
    expect(analysisDue(sim.r, sim.status, at(sim.now))).toBe(false);
    // The new window is judged like the first one.
    sim.check('pass');
    expect(sim.status).toMatchObject({ stepStartedAt: iso(M), lastAnalysis: { final: false } });
    expect(sim.judge('pass', M - 10 * S).status).toMatchObject({ phase: 'Paused', stepIndex: 0, stepStartedAt: iso(2 * M) });
  });

  it('an inconclusive analysis on a manual step holds its window open and is said once', () => {
    const sim = new Sim(rollout({ steps: [{ weight: 10, pause: 'manual' }, 100], analysis: 0 }));
    sim.plan();
    const res = sim.judge('inconclusive');
    expect(res.status).toMatchObject({ phase: 'Paused', pausedBy: 'step', stepIndex: 0, stepStartedAt: iso(0), inconclusiveChecks: 1 });
    expect(reasons(res)).toEqual(['AnalysisInconclusive']);
    expect(res.requeueAfterMs).toBe(10 * S);
    expect(reasons(sim.check('inconclusive'))).toEqual([]);
    expect(sim.status).toMatchObject({ phase: 'Paused', stepStartedAt: iso(0), inconclusiveChecks: 2 });
    // A resume still moves on, whatever the analysis says.
    const resumed = sim.plan({ after: S, requests: { paused: false, resume: { release: rel(sim.r), stepIndex: 0 } } });
    expect(resumed.status).toMatchObject({ phase: 'Progressing', stepIndex: 1, canaryWeight: 100 });
  });
});

describe('timed pause', () => {
  const timed = () => rollout({ interval: '1m', steps: [10, { weight: 30, pause: '5m' }, 100] });

  it('holds the step for the pause instead of the interval', () => {
    const sim = new Sim(timed());
    sim.plan();
    let res = sim.plan({ after: M });
    expect(res.status).toMatchObject({ stepIndex: 1, canaryWeight: 30, phase: 'Progressing' });
    expect(res.requeueAfterMs).toBe(5 * M);
    res = sim.plan({ after: M });
    expect(res.status).toMatchObject({ stepIndex: 1 });
    expect(res.requeueAfterMs).toBe(4 * M);
    res = sim.plan({ after: 4 * M - 1 });
    expect(res.status).toMatchObject({ stepIndex: 1 });
    expect(res.requeueAfterMs).toBe(1);
    res = sim.plan({ after: 1 });
    expect(res.status).toMatchObject({ stepIndex: 2, canaryWeight: 100 });
  });

  it('is not a manual pause: a resume request does not cut it short', () => {
    const sim = new Sim(timed());
    sim.plan();
    sim.plan({ after: M });
    const res = sim.plan({ after: S, requests: { paused: false, resume: { release: rel(sim.r), stepIndex: 1 } } });
    expect(res.status).toMatchObject({ stepIndex: 1, phase: 'Progressing' });
  });
});

describe('pause and resume by the user', () => {
  const PAUSED: OperatorRequests = { paused: true };

  it('holds the current weights while paused, then resumes with a fresh hold', () => {
    const sim = new Sim(rollout({ interval: '1m' }));
    sim.plan();
    let res = sim.plan({ after: 10 * S, requests: PAUSED });
    expect(res.status).toMatchObject({ phase: 'Paused', pausedBy: 'user', stepIndex: 0, canaryWeight: 10 });
    expect(reasons(res)).toEqual(['Paused']);
    expect(cond(res.status, 'Progressing')).toMatchObject({ status: 'False', reason: 'PausedByUser' });
    expect(cond(res.status, 'Ready')).toMatchObject({ status: 'True' });

    res = sim.plan({ after: 10 * M, requests: PAUSED });
    expect(res.status).toMatchObject({ phase: 'Paused', stepIndex: 0, canaryWeight: 10 });
    expect(res.events).toEqual([]);

    res = sim.plan({ after: S });
    expect(res.status).toMatchObject({ phase: 'Progressing', stepIndex: 0, canaryWeight: 10, stepStartedAt: iso(sim.now) });
    expect(res.status.pausedBy).toBeUndefined();
    expect(reasons(res)).toEqual(['Resumed']);
    expect(res.requeueAfterMs).toBe(M);

    res = sim.plan({ after: M });
    expect(res.status).toMatchObject({ phase: 'Progressing', stepIndex: 1, canaryWeight: 50 });
  });

  it('a user pause on a manual step hands back to the manual pause when lifted', () => {
    const sim = new Sim(rollout({ steps: [{ weight: 10, pause: 'manual' }, 100] }));
    sim.plan();
    let res = sim.plan({ after: S, requests: PAUSED });
    expect(res.status).toMatchObject({ phase: 'Paused', pausedBy: 'user' });
    res = sim.plan({ after: S });
    expect(res.status).toMatchObject({ phase: 'Paused', pausedBy: 'step', stepIndex: 0 });
  });

  it('a pass while paused by the user does not advance, and does not ask to be judged again at once', () => {
    const sim = new Sim(rollout({ analysis: 1, interval: '1m' }));
    sim.plan();
    sim.plan({ after: S, requests: PAUSED });
    // Checks go on while paused; a pass inside the hold only records.
    const early = sim.judge('pass', 9 * S, PAUSED);
    expect(early.status).toMatchObject({ phase: 'Paused', pausedBy: 'user', stepIndex: 0, stepStartedAt: iso(0), lastAnalysis: { final: false } });
    expect(early.requeueAfterMs).toBe(10 * S);
    const res = sim.judge('pass', M - 10 * S, PAUSED);
    expect(res.status).toMatchObject({ phase: 'Paused', pausedBy: 'user', stepIndex: 0, canaryWeight: 10, lastAnalysis: { final: true } });
    // The final pass starts a new window: a requeue of 0 here would judge the paused step again and
    // again, as fast as Prometheus answers.
    expect(res.status.stepStartedAt).toBe(iso(M));
    expect(res.events).toEqual([]);
    expect(res.requeueAfterMs).toBe(10 * S);
    expect(analysisDue(sim.r, sim.status, at(sim.now))).toBe(false);
  });

  it('a failure while paused by the user counts; the resume then starts a fresh hold', () => {
    const sim = new Sim(rollout({ analysis: 1, interval: '1m' }));
    sim.plan();
    sim.plan({ after: S, requests: PAUSED });
    const res = sim.judge('fail', 9 * S, PAUSED);
    expect(res.status).toMatchObject({ phase: 'Paused', pausedBy: 'user', failedChecks: 1, stepStartedAt: iso(10 * S) });
    expect(reasons(res)).toEqual(['AnalysisFailed']);
    expect(sim.judge('fail', 10 * S, PAUSED).status).toMatchObject({ phase: 'RolledBack', canaryWeight: 0, failedChecks: 2 });

    const resumed = new Sim(rollout({ analysis: 1, interval: '1m' }));
    resumed.plan();
    resumed.plan({ after: S, requests: PAUSED });
    resumed.judge('pass', 9 * S, PAUSED);
    const back = resumed.plan({ after: 5 * S });
    expect(back.status).toMatchObject({ phase: 'Progressing', stepStartedAt: iso(15 * S) });
    expect(reasons(back)).toEqual(['Resumed']);
    // The check made before the resume belongs to the old window: the next one is a checkInterval after the resume.
    expect(back.requeueAfterMs).toBe(10 * S);
    expect(analysisDue(resumed.r, resumed.status, at(25 * S - 1))).toBe(false);
    expect(analysisDue(resumed.r, resumed.status, at(25 * S))).toBe(true);
  });

  it('does not pause a Promoted or RolledBack rollout', () => {
    const sim = promotedSim('v1', 'v2');
    const before = sim.status;
    const res = sim.plan({ after: S, requests: PAUSED });
    expect(res.status).toEqual(before);
    expect(res.events).toEqual([]);
  });
});

describe('promote and abort requests', () => {
  const start = (o: Opts = {}) => {
    const sim = new Sim(rollout(o));
    sim.plan();
    return sim;
  };
  const other = releaseId(V('v1'), V('v0'));

  it.each<[string, (r: ResolvedRollout) => OperatorRequests, string, number]>([
    ['promote for this release', (r) => ({ paused: false, promote: rel(r) }), 'Promoted', 100],
    ['promote for another release', () => ({ paused: false, promote: other }), 'Progressing', 10],
    ['abort for this release', (r) => ({ paused: false, abort: rel(r) }), 'RolledBack', 0],
    ['abort for another release', () => ({ paused: false, abort: other }), 'Progressing', 10],
    ['promote while paused by the user', (r) => ({ paused: true, promote: rel(r) }), 'Promoted', 100],
    ['abort while paused by the user', (r) => ({ paused: true, abort: rel(r) }), 'RolledBack', 0],
    ['promote and abort at once: abort, the safe one, wins', (r) => ({ paused: false, promote: rel(r), abort: rel(r) }), 'RolledBack', 0],
  ])('%s → %s at canary %d', (_name, requests, phase, weight) => {
    const sim = start();
    const res = sim.plan({ after: S, requests: requests(sim.r) });
    expect(res.status).toMatchObject({ phase, canaryWeight: weight, stableWeight: 100 - weight });
    expect(res.routing.canaryWeight).toBe(weight);
  });

  it('promote sets canary 100 with a Promoted event, and stays there', () => {
    const sim = start();
    const requests = { paused: false, promote: rel(sim.r) };
    const res = sim.plan({ after: S, requests });
    expect(reasons(res)).toEqual(['Promoted']);
    expect(cond(res.status, 'Ready')).toMatchObject({ status: 'True', reason: 'Promoted' });
    expect(cond(res.status, 'Progressing')).toMatchObject({ status: 'False', reason: 'Promoted' });
    const again = sim.plan({ after: 10 * M, requests });
    expect(again.status).toEqual(res.status);
    expect(again.events).toEqual([]);
  });

  it('abort sets canary 0 at once with a Warning Aborted event, and stays there', () => {
    const sim = start();
    sim.plan({ after: M });
    const requests = { paused: false, abort: rel(sim.r) };
    const res = sim.plan({ after: S, requests });
    expect(res.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'Aborted']]);
    expect(res.status.message).toContain('abort');
    const again = sim.plan({ after: 10 * M, requests });
    expect(again.status).toEqual(res.status);
    expect(again.events).toEqual([]);
  });

  it('promote works on a manual step and after a rollback', () => {
    const sim = new Sim(resolvedExample('product-service.yaml'));
    sim.plan();
    expect(sim.plan({ after: S, requests: { paused: false, promote: rel(sim.r) } }).status).toMatchObject({ phase: 'Promoted', canaryWeight: 100 });

    const back = start();
    back.plan({ after: S, requests: { paused: false, abort: rel(back.r) } });
    expect(back.plan({ after: S, requests: { paused: false, promote: rel(back.r) } }).status).toMatchObject({ phase: 'Promoted', canaryWeight: 100 });
  });
});

describe('release changes', () => {
  it('a new canary mid-rollout sends all traffic back to stable, then restarts at step 0', () => {
    const sim = new Sim(rollout({ analysis: 3 }));
    sim.plan();
    sim.judge('fail');
    sim.judge('pass');
    expect(sim.status).toMatchObject({ stepIndex: 1, canaryWeight: 50, failedChecks: 1 });

    const next = rollout({ analysis: 3, canary: V('v3'), generation: 2 });
    let res = sim.plan({ after: S, rollout: next });
    expect(res.status).toMatchObject({
      phase: 'Progressing', canaryWeight: 0, stableWeight: 100, stepIndex: -1, release: rel(next),
      stableLabels: V('v1'), canaryLabels: V('v3'), failedChecks: 0, inconclusiveChecks: 0,
    });
    expect(res.status.lastAnalysis).toBeUndefined();
    expect(res.routing).toEqual({ stableLabels: V('v1'), canaryLabels: V('v3'), canaryWeight: 0 });
    expect(reasons(res)).toEqual(['Restarted']);
    expect(res.requeueAfterMs).toBe(0);
    expect(analysisDue(next, sim.status, at(sim.now + 10 * M))).toBe(false);

    res = sim.plan();
    expect(res.status).toMatchObject({ phase: 'Progressing', stepIndex: 0, canaryWeight: 10, stepStartedAt: iso(sim.now) });
    expect(res.routing).toEqual({ stableLabels: V('v1'), canaryLabels: V('v3'), canaryWeight: 10 });
    // With analysis, the first check of the new release comes a checkInterval in, well before the 1m hold ends.
    expect(res.requeueAfterMs).toBe(10 * S);
    expect(analysisDue(next, sim.status, at(sim.now + 10 * S))).toBe(true);
  });

  it('a new canary while still at weight 0 starts the new release at step 0 directly', () => {
    const sim = new Sim(resolvedExample('product-service.yaml'));
    sim.plan();
    const next = rollout({ steps: [{ weight: 0, pause: 'manual' }, 20, 100], stable: V('v1'), canary: V('v3') });
    const res = sim.plan({ after: S, rollout: next });
    expect(res.status).toMatchObject({ phase: 'Paused', stepIndex: 0, canaryWeight: 0, canaryLabels: V('v3'), release: rel(next) });
  });

  it('a fixed canary after a rollback starts again at step 0', () => {
    const sim = new Sim(rollout({ analysis: 0 }));
    sim.plan();
    sim.judge('fail');
    expect(sim.status?.phase).toBe('RolledBack');
    const res = sim.plan({ after: M, rollout: rollout({ analysis: 0, canary: V('v2-fixed') }) });
    expect(res.status).toMatchObject({ phase: 'Progressing', stepIndex: 0, canaryWeight: 10, failedChecks: 0, canaryLabels: V('v2-fixed') });
    expect(reasons(res)).toEqual(['RolloutStarted']);
  });

  it('the next release after a promotion (stable = the promoted labels) starts at step 0', () => {
    const sim = promotedSim('v1', 'v2');
    const next = rollout({ stable: V('v2'), canary: V('v3'), generation: 2 });
    const res = sim.plan({ after: M, rollout: next });
    expect(res.status).toMatchObject({
      phase: 'Progressing', stepIndex: 0, canaryWeight: 10, stableWeight: 90, release: rel(next),
      stableLabels: V('v2'), canaryLabels: V('v3'),
    });
    expect(res.routing).toEqual({ stableLabels: V('v2'), canaryLabels: V('v3'), canaryWeight: 10 });
    expect(reasons(res)).toEqual(['RolloutStarted']);
    expect(cond(res.status, 'Ready')).toMatchObject({ status: 'True' });
  });
});

describe('the guard: never move all traffic onto pods that serve none of it', () => {
  /** v1 → v2 promoted, v2 → v3 promoted: v3 serves everything. */
  function atV3(): Sim {
    const sim = promotedSim('v1', 'v2');
    sim.plan({ after: M, rollout: rollout({ stable: V('v2'), canary: V('v3') }) });
    sim.plan({ after: S, requests: { paused: false, promote: rel(sim.r) } });
    expect(sim.status).toMatchObject({ phase: 'Promoted', canaryLabels: V('v3'), canaryWeight: 100 });
    return sim;
  }
  const unsafe = () => rollout({ stable: V('v1'), canary: V('v4'), generation: 3 });

  it('holds the current routing and names the fix', () => {
    const sim = atV3();
    const before = sim.status!;
    const res = sim.plan({ after: M, rollout: unsafe() });
    expect(res.routing).toEqual({ stableLabels: V('v2'), canaryLabels: V('v3'), canaryWeight: 100 });
    expect(res.status).toMatchObject({ phase: 'Promoted', release: before.release, canaryWeight: 100, stableLabels: V('v2'), canaryLabels: V('v3'), observedGeneration: 3 });
    const ready = cond(res.status, 'Ready')!;
    expect(ready).toMatchObject({ status: 'False', reason: 'StableNotServing' });
    for (const text of [ready.message, res.status.message!]) {
      expect(text).toContain('spec.stable.labels');
      expect(text).toContain('{version: v3}');
    }
    expect(res.events).toHaveLength(1);
    expect(res.events[0]).toMatchObject({ type: 'Warning', reason: 'StableNotServing' });
    expect(res.events[0]!.message).toContain('{version: v3}');
    expect(res.requeueAfterMs).toBeUndefined();
  });

  it('stays held, writing nothing, on every later sync', () => {
    const sim = atV3();
    const first = sim.plan({ after: M, rollout: unsafe() });
    const again = sim.plan({ after: 10 * M, rollout: unsafe() });
    expect(again.status).toEqual(first.status);
    expect(again.events).toEqual([]);
  });

  it.each<[string, (r: ResolvedRollout) => OperatorRequests, string, number]>([
    ['promote for the new release', (r) => ({ paused: false, promote: rel(r) }), 'Promoted', 100],
    ['abort for the new release', (r) => ({ paused: false, abort: rel(r) }), 'RolledBack', 0],
  ])('%s overrides it', (_name, requests, phase, weight) => {
    const sim = atV3();
    const r = unsafe();
    sim.plan({ after: M, rollout: r });
    const res = sim.plan({ after: S, requests: requests(r) });
    expect(res.status).toMatchObject({ phase, canaryWeight: weight, release: rel(r), stableLabels: V('v1'), canaryLabels: V('v4') });
    expect(res.routing).toEqual({ stableLabels: V('v1'), canaryLabels: V('v4'), canaryWeight: weight });
    expect(cond(res.status, 'Ready')?.reason).not.toBe('StableNotServing');
  });

  it('a promote or abort for the release being served does not lift it', () => {
    const sim = atV3();
    const served = sim.status!.release!;
    sim.plan({ after: M, rollout: unsafe() });
    for (const requests of [{ paused: false, promote: served }, { paused: false, abort: served }]) {
      const res = sim.plan({ after: S, requests });
      expect(res.routing).toEqual({ stableLabels: V('v2'), canaryLabels: V('v3'), canaryWeight: 100 });
      expect(cond(res.status, 'Ready')?.reason).toBe('StableNotServing');
    }
  });

  it('is lifted by setting spec.stable.labels to the labels serving now', () => {
    const sim = atV3();
    sim.plan({ after: M, rollout: unsafe() });
    const fixed = rollout({ stable: V('v3'), canary: V('v4') });
    const res = sim.plan({ after: M, rollout: fixed });
    expect(res.status).toMatchObject({ phase: 'Progressing', stepIndex: 0, canaryWeight: 10, stableLabels: V('v3'), canaryLabels: V('v4') });
    expect(cond(res.status, 'Ready')).toMatchObject({ status: 'True', reason: 'Progressing' });
  });

  it('is lifted by reverting the commit, leaving no stale message behind', () => {
    const sim = atV3();
    const served = rollout({ stable: V('v2'), canary: V('v3') });
    sim.plan({ after: M, rollout: unsafe() });
    const res = sim.plan({ after: M, rollout: served });
    expect(res.status).toMatchObject({ phase: 'Promoted', canaryWeight: 100 });
    expect(cond(res.status, 'Ready')).toMatchObject({ status: 'True', reason: 'Promoted' });
    expect(res.status.message ?? '').not.toContain('serve no traffic');
    expect(cond(res.status, 'Ready')!.message).not.toContain('serve no traffic');
  });

  it('also guards after a rollback: stable must be the labels that kept serving', () => {
    const sim = new Sim(rollout({ stable: V('v1'), canary: V('v2') }));
    sim.plan();
    sim.plan({ after: S, requests: { paused: false, abort: rel(sim.r) } });
    const res = sim.plan({ after: M, rollout: rollout({ stable: V('v2'), canary: V('v3') }) });
    expect(res.routing).toEqual({ stableLabels: V('v1'), canaryLabels: V('v2'), canaryWeight: 0 });
    expect(cond(res.status, 'Ready')).toMatchObject({ status: 'False', reason: 'StableNotServing' });
    expect(res.status.message).toContain('{version: v1}');
  });

  it('lets a mid-rollout change through when the new stable still serves some traffic', () => {
    const sim = new Sim(rollout());
    sim.plan();
    const res = sim.plan({ after: S, rollout: rollout({ stable: V('v1'), canary: V('v3') }) });
    expect(reasons(res)).toEqual(['Restarted']);
    expect(res.routing).toEqual({ stableLabels: V('v1'), canaryLabels: V('v3'), canaryWeight: 0 });
  });
});

describe('an unchanged re-plan writes nothing', () => {
  // Each builds a state, then returns the Sim; the re-plan happens a little later, inside any hold
  // and before any check is due.
  const states: [string, () => { sim: Sim; requests?: OperatorRequests; rollout?: ResolvedRollout }][] = [
    ['holding a step', () => { const sim = new Sim(rollout()); sim.plan(); return { sim }; }],
    ['holding a step after a tolerated failure', () => { const sim = new Sim(rollout({ analysis: 2 })); sim.plan(); sim.judge('fail'); return { sim }; }],
    ['paused on a manual step', () => { const sim = new Sim(resolvedExample('product-service.yaml')); sim.plan(); return { sim }; }],
    ['paused by the user', () => { const sim = new Sim(rollout()); sim.plan(); sim.plan({ requests: { paused: true } }); return { sim, requests: { paused: true } }; }],
    ['promoted', () => ({ sim: promotedSim('v1', 'v2') })],
    ['rolled back', () => { const sim = new Sim(rollout({ analysis: 0 })); sim.plan(); sim.judge('fail'); return { sim }; }],
    ['held by the guard', () => {
      const sim = promotedSim('v1', 'v2');
      const r = rollout({ stable: V('v1'), canary: V('v3') });
      sim.plan({ rollout: r });
      return { sim, rollout: r };
    }],
  ];

  it.each(states)('%s', (_name, build) => {
    const { sim, requests, rollout: r } = build();
    const before = sim.status;
    expect(analysisDue(r ?? sim.r, sim.status, at(sim.now + 5 * S))).toBe(false);
    const res = sim.plan({ after: 5 * S, ...(requests ? { requests } : {}), ...(r ? { rollout: r } : {}) });
    expect(res.status).toEqual(before);
    expect(res.events).toEqual([]);
  });

  it('planInvalid twice with the same problems', () => {
    const sim = new Sim(rollout());
    sim.plan();
    const problems = [{ path: 'spec.strategy.steps[0]', message: 'must be between 0 and 100' }];
    const first = planInvalid(problems, sim.status, 2, at(S));
    const second = planInvalid(problems, JSON.parse(JSON.stringify(first.status)) as RolloutStatus, 2, at(M));
    expect(second.status).toEqual(first.status);
    expect(second.events).toEqual([]);
  });
});

describe('Invalid and back', () => {
  const problems = [{ path: 'spec.strategy.steps[2]', message: 'must be between 0 and 100' }];

  it('an invalid spec changes only the status, and a fixed one resumes where it was', () => {
    const sim = new Sim(rollout({ generation: 1 }));
    sim.plan();
    sim.plan({ after: M });
    const live = sim.status!;
    expect(live).toMatchObject({ stepIndex: 1, canaryWeight: 50 });

    const inv = planInvalid(problems, live, 2, at(sim.now + S));
    expect(inv.status).toMatchObject({
      phase: 'Invalid', previousPhase: 'Progressing', stepIndex: 1, canaryWeight: 50, stepStartedAt: live.stepStartedAt,
      stableLabels: V('v1'), canaryLabels: V('v2'), observedGeneration: 2, release: live.release,
    });
    expect(inv.status.message).toContain('spec.strategy.steps[2]: must be between 0 and 100');
    expect(cond(inv.status, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec', observedGeneration: 2 });
    expect(inv.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'InvalidSpec']]);
    expect(analysisDue(rollout({ analysis: 1 }), inv.status, at(sim.now + 10 * M))).toBe(false);

    sim.status = JSON.parse(JSON.stringify(inv.status)) as RolloutStatus;
    const res = sim.plan({ after: 10 * S, rollout: rollout({ generation: 3 }) });
    expect(res.status).toMatchObject({ phase: 'Progressing', stepIndex: 1, canaryWeight: 50, stepStartedAt: live.stepStartedAt, observedGeneration: 3 });
    expect(res.status.previousPhase).toBeUndefined();
    expect(res.status.message).not.toContain('spec.strategy');
    expect(cond(res.status, 'Ready')).toMatchObject({ status: 'True', reason: 'Progressing' });
    expect(res.requeueAfterMs).toBe(M - 10 * S);
  });

  it('a Promoted rollout that became Invalid and then valid again stays Promoted at 100', () => {
    const sim = promotedSim('v1', 'v2');
    const inv = planInvalid(problems, sim.status, 2, at(M));
    expect(inv.status).toMatchObject({ phase: 'Invalid', canaryWeight: 100, previousPhase: 'Promoted' });
    sim.status = JSON.parse(JSON.stringify(inv.status)) as RolloutStatus;
    const res = sim.plan({ after: 2 * M, rollout: rollout({ stable: V('v1'), canary: V('v2'), generation: 3 }) });
    expect(res.status).toMatchObject({ phase: 'Promoted', canaryWeight: 100, stableWeight: 0 });
    expect(res.routing.canaryWeight).toBe(100);
    expect(res.events).toEqual([]);
    expect(res.status.message ?? '').not.toContain('must be between 0 and 100');
    expect(cond(res.status, 'Ready')).toMatchObject({ status: 'True', reason: 'Promoted' });
    expect(cond(res.status, 'Ready')!.message).not.toContain('must be between 0 and 100');
  });

  it('a paused rollout stays paused after an invalid spec is fixed', () => {
    const sim = new Sim(resolvedExample('product-service.yaml'));
    sim.plan();
    sim.status = JSON.parse(JSON.stringify(planInvalid(problems, sim.status, 2, at(S)).status)) as RolloutStatus;
    const res = sim.plan({ after: M });
    expect(res.status).toMatchObject({ phase: 'Paused', pausedBy: 'step', stepIndex: 0, canaryWeight: 0 });
  });

  it('a Rollout invalid from the start begins at step 0 once fixed', () => {
    const inv = planInvalid(problems, undefined, 1, at(0));
    expect(inv.status).toMatchObject({ phase: 'Invalid', observedGeneration: 1 });
    expect(inv.status.canaryWeight).toBeUndefined();
    const sim = new Sim(rollout(), inv.status);
    const res = sim.plan({ after: S });
    expect(res.status).toMatchObject({ phase: 'Progressing', stepIndex: 0, canaryWeight: 10 });
    expect(reasons(res)).toEqual(['RolloutStarted']);
  });

  it('invalid twice in a row keeps the phase to return to', () => {
    const sim = promotedSim('v1', 'v2');
    const once = planInvalid(problems, sim.status, 2, at(S));
    const twice = planInvalid([{ path: 'spec.service', message: 'is required' }], once.status, 3, at(2 * S));
    expect(twice.status).toMatchObject({ phase: 'Invalid', previousPhase: 'Promoted', observedGeneration: 3 });
    expect(twice.events).toHaveLength(1);
    const res = plan({ rollout: rollout({ generation: 4 }), status: twice.status, requests: NO, now: at(3 * S) });
    expect(res.status).toMatchObject({ phase: 'Promoted', canaryWeight: 100 });
  });
});

describe('conditions', () => {
  const REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

  function expectConditionShape(st: RolloutStatus, generation: number): void {
    const types = (st.conditions ?? []).map((c) => c.type);
    expect(new Set(types).size).toBe(types.length);
    expect(types).toContain('Ready');
    expect(types).toContain('Progressing');
    for (const c of st.conditions ?? []) {
      expect(Object.keys(c).sort()).toEqual(['lastTransitionTime', 'message', 'observedGeneration', 'reason', 'status', 'type']);
      expect(['Ready', 'Progressing', 'Analysis', 'Stalled', 'Reconciling']).toContain(c.type);
      expect(['True', 'False', 'Unknown']).toContain(c.status);
      expect(c.reason).toMatch(REASON);
      expect(typeof c.message).toBe('string');
      expect(c.message.length).toBeLessThanOrEqual(32768);
      expect(new Date(c.lastTransitionTime).toISOString()).toBe(c.lastTransitionTime);
      expect(c.observedGeneration).toBe(generation);
    }
  }

  it('have the metav1.Condition shape in every phase, with observedGeneration = the rollout generation', () => {
    const r = rollout({ analysis: 1, generation: 7, steps: [{ weight: 10, pause: 'manual' }, 50, 100] });
    const sim = new Sim(r);
    const seen = new Set<string>();
    const check = () => {
      expectConditionShape(sim.status!, 7);
      expect(sim.status!.observedGeneration).toBe(7);
      seen.add(sim.status!.phase!);
    };
    sim.plan(); check();
    sim.plan({ after: S, requests: { paused: false, resume: { release: rel(r), stepIndex: 0 } } }); check();
    sim.judge('inconclusive'); check();
    sim.plan({ after: S, requests: { paused: true } }); check();
    sim.plan({ after: S }); check();
    sim.judge('pass'); check();
    sim.judge('pass'); check();
    const back = new Sim(rollout({ analysis: 0, generation: 7 }));
    back.plan();
    back.judge('fail');
    expectConditionShape(back.status!, 7);
    seen.add(back.status!.phase!);
    const inv = planInvalid([{ path: 'spec', message: 'is required' }], sim.status, 7, at(sim.now));
    expectConditionShape(inv.status, 7);
    seen.add(inv.status.phase!);
    expect([...seen].sort()).toEqual(['Invalid', 'Paused', 'Progressing', 'Promoted', 'RolledBack']);
  });

  it('move lastTransitionTime only when their status flips', () => {
    const sim = new Sim(rollout({ interval: '1m' }));
    sim.plan();
    expect(cond(sim.status, 'Ready')).toMatchObject({ status: 'True', lastTransitionTime: iso(0) });
    expect(cond(sim.status, 'Progressing')).toMatchObject({ status: 'True', lastTransitionTime: iso(0) });

    sim.plan({ after: M }); // step 1: reason and message change, status does not
    expect(cond(sim.status, 'Ready')).toMatchObject({ status: 'True', lastTransitionTime: iso(0) });
    expect(cond(sim.status, 'Progressing')).toMatchObject({ status: 'True', lastTransitionTime: iso(0), message: expect.stringContaining('step 2/3') });

    sim.plan({ after: 10 * S, requests: { paused: true } }); // Progressing flips to False
    expect(cond(sim.status, 'Progressing')).toMatchObject({ status: 'False', lastTransitionTime: iso(M + 10 * S) });
    expect(cond(sim.status, 'Ready')).toMatchObject({ status: 'True', lastTransitionTime: iso(0) });

    sim.plan({ after: 10 * S, requests: { paused: false, abort: rel(sim.r) } }); // Ready flips to False
    expect(cond(sim.status, 'Ready')).toMatchObject({ status: 'False', reason: 'RolledBack', lastTransitionTime: iso(M + 20 * S) });
    expect(cond(sim.status, 'Progressing')).toMatchObject({ status: 'False', lastTransitionTime: iso(M + 10 * S) });
  });

  it('has no Analysis condition without analysis, and one after the first judgement with it', () => {
    const none = new Sim(rollout());
    none.plan();
    none.plan({ after: M });
    expect(cond(none.status, 'Analysis')).toBeUndefined();

    const sim = new Sim(rollout({ analysis: 1 }));
    sim.plan();
    expect(cond(sim.status, 'Analysis')).toBeUndefined();
    sim.judge('pass');
    expect(cond(sim.status, 'Analysis')).toMatchObject({ status: 'True', lastTransitionTime: iso(M) });
    sim.judge('pass');
    expect(cond(sim.status, 'Analysis')).toMatchObject({ status: 'True', lastTransitionTime: iso(M) });
    sim.judge('fail');
    expect(cond(sim.status, 'Analysis')).toMatchObject({ status: 'False', lastTransitionTime: iso(3 * M) });
  });
});

// ---------------------------------------------------------------------------------------------
// Properties: random rollouts driven through random events, as a controller would.

type SimEvent =
  | { kind: 'time'; ms: number }
  | { kind: 'verdict'; v: Verdict }
  | { kind: 'pause'; on: boolean }
  | { kind: 'resume'; current: boolean }
  | { kind: 'promote'; match: boolean }
  | { kind: 'abort'; match: boolean }
  | { kind: 'clear' };

const stepArb = fc.tuple(fc.integer({ min: 0, max: 100 }), fc.constantFrom<'none' | 'manual' | 'timed'>('none', 'none', 'none', 'manual', 'timed'), fc.integer({ min: 1, max: 900 }));
const rolloutArb = fc.record({
  steps: fc.array(stepArb, { minLength: 1, maxLength: 8 }).map((xs) => {
    const weights = xs.map(([w]) => w).sort((a, b) => a - b);
    return xs.map(([, kind, secs], i) => kind === 'none' ? weights[i]! : { weight: weights[i]!, pause: kind === 'manual' ? 'manual' : `${secs}s` });
  }),
  intervalSecs: fc.integer({ min: 1, max: 600 }),
  analysis: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
});
const eventArb: fc.Arbitrary<SimEvent> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 1_200_000 }).map((ms) => ({ kind: 'time' as const, ms })) },
  { weight: 3, arbitrary: fc.constantFrom<Verdict>('pass', 'fail', 'inconclusive').map((v) => ({ kind: 'verdict' as const, v })) },
  { weight: 1, arbitrary: fc.boolean().map((on) => ({ kind: 'pause' as const, on })) },
  { weight: 2, arbitrary: fc.boolean().map((current) => ({ kind: 'resume' as const, current })) },
  { weight: 1, arbitrary: fc.boolean().map((match) => ({ kind: 'promote' as const, match })) },
  { weight: 1, arbitrary: fc.boolean().map((match) => ({ kind: 'abort' as const, match })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
);

function checkInvariants(r: ResolvedRollout, prev: RolloutStatus | undefined, res: PlanResult): void {
  const st = res.status;
  const w = st.canaryWeight!;
  expect(Number.isInteger(w) && w >= 0 && w <= 100).toBe(true);
  expect(st.stableWeight).toBe(100 - w);
  expect(res.routing.canaryWeight).toBe(w);
  expect(res.routing.stableLabels).toEqual(r.stable.labels);
  expect(res.routing.canaryLabels).toEqual(r.canary.labels);
  if (prev?.canaryWeight !== undefined && w < prev.canaryWeight) expect(st.phase).toBe('RolledBack');
  if (st.phase === 'Promoted') expect(w).toBe(100);
  if (st.phase === 'RolledBack') expect(w).toBe(0);
  if (st.phase === 'Progressing' || st.phase === 'Paused') {
    expect(st.stepIndex).toBeGreaterThanOrEqual(0);
    expect(st.stepIndex).toBeLessThan(r.steps.length);
    expect(w).toBe(r.steps[st.stepIndex!]!.weight);
  }
  expect(['Progressing', 'Paused', 'Promoted', 'RolledBack']).toContain(st.phase);
  if (res.requeueAfterMs !== undefined) expect(Number.isFinite(res.requeueAfterMs) && res.requeueAfterMs >= 0).toBe(true);
  expect(st.observedGeneration).toBe(r.generation);
}

describe('properties', () => {
  it('weights stay integers summing to 100, never fall except on rollback, and terminal phases mean 100 or 0', () => {
    fc.assert(fc.property(rolloutArb, fc.array(eventArb, { maxLength: 60 }), (spec, events) => {
      const r = rollout({ steps: spec.steps, interval: `${spec.intervalSecs}s`, ...(spec.analysis !== undefined ? { analysis: spec.analysis } : {}) });
      const release = rel(r);
      const other = releaseId(V('v1'), V('other'));
      let now = 0;
      let next: Verdict = 'pass';
      let requests: OperatorRequests = { paused: false };
      let status: RolloutStatus | undefined;

      const tick = () => {
        const analysis = analysisDue(r, status, at(now)) ? verdict(next, status, now) : undefined;
        const input = { rollout: r, status, requests, now: at(now), ...(analysis ? { analysis } : {}) };
        const res = plan(input);
        checkInvariants(r, status, res);
        status = JSON.parse(JSON.stringify(res.status)) as RolloutStatus;
        // Level-triggered: planning again at the same instant from what was written changes nothing.
        if (!analysisDue(r, status, at(now))) {
          const again = plan({ rollout: r, status, requests, now: at(now) });
          expect(again.status).toEqual(status);
          expect(again.events).toEqual([]);
        }
      };

      tick();
      for (const e of events) {
        switch (e.kind) {
          case 'time': now += e.ms; break;
          case 'verdict': next = e.v; break;
          case 'pause': requests = { ...requests, paused: e.on }; break;
          case 'resume': requests = { ...requests, resume: { release: e.current ? release : other, stepIndex: Math.max(0, status?.stepIndex ?? 0) } }; break;
          case 'promote': requests = { ...requests, promote: e.match ? release : other }; break;
          case 'abort': requests = { ...requests, abort: e.match ? release : other }; break;
          case 'clear': requests = { paused: requests.paused }; break;
        }
        tick();
      }
    }), { numRuns: 400 });
  });

  it('without requests, every rollout ends Promoted (all pass) or RolledBack (all fail), never stuck', () => {
    fc.assert(fc.property(rolloutArb, fc.constantFrom<Verdict>('pass', 'fail'), (spec, v) => {
      const steps = spec.steps.map((s) => (typeof s === 'number' || s.pause !== 'manual' ? s : s.weight));
      const r = rollout({ steps, interval: `${spec.intervalSecs}s`, ...(spec.analysis !== undefined ? { analysis: spec.analysis } : {}) });
      const holds = r.steps.map((s) => (typeof s.pause === 'number' ? s.pause : r.intervalMs));
      const every = r.analysis?.checkIntervalMs;
      // What the controller should see: every step judged each checkInterval and exactly when its hold
      // ends, only that last judgement final, and each step starting when the one before ended.
      const expected: { step: number; at: number; final: boolean }[] = [];
      if (every !== undefined) {
        let start = 0;
        holds.forEach((h, step) => {
          for (let t = every; t < h; t += every) expected.push({ step, at: start + t, final: false });
          expected.push({ step, at: start + h, final: true });
          start += h;
        });
      }
      // One plan to start, then one per judgement (or per step without analysis): a stuck rollout runs out.
      const judgements = v === 'pass' ? expected.length : (r.analysis?.failureLimit ?? 0) + 1;
      const budget = 1 + (every === undefined ? holds.length : judgements);
      let now = 0;
      let status: RolloutStatus | undefined;
      const judged: { step: number; at: number; final: boolean }[] = [];
      for (let i = 0; i < budget && status?.phase !== 'Promoted' && status?.phase !== 'RolledBack'; i++) {
        const due = analysisDue(r, status, at(now));
        const analysis = due ? verdict(v, status, now) : undefined;
        const res = plan({ rollout: r, status, requests: NO, now: at(now), ...(analysis ? { analysis } : {}) });
        checkInvariants(r, status, res);
        if (analysis) judged.push({ step: analysis.stepIndex, at: now, final: res.status.lastAnalysis!.final! });
        status = JSON.parse(JSON.stringify(res.status)) as RolloutStatus;
        if (status.phase === 'Progressing') {
          // The controller is always told when to come back, and never to come back at once.
          expect(res.requeueAfterMs).toBeGreaterThan(0);
          // Between now and then nothing is due: the requeue is the next check, not later.
          expect(analysisDue(r, status, at(now + res.requeueAfterMs! - 1))).toBe(false);
        }
        now += res.requeueAfterMs ?? 0;
      }
      expect(status?.phase).toBe(!r.analysis || v === 'pass' ? 'Promoted' : 'RolledBack');
      if (!r.analysis) {
        expect(now).toBe(holds.reduce((a, b) => a + b, 0));
      } else if (v === 'pass') {
        expect(judged).toEqual(expected);
      } else {
        // Each failure restarts the window, so every one comes a checkInterval (or the whole hold, if shorter) after the last.
        const first = Math.min(every!, holds[0]!);
        const fails = r.analysis.failureLimit + 1;
        expect(judged).toEqual(Array.from({ length: fails }, (_, k) => ({ step: 0, at: first * (k + 1), final: first === holds[0] })));
        expect(status).toMatchObject({ stepIndex: 0, failedChecks: fails, canaryWeight: 0 });
      }
    }), { numRuns: 300 });
  });
});

describe('a routing write the API server refuses', () => {
  const why = 'the API server refused a routing write: ValidatingAdmissionPolicy denied request';

  it('puts the status back to what is live, with Ready False and one Event, and the next plan that is written clears it', () => {
    const sim = new Sim(rollout({ generation: 1 }));
    sim.plan();
    const live = sim.status!;
    const advanced = sim.plan({ after: M });
    expect(advanced.status).toMatchObject({ stepIndex: 1, canaryWeight: 50 });

    const refused = planRoutingRefused(live, why, at(sim.now));
    expect(refused.status).toMatchObject({ phase: 'Progressing', stepIndex: 0, canaryWeight: 10, stepStartedAt: live.stepStartedAt, release: live.release });
    expect(cond(refused.status, 'Ready')).toMatchObject({ status: 'False', reason: 'RoutingRefused', message: why, observedGeneration: 1 });
    expect(cond(refused.status, 'Progressing')).toEqual(cond(live, 'Progressing'));
    expect(refused.events).toEqual([{ type: 'Warning', reason: 'RoutingRefused', message: why }]);

    // Refused again with the same answer: no new Event, the same status (no write).
    const again = planRoutingRefused(JSON.parse(JSON.stringify(refused.status)) as RolloutStatus, why, at(sim.now + 10 * S));
    expect(again.events).toEqual([]);
    expect(again.status).toEqual(refused.status);

    sim.status = JSON.parse(JSON.stringify(refused.status)) as RolloutStatus;
    const res = sim.plan({ after: S });
    expect(res.status).toMatchObject({ stepIndex: 1, canaryWeight: 50 });
    expect(cond(res.status, 'Ready')).toMatchObject({ status: 'True', reason: 'Progressing' });
  });

  it.each([
    ['no status yet', undefined],
    ['an empty status', {}],
  ])('with %s it only adds the condition', (_what, live) => {
    const refused = planRoutingRefused(live, why, at(0));
    const condition = { reason: 'RoutingRefused', message: why, observedGeneration: 0, lastTransitionTime: iso(0) };
    expect(refused.status).toEqual({ conditions: [{ type: 'Ready', status: 'False', ...condition }, { type: 'Stalled', status: 'True', ...condition }] });
    expect(refused.events).toHaveLength(1);
  });
});
