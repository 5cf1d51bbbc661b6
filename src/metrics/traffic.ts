/**
 * The request counts behind canary analysis, in one query per check. Pure: no I/O.
 *
 * A check needs, for the canary over the step so far and for stable over the baseline window,
 * the number of requests and of failed requests (see isFailedRequest()). Asked as separate sums
 * that is four queries per check; here it is one: per subset a
 * `sum by (response_code, grpc_response_status)` (requests are the sum of every series, failures
 * the sum of the failed ones), the two subsets told apart by a label added with label_replace and
 * joined with `or` (their label sets differ by that label, so `or` keeps both). The same query
 * carries, when asked, the duration histogram of both subsets by `le` (for istio-slow-requests)
 * and the Service's series by reporter and version (for diagnosing missing signals), each part
 * marked by SIGNAL_LABEL, so a check still costs one query whatever it needs.
 * The built-in templates istio-error-rate and istio-request-count are the canary's part of the
 * same numbers, so they need no query of their own either (see derivedMetric()).
 */
import type { MetricTemplate, TrafficCounts } from '../api/schema.ts';
import { isFailedRequest } from './failures.ts';
import type { Sample } from './provider.ts';
import { istioVersionLabel, serviceSelector, trafficSelector, windowOf, type QueryContext, type Subset } from './templates.ts';

/** The label the traffic query adds to say which subset a series counts. */
export const SUBSET_LABEL = 'fledge_subset';
/** The label the traffic query adds to the parts that are not request counts. */
export const SIGNAL_LABEL = 'fledge_signal';
/** The diagnosis part's copy of the version label the canary is selected by. */
export const VERSION_LABEL = 'fledge_version';

export interface TrafficQueryOptions {
  /** Add the duration histogram of each subset by `le` (for istio-slow-requests). */
  durations?: boolean;
  /** Add the Service's series by reporter and version (for diagnosing a canary without series). */
  diagnosis?: boolean;
}

/**
 * One PromQL instant query counting requests by response code and gRPC status, for the canary
 * over `canary`'s window and, when given, for stable over `stable`'s (the same Rollout with a
 * longer window), plus the parts `opts` asks for.
 */
export function trafficQuery(canary: QueryContext, stable?: QueryContext, opts: TrafficQueryOptions = {}): string {
  const tag = (q: string, label: string, value: string) => `label_replace(${q}, "${label}", "${value}", "", "")`;
  const subsets: [QueryContext, Subset][] = stable ? [[canary, 'canary'], [stable, 'stable']] : [[canary, 'canary']];
  const parts = subsets.map(([ctx, subset]) =>
    tag(`sum by (response_code, grpc_response_status) (increase(istio_requests_total{${trafficSelector(ctx, subset)}}[${windowOf(ctx)}]))`, SUBSET_LABEL, subset));
  if (opts.durations) {
    for (const [ctx, subset] of subsets) {
      const sum = `sum by (le) (increase(istio_request_duration_milliseconds_bucket{${trafficSelector(ctx, subset)}}[${windowOf(ctx)}]))`;
      parts.push(tag(tag(sum, SUBSET_LABEL, subset), SIGNAL_LABEL, 'duration'));
    }
  }
  if (opts.diagnosis) {
    // The instant selector: series a proxy exports now (Envoy keeps exporting its counters while
    // it runs), whatever the window; cheap, and enough to tell "no sidecar" from "no traffic".
    const version = istioVersionLabel(canary, 'canary');
    const count = `count by (reporter, ${version}) (istio_requests_total{${serviceSelector(canary)}})`;
    parts.push(tag(`label_replace(${count}, "${VERSION_LABEL}", "$1", "${version}", "(.*)")`, SIGNAL_LABEL, 'service'));
  }
  return parts.join(' or ');
}

export interface SubsetTraffic extends TrafficCounts {
  /** Request series seen: 0 means Prometheus has no series at all for the subset (yet). */
  series: number;
  /** Requests counted in the duration histogram at or below each bucket bound (ms; +Inf: all). */
  buckets: Map<number, number>;
}

