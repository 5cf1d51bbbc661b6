import { afterEach, describe, expect, it } from 'vitest';
import { ISTIO_DURATION_BUCKETS, startMeshWorkload, type MeshWorkload } from './mesh.ts';
import { mulberry32 } from '../analysis/prng.ts';
import { LATENCY_SPREAD, RateAccumulator, TrafficModel } from './traffic.ts';
import { matchesTesters } from './dataplane.ts';

/** Requests due when `seconds` of simulated time pass in 100 ms ticks, like the mesh's timer. */
function simulate(rps: number, seconds: number): number {
  const acc = new RateAccumulator(rps);
  let n = 0;
  for (let i = 0; i < Math.round(seconds * 10); i++) n += acc.advance(0.1);
  return n;
}

describe('RateAccumulator', () => {
  it('keeps fractional rates accurate over time', () => {
    expect(simulate(1, 3)).toBeGreaterThanOrEqual(2);
    expect(simulate(1, 3)).toBeLessThanOrEqual(4);
    expect(simulate(0.5, 10)).toBeGreaterThanOrEqual(4);
    expect(simulate(0.5, 10)).toBeLessThanOrEqual(5);
    expect(simulate(20, 10)).toBeGreaterThanOrEqual(199);
    expect(simulate(0, 10)).toBe(0);
  });

  it('rejects nonsense rates', () => {
    expect(() => new RateAccumulator(-1)).toThrow();
    expect(() => new RateAccumulator(Number.NaN)).toThrow();
  });
});

describe('TrafficModel', () => {
  it('sends the testers\' share to the version a match route names, and by the weights otherwise', () => {
    const m = new TrafficModel(['v1', 'v2'], 3);
    m.setTesters(0.3, 'v2');
    let v2 = 0;
    for (let i = 0; i < 4000; i++) if (m.next()!.version === 'v2') v2++;
    expect(v2).toBeGreaterThan(1100);
    expect(v2).toBeLessThan(1300);
    m.setTesters(0.3, undefined);
    for (let i = 0; i < 1000; i++) expect(m.next()!.version).toBe('v1');
    expect(() => m.setTesters(1.5, 'v2')).toThrow(/0..1/);
  });

  it('mirrors the set share of live requests to the mirror version, with its behaviour, leaving the live draws as they were', () => {
    const plain = new TrafficModel(['v1', 'v2'], 7);
    const m = new TrafficModel(['v1', 'v2'], 7);
    m.setBehaviour('v2', { errorRate: 1, latencyMs: 5 });
    m.setMirror('v2', 25);
    let copies = 0;
    for (let i = 0; i < 4000; i++) {
      expect(m.next()).toEqual(plain.next());
      const c = m.mirrored();
      if (c) {
        copies++;
        expect(c).toMatchObject({ version: 'v2', code: 503 });
      }
    }
    expect(copies).toBeGreaterThan(900);
    expect(copies).toBeLessThan(1100);
    m.setMirror(undefined);
    expect(m.mirrored()).toBeUndefined();
    expect(() => m.setMirror('v3', 10)).toThrow(/unknown version/);
  });

  const draw = (m: TrafficModel, n: number) => Array.from({ length: n }, () => m.next());

  it('sends all traffic to the first version until weights are set', () => {
    const m = new TrafficModel(['v1', 'v2'], 1);
    expect(draw(m, 100).every((r) => r?.version === 'v1')).toBe(true);
  });

  it('splits traffic by weight (90/10 gives ~10 % canary)', () => {
    const m = new TrafficModel(['v1', 'v2'], 7);
    m.setWeights({ v1: 90, v2: 10 });
    const canary = draw(m, 10_000).filter((r) => r?.version === 'v2').length / 10_000;
    expect(canary).toBeGreaterThan(0.08);
    expect(canary).toBeLessThan(0.12);
  });

  it('fails the configured share and spreads latency within bounds', () => {
    const m = new TrafficModel(['v1', 'v2'], 3);
    m.setWeights({ v2: 1 });
    m.setBehaviour('v2', { errorRate: 0.25, latencyMs: 100 });
    const rs = draw(m, 4000);
    const errors = rs.filter((r) => r && r.code >= 500).length / rs.length;
    expect(errors).toBeGreaterThan(0.22);
    expect(errors).toBeLessThan(0.28);
    for (const r of rs) {
      expect(r?.latencyMs).toBeGreaterThanOrEqual(100 * (1 - LATENCY_SPREAD));
      expect(r?.latencyMs).toBeLessThanOrEqual(100 * (1 + LATENCY_SPREAD));
    }
  });

  it('leaves the configured share unanswered (code 0), apart from the failures', () => {
    const m = new TrafficModel(['v1', 'v2'], 4);
    m.setWeights({ v2: 1 });
    m.setBehaviour('v2', { errorRate: 0.1, unansweredRate: 0.3, latencyMs: 10 });
    const rs = draw(m, 4000);
    const share = (code: number) => rs.filter((r) => r?.code === code).length / rs.length;
    expect(share(0)).toBeGreaterThan(0.27);
    expect(share(0)).toBeLessThan(0.33);
    expect(share(503)).toBeGreaterThan(0.08);
    expect(share(503)).toBeLessThan(0.12);
    expect(() => m.setBehaviour('v2', { errorRate: 0.8, unansweredRate: 0.3, latencyMs: 1 })).toThrow(/unansweredRate/);
  });

  it('serves nothing when every weight is zero, and rejects unknown versions', () => {
    const m = new TrafficModel(['v1', 'v2'], 1);
    m.setWeights({ v1: 0, v2: 0 });
    expect(m.next()).toBeUndefined();
    expect(() => m.setWeights({ v3: 1 })).toThrow(/unknown version v3/);
    expect(() => m.setBehaviour('v1', { errorRate: 2, latencyMs: 1 })).toThrow();
  });

  it('is reproducible for a seed', () => {
    const run = (seed: number) => {
      const m = new TrafficModel(['v1', 'v2'], seed);
      m.setWeights({ v1: 50, v2: 50 });
      m.setBehaviour('v2', { errorRate: 0.5, latencyMs: 10 });
      return draw(m, 50);
    };
    expect(run(42)).toEqual(run(42));
    expect(run(42)).not.toEqual(run(43));
    expect(mulberry32(1)()).toBe(mulberry32(1)());
  });
});

