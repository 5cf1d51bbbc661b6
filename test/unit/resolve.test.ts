import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatDuration, parseDuration } from '../../src/api/duration.ts';
import { resolveSteps } from '../../src/api/resolve.ts';
import { minimalRollout, resolveValid, resolvedExample } from './fixtures.ts';

type Strategy = Parameters<typeof resolveSteps>[0];

describe('resolveRollout defaults', () => {
  const r = resolveValid(minimalRollout());

  it('names the subsets stable and canary', () => {
    expect(r.stable).toEqual({ subset: 'stable', labels: { version: 'v1' } });
    expect(r.canary).toEqual({ subset: 'canary', labels: { version: 'v2' } });
  });

  it('generates a VirtualService named after the rollout, for the service host, without gateways', () => {
    expect(r.virtualService).toEqual({ mode: 'generated', name: 'web', hosts: ['web'] });
    expect(r.virtualService).not.toHaveProperty('gateways');
    expect(r.virtualService).not.toHaveProperty('match');
    expect(r.virtualService).not.toHaveProperty('http');
  });

  it('generates a DestinationRule named after the rollout, without a trafficPolicy', () => {
    expect(r.destinationRule).toEqual({ mode: 'generated', name: 'web' });
  });

  it('holds each step for 1m and has no analysis without spec.analysis', () => {
    expect(r.intervalMs).toBe(60_000);
    expect(r.analysis).toBeUndefined();
    expect(r.service).toEqual({ name: 'web' });
  });

  it('takes namespace default and generation 0 when metadata leaves them out', () => {
    const doc = minimalRollout();
    delete doc.metadata.namespace;
    const d = resolveValid(doc);
    expect(d.namespace).toBe('default');
    expect(d.generation).toBe(0);
    expect(d.uid).toBeUndefined();
    expect(d.annotations).toEqual({});
  });

  const withAnalysis = (analysis: Record<string, unknown>) => {
    const doc = minimalRollout();
    doc.spec.analysis = analysis;
    return resolveValid(doc).analysis;
  };
  const DEFAULT_COMPARISON = { confidence: 0.99, passConfidence: 0.65, tolerance: 0.005, relativeTolerance: 0.5, baselineWindowMs: 600_000 };

  it('an empty analysis is the comparison of canary and stable, every default filled in', () => {
    expect(withAnalysis({})).toEqual({
      prometheus: {},
      metrics: [],
      comparison: DEFAULT_COMPARISON,
      failureLimit: 1,
      minRequests: 50,
      inconclusiveLimit: 10,
      checkIntervalMs: 10_000,
    });
  });

  it('fills in failureLimit 1, minRequests 50, inconclusiveLimit 10, the comparison and the timings when metrics are given', () => {
    expect(withAnalysis({ metrics: [{ name: 'e', template: 'istio-error-rate', max: 0.01 }] })).toEqual({
      prometheus: {},
      metrics: [{ name: 'e', template: 'istio-error-rate', max: 0.01 }],
      comparison: DEFAULT_COMPARISON,
      failureLimit: 1,
      minRequests: 50,
      inconclusiveLimit: 10,
      checkIntervalMs: 10_000,
    });
  });

  it('takes inconclusiveLimit as set, 0 included (no falsy defaulting); 10 when not set', () => {
    expect(withAnalysis({})?.inconclusiveLimit).toBe(10);
    expect(withAnalysis({ inconclusiveLimit: 0 })?.inconclusiveLimit).toBe(0);
    expect(withAnalysis({ inconclusiveLimit: 3 })?.inconclusiveLimit).toBe(3);
  });

  it('takes every analysis setting the user gives', () => {
    expect(withAnalysis({
      prometheus: { provider: 'thanos', timeout: '2s' },
      metrics: [{ name: 'q', query: 'up', min: 1 }],
      comparison: { enabled: true, confidence: 0.95, tolerance: 0.01, relativeTolerance: 0.5 },
      failureLimit: 3,
      minRequests: 200,
      inconclusiveLimit: 4,
      checkInterval: '1m30s',
    })).toEqual({
      prometheus: { provider: 'thanos', timeoutMs: 2000 },
      metrics: [{ name: 'q', query: 'up', min: 1 }],
      comparison: { confidence: 0.95, passConfidence: 0.65, tolerance: 0.01, relativeTolerance: 0.5, baselineWindowMs: 600_000 },
      failureLimit: 3,
      minRequests: 200,
      inconclusiveLimit: 4,
      checkIntervalMs: 90_000,
    });
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ['confidence alone', { confidence: 0.9 }, { ...DEFAULT_COMPARISON, confidence: 0.9 }],
    ['tolerance 0 (no falsy defaulting)', { tolerance: 0 }, { ...DEFAULT_COMPARISON, tolerance: 0 }],
    ['relativeTolerance 0 (no falsy defaulting)', { relativeTolerance: 0 }, { ...DEFAULT_COMPARISON, relativeTolerance: 0 }],
    ['enabled: true alone', { enabled: true }, DEFAULT_COMPARISON],
  ])('fills in the rest of a partial comparison: %s', (_name, comparison, expected) => {
    expect(withAnalysis({ comparison })?.comparison).toEqual(expected);
  });

  it('keeps the Rollout\'s choice of Prometheus for the controller\'s configuration to resolve', () => {
    expect(withAnalysis({ prometheus: { provider: 'thanos' } })?.prometheus).toEqual({ provider: 'thanos' });
    expect(withAnalysis({ prometheus: { timeout: '3s' } })?.prometheus).toEqual({ timeoutMs: 3000 });
  });

  it('with the comparison turned off, analysis is only the metrics, and none without them', () => {
    const metrics = [{ name: 'q', query: 'up', min: 1 }];
    const a = withAnalysis({ comparison: { enabled: false, confidence: 0.9 }, metrics });
    expect(a).toEqual({ prometheus: {}, metrics, failureLimit: 1, minRequests: 50, inconclusiveLimit: 10, checkIntervalMs: 10_000 });
    expect(a).not.toHaveProperty('comparison');
    expect(withAnalysis({ comparison: { enabled: false } })).toBeUndefined();
    expect(withAnalysis({ comparison: { enabled: false }, metrics: [] })).toBeUndefined();
    expect(withAnalysis({ comparison: { enabled: false }, failureLimit: 3 })).toBeUndefined();
  });

  it('keeps failureLimit 0 and minRequests 0 when the user sets them (no falsy defaulting)', () => {
    const doc = minimalRollout();
    doc.spec.analysis = { metrics: [{ name: 'e', query: 'up', min: 1 }], failureLimit: 0, minRequests: 0 };
    expect(resolveValid(doc).analysis).toMatchObject({ failureLimit: 0, minRequests: 0 });
  });

  it('treats empty match, http and trafficPolicy like absent ones', () => {
    const doc = minimalRollout();
    doc.spec.trafficRouting = { virtualService: { match: [], http: {} }, destinationRule: { trafficPolicy: {} } };
    const d = resolveValid(doc);
    expect(d.virtualService).toEqual({ mode: 'generated', name: 'web', hosts: ['web'] });
    expect(d.destinationRule).toEqual({ mode: 'generated', name: 'web' });
  });

  it('adopts a VirtualService and a DestinationRule by ref', () => {
    const doc = minimalRollout();
    doc.spec.trafficRouting = { virtualService: { ref: 'reviews-route', routes: ['primary'] }, destinationRule: { ref: 'reviews' } };
    const d = resolveValid(doc);
    expect(d.virtualService).toEqual({ mode: 'adopted', name: 'reviews-route', routes: ['primary'] });
    expect(d.destinationRule).toEqual({ mode: 'adopted', name: 'reviews' });
  });

  it('resolves the seed examples as the design describes', () => {
    const mesh = resolvedExample('httpping-mesh.yaml');
    expect(mesh.virtualService).toEqual({
      mode: 'generated', name: 'httpping-without-sidecar', hosts: ['httpping-without-sidecar'], gateways: ['mesh'], match: [{ uri: { prefix: '/' } }],
    });
    expect(mesh.destinationRule).toEqual({
      mode: 'generated', name: 'httpping-without-sidecar-destination', trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'foo' } } },
    });
    expect(mesh.steps.map((s) => s.weight)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(mesh.analysis?.failureLimit).toBe(1);
    expect(mesh.service).toEqual({ name: 'httpping-without-sidecar', port: 8080 });

    const product = resolvedExample('product-service.yaml');
    expect(product.steps).toEqual([{ weight: 0, pause: 'manual' }, { weight: 20 }, { weight: 40 }, { weight: 60 }, { weight: 80 }, { weight: 100 }]);
    expect(product.intervalMs).toBe(120_000);
    expect(product.analysis).toMatchObject({
      failureLimit: 2, minRequests: 100, prometheus: {},
      comparison: DEFAULT_COMPARISON, checkIntervalMs: 10_000,
    });
    expect(product.analysis?.metrics.map((m) => m.name)).toEqual(['error-rate', 'p99-latency']);

    const staff = resolvedExample('staff-safe-risky.yaml');
    expect(staff.stable.subset).toBe('safe');
    expect(staff.canary.subset).toBe('risky');
    expect(staff.virtualService).toMatchObject({ hosts: ['fleetman-staff-service.default.svc.cluster.local'] });
    expect(staff.intervalMs).toBe(30_000);
  });
});

