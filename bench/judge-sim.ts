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
import { analysisCheck, plan } from '../src/plan/plan.ts';

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

/** Seconds of stable-only traffic before the release starts (what Prometheus holds of stable's past). */
export const HISTORY_S = 600;

/**
 * Requests per second, split by the canary weight in force during that second; each request
 * is an error with its version's rate. Poisson arrivals thinned by the error rate are independent
 * Poisson streams, so each second draws four Poisson numbers. Counts are exact: an ideal
 * Prometheus without scrape alignment or `increase()` extrapolation. Stable served all traffic for
 * HISTORY_S seconds before the release (t = 0), as a service being released has: times before 0
 * are that history.
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
    this.simulate(HISTORY_S, 0);
  }

  /** Seconds simulated so far, from the start of the history. */
  private get length(): number {
    return this.cr.length - 1;
  }

  /** Seconds simulated since the release's start. */
  get seconds(): number {
    return this.length - HISTORY_S;
  }

  /** Simulate seconds up to `until` (exclusive; 0 is the release's start) with this canary weight. */
  run(until: number, canaryWeight: number): void {
    this.simulate(until + HISTORY_S, canaryWeight);
  }

  private simulate(until: number, canaryWeight: number): void {
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

  /** Counts over [from, to) in whole seconds since the release's start (from may reach into the history). */
  canary(from: number, to: number): TrafficCounts {
    const a = Math.max(0, from + HISTORY_S);
    const b = to + HISTORY_S;
    return { requests: this.cr[b]! - this.cr[a]!, errors: this.ce[b]! - this.ce[a]! };
  }

  stable(from: number, to: number): TrafficCounts {
    const a = Math.max(0, from + HISTORY_S);
    const b = to + HISTORY_S;
    return { requests: this.sr[b]! - this.sr[a]!, errors: this.se[b]! - this.se[a]! };
  }
}

// ---------------------------------------------------------------------------------------------
// Outcomes

export interface Outcome {
  /** `paused`: Fledge paused the Rollout for a person (never promoted on missing evidence). */
  result: 'promoted' | 'rolledBack' | 'running' | 'paused';
  /** Seconds from the start of the rollout to the decision; the horizon while running. */
  at: number;
  /** Canary requests from the start to the decision (or the horizon). */
  canaryRequests?: number;
  /** When Fledge paused it for lack of evidence. */
  pausedAt?: number;
  /** Fledge's status message at the end (with JUDGE_DEBUG set). */
  message?: string;
}

export const STEPS = [10, 25, 50, 100] as const;
export const INTERVAL_S = 60;

export interface Judge {
  name: string;
  run(rps: number, scenario: Scenario, horizonS: number, u: Rng): Outcome;
}

// ---------------------------------------------------------------------------------------------
// Fledge: the real plan() / analysisCheck() / judgeStep(), in simulated time

export interface FledgeOptions {
  /** Add the `istio-error-rate` threshold metric with this max (judged when a step's hold ends). */
  errorRateMax?: number;
  minRequests?: number;
  failureLimit?: number;
  inconclusiveLimit?: number;
  checkInterval?: string;
  comparison?: { confidence?: number; passConfidence?: number; tolerance?: number; relativeTolerance?: number; baselineWindow?: string };
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
        ...(o.inconclusiveLimit !== undefined ? { inconclusiveLimit: o.inconclusiveLimit } : {}),
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
const pair = (c: TrafficCounts) => ({ total: c.requests, bad: c.errors });

/**
 * Reconciles happen when plan() asks to be requeued (rounded up to whole seconds, at least 1 s),
 * as the controller does. At each one, if analysisCheck() names a check, the counts of its two
 * windows (the release so far and the step so far; stable's reaching back at least its baseline
 * window) are handed to judgeStep(), as src/controller/prometheus-analyzer.ts reads them from
 * Prometheus. A subset without traffic has no series, read as 0 requests and 0 errors. A Rollout
 * the analysis pauses stays judged (a canary can still be rolled back) but is never promoted.
 */
export function fledgeJudge(name: string, options: FledgeOptions = {}): Judge {
  const r = fledgeRollout(options);
  const a = r.analysis!;
  const metricName = a.metrics[0]?.name;
  return {
    name,
    run(rps, scenario, horizonS, u) {
      const traffic = new Traffic(rps, scenario, u);
      let status: RolloutStatus | undefined;
      let t = 0;
      let weight = 0;
      let pausedAt: number | undefined;
      const done = (result: Outcome['result'], at: number): Outcome => ({ result, at, ...(process.env.JUDGE_DEBUG ? { message: status?.message } : {}), canaryRequests: traffic.canary(0, Math.min(at, traffic.seconds)).requests, ...(pausedAt !== undefined ? { pausedAt } : {}) });
      while (t <= horizonS) {
        traffic.run(t, weight);
        const now = new Date(T0 + t * 1000);
        let analysis: AnalysisResult | undefined;
        const check = status ? analysisCheck(r, status, now) : undefined;
        if (check) {
          const releaseFrom = t - Math.round(check.release.seconds);
          const stepFrom = t - Math.round(check.step.seconds);
          const release = { canary: traffic.canary(releaseFrom, t), stable: traffic.stable(t - Math.round(check.release.stableSeconds), t) };
          const step = { canary: traffic.canary(stepFrom, t), stable: traffic.stable(t - Math.round(check.step.stableSeconds), t) };
          const metrics: MetricObservation[] = metricName
            ? [{ name: metricName, value: step.canary.requests > 0 ? step.canary.errors / step.canary.requests : Number.NaN }]
            : [];
          const input: JudgeInput = {
            analysis: a, check, at: now, metrics,
            signals: a.comparison
              ? [{ name: 'errors', release: { canary: pair(release.canary), stable: pair(release.stable) }, step: { canary: pair(step.canary), stable: pair(step.stable) } }]
              : [],
            canaryRequests: { release: release.canary.requests, step: step.canary.requests },
          };
          analysis = judgeStep(input, r.steps.length);
        }
        const result = plan({ rollout: r, status, requests: { paused: false }, ...(analysis ? { analysis } : {}), now });
        status = result.status;
        if (status.phase === 'Promoted') return done('promoted', t);
        if (status.phase === 'RolledBack') return done('rolledBack', t);
        if (status.phase === 'Paused' && pausedAt === undefined) pausedAt = t;
        weight = result.routing.canaryWeight;
        t += Math.max(1, Math.ceil((result.requeueAfterMs ?? 1000) / 1000));
      }
      return done(status?.phase === 'Paused' ? 'paused' : 'running', horizonS);
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
  /** Undecided at the horizon, paused or not. */
  running: number;
  /** Of `running`: paused by Fledge for a person to decide. */
  paused: number;
  medianRollbackS?: number;
  medianPromoteS?: number;
  /** Median canary requests at the decision (or the horizon), over every run. */
  medianCanaryRequests?: number;
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
  const mc = median(outcomes.filter((o) => o.canaryRequests !== undefined).map((o) => o.canaryRequests!));
  return {
    runs: outcomes.length,
    rolledBack: rb.length,
    promoted: pr.length,
    running: outcomes.length - rb.length - pr.length,
    paused: outcomes.filter((o) => o.result === 'paused').length,
    ...(mr !== undefined ? { medianRollbackS: mr } : {}),
    ...(mp !== undefined ? { medianPromoteS: mp } : {}),
    ...(mc !== undefined ? { medianCanaryRequests: mc } : {}),
  };
}
