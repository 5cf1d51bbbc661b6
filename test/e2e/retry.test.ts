/**
 * `fledge retry` end to end, every part real: the controller process, a kube-apiserver with
 * Istio's CRDs, a Prometheus scraping a fake mesh that routes by the live VirtualService, and the
 * built `fledge` binary. A canary fails (its dependency is down: 30 % errors), is rolled back on
 * Prometheus' evidence; the dependency recovers, `fledge retry` starts the same release again from
 * its first step with fresh evidence, and it is promoted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { followVirtualService, type DataPlane } from '../../src/devenv/dataplane.ts';
import { startMeshWorkload, type MeshWorkload } from '../../src/devenv/mesh.ts';
import { startLocalPrometheus, type LocalPrometheus } from '../../src/devenv/prometheus.ts';
import { cliTestFiles, fledge } from '../support/cli.ts';
import { RETRY_QUIET_MS } from '../../src/plan/retry.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import {
  ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, expectValidWeights, getObject, gitopsApply, listEvents, rolloutManifest, testKube,
  waitForWeights, weightsOf, type RolloutLike, type TestKube, type VirtualServiceLike,
} from '../support/kube.ts';
import { waitForSeries } from '../support/prometheus.ts';

const NS = 'retry';
const NAME = 'flaky';

let cluster: LocalCluster;
let k: TestKube;
let prometheus: LocalPrometheus;
let controller: ControllerProcess;
let mesh: MeshWorkload;
let plane: DataPlane | undefined;

cliTestFiles('fledge-retry-');

interface Status extends RolloutLike {
  metadata: RolloutLike['metadata'] & { annotations?: Record<string, string> };
  status?: RolloutLike['status'] & {
    release?: string; stepIndex?: number; failedChecks?: number; handledRetry?: string; analysisStartedAt?: string; message?: string;
    lastAnalysis?: { verdict: string; at: string; canary?: { requests: number; errors: number } };
  };
}

const rolloutOf = () => getObject<Status>(k, ROLLOUTS, NS, NAME);
const vsOf = () => getObject<VirtualServiceLike>(k, VIRTUAL_SERVICES, NS, NAME);

/** Polls until the phase is reached; every VirtualService seen on the way has valid weights, and the phase is never `never`. */
async function waitPhase(phase: string, timeoutMs: number, never?: string): Promise<Status> {
  return eventually(async () => {
    const [r, vs] = [await rolloutOf(), await vsOf()];
    if (vs) expectValidWeights(vs);
    if (never) expect(r?.status?.phase, `${NAME} must never be ${never}: ${r?.status?.message}`).not.toBe(never);
    return r?.status?.phase === phase ? r : undefined;
  }, `${NAME} to be ${phase}`, timeoutMs, 250);
}

beforeAll(async () => {
  mesh = await startMeshWorkload({
    service: NAME, namespace: NS, versions: ['v1', 'v2'], rps: 40, seed: 21,
    behaviour: { v1: { errorRate: 0.01, latencyMs: 20 }, v2: { errorRate: 0.3, latencyMs: 20 } },
  });
  [cluster, prometheus] = await Promise.all([
    startTestCluster(),
    startLocalPrometheus({ scrapeTargets: [mesh.metricsAddress], scrapeInterval: '1s' }),
  ]);
  k = testKube(cluster.kubeconfigPath);
  await createNamespace(k, NS);
  plane = followVirtualService(k.kc, mesh, { namespace: NS, virtualService: NAME, destinationRule: NAME });
  controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ['--namespace', NS, '--resync', '30s', '--prometheus-address', prometheus.url] });
  await waitForSeries(prometheus.url, 'istio_requests_total', 1, 'Prometheus to scrape the mesh');
}, 240_000);

afterAll(async () => {
  plane?.stop();
  await controller?.stop();
  await prometheus?.stop();
  await mesh?.stop();
  await cluster?.stop();
});

describe('fledge retry after a rollback', { timeout: 180_000 }, () => {
  it('rolls back on Prometheus evidence, then a retry starts the release again and a healthy canary is promoted', async () => {
    await gitopsApply(k, rolloutManifest(NS, NAME, {
      service: { name: NAME, port: 8080 },
      stable: { labels: { app: NAME, version: 'v1' } },
      canary: { labels: { app: NAME, version: 'v2' } },
      strategy: { steps: [20, 50, 100], interval: '4s' },
      analysis: {
        prometheus: { timeout: '2s' },
        metrics: [{ name: 'error-rate', template: 'istio-error-rate', max: 0.1 }],
        minRequests: 20, failureLimit: 0, checkInterval: '1s',
      },
    }));
    const fallen = await waitPhase('RolledBack', 90_000, 'Promoted');
    expect(fallen.status?.message).toContain('analysis failed');
    expect(weightsOf(await waitForWeights(k, NS, NAME, { stable: 100, canary: 0 }))).toEqual({ stable: 100, canary: 0 });
    const failedAt = Date.parse(fallen.status!.lastAnalysis!.at);
    const release = fallen.status!.release!;

    // The dependency is back: the same canary pods now serve as well as stable.
    mesh.setBehaviour('v2', { errorRate: 0.01, latencyMs: 20 });
    const run = fledge(['retry', NAME, '-n', NS, '--kubeconfig', cluster.kubeconfigPath], { timeoutMs: 30_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`retry of release ${release} requested`);

    const restarted = await eventually(async () => {
      const r = await rolloutOf();
      return r?.status?.handledRetry && r.status.phase !== 'RolledBack' ? r : undefined;
    }, 'the retry to be handled', 60_000, 100);
    expect(restarted.status?.handledRetry).toBe(restarted.metadata.annotations?.['fledge.dev/retry']);
    expect(restarted.status?.release).toBe(release);
    expect(restarted.status?.failedChecks).toBe(0);
    // The canary took traffic again only once its failed requests were out of every analysis
    // window: the retried release is judged on its own requests alone.
    expect(Date.parse(restarted.status!.analysisStartedAt!)).toBeGreaterThanOrEqual(failedAt + RETRY_QUIET_MS);

    const weights = new Set<number>();
    const done = await eventually(async () => {
      const vs = await vsOf();
      if (vs) {
        expectValidWeights(vs);
        weights.add(weightsOf(vs).canary!);
      }
      const r = await rolloutOf();
      expect(r?.status?.phase, r?.status?.message).not.toBe('RolledBack');
      return r?.status?.phase === 'Promoted' ? r : undefined;
    }, 'promotion after the retry', 120_000, 200);
    expect(done.status?.canaryWeight).toBe(100);
    expect([...weights]).toEqual(expect.arrayContaining([20, 50, 100]));
    expect(done.status?.lastAnalysis?.verdict).toBe('pass');
    expect(weightsOf((await vsOf())!)).toEqual({ stable: 0, canary: 100 });

    const events = await listEvents(k, NS, NAME);
    const order = events.map((e) => e.reason);
    expect(order).toEqual(expect.arrayContaining(['RolledBack', 'Retried', 'Promoted']));
    expect(events.filter((e) => e.reason === 'Retried')).toHaveLength(1);
    expect(events.some((e) => e.reason === 'RetryIgnored')).toBe(false);

    // A second retry of a Promoted release writes nothing and says why.
    const again = fledge(['retry', NAME, '-n', NS, '--kubeconfig', cluster.kubeconfigPath], { timeoutMs: 30_000 });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('is Promoted, not RolledBack; nothing to retry');
  });
});
