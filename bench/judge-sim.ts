/**
 * Simulated canary rollouts, judged by Fledge (the real planner and judge, driven in simulated
 * time the way the controller drives them) and by the static per-interval threshold rules that
 * Flagger and Argo Rollouts users run with their defaults. Seeded: the same seed gives the same
 * numbers. bench/judge.ts runs the grid and writes the report.
 */
import { resolveRollout, type ResolvedRollout } from '../src/api/resolve.ts';
import type { AnalysisResult, RolloutStatus, TrafficCounts } from '../src/api/schema.ts';
import { parseRollout } from '../src/api/validate.ts';
import { judgeStep, type JudgeInput, type MetricObservation } from '../src/analysis/judge.ts';
import { lnGamma } from '../src/analysis/beta.ts';
import { stepClock } from '../src/plan/clock.ts';
import { analysisDue, plan } from '../src/plan/plan.ts';

// ---------------------------------------------------------------------------------------------
// Randomness

export type Rng = () => number;

/** A 32-bit seed from several integers (FNV-1a over their bytes), so each rollout has its own stream. */
export function seedOf(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    let v = p >>> 0;
    for (let i = 0; i < 4; i++) {
      h ^= v & 0xff;
      h = Math.imul(h, 0x01000193) >>> 0;
      v >>>= 8;
    }
  }
  return h >>> 0;
}

/** Poisson(mean): Knuth's product method for small means, PTRS (Hörmann 1993) above 10. */
export function poisson(mean: number, u: Rng): number {
  if (!(mean > 0)) return 0;
  if (mean < 10) {
    const limit = Math.exp(-mean);
    let k = 0;
    let p = u();
    while (p > limit) {
      k++;
      p *= u();
    }
    return k;
  }
  const slam = Math.sqrt(mean);
  const loglam = Math.log(mean);
  const b = 0.931 + 2.53 * slam;
  const a = -0.059 + 0.02483 * b;
  const invalpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const U = u() - 0.5;
    const V = u();
    const us = 0.5 - Math.abs(U);
    const k = Math.floor(((2 * a) / us + b) * U + mean + 0.43);
    if (us >= 0.07 && V <= vr) return k;
    if (k < 0 || (us < 0.013 && V > us)) continue;
    if (Math.log(V) + Math.log(invalpha) - Math.log(a / (us * us) + b) <= -mean + k * loglam - lnGamma(k + 1)) return k;
  }
}

// ---------------------------------------------------------------------------------------------
// Traffic

export interface Scenario {
  name: string;
  stableErrorRate: number;
  canaryErrorRate: number;
  /** True when the canary should be rolled back. */
  bad: boolean;
}

/**
 * Requests per second, split by the canary weight in force during that second; each request
 * is an error with its version's rate. Poisson arrivals thinned by the error rate are independent
 * Poisson streams, so each second draws four Poisson numbers. Counts are exact: an ideal
 * Prometheus without scrape alignment or `increase()` extrapolation.
 */
export class Traffic {
  /** Cumulative counts at the start of each second: index t holds the traffic of [0, t). */
  private readonly cr: number[] = [0];
  private readonly ce: number[] = [0];
  private readonly sr: number[] = [0];
  private readonly se: number[] = [0];
  private readonly rps: number;
  private readonly sc: Scenario;
  private readonly u: Rng;

  constructor(rps: number, scenario: Scenario, u: Rng) {
    this.rps = rps;
    this.sc = scenario;
    this.u = u;
  }

  /** Seconds simulated so far. */
  get length(): number {
    return this.cr.length - 1;
  }

  /** Simulate seconds up to `until` (exclusive) with this canary weight. */
  run(until: number, canaryWeight: number): void {
    const w = canaryWeight / 100;
    const canary = this.rps * w;
    const stable = this.rps * (1 - w);
    const { canaryErrorRate: pc, stableErrorRate: ps } = this.sc;
    while (this.length < until) {
      const t = this.length;
      const cErr = poisson(canary * pc, this.u);
      const cOk = poisson(canary * (1 - pc), this.u);
      const sErr = poisson(stable * ps, this.u);
      const sOk = poisson(stable * (1 - ps), this.u);
      this.cr.push(this.cr[t]! + cErr + cOk);
      this.ce.push(this.ce[t]! + cErr);
      this.sr.push(this.sr[t]! + sErr + sOk);
      this.se.push(this.se[t]! + sErr);
    }
  }

  /** Counts over [from, to) in whole seconds. */
  canary(from: number, to: number): TrafficCounts {
    const a = Math.max(0, from);
    return { requests: this.cr[to]! - this.cr[a]!, errors: this.ce[to]! - this.ce[a]! };
  }

  stable(from: number, to: number): TrafficCounts {
    const a = Math.max(0, from);
    return { requests: this.sr[to]! - this.sr[a]!, errors: this.se[to]! - this.se[a]! };
  }
}

// ---------------------------------------------------------------------------------------------
// Outcomes

