/**
 * A real Prometheus (Debian's package) scraping the fake mesh: proves that the series the mesh
 * serves give the expected answers to the PromQL that canary analysis runs.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ISTIO_DURATION_BUCKETS, LATENCY_SPREAD, startMeshWorkload, type MeshWorkload } from '../../src/devenv/mesh.ts';
import { startLocalPrometheus, type LocalPrometheus } from '../../src/devenv/prometheus.ts';

const V1 = { errorRate: 0, latencyMs: 20 };
const V2 = { errorRate: 0.5, latencyMs: 300 };

interface QueryResponse {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

async function query(prom: LocalPrometheus, q: string): Promise<number | undefined> {
  const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await res.json()) as QueryResponse;
  if (body.status !== 'success') throw new Error(`query failed: ${body.error}`);
  const first = body.data?.result[0];
  return first ? Number(first.value[1]) : undefined; // empty vector: no data yet
}

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 40_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Bucket bounds around the configured latency: where histogram_quantile must land. */
function bucketRange(latencyMs: number): [number, number] {
  const lo = latencyMs * (1 - LATENCY_SPREAD);
  const hi = latencyMs * (1 + LATENCY_SPREAD);
  return [
    [...ISTIO_DURATION_BUCKETS].reverse().find((b) => b <= lo) ?? 0,
    ISTIO_DURATION_BUCKETS.find((b) => b >= hi) ?? Infinity,
  ];
}

/** Pids of processes named prometheus whose command line mentions `dir`. */
function prometheusPidsUsing(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (comm === 'prometheus' && cmdline.includes(dir)) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

const errorRatio = (v: string) =>
  `sum(rate(istio_requests_total{reporter="destination",destination_version="${v}",response_code=~"5.."}[10s]))` +
  ` / sum(rate(istio_requests_total{reporter="destination",destination_version="${v}"}[10s]))`;
const p99 = (v: string) =>
  `histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{destination_version="${v}"}[10s])))`;

describe('local Prometheus scraping the fake mesh', () => {
  let mesh: MeshWorkload;
  let prom: LocalPrometheus;

  beforeAll(async () => {
    mesh = await startMeshWorkload({
      service: 'reviews', namespace: 'shop', versions: ['v1', 'v2'], rps: 20, seed: 42, behaviour: { v1: V1, v2: V2 },
    });
    mesh.setWeights({ v1: 50, v2: 50 });
    const t0 = performance.now();
    prom = await startLocalPrometheus({ scrapeTargets: [mesh.metricsAddress], scrapeInterval: '1s' });
    const ready = performance.now();
    await until('a first [10s] rate', () => query(prom, errorRatio('v2')));
    const firstRate = performance.now();
    // A rate exists after two scrapes; wait for a full window so the ratio rests on ~100 requests.
    await until('a full [10s] window', async () => {
      const n = await query(prom, 'min(count_over_time(istio_requests_total{destination_version="v2"}[10s]))');
      return n !== undefined && n >= 10 ? n : undefined;
    });
    console.info(
      `prometheus: ready ${Math.round(ready - t0)} ms after start; first [10s] rate after ${Math.round(firstRate - t0)} ms;` +
        ` full window after ${Math.round(performance.now() - t0)} ms`,
    );
  }, 90_000);

  afterAll(async () => {
    await prom?.stop();
    await mesh?.stop();
  }, 30_000);

  it('sees the canary failing about half of its requests and the stable none', async () => {
    const v2 = await query(prom, errorRatio('v2'));
    const v1 = await query(prom, errorRatio('v1'));
    expect(v2).toBeGreaterThan(0.3);
    expect(v2).toBeLessThan(0.7);
    expect(v1).toBe(0);
  });

  it('computes p99 latency within the buckets around each configured latency', async () => {
    for (const [v, b] of [['v1', V1], ['v2', V2]] as const) {
      const [lo, hi] = bucketRange(b.latencyMs);
      const q = await query(prom, p99(v));
      expect(q, v).toBeGreaterThanOrEqual(lo);
      expect(q, v).toBeLessThanOrEqual(hi);
    }
  });

  it('survives pause/resume and restart with its history', async () => {
    await prom.pause();
    await expect(fetch(`${prom.url}/-/ready`)).rejects.toThrow();
    await prom.resume();
    // The WAL is replayed: samples from before the pause are still there.
    expect(await query(prom, 'count(istio_requests_total)')).toBeGreaterThan(0);
    await prom.restart?.();
    expect(await query(prom, 'count(istio_requests_total)')).toBeGreaterThan(0);
  }, 60_000);

  it('leaves no prometheus process or data behind after stop()', async () => {
    // Scoped to our own data dir: other test files may run their own Prometheus in parallel.
    expect(prometheusPidsUsing(prom.dir).length).toBe(1);
    await prom.stop();
    expect(prometheusPidsUsing(prom.dir)).toEqual([]);
    expect(existsSync(prom.dir)).toBe(false);
    await prom.stop(); // idempotent
  }, 30_000);
});

describe('startLocalPrometheus without the binary', () => {
  it('says how to install it', async () => {
    await expect(startLocalPrometheus({ scrapeTargets: [], binary: '/nonexistent/prometheus' })).rejects.toThrow(
      /apt-get install -y prometheus/,
    );
  });
});
