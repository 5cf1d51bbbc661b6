/**
 * Every failure Istio reports counts (issue #16), against a real Prometheus scraping the fake
 * mesh: the six situations of test/fixtures/signals/, each a Rollout driven by the real analyzer
 * (one traffic query per check) and the real planner on the wall clock, as the controller does,
 * with the hold shortened to seconds. Routing is not followed here (the mesh keeps a fixed
 * split); test/e2e/analysis.test.ts runs the gRPC story with the whole controller.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { PlannedEvent } from '../../src/api/events.ts';
import type { AnalysisResult, RolloutStatus } from '../../src/api/schema.ts';
import { PrometheusAnalyzer } from '../../src/controller/prometheus-analyzer.ts';
import { startMeshWorkload, type MeshWorkload, type MeshOptions } from '../../src/devenv/mesh.ts';
import { startLocalPrometheus, type LocalPrometheus } from '../../src/devenv/prometheus.ts';
import { silentLogger } from '../../src/kube/log.ts';
import { SIDECAR_MISSING } from '../../src/metrics/diagnosis.ts';
import { PrometheusProvider } from '../../src/metrics/prometheus.ts';
import { queryContext } from '../../src/metrics/templates.ts';
import { trafficCounts, trafficQuery } from '../../src/metrics/traffic.ts';
import { analysisCheck, plan } from '../../src/plan/plan.ts';
import { resolveValid } from '../unit/fixtures.ts';

type Doc = { metadata: { name: string; namespace: string }; spec: { strategy: Record<string, unknown>; analysis: Record<string, unknown> } };
const fixture = (name: string) => parse(readFileSync(new URL(`../fixtures/signals/${name}`, import.meta.url), 'utf8')) as Doc;

/** The fake mesh behind each fixture: the Service, its versions (stable first) and behaviours. */
const MESHES: Record<string, MeshOptions> = {
  grpc: {
    service: 'inventory', namespace: 'warehouse', versions: ['v5', 'v6'], protocol: 'grpc', rps: 40, seed: 1,
    behaviour: { v5: { errorRate: 0, latencyMs: 10 }, v6: { errorRate: 0.9, latencyMs: 10 } },
  },
  unanswered: {
    service: 'profile', namespace: 'accounts', versions: ['v2', 'v3'], rps: 40, seed: 2,
    behaviour: { v2: { errorRate: 0, unansweredRate: 0.001, latencyMs: 10 }, v3: { errorRate: 0, unansweredRate: 0.3, latencyMs: 10 } },
  },
  inf: {
    service: 'mailer', namespace: 'notify', versions: ['stable', 'canary'], rps: 20, seed: 3,
    behaviour: { stable: { errorRate: 0, latencyMs: 10 }, canary: { errorRate: 1, latencyMs: 10 } },
  },
  tracks: {
    service: 'billing', namespace: 'finance', versions: ['blue', 'green'], rps: 20, seed: 4,
    behaviour: { blue: { errorRate: 0, latencyMs: 10 }, green: { errorRate: 0, latencyMs: 10 } },
  },
  nosidecar: { service: 'landing', namespace: 'marketing', versions: ['v3', 'v4'], rps: 20, seed: 5, sidecars: false },
  slow: {
    service: 'search', namespace: 'shop', versions: ['v1', 'v2'], rps: 40, seed: 6,
    behaviour: { v1: { errorRate: 0, latencyMs: 20 }, v2: { errorRate: 0, latencyMs: 800 } },
  },
};

let prom: LocalPrometheus;
const meshes: MeshWorkload[] = [];
let queries = 0;