export interface Outcome {
  result: 'promoted' | 'rolledBack' | 'running';
  /** Seconds from the start of the rollout to the decision; the horizon while running. */
  at: number;
}

export const STEPS = [10, 25, 50, 100] as const;
export const INTERVAL_S = 60;

export interface Judge {
  name: string;
  run(rps: number, scenario: Scenario, horizonS: number, u: Rng): Outcome;
}

// ---------------------------------------------------------------------------------------------
// Fledge: the real plan() / analysisDue() / judgeStep(), in simulated time

export interface FledgeOptions {
  /** Add the `istio-error-rate` threshold metric with this max (judged when a step's hold ends). */
  errorRateMax?: number;
  minRequests?: number;
  failureLimit?: number;
  checkInterval?: string;
  comparison?: { confidence?: number; tolerance?: number; relativeTolerance?: number; baselineWindow?: string };
  /** Bench-only experiments layered on the real judge; NOT what Fledge does today. */
  experiment?: FledgeExperiment;
}

export interface FledgeExperiment {
  /** A final pass with P(worse) at or above this is turned into inconclusive (the step holds). */
  passBelow?: number;
  /** Below minRequests, still fail when the comparison alone is already conclusive. */
  failBelowMinRequests?: boolean;
}

export function fledgeRollout(o: FledgeOptions = {}): ResolvedRollout {
  const input = {
    apiVersion: 'fledge.dev/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'web', namespace: 'default', generation: 1 },
    spec: {
      service: { name: 'web' },
      stable: { labels: { version: 'v1' } },
      canary: { labels: { version: 'v2' } },
      strategy: { steps: [...STEPS], interval: `${INTERVAL_S}s` },
      analysis: {
        ...(o.errorRateMax !== undefined ? { metrics: [{ name: 'error-rate', template: 'istio-error-rate', max: o.errorRateMax }] } : {}),
        ...(o.minRequests !== undefined ? { minRequests: o.minRequests } : {}),
        ...(o.failureLimit !== undefined ? { failureLimit: o.failureLimit } : {}),
        ...(o.checkInterval !== undefined ? { checkInterval: o.checkInterval } : {}),
        ...(o.comparison ? { comparison: o.comparison } : {}),
      },
    },
  };
  const parsed = parseRollout(input);
  if (!parsed.ok) throw new Error(`bench rollout is invalid: ${JSON.stringify(parsed.problems)}`);
  return resolveRollout(parsed.rollout);
}

const T0 = Date.UTC(2025, 0, 1);
const seconds = (iso: string | undefined) => (iso === undefined ? 0 : Math.round((Date.parse(iso) - T0) / 1000));

/**
 * Reconciles happen when plan() asks to be requeued (rounded up to whole seconds, at least 1 s),
 * as the controller does. At each one, if analysisDue(), the step is judged on the counts of
 * [stepStartedAt, now) for both subsets, as the controller reads them from Prometheus. A subset
 * without traffic has no series; the controller reads that as 0 requests and 0 errors (so the
 * canary is inconclusive below minRequests, and an idle stable gets a uniform posterior).
 */
