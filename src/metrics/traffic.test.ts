import { describe, expect, it } from 'vitest';
import type { QueryContext } from './templates.ts';
import { SUBSET_LABEL, derivedMetric, isDerivedTemplate, trafficCounts, trafficQuery, type SubsetTraffic } from './traffic.ts';
import { reviewsContext } from '../../test/support/query-context.ts';

const ctx: QueryContext = reviewsContext(90);
const SEL = (v: string) => `reporter="destination",destination_service_name="reviews",destination_service_namespace="shop",destination_version="${v}"`;
const part = (v: string, w: string, subset: string) =>
  `label_replace(sum by (response_code) (increase(istio_requests_total{${SEL(v)}}[${w}])), "${SUBSET_LABEL}", "${subset}", "", "")`;

describe('trafficQuery', () => {
  it('counts the canary alone when there is no comparison', () => {
    expect(trafficQuery(ctx)).toBe(part('v2', '90s', 'canary'));
  });

  it('joins the canary over its window and stable over the baseline window with or', () => {
    expect(trafficQuery(ctx, { ...ctx, windowSeconds: 600 })).toBe(`${part('v2', '90s', 'canary')} or ${part('v1', '600s', 'stable')}`);
  });

  it('refuses a stable subset without a version label', () => {
    expect(() => trafficQuery(ctx, { ...ctx, stableLabels: { app: 'reviews' } })).toThrow(/stable labels have none of version/);
  });
});

const c = (code: string, value: number, subset = 'canary') => ({ labels: { response_code: code, [SUBSET_LABEL]: subset }, value });

describe('trafficCounts', () => {
  it.each([
    ['no series: zero for both, no series seen', [], { requests: 0, errors: 0, series: 0 }, { requests: 0, errors: 0, series: 0 }],
    ['requests are every code, errors the 5xx', [c('200', 90), c('404', 4), c('503', 5), c('500', 1)], { requests: 100, errors: 6, series: 4 }, { requests: 0, errors: 0, series: 0 }],
    ['subsets are kept apart', [c('200', 10), c('200', 300, 'stable'), c('502', 2, 'stable')], { requests: 10, errors: 0, series: 1 }, { requests: 302, errors: 2, series: 2 }],
    ['a series at zero still counts as seen', [c('200', 0)], { requests: 0, errors: 0, series: 1 }, { requests: 0, errors: 0, series: 0 }],
    ['5xx means three digits starting with 5', [c('5', 1), c('50', 1), c('5000', 1), c('599', 1)], { requests: 4, errors: 1, series: 4 }, { requests: 0, errors: 0, series: 0 }],
    ['NaN and negative values are skipped, not summed', [c('200', Number.NaN), c('200', -3), c('200', 7)], { requests: 7, errors: 0, series: 3 }, { requests: 0, errors: 0, series: 0 }],
    ['series of no known subset are ignored', [{ labels: { response_code: '200' }, value: 5 }, c('200', 5, 'baseline')], { requests: 0, errors: 0, series: 0 }, { requests: 0, errors: 0, series: 0 }],
  ])('%s', (_what, samples, canary, stable) => {
    expect(trafficCounts(samples)).toEqual({ canary, stable });
  });
});

describe('derivedMetric', () => {
  const t = (requests: number, errors: number, series: number): SubsetTraffic => ({ requests, errors, series });
  it.each([
    ['istio-error-rate', t(200, 10, 2), { value: 0.05 }],
    ['istio-error-rate', t(0, 0, 1), { value: Number.NaN }],
    ['istio-error-rate', t(0, 0, 0), { nodata: true }],
    ['istio-request-count', t(123.5, 3, 2), { value: 123.5 }],
    ['istio-request-count', t(0, 0, 1), { value: 0 }],
    ['istio-request-count', t(0, 0, 0), { nodata: true }],
    ['istio-latency-p99', t(200, 10, 2), undefined],
    [undefined, t(200, 10, 2), undefined],
  ] as const)('%s of %j', (template, canary, expected) => {
    expect(derivedMetric(template, canary)).toEqual(expected);
    expect(isDerivedTemplate(template)).toBe(expected !== undefined);
  });
});