/** The Service's series as the mesh exports them now, by who reports them and their version. */
export interface ServiceSeries {
  reporter: string;
  version: string;
  series: number;
}

export interface Traffic {
  canary: SubsetTraffic;
  stable: SubsetTraffic;
  /** Present when the query carried the diagnosis part. */
  service?: ServiceSeries[];
}

const emptySubset = (): SubsetTraffic => ({ requests: 0, errors: 0, series: 0, buckets: new Map() });

/** `le` as Prometheus writes it: a decimal, or "+Inf". */
function bucketBound(le: string | undefined): number | undefined {
  if (le === undefined) return undefined;
  if (le === '+Inf' || le === 'Inf') return Infinity;
  const n = Number(le);
  return le.trim() !== '' && Number.isFinite(n) ? n : undefined;
}

/**
 * The counts per subset from the answer to trafficQuery(…, opts). A subset without series has
 * served no request in the window (Istio creates a series at a code's first request): zero, not
 * a failure. With opts.diagnosis, `service` lists the Service's series (empty: none at all).
 */
export function trafficCounts(samples: readonly Sample[], opts: TrafficQueryOptions = {}): Traffic {
  const out: Traffic = { canary: emptySubset(), stable: emptySubset(), ...(opts.diagnosis ? { service: [] } : {}) };
  for (const s of samples) {
    const signal = s.labels[SIGNAL_LABEL];
    if (signal === 'service') {
      out.service?.push({ reporter: s.labels.reporter ?? '', version: s.labels[VERSION_LABEL] ?? '', series: Number.isFinite(s.value) ? s.value : 0 });
      continue;
    }
    const subset = s.labels[SUBSET_LABEL];
    if (subset !== 'canary' && subset !== 'stable') continue;
    const t = out[subset];
    // increase() of a counter is never negative or NaN; a NaN here would poison every sum.
    const ok = Number.isFinite(s.value) && s.value >= 0;
    if (signal === 'duration') {
      const le = bucketBound(s.labels.le);
      if (le !== undefined && ok) t.buckets.set(le, (t.buckets.get(le) ?? 0) + s.value);
      continue;
    }
    if (signal !== undefined) continue;
    t.series++;
    if (!ok) continue;
    t.requests += s.value;
    if (isFailedRequest(s.labels.response_code, s.labels.grpc_response_status)) t.errors += s.value;
  }
  return out;
}

/**
 * Requests slower than a latency bound, from a subset's duration histogram: `requests` is the
 * histogram's count (the +Inf bucket), `errors` the requests above the first bucket bound at or
 * above `maxMs` (a histogram cannot split a bucket, so 300 ms is judged at Istio's 500 ms bound).
 * Undefined when the histogram has no finite bound at or above maxMs, or no +Inf bucket.
 */
export function slowRequests(t: SubsetTraffic, maxMs: number): { counts: TrafficCounts; boundMs: number } | undefined {
  const all = t.buckets.get(Infinity);
  const bound = [...t.buckets.keys()].filter((le) => le >= maxMs && Number.isFinite(le)).sort((a, b) => a - b)[0];
  if (all === undefined || bound === undefined) return undefined;
  const fast = Math.min(t.buckets.get(bound) ?? 0, all);
  return { counts: { requests: all, errors: all - fast }, boundMs: bound };
}

/** Built-in templates whose value is the canary's share of the traffic counts (no query of their own). */
export function isDerivedTemplate(template: MetricTemplate | undefined): boolean {
  return template === 'istio-error-rate' || template === 'istio-request-count';
}

/** Built-in templates judged as a canary-vs-stable comparison of counts from the traffic query. */
export function isComparedTemplate(template: MetricTemplate | undefined): boolean {
  return template === 'istio-slow-requests';
}

/**
 * The value of a built-in template that is the canary's share of the traffic counts, or undefined
 * for templates that need a query of their own. Equals the separate sums per number (checked on a real Prometheus by the provider tests) for the same
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