export function fledgeJudge(name: string, options: FledgeOptions = {}): Judge {
  const r = fledgeRollout(options);
  const a = r.analysis!;
  const metricName = a.metrics[0]?.name;
  const x = options.experiment;
  return {
    name,
    run(rps, scenario, horizonS, u) {
      const traffic = new Traffic(rps, scenario, u);
      let status: RolloutStatus | undefined;
      let t = 0;
      let weight = 0;
      while (t <= horizonS) {
        traffic.run(t, weight);
        const now = new Date(T0 + t * 1000);
        let analysis: AnalysisResult | undefined;
        if (status && analysisDue(r, status, now)) {
          const clock = stepClock(r, status, now);
          const from = seconds(status.stepStartedAt);
          const canary = traffic.canary(from, t);
          // As the analyzer does: stable over at least its baseline window.
          const baselineS = a.comparison ? a.comparison.baselineWindowMs / 1000 : 0;
          const stable = traffic.stable(Math.max(0, Math.min(from, t - baselineS)), t);
          const metrics: MetricObservation[] = metricName
            ? [canary.requests > 0 ? { name: metricName, value: canary.errors / canary.requests } : { name: metricName, value: Number.NaN }]
            : [];
          const input: JudgeInput = { analysis: a, stepIndex: clock.idx, at: now, windowSeconds: t - from, final: clock.final, canary, stable, metrics };
          analysis = judgeStep(input);
          if (x?.failBelowMinRequests && analysis.verdict === 'inconclusive' && canary.requests < a.minRequests) {
            const bare = judgeStep({ ...input, analysis: { ...a, minRequests: 0 } });
            if (bare.verdict === 'fail') analysis = bare;
          }
          if (x?.passBelow !== undefined && analysis.verdict === 'pass' && analysis.final && (analysis.probabilityWorse ?? 0) >= x.passBelow) {
            analysis = { ...analysis, verdict: 'inconclusive', reason: `P(worse) ${analysis.probabilityWorse} not below ${x.passBelow}` };
          }
        }
        const result = plan({ rollout: r, status, requests: { paused: false }, ...(analysis ? { analysis } : {}), now });
        status = result.status;
        if (status.phase === 'Promoted') return { result: 'promoted', at: t };
        if (status.phase === 'RolledBack') return { result: 'rolledBack', at: t };
        weight = result.routing.canaryWeight;
        t += Math.max(1, Math.ceil((result.requeueAfterMs ?? 1000) / 1000));
      }
      return { result: 'running', at: horizonS };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Static thresholds, as Flagger and Argo Rollouts run them by default

/** The canary's error rate over the last interval is above this: the check fails. */
export const STATIC_MAX_ERROR_RATE = 0.01;

/**
 * Flagger (pkg/controller/scheduler.go, scheduler_metrics.go): every `interval` (1m) the
 * scheduler first rolls back if failedChecks >= threshold, else runs the checks. The builtin
 * `request-success-rate` (min 99 over `1m`) fails below 99 %, and a query without a value
 * (no canary requests: 0/0 = NaN, "no values found") also fails. A failure adds to
 * failedChecks (never reset during the analysis) and holds the weight; a pass moves to the next
 * stepWeights entry, or promotes once the weight is the last one.
 */
export function flaggerJudge(threshold: number): Judge {
  return {
    name: `Flagger (threshold ${threshold})`,
    run(rps, scenario, horizonS, u) {
      const traffic = new Traffic(rps, scenario, u);
      let idx = 0;
      let failed = 0;
      for (let t = INTERVAL_S; t <= horizonS; t += INTERVAL_S) {
        traffic.run(t, STEPS[idx]!);
        if (failed >= threshold) return { result: 'rolledBack', at: t };
        const c = traffic.canary(t - INTERVAL_S, t);
        const ok = c.requests > 0 && c.errors / c.requests <= STATIC_MAX_ERROR_RATE;
        if (!ok) failed++;
        else if (idx + 1 < STEPS.length) idx++;
        else return { result: 'promoted', at: t };
      }
      return { result: 'running', at: horizonS };
    },
  };
}

/**
 * Argo Rollouts background analysis with the metric defaults (analysis_types.go): interval 1m,
 * successCondition `result[0] >= 0.99` over a `[1m]` success-rate query, failureLimit 0 (the
 * first failed measurement fails the run and aborts the rollout), consecutiveErrorLimit 4.
 * Measurements start when the run does (t = 0) and repeat every interval. No canary request in
 * the window: if the canary has never had one, the query is empty and `result[0]` errors (an
 * Error, five in a row abort); otherwise the ratio is NaN, which fails `>= 0.99`. Steps are
 * `setWeight` + `pause: 1m` and advance on time; the rollout completes after the last pause.
 */
export function argoJudge(): Judge {
  return {
    name: 'Argo Rollouts (failureLimit 0)',
    run(rps, scenario, horizonS, u) {
      const traffic = new Traffic(rps, scenario, u);
      let errors = 0;
      const end = STEPS.length * INTERVAL_S;
      for (let t = 0; t <= Math.min(end, horizonS); t += INTERVAL_S) {
        const idx = Math.min(STEPS.length - 1, Math.floor((t - 1) / INTERVAL_S));
        if (t > 0) traffic.run(t, STEPS[Math.max(0, idx)]!);
        const c = traffic.canary(t - INTERVAL_S, t);
        if (c.requests === 0) {
          const ever = traffic.canary(0, t).requests > 0;
          if (!ever) {
            errors++;
            if (errors > 4) return { result: 'rolledBack', at: t };
            continue;
          }
          return { result: 'rolledBack', at: t };
        }
        errors = 0;
        if (1 - c.errors / c.requests < 1 - STATIC_MAX_ERROR_RATE) return { result: 'rolledBack', at: t };
      }
      return end <= horizonS ? { result: 'promoted', at: end } : { result: 'running', at: horizonS };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Aggregation

export interface CellStats {
  runs: number;
  rolledBack: number;
  promoted: number;
  running: number;
  medianRollbackS?: number;
  medianPromoteS?: number;
}

export function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function summarize(outcomes: Outcome[]): CellStats {
  const rb = outcomes.filter((o) => o.result === 'rolledBack');
  const pr = outcomes.filter((o) => o.result === 'promoted');
  const mr = median(rb.map((o) => o.at));
  const mp = median(pr.map((o) => o.at));
  return {
    runs: outcomes.length,
    rolledBack: rb.length,
    promoted: pr.length,
    running: outcomes.length - rb.length - pr.length,
    ...(mr !== undefined ? { medianRollbackS: mr } : {}),
    ...(mp !== undefined ? { medianPromoteS: mp } : {}),
  };
}
