/**
 * The pure judge of one step. Two rules make it better than a fixed threshold per interval:
 *  - too little traffic is never a failure: below minRequests the verdict is inconclusive and
 *    the step waits (its window keeps growing) instead of rolling back a healthy canary;
 *  - the canary is compared with stable (over the step, and stable over at least its baseline
 *    window), and fails as soon as the evidence
 *    that it is worse is strong, at any check inside the step, not only when the interval ends.
 * Threshold metrics (max/min) are judged when the step's hold is over.
 */
import type { ResolvedAnalysis } from '../api/resolve.ts';
import type { AnalysisResult, MetricResult, TrafficCounts, Verdict } from '../api/schema.ts';
import { probabilityWorse } from './beta.ts';

/** What a metric query gave: a number, or why there is none. */
export type MetricObservation =
  | { name: string; value: number }
  | { name: string; error: 'nodata' | 'multiple' | 'query' | 'unavailable'; message: string };

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

  if (input.countsError !== undefined) {
    return result('inconclusive', `cannot count requests: ${input.countsError}`, input.metrics.map((m) => ({ name: m.name, verdict: 'inconclusive', reason: 'not judged without request counts' })));
  }
  if (input.canary && input.canary.requests < a.minRequests) {
    const reason = `${Math.round(input.canary.requests)} canary requests in ${Math.round(input.windowSeconds)}s, fewer than minRequests ${a.minRequests}`;
    return result('inconclusive', reason, input.metrics.map((m) => ({ name: m.name, verdict: 'inconclusive', reason: 'too little traffic' })));
  }

  const metrics: MetricResult[] = [];
  let pWorse: number | undefined;
  if (a.comparison && input.canary && input.stable) {
    pWorse = probabilityWorse(input.canary, input.stable, { absolute: a.comparison.tolerance, relative: a.comparison.relativeTolerance });
    const worse = pWorse >= a.comparison.confidence;
    metrics.push({
      name: 'comparison',
      verdict: worse ? 'fail' : 'pass',
      value: round(pWorse, 4),
      threshold: `P(worse) < ${a.comparison.confidence}`,
      reason: `canary ${pct(rate(input.canary))} of ${Math.round(input.canary.requests)} vs stable ${pct(rate(input.stable))} of ${Math.round(input.stable.requests)}: P(worse) ${pWorse.toFixed(3)}`,
    });
  }
  for (const m of input.metrics) metrics.push(thresholdResult(a, m, input.final));

  const extra = pWorse !== undefined ? { probabilityWorse: round(pWorse, 4) } : {};
  const failed = metrics.filter((m) => m.verdict === 'fail');
  if (failed.length > 0) return result('fail', failed.map((m) => `${m.name}: ${m.reason}`).join('; '), metrics, extra);
  if (!input.final) return result('pass', 'no evidence against the canary so far', metrics, extra);
  const unsure = metrics.filter((m) => m.verdict === 'inconclusive');
  if (unsure.length > 0) return result('inconclusive', unsure.map((m) => `${m.name}: ${m.reason}`).join('; '), metrics, extra);
  return result('pass', metrics.length > 0 ? metrics.map((m) => `${m.name}: ${m.reason}`).join('; ') : 'no metrics to judge', metrics, extra);
}

function thresholdResult(a: ResolvedAnalysis, m: MetricObservation, final: boolean): MetricResult {
  const spec = a.metrics.find((x) => x.name === m.name);
  const bounds = [spec?.max !== undefined ? `<= ${spec.max}` : '', spec?.min !== undefined ? `>= ${spec.min}` : ''].filter(Boolean).join(' and ');
  if ('error' in m) return { name: m.name, verdict: 'inconclusive', reason: m.error === 'nodata' ? 'no data' : m.message, ...(bounds ? { threshold: bounds } : {}) };
  if (!Number.isFinite(m.value)) return { name: m.name, verdict: 'inconclusive', value: 0, reason: 'no value (NaN: no requests in the window)', threshold: bounds };
  const value = round(m.value, 6);
  if (!final) return { name: m.name, verdict: 'pass', value, reason: `${value} so far (judged when the step's hold ends)`, threshold: bounds };
  if (spec?.max !== undefined && m.value > spec.max) return { name: m.name, verdict: 'fail', value, reason: `${value} is above max ${spec.max}`, threshold: bounds };
  if (spec?.min !== undefined && m.value < spec.min) return { name: m.name, verdict: 'fail', value, reason: `${value} is below min ${spec.min}`, threshold: bounds };
  return { name: m.name, verdict: 'pass', value, reason: `${value} within ${bounds}`, threshold: bounds };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function roundCounts(c: TrafficCounts): TrafficCounts {
  return { requests: Math.round(c.requests), errors: Math.round(c.errors) };
}
