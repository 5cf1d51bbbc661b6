/**
 * The pure judge of a release at one check: the planner's AnalysisCheck says which windows the
 * counts cover and what a pass would do; the judge reads count pairs and metric values, never a
 * clock or Prometheus.
 *
 * A sequential rule on the release as a whole (the evidence of each signal is in evidence.ts):
 *  - fail, at any check, when the Bayes factor against the canary reaches 1 / (¾ α) over the
 *    release so far, or S / (¼ α) over the current step alone (S steps; α = 1 − confidence): ¾ of
 *    α for the release, ¼ shared by the steps (Bonferroni), so a regression that only shows under
 *    the current step's load still fails, and the false-rollback rate is bounded per release, not
 *    per check (the mixture SPRT's bound holds over every look). No request count gates it: five
 *    bad requests in the first eight against stable's 0.5 % fail; one bad first request never can
 *    (one request is worth at most (1 − t) / (t ln(1/t)), 38 for the default tolerance, < 133);
 *  - pass, once the step's hold is over, only when the release's evidence supports "within
 *    tolerance": P(worse) ≤ (1 − passConfidence) · 100 / w, w the canary weight the pass moves to
 *    (100 when it promotes), so the expected share of all traffic sent to a canary worse than
 *    tolerated stays below 1 − passConfidence; and a promotion needs minRequests canary requests;
 *  - otherwise inconclusive: the step waits, its windows keep growing.
 * Threshold metrics (max/min) are judged on the step's window when the hold is over, once the
 * step holds minRequests canary requests (a static threshold has no statistics of its own); only
 * their failures count against failureLimit: a failure on the evidence is `decisive`.
 */
import type { AnalysisCheck } from '../api/check.ts';
import { DEFAULT_COMPARISON } from '../api/constants.ts';
import type { ResolvedAnalysis } from '../api/resolve.ts';
import type { AnalysisResult, MetricResult, Verdict } from '../api/schema.ts';
import { evidence, requestsToPass, type CountPair, type Evidence, type Tolerance } from './evidence.ts';

export type { CountPair } from './evidence.ts';

/** What a metric query gave: a number, or why there is none. */
export type MetricObservation =
  | { name: string; value: number }
  | { name: string; error: 'nodata' | 'multiple' | 'query' | 'unavailable'; message: string };

/** Canary and stable counts of one signal over one window (stable's may reach further back). */
export interface WindowCounts {
  canary: CountPair;
  stable: CountPair;
}

/**
 * One signal judged canary against stable: a share of bad requests (`errors`: failed requests as
 * metrics/failures.ts defines them; istio-slow-requests: requests slower than a bound). Any signal
 * that can be told as count pairs plugs in the same way.
 */
export interface SignalCounts {
  name: string;
  /** What the bad requests are, for the reason ("slower than 500 ms"); absent: failed requests. */
  what?: string;
  /** Over the check's release window. */
  release: WindowCounts;
  /** Over the check's step window (the same numbers as `release` in the first step). */
  step: WindowCounts;
}

export interface JudgeInput {
  analysis: ResolvedAnalysis;
  check: AnalysisCheck;
  at: Date;
  /**
   * The error comparison (absent when the comparison is disabled), first, then the compared
   * templates (istio-slow-requests). The error comparison's counts are reported in the result.
   */
  signals: SignalCounts[];
  /** Canary requests in the release and step windows (for minRequests); undefined when not measured. */
  canaryRequests?: { release: number; step: number };
  /** Set when the counts could not be read (Prometheus down, no series). */
  countsError?: string;
  metrics: MetricObservation[];
}

/** The thresholds a check applies, from the Rollout's settings. */
export interface Thresholds {
  /** ln Bayes factor that fails on the release's window. */
  releaseLogBF: number;
  /** ln Bayes factor that fails on one step's window. */
  stepLogBF: number;
  /** Largest P(worse) with which the check may pass. */
  maxProbabilityWorse: number;
}

/** The share of 1 − confidence spent on the release's window; the steps' windows share the rest. */
const RELEASE_SHARE = 0.75;

/**
 * `signalCount` signals share 1 − confidence equally (Bonferroni), so adding a signal never adds
 * false rollbacks; every one of them must pass.
 */
export function thresholds(a: ResolvedAnalysis, stepCount: number, nextWeight: number, signalCount = 1): Thresholds {
  // A compared template with the comparison disabled is judged with the comparison's defaults.
  const c = settingsOf(a);
  const alpha = (1 - c.confidence) / Math.max(1, signalCount);
  const passBudget = 1 - c.passConfidence;
  return {
    releaseLogBF: Math.log(1 / (RELEASE_SHARE * alpha)),
    stepLogBF: Math.log(Math.max(1, stepCount) / ((1 - RELEASE_SHARE) * alpha)),
    maxProbabilityWorse: Math.min(1, (passBudget * 100) / Math.max(1, nextWeight)),
  };
}