describe('startMeshWorkload', () => {
  let mesh: MeshWorkload | undefined;
  afterEach(async () => {
    await mesh?.stop();
    mesh = undefined;
  });

  it('generates load at the configured rate in real time (1 rps over 3 s)', async () => {
    mesh = await startMeshWorkload({ service: 'reviews', namespace: 'shop', versions: ['v1', 'v2'], rps: 1, seed: 1 });
    await new Promise((r) => setTimeout(r, 3000));
    const s = mesh.served();
    expect((s.v1?.requests ?? 0) + (s.v2?.requests ?? 0)).toBeGreaterThanOrEqual(2);
    expect((s.v1?.requests ?? 0) + (s.v2?.requests ?? 0)).toBeLessThanOrEqual(4);
    expect(s.v2).toEqual({ requests: 0, errors: 0 });
  }, 10_000);

  it('exposes Istio series in Prometheus text format, zero-initialised', async () => {
    mesh = await startMeshWorkload({ service: 'reviews', namespace: 'shop', versions: ['v1', 'v2'] });
    const res = await fetch(`http://${mesh.metricsAddress}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const base =
      'reporter="destination",destination_service="reviews.shop.svc.cluster.local",destination_service_name="reviews",' +
      'destination_service_namespace="shop",destination_workload="reviews-v2",destination_workload_namespace="shop",' +
      'destination_app="reviews",destination_version="v2",request_protocol="http",response_code="503",grpc_response_status=""';
    expect(text).toContain(`istio_requests_total{${base}} 0`);
    for (const le of ISTIO_DURATION_BUCKETS) {
      expect(text).toContain(`istio_request_duration_milliseconds_bucket{le="${le}",${base}} 0`);
    }
    expect(text).toContain(`istio_request_duration_milliseconds_count{${base}} 0`);
  });

  it('answers GET / with the chosen version and status, and counts it', async () => {
    mesh = await startMeshWorkload({
      service: 'reviews', namespace: 'shop', versions: ['v1', 'v2'], seed: 5,
      behaviour: { v2: { errorRate: 1, latencyMs: 5 } },
    });
    mesh.setWeights({ v2: 100 });
    const res = await fetch(mesh.url);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ version: 'v2' });
    mesh.setWeights({ v1: 100 });
    const ok = await fetch(mesh.url);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ version: 'v1' });
    expect(mesh.served()).toEqual({ v1: { requests: 1, errors: 0 }, v2: { requests: 1, errors: 1 } });
    const text = await (await fetch(`http://${mesh.metricsAddress}/metrics`)).text();
    expect(text).toMatch(/istio_requests_total\{[^}]*destination_version="v2"[^}]*response_code="503"[^}]*\} 1/);
  });

  it('reports gRPC failures as HTTP 200 with grpc_response_status 14, as Envoy does', async () => {
    mesh = await startMeshWorkload({
      service: 'inventory', namespace: 'shop', versions: ['v1', 'v2'], protocol: 'grpc', seed: 5,
      behaviour: { v2: { errorRate: 1, latencyMs: 1 } },
    });
    mesh.setWeights({ v2: 100 });
    await fetch(mesh.url);
    expect(mesh.served().v2).toEqual({ requests: 1, errors: 1 });
    const text = await (await fetch(`http://${mesh.metricsAddress}/metrics`)).text();
    expect(text).toMatch(/istio_requests_total\{[^}]*destination_version="v2",request_protocol="grpc",response_code="200",grpc_response_status="14"\} 1/);
    expect(text).not.toMatch(/istio_requests_total\{[^}]*response_code="503"/);
  });

  it('closes the connection without an answer for an unanswered request, and records code 0', async () => {
    mesh = await startMeshWorkload({
      service: 'reviews', namespace: 'shop', versions: ['v1'], seed: 5, behaviour: { v1: { errorRate: 0, unansweredRate: 1, latencyMs: 1 } },
    });
    await expect(fetch(mesh.url)).rejects.toThrow();
    expect(mesh.served().v1).toEqual({ requests: 1, errors: 1 });
    const text = await (await fetch(`http://${mesh.metricsAddress}/metrics`)).text();
    expect(text).toMatch(/istio_requests_total\{[^}]*response_code="0",grpc_response_status=""\} 1/);
  });

  it('without sidecars, only the gateway reports: reporter="source", destination_version "unknown"', async () => {
    mesh = await startMeshWorkload({ service: 'landing', namespace: 'web', versions: ['v3', 'v4'], sidecars: false });
    const text = await (await fetch(`http://${mesh.metricsAddress}/metrics`)).text();
    expect(text).toContain('istio_requests_total{reporter="source",destination_service="landing.web.svc.cluster.local",destination_service_name="landing"');
    expect(text).not.toContain('reporter="destination"');
    expect(text).not.toContain('destination_version="v4"');
  });

  it('applies rate and weight changes to the synthetic load', async () => {
    mesh = await startMeshWorkload({ service: 'reviews', namespace: 'shop', versions: ['v1', 'v2'], rps: 0, seed: 9 });
    mesh.setWeights({ v1: 0, v2: 100 });
    mesh.setRate(50);
    await new Promise((r) => setTimeout(r, 1000));
    mesh.setRate(0);
    const s = mesh.served();
    expect(s.v1?.requests).toBe(0);
    expect(s.v2?.requests).toBeGreaterThanOrEqual(40);
    expect(s.v2?.requests).toBeLessThanOrEqual(60);
  });
});

