/**
 * Match (A/B) and mirror steps end to end: the controller process, a kube-apiserver with Istio's
 * CRDs (every VirtualService written passes their schema; the controller dry-runs each step's
 * shape first), a Prometheus scraping a fake mesh that follows the live VirtualService: its
 * testers' requests (header x-canary: true) take the fledge-match route, and the weighted route's
 * mirror copies requests to the canary, reported by the canary's sidecar as Istio does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { followVirtualService, type DataPlane } from '../../src/devenv/dataplane.ts';
import { startMeshWorkload, type MeshWorkload } from '../../src/devenv/mesh.ts';
import { startLocalPrometheus, type LocalPrometheus } from '../../src/devenv/prometheus.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import {
  ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, expectValidWeights, getObject, gitopsApply, rolloutManifest, testKube,
  waitForEvents, weightsOf, type RolloutLike, type TestKube, type VirtualServiceLike,
} from '../support/kube.ts';
import { waitForSeries } from '../support/prometheus.ts';

const NS = 'steps';
const HEADER = { headers: { 'x-canary': { exact: 'true' } } };

let cluster: LocalCluster;
let k: TestKube;
let prometheus: LocalPrometheus;
let controller: ControllerProcess;
const mesh: Record<string, MeshWorkload> = {};
const planes: DataPlane[] = [];

interface Analysed extends RolloutLike {
  status?: RolloutLike['status'] & { lastAnalysis?: { verdict: string; reason: string; stepIndex?: number; final?: boolean; mirrored?: boolean; decisive?: boolean; canary?: { requests: number; errors: number } } };
}
type Route = NonNullable<VirtualServiceLike['spec']['http']>[number] & { name?: string; match?: unknown[]; mirror?: { subset?: string }; mirrorPercentage?: { value?: number } };

const rolloutOf = (name: string) => getObject<Analysed>(k, ROLLOUTS, NS, name);
const vsOf = (name: string) => getObject<VirtualServiceLike>(k, VIRTUAL_SERVICES, NS, name);
const routes = (vs: VirtualServiceLike) => (vs.spec.http ?? []) as Route[];
const names = (vs: VirtualServiceLike) => routes(vs).map((r) => r.name);

function spec(service: string, steps: unknown[], interval: string): Record<string, unknown> {
  return {
    service: { name: service, port: 8080 },
    stable: { labels: { app: service, version: 'v1' } },
    canary: { labels: { app: service, version: 'v2' } },
    strategy: { steps, interval },
    analysis: {
      prometheus: { timeout: '2s' },
      metrics: [{ name: 'error-rate', template: 'istio-error-rate', max: 0.1 }],
      minRequests: 20,
      checkInterval: '1s',
    },
  };
}

beforeAll(async () => {
  // ab: a healthy canary; 30 % of its callers are testers sending x-canary: true.
  mesh.ab = await startMeshWorkload({
    service: 'ab', namespace: NS, versions: ['v1', 'v2'], rps: 40, seed: 21,
    behaviour: { v1: { errorRate: 0.01, latencyMs: 20 }, v2: { errorRate: 0.01, latencyMs: 20 } },
    testers: { share: 0.3, headers: { 'x-canary': 'true' } },
  });
  // shadow: a canary that fails half of its requests, which only mirroring ever sends it.
  mesh.shadow = await startMeshWorkload({
    service: 'shadow', namespace: NS, versions: ['v1', 'v2'], rps: 40, seed: 22,
    behaviour: { v1: { errorRate: 0.01, latencyMs: 20 }, v2: { errorRate: 0.5, latencyMs: 20 } },
  });
  [cluster, prometheus] = await Promise.all([
    startTestCluster(),
    startLocalPrometheus({ scrapeTargets: Object.values(mesh).map((m) => m.metricsAddress), scrapeInterval: '1s' }),
  ]);
  k = testKube(cluster.kubeconfigPath);
  await createNamespace(k, NS);
  for (const s of Object.keys(mesh)) planes.push(followVirtualService(k.kc, mesh[s]!, { namespace: NS, virtualService: s, destinationRule: s, periodMs: 100 }));
  controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ['--namespace', NS, '--resync', '30s', '--prometheus-address', prometheus.url] });
  await waitForSeries(prometheus.url, 'istio_requests_total', 12, 'Prometheus to scrape both meshes');
}, 240_000);

afterAll(async () => {
  for (const p of planes) p.stop();
  await controller?.stop();
  await prometheus?.stop();
  await Promise.all(Object.values(mesh).map((m) => m.stop()));
  await cluster?.stop();
});

describe('match and mirror steps against a real API server and Prometheus', { timeout: 150_000 }, () => {
  it('a header step judged on the testers\' requests, then weights with the match route kept, then promotion removes it', async () => {
    await gitopsApply(k, rolloutManifest(NS, 'ab', spec('ab', [{ match: [HEADER] }, 10, 50], '5s')));
    const seen: string[] = [];
    let judgedMatchStep: Analysed['status'] | undefined;
    let testersServed = 0;
    const done = await eventually(async () => {
      const vs = await vsOf('ab');
      const r = await rolloutOf('ab');
      expect(r?.status?.phase, r?.status?.message).not.toBe('RolledBack');
      expect(r?.status?.phase, r?.status?.message).not.toBe('Invalid');
      if (vs) {
        expectValidWeights(vs);
        const w = weightsOf(vs, names(vs).indexOf('primary'));
        const shape = `${names(vs).join('+')}@${w.canary}`;
        if (seen[seen.length - 1] !== shape) seen.push(shape);
        const m = routes(vs).find((x) => x.name === 'fledge-match');
        if (m) {
          expect(m.match).toEqual([HEADER]);
          expect(m.route).toEqual([{ destination: { host: 'ab', subset: 'canary', port: { number: 8080 } }, weight: 100 }]);
        }
      }
      const la = r?.status?.lastAnalysis;
      // The judgement that moved the match step on: final, and passing.
      if (la?.stepIndex === 0 && la.final && la.verdict === 'pass') judgedMatchStep = r!.status;
      if (vs && weightsOf(vs, names(vs).indexOf('primary')).canary === 0) testersServed = mesh.ab!.served().v2!.requests;
      return r?.status?.phase === 'Promoted' ? r : undefined;
    }, 'promotion', 120_000, 150);
    // Status first, then routing: the promoted VirtualService follows.
    const promoted = await eventually(async () => {
      const vs = await vsOf('ab');
      return vs && names(vs).join('+') === 'primary' ? vs : undefined;
    }, 'the match route to be removed on promotion', 30_000, 150);
    expectValidWeights(promoted);
    expect(weightsOf(promoted)).toEqual({ stable: 0, canary: 100 });
    expect(seen.slice(0, 3)).toEqual(['fledge-match+primary@0', 'fledge-match+primary@10', 'fledge-match+primary@50']);
    expect(seen.slice(3).every((x) => x === 'primary@100')).toBe(true);
    // The match step passed on the canary's own requests: the testers', all of them live.
    expect(judgedMatchStep?.lastAnalysis?.canary?.requests).toBeGreaterThanOrEqual(20);
    expect(judgedMatchStep?.lastAnalysis?.mirrored).toBeUndefined();
    // While the weights gave it nothing, the canary served the testers (their header took the match route).
    expect(testersServed).toBeGreaterThanOrEqual(20);
    expect(done.status?.canaryWeight).toBe(100);
    await waitForEvents(k, NS, 'ab', ['RolloutStarted', 'StepAdvanced', 'Promoted']);
  });

  it('a match step with an adopted VirtualService is Invalid, naming the step and why', async () => {
    await gitopsApply(k, rolloutManifest(NS, 'adopted', { ...spec('other', [{ match: [HEADER] }, 100], '5s'), trafficRouting: { virtualService: { ref: 'other-routes' } } }));
    const r = await eventually(async () => {
      const x = await rolloutOf('adopted');
      return x?.status?.phase === 'Invalid' ? x : undefined;
    }, 'Invalid', 30_000);
    expect(r.status?.message).toMatch(/spec\.strategy\.steps\[0\]: match and mirror steps need a generated VirtualService: .*ignore rules/);
  });

  it('a mirror step judged on the mirrored requests, failed, and rolled back: the mirror removed, users never served by the canary', async () => {
    await gitopsApply(k, rolloutManifest(NS, 'shadow', spec('shadow', [{ mirror: 50 }, 10, 100], '30s')));
    let mirrored: Route | undefined;
    const r = await eventually(async () => {
      const vs = await vsOf('shadow');
      if (vs) {
        expectValidWeights(vs);
        expect(weightsOf(vs).canary ?? 0).toBe(0);
        mirrored ??= routes(vs).find((x) => x.mirror);
      }
      const x = await rolloutOf('shadow');
      expect(x?.status?.phase, x?.status?.message).not.toBe('Promoted');
      return x?.status?.phase === 'RolledBack' ? x : undefined;
    }, 'the rollback', 120_000, 150);
    expect(mirrored).toMatchObject({ name: 'primary', mirror: { host: 'shadow', subset: 'canary', port: { number: 8080 } }, mirrorPercentage: { value: 50 } });
    expect(r.status?.stepIndex).toBe(0);
    expect(r.status?.lastAnalysis).toMatchObject({ verdict: 'fail', mirrored: true, decisive: true });
    expect(r.status?.lastAnalysis?.canary?.errors).toBeGreaterThan(0);
    expect(r.status?.lastAnalysis?.reason).toMatch(/mirrored request\(s\) against stable's live ones; mirrored responses are discarded, so users saw none of the canary's errors, but they count against it/);
    expect(r.status?.message).toMatch(/^rolled back: analysis failed on the evidence: .*mirrored/);
    const vs = await eventually(async () => {
      const v = await vsOf('shadow');
      return v && !routes(v).some((x) => x.mirror) ? v : undefined;
    }, 'the mirror to be removed', 30_000);
    expect(names(vs)).toEqual(['primary']);
    expect(weightsOf(vs)).toEqual({ stable: 100, canary: 0 });
    // Every answer users got came from stable: the canary served mirrored copies only.
    expect(mesh.shadow!.served().v2!.requests).toBe(0);
    await waitForEvents(k, NS, 'shadow', ['RolloutStarted', 'RolledBack']);
  });
});
