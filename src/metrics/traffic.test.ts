import { describe, expect, it } from 'vitest';
import type { QueryContext } from './templates.ts';
import {
  SIGNAL_LABEL, SUBSET_LABEL, VERSION_LABEL, derivedMetric, isComparedTemplate, isDerivedTemplate, slowRequests, trafficCounts, trafficQuery,
  type SubsetTraffic,
} from './traffic.ts';
import { reviewsContext } from '../../test/support/query-context.ts';

const ctx: QueryContext = reviewsContext(90);
const SEL = (v: string) => `reporter="destination",destination_service_name="reviews",destination_service_namespace="shop",destination_version="${v}"`;
const part = (v: string, w: string, subset: string) =>
  `label_replace(sum by (response_code, grpc_response_status) (increase(istio_requests_total{${SEL(v)}}[${w}])), "${SUBSET_LABEL}", "${subset}", "", "")`;
const durations = (v: string, w: string, subset: string) =>
  `label_replace(label_replace(sum by (le) (increase(istio_request_duration_milliseconds_bucket{${SEL(v)}}[${w}])), "${SUBSET_LABEL}", "${subset}", "", ""), "${SIGNAL_LABEL}", "duration", "", "")`;

describe('trafficQuery', () => {
  it('counts the canary alone when there is no comparison', () => {
    expect(trafficQuery(ctx)).toBe(part('v2', '90s', 'canary'));
  });

  it('joins the canary over its window and stable over the baseline window with or', () => {
    expect(trafficQuery(ctx, { ...ctx, windowSeconds: 600 })).toBe(`${part('v2', '90s', 'canary')} or ${part('v1', '600s', 'stable')}`);
  });

  it('adds both duration histograms by le, and the Service series by reporter and version, in the same query', () => {
    const service = `label_replace(label_replace(count by (reporter, destination_version) (istio_requests_total{destination_service_name="reviews",destination_service_namespace="shop"}), "${VERSION_LABEL}", "$1", "destination_version", "(.*)"), "${SIGNAL_LABEL}", "service", "", "")`;
    expect(trafficQuery(ctx, { ...ctx, windowSeconds: 600 }, { durations: true, diagnosis: true })).toBe(
      [part('v2', '90s', 'canary'), part('v1', '600s', 'stable'), durations('v2', '90s', 'canary'), durations('v1', '600s', 'stable'), service].join(' or '),
    );
  });

  it('selects the canonical revision when the subsets are told apart by it', () => {
    const rev = { ...ctx, canaryLabels: { 'service.istio.io/canonical-revision': 'r2' } };
    expect(trafficQuery(rev, undefined, { diagnosis: true })).toContain('destination_canonical_revision="r2"');
    expect(trafficQuery(rev, undefined, { diagnosis: true })).toContain('count by (reporter, destination_canonical_revision)');
  });

  it('refuses a stable subset without a version label', () => {
    expect(() => trafficQuery(ctx, { ...ctx, stableLabels: { app: 'reviews' } })).toThrow(/stable labels have none of version/);
  });
});

const c = (code: string, value: number, subset = 'canary', grpc?: string) =>
  ({ labels: { response_code: code, [SUBSET_LABEL]: subset, ...(grpc !== undefined ? { grpc_response_status: grpc } : {}) }, value });
const t = (requests: number, errors: number, series: number, buckets: [number, number][] = []): SubsetTraffic =>
  ({ requests, errors, series, buckets: new Map(buckets) });
const none = t(0, 0, 0);

