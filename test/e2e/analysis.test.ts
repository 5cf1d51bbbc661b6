/**
 * Canary analysis end to end, with every part real: the controller process, a kube-apiserver with
 * Istio's CRDs, a Prometheus scraping a fake mesh whose traffic split follows the live
 * VirtualService, and Istio's standard metrics queried with production PromQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { followVirtualService, type DataPlane } from '../../src/devenv/dataplane.ts';
import { startMeshWorkload, type MeshWorkload } from '../../src/devenv/mesh.ts';
import { startLocalPrometheus, type LocalPrometheus } from '../../src/devenv/prometheus.ts';
import { SIDECAR_MISSING } from '../../src/metrics/diagnosis.ts';
import { scrape, total } from '../../bench/scale/kit.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import {
  ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, expectValidWeights, getObject, gitopsApply, listEvents, waitForEvents, waitForWeights,
  rolloutManifest, testKube, weightsOf, type RolloutLike, type TestKube, type VirtualServiceLike,
} from '../support/kube.ts';
import { waitForSeries } from '../support/prometheus.ts';

const NS = 'e2e';
const SERVICES = ['healthy', 'bad', 'quiet', 'outage', 'grpc', 'nosidecar'] as const;
type Service = (typeof SERVICES)[number];

let cluster: LocalCluster;
let k: TestKube;
let prometheus: LocalPrometheus;
let controller: ControllerProcess;
const mesh = {} as Record<Service, MeshWorkload>;
const planes: DataPlane[] = [];

interface RolloutStatusFull extends RolloutLike {
  status?: RolloutLike['status'] & { lastAnalysis?: { verdict: string; reason: string; at: string; canary?: { requests: number; errors: number }; stable?: { requests: number; errors: number }; probabilityWorse?: number; decisive?: boolean; stepIndex?: number } };
}

function spec(service: Service, strategy: Record<string, unknown>, analysis: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    service: { name: service, port: 8080 },
    stable: { labels: { app: service, version: 'v1' } },
    canary: { labels: { app: service, version: 'v2' } },
    strategy,
    analysis: {
      // No address: the controller's default provider (--prometheus-address), as most teams write it.
      prometheus: { timeout: '2s' },
      metrics: [{ name: 'error-rate', template: 'istio-error-rate', max: 0.1 }],
      minRequests: 20,
      failureLimit: 1,
      checkInterval: '1s',
      ...analysis,
    },
  };
}

const rolloutOf = (name: string) => getObject<RolloutStatusFull>(k, ROLLOUTS, NS, name);
const vsOf = (name: string) => getObject<VirtualServiceLike>(k, VIRTUAL_SERVICES, NS, name);

/** Polls until the phase is reached, checking on the way that it never passes through `never`. */
async function waitPhase(name: string, phase: string, timeoutMs: number, never?: string): Promise<RolloutStatusFull> {
  return eventually(async () => {
    const r = await rolloutOf(name);
    const vs = await vsOf(name);
    if (vs) expectValidWeights(vs);
    if (never) expect(r?.status?.phase, `${name} must never be ${never}: ${r?.status?.message}`).not.toBe(never);
    return r?.status?.phase === phase ? r : undefined;
  }, `${name} to be ${phase}`, timeoutMs, 250);
}

beforeAll(async () => {
  const behaviours: Record<Service, { rps: number; v1: number; v2: number; protocol?: 'grpc'; sidecars?: false }> = {
    healthy: { rps: 40, v1: 0.01, v2: 0.01 },
    bad: { rps: 40, v1: 0.01, v2: 0.05 },
    quiet: { rps: 1, v1: 0.01, v2: 0.01 },
    outage: { rps: 40, v1: 0.01, v2: 0.01 },
    // gRPC: failures are grpc-status 14 (UNAVAILABLE) over HTTP 200, as Envoy reports them.
    grpc: { rps: 40, v1: 0, v2: 0.9, protocol: 'grpc' },
    // Pods without sidecars: only a gateway reports their requests (reporter="source").
    nosidecar: { rps: 20, v1: 0, v2: 0, sidecars: false },
  };
  for (const [i, s] of SERVICES.entries()) {
    const b = behaviours[s];
    mesh[s] = await startMeshWorkload({
      service: s, namespace: NS, versions: ['v1', 'v2'], rps: b.rps, seed: 7 + i,
      ...(b.protocol ? { protocol: b.protocol } : {}), ...(b.sidecars === false ? { sidecars: false } : {}),
      behaviour: { v1: { errorRate: b.v1, latencyMs: 20 }, v2: { errorRate: b.v2, latencyMs: 20 } },
    });
  }
  [cluster, prometheus] = await Promise.all([
    startTestCluster(),
    startLocalPrometheus({ scrapeTargets: SERVICES.map((s) => mesh[s].metricsAddress), scrapeInterval: '1s' }),
  ]);
  k = testKube(cluster.kubeconfigPath);
  await createNamespace(k, NS);
  for (const s of SERVICES) planes.push(followVirtualService(k.kc, mesh[s], { namespace: NS, virtualService: s, destinationRule: s }));
  controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ['--namespace', NS, '--resync', '30s', '--prometheus-address', prometheus.url] });
  await waitForSeries(prometheus.url, 'istio_requests_total', 1, 'Prometheus to scrape the mesh');
}, 240_000);

