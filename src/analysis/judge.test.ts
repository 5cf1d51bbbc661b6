import { describe, expect, it } from 'vitest';
import type { AnalysisCheck } from '../api/check.ts';
import { resolveRollout, type ResolvedAnalysis } from '../api/resolve.ts';
import { parseRollout } from '../api/validate.ts';
import type { Verdict } from '../api/schema.ts';
import { evidence, requestsToPass, toleratedRate, type CountPair } from './evidence.ts';
import { judgeStep, thresholds, type JudgeInput, type MetricObservation, type SignalCounts } from './judge.ts';
import { mulberry32 } from './prng.ts';

const STEPS = [10, 25, 50, 100];

/** The analysis settings `resolveRollout` gives a Rollout with an empty analysis (the default provider; and `extra`). */
function analysis(extra: Record<string, unknown> = {}): ResolvedAnalysis {
  const parsed = parseRollout({
    apiVersion: 'fledge.dev/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      service: { name: 'web' },
      stable: { labels: { version: 'v1' } },
      canary: { labels: { version: 'v2' } },
      strategy: { steps: STEPS },
      analysis: { ...extra },
    },
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return resolveRollout(parsed.rollout).analysis!;
}

const DEFAULTS = analysis();
const T = new Date('2025-01-01T00:10:00Z');

function check(o: Partial<AnalysisCheck> = {}): AnalysisCheck {
  return {
    stepIndex: 0, final: false, nextWeight: 25, promotes: false, lastChance: false,
    release: { startedAt: '2025-01-01T00:00:00.000Z', seconds: 600, stableSeconds: 1200 },
    step: { startedAt: '2025-01-01T00:00:00.000Z', seconds: 600, stableSeconds: 600 },
    ...o,
  };
}

const c = (total: number, bad: number): CountPair => ({ total, bad });
/** Stable at 0.5 % errors with plenty of history. */
const STABLE = c(10_000, 50);

function signal(canary: CountPair, stable: CountPair = STABLE, step?: { canary: CountPair; stable: CountPair }): SignalCounts {
  return { name: 'errors', release: { canary, stable }, step: step ?? { canary, stable } };
}

function judge(o: { canary: CountPair; stable?: CountPair; step?: { canary: CountPair; stable: CountPair }; check?: Partial<AnalysisCheck>; metrics?: MetricObservation[]; a?: ResolvedAnalysis }) {
  const s = signal(o.canary, o.stable, o.step);
  const input: JudgeInput = {
    analysis: o.a ?? DEFAULTS,
    check: check({ ...(o.step ? { step: { startedAt: '2025-01-01T00:09:00.000Z', seconds: 60, stableSeconds: 600 } } : {}), ...o.check }),
    at: T,
    signals: (o.a ?? DEFAULTS).comparison ? [s] : [],
    canaryRequests: { release: s.release.canary.total, step: s.step.canary.total },
    metrics: o.metrics ?? [],
  };
  return judgeStep(input, STEPS.length);
}

describe('judgeStep: failing needs strong evidence, never a request count', () => {
  it.each<[string, CountPair, CountPair, Verdict]>([
    ['5 errors in the first 8 requests against stable 0.5 %', c(8, 5), STABLE, 'fail'],
    ['5 errors in the first 8 requests against a stable with only 10 minutes at 0.5 rps', c(8, 5), c(300, 2), 'fail'],
    ['every one of the first 3 requests failing', c(3, 3), STABLE, 'fail'],
    ['a broken canary (50 %) after 40 requests', c(40, 20), STABLE, 'fail'],
    ['10x errors (5 %) over 600 requests', c(600, 30), STABLE, 'fail'],
    ['one error in the first request', c(1, 1), STABLE, 'pass'],
    ['one error in the first request, against a spotless stable', c(1, 1), c(1_000_000, 0), 'pass'],
    ['one error in the first request, against an idle stable', c(1, 1), c(0, 0), 'pass'],
    ['no requests at all', c(0, 0), STABLE, 'pass'],
    ['2x errors (1 %, the tolerated rate) over 2000 requests', c(2000, 20), STABLE, 'pass'],
  ])('%s: %s (mid-step)', (_name, canary, stable, verdict) => {
    const r = judge({ canary, stable });
    expect(r.verdict, r.reason).toBe(verdict);
    if (verdict === 'fail') expect(r.reason).toMatch(/^errors: release so far: canary/);
    // A failure on the evidence is decisive: failureLimit (for threshold metrics) does not apply.
    expect(r.decisive).toBe(verdict === 'fail' ? true : undefined);
  });

  it('one bad request is never enough, whatever stable shows: its Bayes factor is at most (1 - t) / (t ln(1/t)) for the tolerated t', () => {
    const fail = thresholds(DEFAULTS, STEPS.length, 25).releaseLogBF;
    for (const stable of [c(0, 0), c(10, 0), c(100, 0), c(1e4, 0), c(1e6, 0), c(1e6, 1), c(1e4, 50), c(300, 30), c(100, 99)]) {
      for (const n of [1, 2, 5, 20, 100, 1000]) {
        const e = evidence(c(n, 1), stable, { absolute: 0.005, relative: 0.5 });
        expect(e.logBayesFactor, `1 of ${n} against ${stable.bad}/${stable.total}`).toBeLessThan(fail);
        const t = toleratedRate(0, { absolute: 0.005, relative: 0.5 });
        expect(Math.exp(e.logBayesFactor)).toBeLessThanOrEqual(((1 - t) / (t * Math.log(1 / t))) * 1.05);
      }
    }
  });

  it('judges the step on its own window: a regression that shows only at this step fails though the release looks fine', () => {
    // 20 000 healthy requests before this step; in the step, 30 errors in 300 (10 %).
    const release = c(20_300, 130);
    expect(judge({ canary: release }).verdict).toBe('pass');
    const r = judge({ canary: release, step: { canary: c(300, 30), stable: c(2700, 14) } });
    expect(r.verdict).toBe('fail');
    expect(r.reason).toMatch(/^errors: this step: canary 10\.00% \(30\/300\)/);
  });

  it('the step threshold is stricter than the release\'s: the release spends 3/4 of 1 - confidence, the steps share the rest', () => {
    const th = thresholds(DEFAULTS, 4, 25);
    expect(Math.exp(th.releaseLogBF)).toBeCloseTo(400 / 3, 6);
    expect(Math.exp(th.stepLogBF)).toBeCloseTo(1600, 6);
    expect(Math.exp(thresholds(analysis({ comparison: { confidence: 0.95 } }), 4, 25).releaseLogBF)).toBeCloseTo(80 / 3, 6);
    // Two signals (errors, latency) share it: each needs twice the evidence, so false rollbacks stay per release.
    expect(Math.exp(thresholds(DEFAULTS, 4, 25, 2).releaseLogBF)).toBeCloseTo(800 / 3, 6);
  });
});

describe('judgeStep: passing needs evidence too', () => {
  it.each<[string, CountPair, Partial<AnalysisCheck>, Verdict, RegExp]>([
    ['no data when the hold ends: waits', c(0, 0), { final: true, nextWeight: 50 }, 'inconclusive', /P\(worse\) 0\.\d+.*above 0\.7 needed to pass/],
    ['the first step moves to 25 % on no evidence against it: within the budget (0.35 × 100 / 25 >= 1)', c(0, 0), { final: true, nextWeight: 25 }, 'pass', /P\(worse\)/],
    ['20 clean requests: enough to go to 50 % (P(worse) <= 0.35 × 100 / 50)', c(20, 0), { final: true, nextWeight: 50 }, 'pass', /P\(worse\)/],
    ['20 clean requests: not enough to go to 100 %', c(20, 0), { final: true, nextWeight: 100 }, 'inconclusive', /above 0\.35 needed/],
    ['20 clean requests: not enough to promote', c(20, 0), { final: true, nextWeight: 100, promotes: true }, 'inconclusive', /minRequests 50 to promote/],
    ['2000 requests at stable\'s rate: promotes', c(2000, 10), { final: true, nextWeight: 100, promotes: true }, 'pass', /P\(worse\) 0\.0/],
    ['2x (at the tolerated rate) after 20 000 requests: never passes', c(20_000, 200), { final: true, nextWeight: 100, promotes: true }, 'inconclusive', /above 0\.35/],
    ['mid-step, nothing against it: pass, which never advances a step', c(10, 0), { final: false }, 'pass', /no strong evidence against/],
  ])('%s', (_name, canary, ch, verdict, reason) => {
    const r = judge({ canary, check: ch });
    expect(r.verdict, r.reason).toBe(verdict);
    expect(r.reason).toMatch(reason);
  });

  it('when the Rollout is about to pause, says how much more traffic it needs', () => {
    const r = judge({ canary: c(30, 0), stable: c(300, 2), check: { final: true, nextWeight: 100, promotes: true, lastChance: true } });
    expect(r.verdict).toBe('inconclusive');
    expect(r.reason).toMatch(/errors: needs about \d+ more canary requests, about \d+[smh] at this step's 0\.050 requests\/s/);
    const hopeless = judge({ canary: c(1000, 12), stable: c(10_000, 50), check: { final: true, nextWeight: 100, lastChance: true } });
    expect(hopeless.reason).toContain('errors: more traffic alone is unlikely to pass it');
  });

  it('requestsToPass is what it says: that many more requests at the same rate pass, 10 % fewer do not', () => {
    const tol = { absolute: 0.005, relative: 0.5 };
    const canary = c(30, 0);
    const stable = c(3000, 15);
    const more = requestsToPass(canary, stable, tol, 0.25);
    expect(more).toBeGreaterThan(0);
    const rate = 15.5 / 3001; // stable's, since the canary's own rate (0) is lower
    expect(evidence(c(30 + more, more * rate), stable, tol).probabilityWorse).toBeLessThanOrEqual(0.25);
    expect(evidence(c(30 + 0.9 * more, 0.9 * more * rate), stable, tol).probabilityWorse).toBeGreaterThan(0.25);
    expect(requestsToPass(c(5000, 10), stable, tol, 0.25)).toBe(0);
  });

  it('reports the release counts, the evidence and the windows', () => {
    const r = judge({ canary: c(8, 5), check: { stepIndex: 2, release: { startedAt: '2025-01-01T00:00:00.000Z', seconds: 612.4, stableSeconds: 1212.4 }, step: { startedAt: '2025-01-01T00:09:00.000Z', seconds: 60, stableSeconds: 600 } } });
    expect(r).toMatchObject({
      verdict: 'fail', stepIndex: 2, final: false, windowSeconds: 60, releaseSeconds: 612, at: T.toISOString(),
      canary: { requests: 8, errors: 5 }, stable: { requests: 10_000, errors: 50 },
    });
    expect(r.probabilityWorse).toBeGreaterThan(0.99);
    expect(r.bayesFactor).toBeGreaterThan(1e5);
  });
});

describe('judgeStep: threshold metrics and trouble', () => {
  const withMax = analysis({ metrics: [{ name: 'error-rate', template: 'istio-error-rate', max: 0.01 }] });

  it('judges a threshold metric when the hold is over and the step has minRequests canary requests', () => {
    const hi: MetricObservation[] = [{ name: 'error-rate', value: 0.02 }];
    const fail = judge({ a: withMax, canary: c(5000, 25), metrics: hi, check: { final: true } });
    expect(fail).toMatchObject({ verdict: 'fail', reason: expect.stringContaining('error-rate: 0.02 is above max 0.01') });
    expect(fail.decisive).toBeUndefined();
    expect(judge({ a: withMax, canary: c(5000, 25), metrics: hi, check: { final: false } }).verdict).toBe('pass');
    const few = judge({ a: withMax, canary: c(20, 0), metrics: hi, check: { final: true } });
    expect(few.verdict).toBe('inconclusive');
    expect(few.reason).toContain('20 canary requests in the step, fewer than minRequests 50');
  });

  it('counts that cannot be read are inconclusive, never a failure', () => {
    const r = judgeStep({ analysis: DEFAULTS, check: check({ final: true }), at: T, signals: [], countsError: 'connection refused', metrics: [] }, 4);
    expect(r).toMatchObject({ verdict: 'inconclusive', reason: 'cannot count requests: connection refused' });
  });

  it('without the comparison, only threshold metrics judge', () => {
    const off = analysis({ comparison: { enabled: false }, metrics: [{ name: 'error-rate', template: 'istio-error-rate', max: 0.01 }] });
    expect(judge({ a: off, canary: c(5000, 2500), metrics: [{ name: 'error-rate', value: 0.005 }], check: { final: true } }).verdict).toBe('pass');
  });
});

describe('judgeStep properties', () => {
  const rank: Record<Verdict, number> = { fail: 0, inconclusive: 1, pass: 2 };
  const u = mulberry32(15);
  const int = (n: number) => Math.floor(u() * n);
  const cases = Array.from({ length: 150 }, () => {
    const total = [1, 8, 50, 300, 2000, 20_000][int(6)]!;
    const stableTotal = [0, 30, 300, 3000, 100_000][int(5)]!;
    const stable = c(stableTotal, Math.round(stableTotal * [0, 0.001, 0.005, 0.02, 0.2][int(5)]!));
    const ch: Partial<AnalysisCheck> = { final: u() < 0.7, nextWeight: STEPS[int(4)]!, promotes: u() < 0.3 };
    return { total, stable, ch };
  });

  it('more canary errors never make a pass likelier (verdict, P(worse) and the evidence against are monotone)', () => {
    for (const { total, stable, ch } of cases) {
      let last: { rank: number; p: number; bf: number } | undefined;
      for (const share of [0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.2, 0.5, 1]) {
        const r = judge({ canary: c(total, Math.round(total * share)), stable, check: ch });
        const now = { rank: rank[r.verdict], p: r.probabilityWorse!, bf: r.bayesFactor! };
        if (last) {
          const at = `${Math.round(total * share)}/${total} against ${stable.bad}/${stable.total}`;
          expect(now.rank, at).toBeLessThanOrEqual(last.rank);
          expect(now.p, at).toBeGreaterThanOrEqual(last.p - 1e-3);
          expect(now.bf, at).toBeGreaterThanOrEqual(last.bf * (1 - 1e-6));
        }
        last = now;
      }
    }
  });

  it('identical counts never fail, in either window, at any size', () => {
    for (const n of [0, 1, 2, 5, 8, 30, 300, 3000, 1e5, 1e7]) {
      for (const rate of [0, 0.001, 0.005, 0.05, 0.2, 0.5, 0.9, 1]) {
        const same = c(n, Math.round(n * rate));
        for (const final of [false, true]) {
          const r = judge({ canary: same, stable: same, step: { canary: same, stable: same }, check: { final } });
          expect(r.verdict, `${same.bad}/${same.total}`).not.toBe('fail');
        }
      }
    }
  });

  it('many looks stay honest: a canary as good as stable is rolled back in under 1 % of releases checked every 10 s', () => {
    // 400 releases at 5 rps with stable 0.5 % and 10 min of its history; 180 looks each (30 min).
    const rng = mulberry32(20250101);
    const bern = (n: number, p: number) => {
      let k = 0;
      for (let i = 0; i < n; i++) if (rng() < p) k++;
      return k;
    };
    const th = thresholds(DEFAULTS, STEPS.length, 100);
    let falseRollbacks = 0;
    for (let run = 0; run < 400; run++) {
      let canary = c(0, 0);
      let stable = c(3000, bern(3000, 0.005));
      for (let look = 0; look < 180; look++) {
        const w = STEPS[Math.min(3, Math.floor(look / 6))]! / 100;
        const cn = Math.round(50 * w);
        const sn = 50 - cn;
        canary = c(canary.total + cn, canary.bad + bern(cn, 0.005));
        stable = c(stable.total + sn, stable.bad + bern(sn, 0.005));
        if (evidence(canary, stable, { absolute: 0.005, relative: 0.5 }).logBayesFactor >= th.releaseLogBF) {
          falseRollbacks++;
          break;
        }
      }
    }
    expect(falseRollbacks / 400).toBeLessThan(0.01);
  });
});