describe('trafficCounts', () => {
  it.each([
    ['no series: zero for both, no series seen', [], none, none],
    ['requests are every code, errors the 5xx', [c('200', 90), c('404', 4), c('503', 5), c('500', 1)], t(100, 6, 4), none],
    ['subsets are kept apart', [c('200', 10), c('200', 300, 'stable'), c('502', 2, 'stable')], t(10, 0, 1), t(302, 2, 2)],
    ['a series at zero still counts as seen', [c('200', 0)], t(0, 0, 1), none],
    ['5xx means three digits starting with 5', [c('5', 1), c('50', 1), c('5000', 1), c('599', 1)], t(4, 1, 4), none],
    ['NaN and negative values are skipped, not summed', [c('200', Number.NaN), c('200', -3), c('200', 7)], t(7, 0, 3), none],
    ['series of no known subset are ignored', [{ labels: { response_code: '200' }, value: 5 }, c('200', 5, 'baseline')], none, none],
    // Issue #16, case 1: 540 of 600 gRPC calls end UNAVAILABLE over HTTP 200.
    ['gRPC UNAVAILABLE over HTTP 200 is an error', [c('200', 60, 'canary', '0'), c('200', 540, 'canary', '14'), c('200', 5000, 'stable', '0')], t(600, 540, 2), t(5000, 0, 1)],
    ['gRPC server statuses count, client-side ones do not', [
      ...['2', '4', '12', '13', '14', '15'].map((g) => c('200', 1, 'canary', g)),
      ...['1', '3', '5', '6', '7', '8', '9', '10', '11', '16', '0'].map((g) => c('200', 1, 'canary', g)),
    ], t(17, 6, 17), none],
    // Issue #16, case 2: requests the caller gave up on are recorded with response_code "0".
    ['no response (code 0) is an error on both sides', [c('200', 700), c('0', 300), c('200', 9990, 'stable'), c('0', 10, 'stable')], t(1000, 300, 2), t(10000, 10, 2)],
    ['a 503 that is also a gRPC failure counts once', [c('503', 3, 'canary', '14')], t(3, 3, 1), none],
  ])('%s', (_what, samples, canary, stable) => {
    const out = trafficCounts(samples);
    expect({ canary: out.canary, stable: out.stable }).toEqual({ canary, stable });
    expect(out.service).toBeUndefined();
  });

  it('reads duration buckets and the Service series apart from the request counts', () => {
    const b = (le: string, value: number, subset: string) => ({ labels: { le, [SUBSET_LABEL]: subset, [SIGNAL_LABEL]: 'duration' }, value });
    const out = trafficCounts([
      c('200', 100), b('250', 80, 'canary'), b('500', 90, 'canary'), b('+Inf', 100, 'canary'), b('junk', 5, 'canary'), b('500', Number.NaN, 'stable'),
      { labels: { reporter: 'source', [VERSION_LABEL]: 'unknown', [SIGNAL_LABEL]: 'service' }, value: 3 },
    ], { durations: true, diagnosis: true });
    expect(out.canary).toEqual(t(100, 0, 1, [[250, 80], [500, 90], [Infinity, 100]]));
    expect(out.stable).toEqual(none);
    expect(out.service).toEqual([{ reporter: 'source', version: 'unknown', series: 3 }]);
    // Asked for, the Service's series are a list even when there are none; not asked, absent.
    expect(trafficCounts([], { diagnosis: true }).service).toEqual([]);
    expect(trafficCounts([{ labels: { [SIGNAL_LABEL]: 'service', reporter: 'source' }, value: 1 }]).service).toBeUndefined();
  });
});

describe('slowRequests', () => {
  const h = t(100, 0, 1, [[100, 50], [250, 80], [500, 90], [1000, 99], [Infinity, 100]]);
  it.each([
    ['a bound that is a bucket bound', 500, { counts: { requests: 100, errors: 10 }, boundMs: 500 }],
    ['a bound between buckets takes the next bound up', 300, { counts: { requests: 100, errors: 10 }, boundMs: 500 }],
    ['a bound below every bucket takes the first', 1, { counts: { requests: 100, errors: 50 }, boundMs: 100 }],
    ['no finite bound at or above max', 5000, undefined],
  ] as const)('%s', (_what, max, expected) => {
    expect(slowRequests(h, max)).toEqual(expected);
  });

  it('needs the +Inf bucket, and never counts fewer than zero slow requests', () => {
    expect(slowRequests(t(0, 0, 0, [[500, 3]]), 500)).toBeUndefined();
    expect(slowRequests(t(0, 0, 0, [[500, 12], [Infinity, 10]]), 500)).toEqual({ counts: { requests: 10, errors: 0 }, boundMs: 500 });
  });
});

describe('derivedMetric', () => {
  it.each([
    ['istio-error-rate', t(200, 10, 2), { value: 0.05 }],
    ['istio-error-rate', t(0, 0, 1), { value: Number.NaN }],
    ['istio-error-rate', t(0, 0, 0), { nodata: true }],
    ['istio-request-count', t(123.5, 3, 2), { value: 123.5 }],
    ['istio-request-count', t(0, 0, 1), { value: 0 }],
    ['istio-request-count', t(0, 0, 0), { nodata: true }],
    ['istio-latency-p99', t(200, 10, 2), undefined],
    ['istio-slow-requests', t(200, 10, 2), undefined],
    [undefined, t(200, 10, 2), undefined],
  ] as const)('%s of %j', (template, canary, expected) => {
    expect(derivedMetric(template, canary)).toEqual(expected);
    expect(isDerivedTemplate(template)).toBe(expected !== undefined);
    expect(isComparedTemplate(template)).toBe(template === 'istio-slow-requests');
  });
});