/** The comparison's settings, or its defaults when it is disabled (for compared templates). */
function settingsOf(a: ResolvedAnalysis): { confidence: number; passConfidence: number; tolerance: number; relativeTolerance: number } {
  return a.comparison ?? DEFAULT_COMPARISON;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const rateOf = (c: CountPair) => (c.total > 0 ? c.bad / c.total : 0);
const counts = (c: CountPair) => `${Math.round(c.bad)}/${Math.round(c.total)}`;
const bf = (lnBF: number) => (lnBF > Math.log(1e6) ? `${Math.exp(lnBF).toExponential(1)}` : Math.exp(lnBF).toPrecision(3));
const int = (x: number) => Math.round(x);

/** Judge one check. `stepCount` is the number of steps in the schedule (for the step threshold). */
export function judgeStep(input: JudgeInput, stepCount: number): AnalysisResult {
  const { analysis: a, check } = input;
  const th = thresholds(a, stepCount, check.nextWeight, input.signals.length);
  // The error comparison's counts are the ones status reports as the canary's and stable's.
  const first = input.signals[0]?.what === undefined ? input.signals[0] : undefined;
  const base = {
    at: input.at.toISOString(),
    stepIndex: check.stepIndex,
    final: check.final,
    windowSeconds: int(check.step.seconds),
    releaseSeconds: int(check.release.seconds),
    ...(first ? { canary: roundCounts(first.release.canary), stable: roundCounts(first.release.stable) } : {}),
  };
  const result = (verdict: Verdict, reason: string, metrics: MetricResult[], extra: Partial<AnalysisResult> = {}): AnalysisResult =>
    ({ ...base, verdict, reason, metrics, ...extra });

  if (input.countsError !== undefined) {
    return result('inconclusive', `cannot count requests: ${input.countsError}`, input.metrics.map((m) => ({ name: m.name, verdict: 'inconclusive', reason: 'not judged without request counts' })));
  }

  const settings = settingsOf(a);
  const tol: Tolerance = { absolute: settings.tolerance, relative: settings.relativeTolerance };
  const metrics: MetricResult[] = [];
  const judged = input.signals.map((s) => {
    const release = evidence(s.release.canary, s.release.stable, tol);
    const sameWindow = check.step.seconds >= check.release.seconds;
    // The step's window is judged for failure only: passing is the release's evidence.
    const step = sameWindow ? release : evidence(s.step.canary, s.step.stable, tol, { probabilityWorse: false });
    return { s, release, step, sameWindow };
  });
  for (const j of judged) metrics.push(...signalResults(j.s, j.release, j.step, j.sameWindow, th, check.final));

  const stepRequests = input.canaryRequests?.step;
  const thresholdsJudged = stepRequests === undefined || stepRequests >= a.minRequests;
  for (const m of input.metrics) metrics.push(thresholdResult(a, m, check.final, thresholdsJudged ? undefined : `${int(stepRequests ?? 0)} canary requests in the step, fewer than minRequests ${a.minRequests}`));

  const extra: Partial<AnalysisResult> = first ? { probabilityWorse: round(judged[0]!.release.probabilityWorse, 4), bayesFactor: round(Math.exp(Math.min(judged[0]!.release.logBayesFactor, 700)), 3) } : {};
  const failed = metrics.filter((m) => m.verdict === 'fail');
  const decisive = judged.some((j) => j.release.logBayesFactor >= th.releaseLogBF || (!j.sameWindow && j.step.logBayesFactor >= th.stepLogBF));
  if (failed.length > 0) return result('fail', failed.map((m) => `${m.name}: ${m.reason}`).join('; '), metrics, { ...extra, ...(decisive ? { decisive: true } : {}) });
  if (!check.final) return result('pass', 'no strong evidence against the canary so far', metrics, extra);

  const unsure = metrics.filter((m) => m.verdict === 'inconclusive');
  const releaseRequests = input.canaryRequests?.release;
  const reasons = unsure.map((m) => `${m.name}: ${m.reason}`);
  if (check.promotes && releaseRequests !== undefined && releaseRequests < a.minRequests) {
    reasons.push(`${int(releaseRequests)} canary requests in the release, fewer than minRequests ${a.minRequests} to promote`);
  }
  if (reasons.length > 0) {
    if (check.lastChance) {
      const needs = judged.map((j) => needed(j.s, tol, th, input.check)).filter((x): x is string => x !== undefined);
      if (check.promotes && releaseRequests !== undefined && releaseRequests < a.minRequests) needs.push(`needs ${int(a.minRequests - releaseRequests)} more canary requests for minRequests`);
      reasons.push(...needs);
    }
    return result('inconclusive', reasons.join('; '), metrics, extra);
  }
  return result('pass', metrics.length > 0 ? metrics.map((m) => `${m.name}: ${m.reason}`).join('; ') : 'no metrics to judge', metrics, extra);
}

function signalResults(s: SignalCounts, release: Evidence, step: Evidence, sameWindow: boolean, th: Thresholds, final: boolean): MetricResult[] {
  const describe = (w: WindowCounts, e: Evidence) =>
    `canary ${pct(rateOf(w.canary))}${s.what ? ` ${s.what}` : ''} (${counts(w.canary)}) vs stable ${pct(rateOf(w.stable))} (${counts(w.stable)}): ` +
    `${Number.isNaN(e.probabilityWorse) ? '' : `P(worse) ${e.probabilityWorse.toFixed(3)}, `}evidence against ${bf(e.logBayesFactor)}`;
  const out: MetricResult[] = [];
  if (release.logBayesFactor >= th.releaseLogBF) {
    out.push({ name: s.name, verdict: 'fail', value: round(release.probabilityWorse, 4), threshold: `evidence against < ${bf(th.releaseLogBF)}`, reason: `release so far: ${describe(s.release, release)}` });
    return out;
  }
  if (!sameWindow && step.logBayesFactor >= th.stepLogBF) {
    out.push({ name: s.name, verdict: 'fail', value: round(release.probabilityWorse, 4), threshold: `evidence against < ${bf(th.stepLogBF)} in a step`, reason: `this step: ${describe(s.step, step)}` });
    return out;
  }
  const threshold = `P(worse) <= ${round(th.maxProbabilityWorse, 4)}`;
  const text = `release so far: ${describe(s.release, release)}`;
  if (!final) return [{ name: s.name, verdict: 'pass', value: round(release.probabilityWorse, 4), threshold, reason: text }];
  const ok = release.probabilityWorse <= th.maxProbabilityWorse;
  return [{ name: s.name, verdict: ok ? 'pass' : 'inconclusive', value: round(release.probabilityWorse, 4), threshold, reason: ok ? text : `${text}, above ${round(th.maxProbabilityWorse, 4)} needed to pass` }];
}

/** "about N more canary requests (about T at this step's rate)" for one signal, or why no number. */
function needed(s: SignalCounts, tol: Tolerance, th: Thresholds, check: AnalysisCheck): string | undefined {
  const more = requestsToPass(s.release.canary, s.release.stable, tol, th.maxProbabilityWorse);
  if (more === 0) return undefined;
  if (!Number.isFinite(more)) return `${s.name}: more traffic alone is unlikely to pass it (the canary's rate so far, ${pct(rateOf(s.release.canary))}, is not below what stable's tolerates)`;
  const perSecond = check.step.seconds > 0 ? s.step.canary.total / check.step.seconds : 0;
  const eta = perSecond > 0 ? `, about ${duration(more / perSecond)} at this step's ${perSecond.toPrecision(2)} requests/s` : '';
  return `${s.name}: needs about ${more} more canary requests${eta}`;
}

function duration(seconds: number): string {
  if (seconds < 120) return `${Math.ceil(seconds)}s`;
  if (seconds < 7200) return `${Math.ceil(seconds / 60)}m`;
  return `${Math.ceil(seconds / 3600)}h`;
}

function thresholdResult(a: ResolvedAnalysis, m: MetricObservation, final: boolean, tooFew: string | undefined): MetricResult {
  const spec = a.metrics.find((x) => x.name === m.name);
  const bounds = [spec?.max !== undefined ? `<= ${spec.max}` : '', spec?.min !== undefined ? `>= ${spec.min}` : ''].filter(Boolean).join(' and ');
  if ('error' in m) return { name: m.name, verdict: 'inconclusive', reason: m.error === 'nodata' ? 'no data' : m.message, ...(bounds ? { threshold: bounds } : {}) };
  // Only NaN is "no value": ±Inf (x/0 with x > 0) is a value beyond every bound, and JSON has no
  // Infinity, so it is spelt in the reason and left out of `value`.
  if (Number.isNaN(m.value)) return { name: m.name, verdict: 'inconclusive', value: 0, reason: 'no value (NaN: no requests in the window)', threshold: bounds };
  const shown = Number.isFinite(m.value) ? round(m.value, 6) : m.value > 0 ? '+Inf' : '-Inf';
  const value = Number.isFinite(m.value) ? { value: round(m.value, 6) } : {};
  if (!final) return { name: m.name, verdict: 'pass', ...value, reason: `${shown} so far (judged when the step's hold ends)`, threshold: bounds };
  if (tooFew) return { name: m.name, verdict: 'inconclusive', ...value, reason: tooFew, threshold: bounds };
  if (spec?.max !== undefined && m.value > spec.max) return { name: m.name, verdict: 'fail', ...value, reason: `${shown} is above max ${spec.max}`, threshold: bounds };
  if (spec?.min !== undefined && m.value < spec.min) return { name: m.name, verdict: 'fail', ...value, reason: `${shown} is below min ${spec.min}`, threshold: bounds };
  return { name: m.name, verdict: 'pass', ...value, reason: `${shown} within ${bounds}`, threshold: bounds };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function roundCounts(c: CountPair): { requests: number; errors: number } {
  return { requests: Math.round(c.total), errors: Math.round(c.bad) };
}
