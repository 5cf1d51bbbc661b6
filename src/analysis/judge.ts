/**
 * The pure judge of one step. Two rules make it better than a fixed threshold per interval:
 *  - too little traffic is never a failure: below minRequests the verdict is inconclusive and
 *    the step waits (its window keeps growing) instead of rolling back a healthy canary;
 *  - the canary is compared with stable (over the step, and stable over at least its baseline
 *    window), and fails as soon as the evidence
 *    that it is worse is strong, at any check inside the step, not only when the interval ends.
 * Threshold metrics (max/min) are judged when the step's hold is over.
 */
import { DEFAULT_COMPARISON } from '../api/constants.ts';
import type { ResolvedAnalysis } from '../api/resolve.ts';
import type { AnalysisResult, MetricResult, TrafficCounts, Verdict } from '../api/schema.ts';
import { probabilityWorse } from './beta.ts';

/** What a metric query gave: a number, or why there is none. */
export type MetricObservation =
  | { name: string; value: number }
  | { name: string; error: 'nodata' | 'multiple' | 'query' | 'unavailable'; message: string };

/**
 * Another signal judged like the error rates: per subset, requests and the bad ones among them
 * (e.g. requests slower than a bound). `what` names the bad ones in the reason.
 */
export interface CountComparison { name: string; what: string; canary: TrafficCounts; stable: TrafficCounts }

export interface JudgeInput {
  analysis: ResolvedAnalysis;
  stepIndex: number;
  at: Date;
  windowSeconds: number;
  /** The step's hold has elapsed. */
  final: boolean;
  /** Requests and 5xx per subset over the window; undefined when not measured. */
  canary?: TrafficCounts;
  stable?: TrafficCounts;
  /** Set when the counts could not be read (Prometheus down, no series). */
  countsError?: string;
  metrics: MetricObservation[];
  /** Judged by the same statistics as the error comparison (its settings, or the defaults). */
  comparisons?: CountComparison[];
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const rate = (c: TrafficCounts) => (c.requests > 0 ? c.errors / c.requests : 0);

export function judgeStep(input: JudgeInput): AnalysisResult {
  const { analysis: a } = input;
  const base = {
    at: input.at.toISOString(),
    stepIndex: input.stepIndex,
    final: input.final,
    windowSeconds: Math.round(input.windowSeconds),
    ...(input.canary ? { canary: roundCounts(input.canary) } : {}),
    ...(input.stable ? { stable: roundCounts(input.stable) } : {}),
  };
  const result = (verdict: Verdict, reason: string, metrics: MetricResult[], extra: Partial<AnalysisResult> = {}): AnalysisResult =>
    ({ ...base, verdict, reason, metrics, ...extra });

  const names = [...input.metrics.map((m) => m.name), ...(input.comparisons ?? []).map((c) => c.name)];
  if (input.countsError !== undefined) {
    return result('inconclusive', `cannot count requests: ${input.countsError}`, names.map((name) => ({ name, verdict: 'inconclusive', reason: 'not judged without request counts' })));
  }
  if (input.canary && input.canary.requests < a.minRequests) {
    const reason = `${Math.round(input.canary.requests)} canary requests in ${Math.round(input.windowSeconds)}s, fewer than minRequests ${a.minRequests}`;
    return result('inconclusive', reason, names.map((name) => ({ name, verdict: 'inconclusive', reason: 'too little traffic' })));
  }

  const metrics: MetricResult[] = [];
  let pWorse: number | undefined;
  if (a.comparison && input.canary && input.stable) {
    const m = compareCounts(a, { name: 'comparison', what: 'errors', canary: input.canary, stable: input.stable });
    pWorse = m.value;
    metrics.push(m);
  }
  for (const c of input.comparisons ?? []) metrics.push(compareCounts(a, c));
  for (const m of input.metrics) metrics.push(thresholdResult(a, m, input.final));

  const extra = pWorse !== undefined ? { probabilityWorse: round(pWorse, 4) } : {};
  const failed = metrics.filter((m) => m.verdict === 'fail');
  if (failed.length > 0) return result('fail', failed.map((m) => `${m.name}: ${m.reason}`).join('; '), metrics, extra);
  if (!input.final) return result('pass', 'no evidence against the canary so far', metrics, extra);
  const unsure = metrics.filter((m) => m.verdict === 'inconclusive');
  if (unsure.length > 0) return result('inconclusive', unsure.map((m) => `${m.name}: ${m.reason}`).join('; '), metrics, extra);
  return result('pass', metrics.length > 0 ? metrics.map((m) => `${m.name}: ${m.reason}`).join('; ') : 'no metrics to judge', metrics, extra);
}

function compareCounts(a: ResolvedAnalysis, c: CountComparison): MetricResult & { value: number } {
  const settings = a.comparison ?? DEFAULT_COMPARISON;
  const p = probabilityWorse(c.canary, c.stable, { absolute: settings.tolerance, relative: settings.relativeTolerance });
  const what = c.what === 'errors' ? '' : ` ${c.what}`;
  return {
    name: c.name,
    verdict: p >= settings.confidence ? 'fail' : 'pass',
    value: round(p, 4),
    threshold: `P(worse) < ${settings.confidence}`,
    reason: `canary ${pct(rate(c.canary))}${what} of ${Math.round(c.canary.requests)} vs stable ${pct(rate(c.stable))} of ${Math.round(c.stable.requests)}: P(worse) ${p.toFixed(3)}`,
  };
}

function thresholdResult(a: ResolvedAnalysis, m: MetricObservation, final: boolean): MetricResult {
  const spec = a.metrics.find((x) => x.name === m.name);
  const bounds = [spec?.max !== undefined ? `<= ${spec.max}` : '', spec?.min !== undefined ? `>= ${spec.min}` : ''].filter(Boolean).join(' and ');
  if ('error' in m) return { name: m.name, verdict: 'inconclusive', reason: m.error === 'nodata' ? 'no data' : m.message, ...(bounds ? { threshold: bounds } : {}) };
  // Only NaN is "no value": ±Inf (x/0 with x > 0) is a value beyond every bound, and JSON has no
  // Infinity, so it is spelt in the reason and left out of `value`.
  if (Number.isNaN(m.value)) return { name: m.name, verdict: 'inconclusive', value: 0, reason: 'no value (NaN: no requests in the window)', threshold: bounds };
  const shown = Number.isFinite(m.value) ? round(m.value, 6) : m.value > 0 ? '+Inf' : '-Inf';
  const value = Number.isFinite(m.value) ? { value: round(m.value, 6) } : {};
  if (!final) return { name: m.name, verdict: 'pass', ...value, reason: `${shown} so far (judged when the step's hold ends)`, threshold: bounds };
  if (spec?.max !== undefined && m.value > spec.max) return { name: m.name, verdict: 'fail', ...value, reason: `${shown} is above max ${spec.max}`, threshold: bounds };
  if (spec?.min !== undefined && m.value < spec.min) return { name: m.name, verdict: 'fail', ...value, reason: `${shown} is below min ${spec.min}`, threshold: bounds };
  return { name: m.name, verdict: 'pass', ...value, reason: `${shown} within ${bounds}`, threshold: bounds };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function roundCounts(c: TrafficCounts): TrafficCounts {
  return { requests: Math.round(c.requests), errors: Math.round(c.errors) };
}