afterAll(async () => {
  for (const p of planes) p.stop();
  await controller?.stop();
  await prometheus?.stop();
  await Promise.all(Object.values(mesh).map((m) => m.stop()));
  await cluster?.stop();
});

describe('canary analysis from a real Prometheus', { timeout: 150_000 }, () => {
  it('promotes a healthy canary, 90/10 through 0/100, with one Prometheus query per metric per check', async () => {
    const before = await scrape(controller.port);
    const metrics = [{ name: 'error-rate', template: 'istio-error-rate', max: 0.1 }, { name: 'latency', template: 'istio-latency-p99', max: 1000 }];
    await gitopsApply(k, rolloutManifest(NS, 'healthy', spec('healthy', { steps: [10, 50, 100], interval: '4s' }, { metrics })));
    const weights = new Set<number>();
    const done = await eventually(async () => {
      const vs = await vsOf('healthy');
      if (vs) {
        expectValidWeights(vs);
        weights.add(weightsOf(vs).canary!);
      }
      const r = await rolloutOf('healthy');
      expect(r?.status?.phase).not.toBe('RolledBack');
      return r?.status?.phase === 'Promoted' ? r : undefined;
    }, 'promotion', 90_000, 200);
    expect(done.status?.canaryWeight).toBe(100);
    expect(weightsOf((await vsOf('healthy'))!)).toEqual({ stable: 0, canary: 100 });
    expect([...weights]).toEqual(expect.arrayContaining([10, 50, 100]));
    expect(done.status?.lastAnalysis?.verdict).toBe('pass');
    expect(done.status?.lastAnalysis?.canary?.requests).toBeGreaterThan(20);
    // The mesh really did send canary traffic the controller's way.
    expect(mesh.healthy.served().v2!.requests).toBeGreaterThan(50);
    // The traffic query serves the comparison and the error rate; the latency is the other query.
    const after = await scrape(controller.port);
    const checks = total(after, 'fledge_analysis_total') - total(before, 'fledge_analysis_total');
    const queries = total(after, 'fledge_prometheus_queries_total') - total(before, 'fledge_prometheus_queries_total');
    expect(checks).toBeGreaterThan(5);
    expect(queries).toBe(checks * metrics.length);
  });

  it('rolls back a canary with 5x the stable error rate to 100/0, with the reason in status', async () => {
    await gitopsApply(k, rolloutManifest(NS, 'bad', spec('bad', { steps: [50, 100], interval: '30s' })));
    const r = await waitPhase('bad', 'RolledBack', 90_000, 'Promoted');
    expect(r.status?.canaryWeight).toBe(0);
    // Status is written first, then routing, then Events.
    expect(weightsOf(await waitForWeights(k, NS, 'bad', { stable: 100, canary: 0 }))).toEqual({ stable: 100, canary: 0 });
    expect(r.status?.message).toContain('analysis failed');
    expect(r.status?.lastAnalysis?.verdict).toBe('fail');
    expect(r.status?.lastAnalysis?.reason).toMatch(/errors|error-rate/);
    // Caught inside the first step (50 %, held 30 s), not after whole intervals.
    expect(r.status?.lastAnalysis?.stepIndex).toBe(0);
    await waitForEvents(k, NS, 'bad', ['RolledBack']);
  });

  it('rolls back a gRPC canary failing 90 % of calls with UNAVAILABLE over HTTP 200', async () => {
    await gitopsApply(k, rolloutManifest(NS, 'grpc', spec('grpc', { steps: [10, 50, 100], interval: '30s' })));
    const r = await waitPhase('grpc', 'RolledBack', 90_000, 'Promoted');
    expect(weightsOf((await vsOf('grpc'))!)).toEqual({ stable: 100, canary: 0 });
    const last = r.status?.lastAnalysis;
    expect(last?.verdict).toBe('fail');
    // Every canary failure is a grpc_response_status 14 on a response_code 200 series: 90 % of
    // however few calls the evidence needed (no request count gates a failure), so the share is
    // within 4 binomial standard deviations of 0.9.
    const c = last!.canary!;
    expect(c.errors).toBeGreaterThan(0);
    expect(c.errors / c.requests).toBeGreaterThan(0.9 - 4 * Math.sqrt((0.9 * 0.1) / c.requests) - 0.01);
    expect(last?.decisive).toBe(true);
    expect(last?.stable?.errors).toBe(0);
    expect(last?.reason).toMatch(/errors: (release so far|this step): canary \d+\.\d\d% \(\d+\/\d+\) vs stable 0\.00% \(0\/\d+\)/);
    expect(mesh.grpc.served().v2!.errors).toBeGreaterThan(0);
  });

  it('says, in status and one Event per step, that pods without sidecars report no metrics', async () => {
    await gitopsApply(k, rolloutManifest(NS, 'nosidecar', spec('nosidecar', { steps: [50, 100], interval: '4s' })));
    const r = await eventually(async () => {
      const x = await rolloutOf('nosidecar');
      return x?.status?.lastAnalysis?.reason.includes(SIDECAR_MISSING) ? x : undefined;
    }, 'the sidecar diagnosis in lastAnalysis.reason', 60_000, 250);
    expect(r.status?.phase).toBe('Progressing');
    expect(r.status?.lastAnalysis?.verdict).toBe('inconclusive');
    // More checks of the same step (checkInterval 1s) add no Event.
    const checked = Date.parse(r.status!.lastAnalysis!.at);
    await eventually(async () => Date.parse((await rolloutOf('nosidecar'))?.status?.lastAnalysis?.at ?? '') > checked + 3000, 'three more checks', 30_000, 250);
    const missing = (await listEvents(k, NS, 'nosidecar')).filter((e) => e.reason === 'MetricsMissing');
    expect(missing.length).toBe(1);
    expect(missing[0]?.note).toContain(SIDECAR_MISSING);
    expect((await rolloutOf('nosidecar'))?.status?.canaryWeight).toBe(50);
  });

  it('never rolls back a healthy canary at 1 request per second', async () => {
    await gitopsApply(k, rolloutManifest(NS, 'quiet', spec('quiet', { steps: [50, 100], interval: '5s' })));
    const deadline = Date.now() + 40_000;
    const phases = new Set<string>();
    while (Date.now() < deadline) {
      const r = await rolloutOf('quiet');
      if (r?.status?.phase) phases.add(r.status.phase);
      expect(r?.status?.phase, r?.status?.message).not.toBe('RolledBack');
      await new Promise((res) => setTimeout(res, 500));
    }
    const r = await rolloutOf('quiet');
    // Traffic this low is inconclusive until enough requests have come in: it waits, then moves on.
    expect(['Progressing', 'Promoted']).toContain(r?.status?.phase);
    expect(r?.status?.lastAnalysis).toBeDefined();
  });

  it('holds the step while Prometheus is down, and carries on when it returns', async () => {
    await gitopsApply(k, rolloutManifest(NS, 'outage', spec('outage', { steps: [20, 40, 100], interval: '4s' })));
    await eventually(async () => (await rolloutOf('outage'))?.status?.canaryWeight === 20, 'step 1');
    await prometheus.pause();
    try {
      await new Promise((res) => setTimeout(res, 9000));
      const held = await rolloutOf('outage');
      expect(held?.status?.phase).toBe('Progressing');
      expect(held?.status?.canaryWeight).toBe(20);
      expect(held?.status?.lastAnalysis?.verdict).toBe('inconclusive');
    } finally {
      await prometheus.resume();
    }
    await waitPhase('outage', 'Promoted', 90_000, 'RolledBack');
  });
});