describe('matchesTesters: the data plane\'s reading of a match route', () => {
  const testers = { 'x-canary': 'true', cookie: 'theme=dark; user=beta' };
  it.each<[string, Record<string, unknown>[], boolean]>([
    ['an exact header', [{ headers: { 'x-canary': { exact: 'true' } } }], true],
    ['another value', [{ headers: { 'x-canary': { exact: 'false' } } }], false],
    ['a cookie regex, matched in full', [{ headers: { cookie: { regex: '^(.*?;)?( ?user=beta)(;.*)?$' } } }], true],
    ['a regex that matches only part', [{ headers: { cookie: { regex: 'user=beta' } } }], false],
    ['a prefix', [{ headers: { cookie: { prefix: 'theme=' } } }], true],
    ['a header the testers lack', [{ headers: { 'x-user': { exact: 'a' } } }], false],
    ['one of several entries', [{ headers: { 'x-user': { exact: 'a' } } }, { headers: { 'x-canary': { exact: 'true' } } }], true],
    ['with the uri prefix /', [{ uri: { prefix: '/' }, headers: { 'x-canary': { exact: 'true' } } }], true],
    ['a condition not simulated', [{ queryParams: { beta: { exact: '1' } } }], false],
  ])('%s', (_, match, expected) => {
    expect(matchesTesters(match, testers)).toBe(expected);
  });
});