beforeAll(async () => {
  for (const o of Object.values(MESHES)) {
    const m = await startMeshWorkload(o);
    meshes.push(m);
    m.setWeights({ [o.versions[0]!]: 50, [o.versions[1]!]: 50 });
  }
  prom = await startLocalPrometheus({ scrapeTargets: meshes.map((m) => m.metricsAddress), scrapeInterval: '1s' });
  const provider = new PrometheusProvider({ address: prom.url, timeoutMs: 2000 });
  // Every mesh scraped over a full [10s] window, so rates rest on tens of requests.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const n = await provider.queryVector('count by (destination_service_name) (count_over_time(istio_requests_total[10s]) >= 10)').catch(() => []);
    if (n.length === Object.keys(MESHES).length) break;
    if (Date.now() > deadline) throw new Error(`only ${n.length} meshes scraped over a full [10s] window within 60 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}, 120_000);

afterAll(async () => {
  await prom?.stop();
  await Promise.all(meshes.map((m) => m.stop()));
}, 30_000);

/** The share of errors is p within 4 standard deviations of a binomial over those requests. */
function expectShare(c: { requests: number; errors: number } | undefined, p: number): void {
  expect(c?.requests).toBeGreaterThan(0);
  const sd = Math.sqrt((p * (1 - p)) / c!.requests);
  expect(Math.abs(c!.errors / c!.requests - p), `${c!.errors} of ${c!.requests} vs ${p}`).toBeLessThan(4 * sd + 0.01);
}

interface Run { status: RolloutStatus; events: PlannedEvent[]; analyses: AnalysisResult[]; queries: number }

/**
 * The controller's loop for one Rollout on the wall clock: judge when due, plan, wait as told
 * (at most 250 ms), until it settles, `until` holds, or the deadline passes.
 */
async function release(doc: Doc, until?: (run: Run) => boolean, timeoutMs = 45_000): Promise<Run> {
  const spec = structuredClone(doc);
  spec.spec.strategy = { ...spec.spec.strategy, interval: '4s' };
  spec.spec.analysis = { ...spec.spec.analysis, checkInterval: '1s' };
  const r = resolveValid(spec);
  const run: Run = { status: {}, events: [], analyses: [], queries: 0 };
  const analyzer = new PrometheusAnalyzer({ log: silentLogger, prometheus: { providers: [{ name: 'default', address: prom.url, timeoutMs: 2000 }], allowedAddresses: [] }, onQuery: () => { run.queries++; queries++; } });
  let status: RolloutStatus | undefined;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const now = new Date();
    const check = analysisCheck(r, status, now);
    const analysis = check ? await analyzer.analyze(r, check, now) : undefined;
    if (analysis) run.analyses.push(analysis);
    const out = plan({ rollout: r, status, requests: { paused: false }, ...(analysis ? { analysis } : {}), now });
    status = run.status = out.status;
    run.events.push(...out.events);
    if (status.phase === 'Promoted' || status.phase === 'RolledBack' || until?.(run)) return run;
    await new Promise((res) => setTimeout(res, Math.min(250, Math.max(20, out.requeueAfterMs ?? 250))));
  }
  return run;
}

describe('the situations of issue #16 against a real Prometheus', { timeout: 60_000 }, () => {
  it('1. a gRPC canary at 90 % UNAVAILABLE over HTTP 200 is rolled back, one query per check', async () => {
    const run = await release(fixture('grpc-unavailable.yaml'));
    expect(run.status.phase, run.status.message).toBe('RolledBack');
    const last = run.status.lastAnalysis!;
    expect(last.verdict).toBe('fail');
    expectShare(last.canary, 0.9);
    expect(last.stable!.errors).toBe(0);
    expect(last.reason).toMatch(/^errors: (release so far|this step): canary/);
    expect(run.queries).toBe(run.analyses.length);
  });

  it('2. a canary leaving 30 % of requests unanswered (code 0) is rolled back', async () => {
    const run = await release(fixture('caller-timeouts.yaml'));
    expect(run.status.phase, run.status.message).toBe('RolledBack');
    const last = run.status.lastAnalysis!;
    expectShare(last.canary, 0.3);
    expectShare(last.stable, 0.001);
  });

  it('3. a failure ratio of x/0 = +Inf above max fails and is rolled back', async () => {
    const doc = fixture('plus-inf.yaml');
    // The same ratio over the mesh's series: failed sends per successful send of the canary.
    const sel = 'destination_service_namespace="{{namespace}}",destination_workload="mailer-{{canary.labels.track}}"';
    doc.spec.analysis.metrics = [{
      name: 'failure-ratio', max: 0.05,
      query: `sum(rate(istio_requests_total{${sel},response_code=~"5.."}[{{interval}}])) / sum(rate(istio_requests_total{${sel},response_code!~"5.."}[{{interval}}]))`,
    }];
    const run = await release(doc);
    expect(run.status.phase, run.status.message).toBe('RolledBack');
    expect(run.status.lastAnalysis?.metrics).toEqual([expect.objectContaining({ name: 'failure-ratio', verdict: 'fail', reason: '+Inf is above max 0.05' })]);
  });

  it('4. without version labels, the Rollout written as validate advises promotes', async () => {
    const run = await release(fixture('no-version-label.yaml'));
    expect(run.status.phase, run.status.message).toBe('Promoted');
    expect(run.status.lastAnalysis?.metrics).toEqual([expect.objectContaining({ name: 'success', verdict: 'pass', value: 1 })]);
    // Nothing but the user's query: Istio's counts cannot be split by subset here.
    expect(run.queries).toBe(run.analyses.length);
  });

  it('5. pods without sidecars: the diagnosis reaches lastAnalysis.reason and one Event', async () => {
    const run = await release(fixture('without-sidecar.yaml'), (x) => x.events.some((e) => e.reason === 'MetricsMissing') && x.analyses.length > 8);
    expect(run.status.phase).toBe('Progressing');
    expect(run.status.lastAnalysis?.verdict).toBe('inconclusive');
    expect(run.status.lastAnalysis?.reason).toContain('error-rate: no data');
    expect(run.status.lastAnalysis?.reason).toContain(SIDECAR_MISSING);
    expect(run.events.filter((e) => e.reason === 'MetricsMissing')).toEqual([
      expect.objectContaining({ type: 'Warning', message: expect.stringContaining(SIDECAR_MISSING) }),
    ]);
  });

  it('5b. a Service Prometheus has never seen: the diagnosis names the labels looked for', async () => {
    const doc = fixture('without-sidecar.yaml');
    doc.metadata.namespace = 'nowhere';
    const run = await release(doc, (x) => x.analyses.some((a) => a.diagnosis !== undefined));
    expect(run.status.lastAnalysis?.diagnosis).toContain('no Istio series for the Service at all');
    expect(run.status.lastAnalysis?.diagnosis).toContain('destination_service_name="landing",destination_service_namespace="nowhere"');
  });

  it('6. a canary with every request slower than max (stable: none) is rolled back by the latency comparison', async () => {
    const run = await release(fixture('slow-requests.yaml'));
    expect(run.status.phase, run.status.message).toBe('RolledBack');
    const m = run.status.lastAnalysis?.metrics.find((x) => x.name === 'latency');
    expect(m).toMatchObject({ verdict: 'fail', value: 1 });
    expect(m?.reason).toMatch(/^(release so far|this step): canary 100\.00% slower than 500 ms \(the first bucket bound at or above max 400\) \(\d+\/\d+\) vs stable 0\.00% \(0\/\d+\)/);
    // Errors, request counts and the duration histograms: still one query per check.
    expect(run.queries).toBe(run.analyses.length);
  });

  it('the traffic query with every part is valid PromQL whose counts match the plain sums', async () => {
    const provider = new PrometheusProvider({ address: prom.url, timeoutMs: 2000 });
    const ctx = queryContext(resolveValid(fixture('grpc-unavailable.yaml')), 20);
    // An instant a few scrapes back: samples stamped before "now" may still be on their way in
    // (a loaded machine), and the two queries must read the same data.
    const time = new Date(Date.now() - 5000);
    const parts = { durations: true, diagnosis: true };
    const t = trafficCounts(await provider.queryVector(trafficQuery(ctx, ctx, parts), { time }), parts);
    const inf = await provider.query('sum(increase(istio_request_duration_milliseconds_bucket{destination_workload="inventory-v6",le="+Inf"}[20s]))', { time });
    expect(t.canary.buckets.get(Infinity)).toBeCloseTo(inf, 6);
    expect(t.canary.requests).toBeCloseTo(inf, 6);
    expect(t.service).toEqual(expect.arrayContaining([{ reporter: 'destination', version: 'v6', series: 3 }]));
  });
});

afterAll(() => {
  console.info(`signals: ${queries} Prometheus queries in all`);
});
