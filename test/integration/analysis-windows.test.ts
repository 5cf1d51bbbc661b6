/**
 * The analyzer's count gathering against a real Prometheus scraping the fake mesh: the one query
 * per check carries the planner's two windows (the release so far and the step), each subset
 * over its own length, and the judge gets the same numbers as separate queries give.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnalysisCheck } from '../../src/api/check.ts';
import { resolveRollout, type ResolvedRollout } from '../../src/api/resolve.ts';
import { parseRollout } from '../../src/api/validate.ts';
import { PrometheusAnalyzer } from '../../src/controller/prometheus-analyzer.ts';
import { silentLogger } from '../../src/kube/log.ts';
import { startMeshWorkload, type MeshWorkload } from '../../src/devenv/mesh.ts';
import { startLocalPrometheus, type LocalPrometheus } from '../../src/devenv/prometheus.ts';
import { PrometheusProvider } from '../../src/metrics/prometheus.ts';
import type { PrometheusConfig } from '../../src/metrics/provider-config.ts';
import { trafficCounts, trafficQuery } from '../../src/metrics/traffic.ts';
import { reviewsContext } from '../support/query-context.ts';
import { waitForFullWindow } from '../support/prometheus.ts';

/** A Rollout judged by the controller's default provider (it names no Prometheus itself). */
function rollout(extra: Record<string, unknown> = {}): ResolvedRollout {
  const parsed = parseRollout({
    apiVersion: 'fledge.dev/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'reviews', namespace: 'shop' },
    spec: {
      service: { name: 'reviews' },
      stable: { labels: { app: 'reviews', version: 'v1' } },
      canary: { labels: { app: 'reviews', version: 'v2' } },
      strategy: { steps: [10, 50, 100] },
      analysis: { comparison: { baselineWindow: '20s' }, ...extra },
    },
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return resolveRollout(parsed.rollout);
}

/** The controller configured with --prometheus-address only. */
function defaultProvider(address: string): PrometheusConfig {
  return { providers: [{ name: 'default', address, timeoutMs: 2000 }], allowedAddresses: [] };
}

function check(now: Date, releaseSeconds: number, stepSeconds: number): AnalysisCheck {
  const start = (s: number) => new Date(now.getTime() - s * 1000).toISOString();
  return {
    stepIndex: 1, final: false, nextWeight: 100, promotes: false, lastChance: false,
    release: { startedAt: start(releaseSeconds), seconds: releaseSeconds, stableSeconds: releaseSeconds + 20 },
    step: { startedAt: start(stepSeconds), seconds: stepSeconds, stableSeconds: Math.max(stepSeconds, 20) },
  };
}

describe('the analyzer reads the planner\'s windows from a real Prometheus', () => {
  let mesh: MeshWorkload;
  let prom: LocalPrometheus;
  let provider: PrometheusProvider;
  const queries: string[] = [];

  beforeAll(async () => {
    mesh = await startMeshWorkload({
      service: 'reviews', namespace: 'shop', versions: ['v1', 'v2'], rps: 40, seed: 11,
      behaviour: { v1: { errorRate: 0.01, latencyMs: 10 }, v2: { errorRate: 0.3, latencyMs: 10 } },
    });
    mesh.setWeights({ v1: 50, v2: 50 });
    prom = await startLocalPrometheus({ scrapeTargets: [mesh.metricsAddress] });
    provider = new PrometheusProvider({ address: prom.url, timeoutMs: 2000, onQuery: (q) => queries.push(q) });
    // 40 s of 1 s scrapes, so the 30 s release window and stable's 50 s are full of samples.
    await waitForFullWindow(provider, 40, 38, 90_000, 500);
  }, 120_000);

  afterAll(async () => {
    await prom?.stop();
    await mesh?.stop();
  }, 30_000);

  it('one query per check gives both windows\' counts, the same as a query per window', async () => {
    const r = rollout();
    const analyzer = new PrometheusAnalyzer({ log: silentLogger, prometheus: defaultProvider(prom.url), makeProvider: () => provider });
    const now = new Date();
    const before = queries.length;
    const result = await analyzer.analyze(r, check(now, 30, 10), now);
    expect(queries.length - before).toBe(1);
    expect(queries[before]).toContain('fledge_window');

    const release = trafficCounts(await provider.queryVector(trafficQuery(reviewsContext(30), reviewsContext(50)), { time: now }));
    expect(result.canary!.requests).toBe(Math.round(release.canary.requests));
    expect(result.canary!.errors).toBe(Math.round(release.canary.errors));
    expect(result.stable!.requests).toBe(Math.round(release.stable.requests));
    // 20 rps per version: the release's 30 s and stable's 50 s, give or take increase()'s extrapolation.
    expect(result.canary!.requests).toBeGreaterThan(400);
    expect(result.stable!.requests).toBeGreaterThan(result.canary!.requests * 1.3);
    expect(result).toMatchObject({ windowSeconds: 10, releaseSeconds: 30 });

    // The step's part of that query counts the step's window: the same as its own query.
    const samples = await provider.queryVector(queries[before]!, { time: now });
    const stepPart = trafficCounts(samples.filter((x) => x.labels.fledge_window === 'step'));
    const step = trafficCounts(await provider.queryVector(trafficQuery(reviewsContext(10), reviewsContext(20)), { time: now }));
    expect(stepPart.canary.requests).toBeCloseTo(step.canary.requests, 6);
    expect(stepPart.canary.errors).toBeCloseTo(step.canary.errors, 6);
    expect(stepPart.stable.requests).toBeCloseTo(step.stable.requests, 6);
    expect(step.canary.requests).toBeLessThan(release.canary.requests / 2);
    // A canary failing 30 % of its requests against stable's 1 %: rolled back on the evidence.
    expect(result.verdict).toBe('fail');
    expect(result.decisive).toBe(true);
    expect(result.reason).toMatch(/^errors: (release so far|this step): canary/);
    expect(result.bayesFactor).toBeGreaterThan(200);
  });

  it('the first step asks its one window once', async () => {
    const r = rollout();
    const analyzer = new PrometheusAnalyzer({ log: silentLogger, prometheus: defaultProvider(prom.url), makeProvider: () => provider });
    const now = new Date();
    const before = queries.length;
    const result = await analyzer.analyze(r, check(now, 15, 15), now);
    expect(queries.length - before).toBe(1);
    expect(queries[before]).not.toContain('fledge_window');
    expect(result).toMatchObject({ windowSeconds: 15, releaseSeconds: 15 });
  });

  it('istio-slow-requests rides on the same one query, in both windows, as one more signal', async () => {
    const r = rollout({ metrics: [{ name: 'latency', template: 'istio-slow-requests', max: 400 }] });
    const analyzer = new PrometheusAnalyzer({ log: silentLogger, prometheus: defaultProvider(prom.url), makeProvider: () => provider });
    const now = new Date();
    const before = queries.length;
    const result = await analyzer.analyze(r, check(now, 30, 10), now);
    expect(queries.length - before).toBe(1);
    const q = queries[before]!;
    expect(q).toContain('fledge_window');
    expect(q.match(/istio_request_duration_milliseconds_bucket/g)).toHaveLength(4);
    // The diagnosis part, once: an instant selector is the same for every window.
    expect(q.match(/fledge_signal", "service"/g)).toHaveLength(1);
    // Both versions answer in 10 ms: none slower than 500 ms, over as many requests as counted.
    const latency = result.metrics.find((m) => m.name === 'latency');
    expect(latency?.reason).toMatch(/^release so far: canary 0\.00% slower than 500 ms \(the first bucket bound at or above max 400\) \(0\/\d+\) vs stable 0\.00% \(0\/\d+\)/);
    const slowTotal = Number(/\(0\/(\d+)\) vs stable/.exec(latency!.reason)![1]);
    expect(Math.abs(slowTotal - result.canary!.requests)).toBeLessThanOrEqual(Math.max(2, 0.05 * result.canary!.requests));
    expect(latency?.verdict).not.toBe('fail');
    // The canary's errors (30 % against 1 %) still fail it, on the evidence.
    expect(result.verdict).toBe('fail');
    expect(result.reason).toMatch(/^errors: /);
    expect(result.diagnosis).toBeUndefined();
  });
});