describe('resolveSteps', () => {
  const weights = (s: Strategy) => resolveSteps(s).map((x) => x.weight);

  it.each<[string, Strategy, number[]]>([
    ['stepWeight 10, maxWeight 90', { stepWeight: 10, maxWeight: 90 }, [10, 20, 30, 40, 50, 60, 70, 80, 90]],
    ['stepWeight 30, maxWeight 100', { stepWeight: 30, maxWeight: 100 }, [30, 60, 90, 100]],
    ['stepWeight 25 alone', { stepWeight: 25 }, [25, 50, 75, 100]],
    ['stepWeight 30 alone', { stepWeight: 30 }, [30, 60, 90, 100]],
    ['stepWeight 100', { stepWeight: 100 }, [100]],
    ['stepWeight 50, maxWeight 50', { stepWeight: 50, maxWeight: 50 }, [50]],
    ['stepWeight 40, maxWeight 90', { stepWeight: 40, maxWeight: 90 }, [40, 80, 90]],
    ['stepWeight 1', { stepWeight: 1 }, Array.from({ length: 100 }, (_, i) => i + 1)],
    ['explicit steps', { steps: [10, 25, 50, 100] }, [10, 25, 50, 100]],
  ])('%s', (_name, strategy, expected) => {
    expect(weights(strategy)).toEqual(expected);
  });

  it.each<[string, Strategy['steps'], ReturnType<typeof resolveSteps>]>([
    ['a manual pause', [{ weight: 50, pause: 'manual' }], [{ weight: 50, pause: 'manual' }]],
    ['a timed pause of 10m', [{ weight: 50, pause: '10m' }], [{ weight: 50, pause: 600_000 }]],
    ['a timed pause of 1h30m', [{ weight: 50, pause: '1h30m' }], [{ weight: 50, pause: 5_400_000 }]],
    ['an object step without pause', [{ weight: 50 }], [{ weight: 50 }]],
    ['a mix', [{ weight: 0, pause: 'manual' }, 20, { weight: 40, pause: '30s' }], [{ weight: 0, pause: 'manual' }, { weight: 20 }, { weight: 40, pause: 30_000 }]],
  ])('pause: %s', (_name, steps, expected) => {
    expect(resolveSteps({ steps })).toEqual(expected);
  });

  it('expands stepWeight/maxWeight into ascending integer steps ending at maxWeight, each stepWeight apart', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 100 }), fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }), (stepWeight, maybeMax) => {
      const max = maybeMax === undefined ? undefined : Math.max(maybeMax, stepWeight);
      const ws = weights(max === undefined ? { stepWeight } : { stepWeight, maxWeight: max });
      expect(ws[ws.length - 1]).toBe(max ?? 100);
      expect(ws[0]).toBe(stepWeight);
      for (let i = 1; i < ws.length; i++) {
        expect(ws[i]!).toBeGreaterThan(ws[i - 1]!);
        if (i < ws.length - 1) expect(ws[i]! - ws[i - 1]!).toBe(stepWeight);
        else expect(ws[i]! - ws[i - 1]!).toBeLessThanOrEqual(stepWeight);
      }
      expect(ws.every((w) => Number.isInteger(w) && w >= 1 && w <= 100)).toBe(true);
    }));
  });

  it('resolves the interval and pauses through the Rollout', () => {
    const doc = minimalRollout();
    doc.spec.strategy = { steps: [{ weight: 10, pause: '90s' }, 100], interval: '1h30m' };
    const r = resolveValid(doc);
    expect(r.intervalMs).toBe(5_400_000);
    expect(r.steps).toEqual([{ weight: 10, pause: 90_000 }, { weight: 100 }]);
  });
});

describe('parseDuration', () => {
  it.each<[string, number]>([
    ['500ms', 500],
    ['1ms', 1],
    ['30s', 30_000],
    ['1m', 60_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['90m', 5_400_000],
    ['0s', 0],
    ['5m5ms', 300_005],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    '', '5x', 'soon', '10', '1.5h', '-1m', '1m1h', '30s1m', '1h1h', 'm', 'ms', ' 1m', '1m ', '1 m', '1M', '1d', '1us', 'manual',
    '99999999999999999999h',
  ])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('round-trips with formatDuration', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1_000_000_000 }), (ms) => {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }));
  });
});
