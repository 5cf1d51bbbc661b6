/**
 * The request counts behind canary analysis, in one query per check. Pure: no I/O.
 *
 * A check needs, for the canary over the step so far and for stable over the baseline window,
 * the number of requests and of 5xx responses. Asked as separate sums that is four queries per
 * check; here it is one: per subset a `sum by (response_code)` (requests are the sum of every
 * code, errors the sum of the 5xx codes), the two subsets told apart by a label added with
 * label_replace and joined with `or` (their label sets differ by that label, so `or` keeps both).
 * The built-in templates istio-error-rate and istio-request-count are the canary's part of the
 * same numbers, so they need no query of their own either (see derivedMetric()).
 */
import type { MetricTemplate, TrafficCounts } from '../api/schema.ts';
import type { Sample } from './provider.ts';
import { trafficSelector, windowOf, type QueryContext, type Subset } from './templates.ts';

/** The label the traffic query adds to say which subset a series counts. */
export const SUBSET_LABEL = 'fledge_subset';

/**
 * One PromQL instant query counting requests by response code, for the canary over `canary`'s
 * window and, when given, for stable over `stable`'s (the same Rollout with a longer window).
 */
export function trafficQuery(canary: QueryContext, stable?: QueryContext): string {
  const part = (ctx: QueryContext, subset: Subset) =>
    `label_replace(sum by (response_code) (increase(istio_requests_total{${trafficSelector(ctx, subset)}}[${windowOf(ctx)}])), "${SUBSET_LABEL}", "${subset}", "", "")`;
  return stable ? `${part(canary, 'canary')} or ${part(stable, 'stable')}` : part(canary, 'canary');
}

export interface SubsetTraffic extends TrafficCounts {
  /** Response-code series seen: 0 means Prometheus has no series at all for the subset (yet). */
  series: number;
}

/**
 * The counts per subset from the traffic query's answer. A subset without series has served no
 * request in the window (Istio creates a series at a code's first request): zero, not a failure.
 */
export function trafficCounts(samples: readonly Sample[]): Record<Subset, SubsetTraffic> {
  const out: Record<Subset, SubsetTraffic> = { canary: { requests: 0, errors: 0, series: 0 }, stable: { requests: 0, errors: 0, series: 0 } };
  for (const s of samples) {
    const subset = s.labels[SUBSET_LABEL];
    if (subset !== 'canary' && subset !== 'stable') continue;
    const t = out[subset];
    t.series++;
    // increase() of a counter is never negative or NaN; a NaN here would poison every sum.
    if (!Number.isFinite(s.value) || s.value < 0) continue;
    t.requests += s.value;
    if (/^5\d\d$/.test(s.labels.response_code ?? '')) t.errors += s.value;
  }
  return out;
}

/** Built-in templates whose value is the canary's share of the traffic counts (no query of their own). */
export function isDerivedTemplate(template: MetricTemplate | undefined): boolean {
  return template === 'istio-error-rate' || template === 'istio-request-count';
}

/**
 * The value of a built-in template that is the canary's share of the traffic counts, or undefined
 * for templates that need a query of their own. Matches metricQuery()'s PromQL for the same
 * template: an error rate with no requests is NaN (no value), a count with no series is no data.
 */
export function derivedMetric(template: MetricTemplate | undefined, canary: SubsetTraffic): { value: number } | { nodata: true } | undefined {
  switch (template) {
    case 'istio-error-rate':
      if (canary.series === 0) return { nodata: true };
      return { value: canary.requests > 0 ? canary.errors / canary.requests : Number.NaN };
    case 'istio-request-count':
      return canary.series === 0 ? { nodata: true } : { value: canary.requests };
    default:
      return undefined;
  }
}
