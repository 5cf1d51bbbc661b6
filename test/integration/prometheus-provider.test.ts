/**
 * PrometheusProvider and the rendered templates against a real Prometheus (Debian's package)
 * scraping the fake mesh: the PromQL that canary analysis runs, end to end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMeshWorkload, type MeshWorkload } from '../../src/devenv/mesh.ts';
import { startLocalPrometheus, type LocalPrometheus } from '../../src/devenv/prometheus.ts';
import { PrometheusProvider } from '../../src/metrics/prometheus.ts';
import { MultipleSeriesError, NoDataError, QueryError, UnavailableError } from '../../src/metrics/provider.ts';
import { metricQuery, type QueryContext } from '../../src/metrics/templates.ts';
import { referenceTemplateQuery, referenceTrafficQueries } from '../support/reference-queries.ts';
import { derivedMetric, trafficCounts, trafficQuery } from '../../src/metrics/traffic.ts';
import { rejection } from '../support/rejection.ts';
import { reviewsContext } from '../support/query-context.ts';
import { waitForFullWindow } from '../support/prometheus.ts';

const RPS = 40; // 50/50: 20 per version
const V1 = { errorRate: 0, latencyMs: 20 };
const V2 = { errorRate: 0.2, latencyMs: 100 };

const ctx: QueryContext = reviewsContext(10);

describe('PrometheusProvider against a real Prometheus', () => {
  let mesh: MeshWorkload;
  let prom: LocalPrometheus;
  let provider: PrometheusProvider;
  const outcomes: string[] = [];

  beforeAll(async () => {
    mesh = await startMeshWorkload({
      service: 'reviews', namespace: 'shop', versions: ['v1', 'v2'], rps: RPS, seed: 7, behaviour: { v1: V1, v2: V2 },
    });
    mesh.setWeights({ v1: 50, v2: 50 });
    const t0 = performance.now();
    prom = await startLocalPrometheus({ scrapeTargets: [mesh.metricsAddress] });
    provider = new PrometheusProvider({ address: prom.url, timeoutMs: 2000, onQuery: (_q, _ms, o) => outcomes.push(o) });
    // A full [10s] window of 1 s scrapes, so ratios rest on ~200 requests per version.
    await waitForFullWindow(provider, 10, 10, 60_000, 250);
    console.info(`prometheus-provider: full [10s] window ${Math.round(performance.now() - t0)} ms after start`);
  }, 90_000);

  afterAll(async () => {
    await prom?.stop();
    await mesh?.stop();
  }, 30_000);

  it('counts the requests and errors of each subset at one instant', async () => {
    const time = new Date();
    const canary = referenceTrafficQueries(ctx, 'canary');
    const stable = referenceTrafficQueries(ctx, 'stable');
    const [cReq, cErr, sReq, sErr] = await Promise.all(
      [canary.requests, canary.errors, stable.requests, stable.errors].map((q) => provider.query(q, { time })),
    );
    // 20 rps over 10 s; increase() extrapolates to the window's edges, so not a whole number.
    for (const n of [cReq!, sReq!]) {
      expect(n).toBeGreaterThan(120);
      expect(n).toBeLessThan(300);
    }
    expect(cErr! / cReq!).toBeGreaterThan(0.08);
    expect(cErr! / cReq!).toBeLessThan(0.35);
    expect(sErr).toBe(0);

    // The one query the analyzer sends per check gives the same four numbers at the same instant.
    const stableCtx = { ...ctx, windowSeconds: 20 };
    const [counted, sReq20, errorRate, requestCount] = await Promise.all([
      provider.queryVector(trafficQuery(ctx, stableCtx), { time }),
      provider.query(referenceTrafficQueries(stableCtx, 'stable').requests, { time }),
      provider.query(referenceTemplateQuery(ctx, 'istio-error-rate'), { time }),
      provider.query(referenceTemplateQuery(ctx, 'istio-request-count'), { time }),
    ]);
    const t = trafficCounts(counted);
    expect(t.canary.requests).toBeCloseTo(cReq!, 6);
    expect(t.canary.errors).toBeCloseTo(cErr!, 6);
    expect(t.stable.requests).toBeCloseTo(sReq20, 6);
    expect(t.stable.errors).toBe(0);
    expect(t.canary.series).toBeGreaterThanOrEqual(2); // 200 and 503 at least
    expect((derivedMetric('istio-error-rate', t.canary) as { value: number }).value).toBeCloseTo(errorRate, 9);
    expect((derivedMetric('istio-request-count', t.canary) as { value: number }).value).toBeCloseTo(requestCount, 6);
  });


  it('istio-error-rate is the canary 5xx ratio', async () => {
    const v = await provider.query(referenceTemplateQuery(ctx, 'istio-error-rate'));
    expect(v).toBeGreaterThan(0.08);
    expect(v).toBeLessThan(0.35);
    const stable = await provider.query(referenceTemplateQuery({ ...ctx, canaryLabels: ctx.stableLabels }, 'istio-error-rate'));
    expect(stable).toBe(0);
  });

  it('istio-request-count is the canary request count', async () => {
    const v = await provider.query(referenceTemplateQuery(ctx, 'istio-request-count'));
    expect(v).toBeGreaterThan(120);
    expect(v).toBeLessThan(300);
  });

  it('istio-latency-p99 lands in the bucket around the canary latency (ms)', async () => {
    // 100 ms ± 20 %: histogram_quantile interpolates inside the (100, 250] bucket.
    const v = await provider.query(metricQuery(ctx, { name: 'p99', template: 'istio-latency-p99' }));
    expect(v).toBeGreaterThan(100);
    expect(v).toBeLessThanOrEqual(250);
  });

  it('runs a user query with its variables substituted', async () => {
    const q = metricQuery(ctx, {
      name: 'rps',
      query: 'sum(rate(istio_requests_total{destination_service_name="{{service}}",destination_service_namespace="{{namespace}}",destination_version="{{canary.labels.version}}"}[{{interval}}]))',
    });
    const v = await provider.query(q);
    expect(v).toBeGreaterThan(12);
    expect(v).toBeLessThan(30);
  });

  it('a version without series: requests are no data, errors are 0', async () => {
    const absent = referenceTrafficQueries({ ...ctx, canaryLabels: { version: 'v9' } }, 'canary');
    expect(trafficCounts(await provider.queryVector(trafficQuery({ ...ctx, canaryLabels: { version: 'v9' } }, ctx))).canary).toEqual({ requests: 0, errors: 0, series: 0, buckets: new Map() });
    expect(await rejection(provider.query(absent.requests))).toBeInstanceOf(NoDataError);
    expect(await provider.query(absent.errors)).toBe(0);
    expect(await rejection(provider.query(referenceTemplateQuery({ ...ctx, canaryLabels: { version: 'v9' } }, 'istio-error-rate'))))
      .toBeInstanceOf(NoDataError);
  });

  it('escaped injection attempts stay label values: Prometheus parses them and finds nothing', async () => {
    const attack = '"}[1m])) or vector(1) #';
    const evil = { ...ctx, service: attack, canaryLabels: { version: `v2\\"} or vector(1)\n#` } };
    const err = await rejection(provider.query(metricQuery(evil, { name: 'm', template: 'istio-latency-p99' })));
    expect(err).toBeInstanceOf(NoDataError);
    // The traffic query (which serves istio-error-rate and istio-request-count) finds no series either.
    expect(await provider.queryVector(trafficQuery(evil, evil))).toEqual([]);
  });

  it('a missing series is NoDataError', async () => {
    const err = await rejection(provider.query('sum(rate(istio_requests_total{destination_version="nope"}[10s]))'));
    expect(err).toBeInstanceOf(NoDataError);
  });

  it('one number per version is MultipleSeriesError', async () => {
    const err = await rejection(provider.query('sum by (destination_version) (rate(istio_requests_total{reporter="destination"}[10s]))'));
    expect(err).toBeInstanceOf(MultipleSeriesError);
    expect(err.message).toMatch(/2 series/);
    expect(err.message).toContain('{destination_version="v1"}');
    expect(err.message).toContain('{destination_version="v2"}');
  });

  it.each([
    ['a syntax error', 'sum(rate(istio_requests_total[10s])', 'bad_data'],
    ['an unknown function', 'summ(istio_requests_total)', 'bad_data'],
  ])('%s is QueryError', async (_what, q, errorType) => {
    const err = await rejection(provider.query(q));
    expect(err).toBeInstanceOf(QueryError);
    expect((err as QueryError).errorType).toBe(errorType);
  });

  it('a range vector is QueryError', async () => {
    expect(await rejection(provider.query('istio_requests_total{destination_version="v1",response_code="200"}[10s]'))).toBeInstanceOf(QueryError);
  });

  it('Prometheus stopped is UnavailableError after retries; resumed, queries work again', async () => {
    const count = referenceTrafficQueries({ ...ctx, windowSeconds: 60 }, 'canary').requests;
    await prom.pause();
    try {
      const t0 = performance.now();
      const err = await rejection(provider.query(count));
      const ms = performance.now() - t0;
      expect(err).toBeInstanceOf(UnavailableError);
      expect(err.message).toMatch(/ECONNREFUSED/);
      // connection refused is immediate: the time is the backoff, 200 ms + 1 s
      expect(ms).toBeGreaterThan(1100);
      expect(ms).toBeLessThan(5000);
    } finally {
      await prom.resume();
    }
    // The WAL is replayed before /-/ready, so the minute before the pause is still there.
    expect(await provider.query(count)).toBeGreaterThan(0);
    expect(outcomes).toContain('unavailable');
    expect(outcomes.at(-1)).toBe('ok');
  }, 60_000);
});
