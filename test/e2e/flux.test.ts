/**
 * The GitOps story with a real Flux: source-controller and kustomize-controller v1.9.6 pull a
 * local git repository and apply it to the local API server; the real Fledge controller runs the
 * releases, judged by a real Prometheus scraping a fake mesh whose traffic follows the live
 * VirtualService. Commits drive everything, as in production:
 *   1. release v2 (healthy): Flux reports the Kustomization Ready while the release runs (mid-release
 *      is kstatus Current), a Kustomization gating on promotion with `healthCheckExprs` only once
 *      it is promoted; `fledge pause` on the way, whose annotation survives Flux, unlike kubectl's;
 *   2. an unchanged re-sync: Flux reconciles, Fledge writes nothing;
 *   3. release v3 (failing) → rolled back: Flux fails fast (Stalled → Failed), prune keeps the
 *      generated VirtualService and DestinationRule;
 *   4. an invalid Rollout: Flux fails fast with it; a commit the CRD's CEL refuses fails the
 *      Kustomization with the field and the rule, and leaves the live Rollout alone;
 *   and an adopted VirtualService marked `kustomize.toolkit.fluxcd.io/ssa: IfNotPresent` keeps
 *   Fledge's weights, while one without it is fought over (RoutingRestored names Flux).
 * Every Flux setting docs/gitops.md shows is the one used here.
 *
 * Set FLEDGE_CAPTURE_GITOPS_STATUS=1 to rewrite test/fixtures/gitops-status from this run (the
 * Argo CD health check's real inputs, see test/integration/argocd-health.test.ts).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubernetesObject } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESSAGES } from '../../src/api/messages.ts';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { followVirtualService, type DataPlane } from '../../src/devenv/dataplane.ts';
import { startMeshWorkload, type MeshWorkload } from '../../src/devenv/mesh.ts';
import { startLocalPrometheus, type LocalPrometheus } from '../../src/devenv/prometheus.ts';
import { requestDelta, scrape, writesOf } from '../../bench/scale/kit.ts';
import { fledge } from '../support/cli.ts';
import { ROLLOUT_CRD, startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import {
  GIT_REPOSITORIES, GitRepo, KUSTOMIZATIONS, fluxCondition, requestReconcile, requireFlux, startFlux, waitForKustomization,
  type Flux, type FluxStatus,
} from '../support/flux.ts';
import {
  DESTINATION_RULES, ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, expectValidWeights, getObject, listEvents, mergePatch,
  testKube, waitForWeights, weightsOf, type TestKube, type VirtualServiceLike,
} from '../support/kube.ts';
import { kstatusOf, type KStatus } from '../support/kstatus.ts';
import { argoHealth } from '../support/lua.ts';
import { waitForSeries } from '../support/prometheus.ts';

const NS = 'shop';
const FIXTURES = fileURLToPath(new URL('../fixtures/gitops-status', import.meta.url));
const CAPTURE = process.env.FLEDGE_CAPTURE_GITOPS_STATUS === '1';

let dir: string;
let cluster: LocalCluster;
let k: TestKube;
let prometheus: LocalPrometheus;
let mesh: MeshWorkload;
let plane: DataPlane;
let controller: ControllerProcess;
let repo: GitRepo;
let flux: Flux;
let sha = '';
/** Timings, printed with FLEDGE_FLUX_FIGURES=1 (for docs and reports; never asserted beyond loose bounds). */
const figures: Record<string, number> = {};

interface Rollout {
  metadata: { name: string; namespace: string; generation: number; resourceVersion: string; annotations?: Record<string, string>; managedFields?: { manager?: string; operation?: string; subresource?: string }[] };
  spec: Record<string, unknown>;
  status?: { phase?: string; message?: string; observedGeneration?: number; canaryWeight?: number; conditions?: { type: string; status: string; reason: string; message: string }[] };
}

const rolloutOf = async (name: string) => (await getObject<Rollout>(k, ROLLOUTS, NS, name))!;
const vsOf = (name: string) => getObject<VirtualServiceLike>(k, VIRTUAL_SERVICES, NS, name);

// ---------------------------------------------------------------- what is in git

const yaml = (...docs: unknown[]) => docs.map((d) => stringify(d)).join('---\n');

function webRollout(stable: string, canary: string, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'fledge.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'web', namespace: NS },
    spec: {
      service: { name: 'web', port: 8080 },
      stable: { labels: { app: 'web', version: stable } },
      canary: { labels: { app: 'web', version: canary } },
      strategy: { steps: [50, 100], interval: '10s' },
      analysis: {
        prometheus: { timeout: '2s' },
        metrics: [{ name: 'error-rate', template: 'istio-error-rate', max: 0.1 }],
        minRequests: 20, failureLimit: 1, checkInterval: '1s',
      },
      ...extra,
    },
  };
}

/** A VirtualService the team keeps in git, adopted by a Rollout (no analysis: it waits at 50/50). */
function adopted(name: string, annotations: Record<string, string> | undefined, timeout?: string) {
  return [
    {
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService',
      metadata: { name: `${name}-route`, namespace: NS, ...(annotations ? { annotations } : {}) },
      spec: {
        hosts: [name],
        http: [{ name: 'primary', ...(timeout ? { timeout } : {}), route: [{ destination: { host: name, subset: 'stable' }, weight: 100 }, { destination: { host: name, subset: 'canary' }, weight: 0 }] }],
      },
    },
    {
      apiVersion: 'fledge.dev/v1alpha1', kind: 'Rollout', metadata: { name, namespace: NS },
      spec: {
        service: { name },
        stable: { labels: { app: name, version: 'v1' } },
        canary: { labels: { app: name, version: 'v2' } },
        strategy: { steps: [50, 100], interval: '1h' },
        trafficRouting: { virtualService: { ref: `${name}-route` } },
      },
    },
  ];
}

const configMap = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS }, data: { owner: 'git' } });

/** The settings docs/gitops.md shows: Flux's own apply, prune, and `wait: true` on the Rollout's path. */
function kustomization(name: string, path: string, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name, namespace: 'flux-system' },
    spec: { interval: '1m', path, prune: true, sourceRef: { kind: 'GitRepository', name: 'fleet' }, ...extra },
  };
}

/** docs/gitops.md, "Gating on promotion": the Rollout counts as healthy once promoted, failed once stalled. */
const PROMOTION_GATE = [{
  apiVersion: 'fledge.dev/v1alpha1',
  kind: 'Rollout',
  failed: "status.conditions.exists(c, c.type == 'Stalled' && c.status == 'True')",
  current: "status.phase == 'Promoted'",
}];

// ---------------------------------------------------------------- helpers

/** Pushes a commit and nudges the GitRepository (`flux reconcile source git`); returns the sha. */
async function push(message: string, files: Record<string, string | null>): Promise<string> {
  sha = repo.commit(message, files);
  await requestReconcile(k, GIT_REPOSITORIES, 'fleet');
  return sha;
}

const revisionOf = (o: FluxStatus | undefined) => o?.status?.lastAttemptedRevision ?? '';
const ready = (o: FluxStatus) => fluxCondition(o, 'Ready');

/** A Kustomization's Ready condition once it has settled (True or False) on the last commit. */
async function settledOn(name: string, commit: string, status: 'True' | 'False', timeoutMs = 60_000): Promise<FluxStatus> {
  return waitForKustomization(k, flux, name, `Ready=${status} at ${commit.slice(0, 7)}`, (o) => revisionOf(o).endsWith(commit) && ready(o)?.status === status, timeoutMs);
}

/** `flux reconcile kustomization NAME` and wait for it to be handled. */
async function reconcile(name: string): Promise<FluxStatus> {
  const token = await requestReconcile(k, KUSTOMIZATIONS, name);
  return waitForKustomization(k, flux, name, `reconcile ${token} handled`, (o) => o.status?.lastHandledReconcileAt === token && ready(o)?.status !== 'Unknown');
}

/** What Argo CD's health check (real Lua 5.1) and kstatus make of the live Rollout; saved as a fixture when capturing. */
async function expectHealth(name: string, fixture: string, argo: string, kstatus: KStatus): Promise<Rollout> {
  const r = await rolloutOf(name);
  expect(argoHealth(r).status, `Argo CD health of ${name}: ${r.status?.message}`).toBe(argo);
  expect(kstatusOf(r), `kstatus of ${name}`).toBe(kstatus);
  if (CAPTURE) {
    mkdirSync(FIXTURES, { recursive: true });
    const object = { apiVersion: 'fledge.dev/v1alpha1', kind: 'Rollout', metadata: { name: r.metadata.name, namespace: r.metadata.namespace, generation: r.metadata.generation }, spec: r.spec, status: r.status };
    writeFileSync(join(FIXTURES, `${fixture}.json`), `${JSON.stringify({ argo, kstatus, object }, null, 2)}\n`);
  }
  return r;
}

// ---------------------------------------------------------------- the run

beforeAll(async () => {
  const { crdFiles } = requireFlux();
  dir = mkdtempSync(join(tmpdir(), 'fledge-flux-'));
  mesh = await startMeshWorkload({
    service: 'web', namespace: NS, versions: ['v1', 'v2', 'v3'], rps: 40, seed: 20,
    behaviour: { v1: { errorRate: 0.01, latencyMs: 20 }, v2: { errorRate: 0.01, latencyMs: 20 }, v3: { errorRate: 0.5, latencyMs: 20 } },
  });
  [cluster, prometheus, repo] = await Promise.all([
    startTestCluster({ crdFiles: [ROLLOUT_CRD, ...crdFiles] }),
    startLocalPrometheus({ scrapeTargets: [mesh.metricsAddress], scrapeInterval: '1s' }),
    GitRepo.start(join(dir, 'git')),
  ]);
  k = testKube(cluster.kubeconfigPath);
  await createNamespace(k, NS);
  await createNamespace(k, 'flux-system');
  plane = followVirtualService(k.kc, mesh, { namespace: NS, virtualService: 'web', destinationRule: 'web' });
  controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ['--prometheus-address', prometheus.url], env: { LOG_LEVEL: 'info' } });
  flux = await startFlux({ kubeconfig: cluster.kubeconfigPath, dir: join(dir, 'flux'), ...(process.env.FLEDGE_TEST_LOGS ? { log: (l: string) => process.stderr.write(`${l}\n`) } : {}) });
  await waitForSeries(prometheus.url, 'istio_requests_total', 1, 'Prometheus to scrape the mesh');
}, 240_000);

afterAll(async () => {
  if (process.env.FLEDGE_FLUX_FIGURES === '1') process.stderr.write(`flux e2e figures: ${JSON.stringify(figures)}\n`);
  plane?.stop();
  await flux?.stop();
  await controller?.stop();
  await repo?.stop();
  await prometheus?.stop();
  await mesh?.stop();
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('Fledge under a real Flux (source-controller + kustomize-controller v1.9.6)', { timeout: 180_000 }, () => {
  it('release v2: Flux is Ready mid-release, the promotion gate only once promoted; `fledge pause` survives Flux, a kubectl annotation does not', async () => {
    const first = repo.commit('release v2', {
      'apps/web/rollout.yaml': yaml(webRollout('v1', 'v2')),
      'apps/web/config.yaml': yaml(configMap('web-config')),
      'apps/adopted/routes.yaml': yaml(...adopted('shop', { 'kustomize.toolkit.fluxcd.io/ssa': 'IfNotPresent' }), ...adopted('fought', undefined)),
      'gate/marker.yaml': yaml(configMap('gate-marker')),
    });
    sha = first;
    const t0 = Date.now();
    await k.objects.create({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'fleet', namespace: 'flux-system' }, spec: { interval: '1m', url: repo.url, ref: { branch: 'main' } } } as KubernetesObject);
    await k.objects.create(kustomization('web', './apps/web', { wait: true, timeout: '1m' }) as KubernetesObject);
    await k.objects.create(kustomization('adopted', './apps/adopted', { interval: '1h' }) as KubernetesObject);
    // Gating on promotion: the health of the Rollout by Fledge's phase, not kstatus's defaults.
    // dependsOn: its health check then starts only once `web` has applied the same commit.
    await k.objects.create(kustomization('gate', './gate', {
      dependsOn: [{ name: 'web' }], timeout: '3m', healthChecks: [{ apiVersion: 'fledge.dev/v1alpha1', kind: 'Rollout', name: 'web', namespace: NS }], healthCheckExprs: PROMOTION_GATE,
    }) as KubernetesObject);

    // Mid-release (Progressing at 50/50): kstatus Current, so `wait: true` passes without waiting for the release.
    const web = await settledOn('web', first, 'True');
    const readyAfterMs = Date.now() - t0;
    figures.firstReadyMs = readyAfterMs;
    await eventually(async () => (await rolloutOf('web')).status?.phase === 'Progressing', 'web to be Progressing', 10_000, 100);
    const mid = await expectHealth('web', 'progressing', 'Progressing', 'Current');
    expect(mid.status?.phase, 'Flux was Ready before the release ended').toBe('Progressing');
    expect(fluxCondition(web, 'Healthy')).toMatchObject({ status: 'True' });
    expect(readyAfterMs, 'Ready within one health check, not after its timeout').toBeLessThan(30_000);
    // And again with Fledge's status surely written: a health check of the running release passes.
    const again = await reconcile('web');
    expect(fluxCondition(again, 'Healthy')).toMatchObject({ status: 'True' });
    expect((await rolloutOf('web')).status?.phase, 'still mid-release after that health check').toBe('Progressing');
    // The gate: once `web` is Ready at this commit, its health check runs for as long as the release.
    await waitForKustomization(k, flux, 'gate', 'health check running', (o) => revisionOf(o).endsWith(first) && fluxCondition(o, 'Healthy')?.status === 'Unknown', 30_000);

    // `fledge pause` (manager fledge-cli) and, for contrast, an annotation typed with kubectl.
    const paused = fledge(['pause', 'web', '-n', NS, '--kubeconfig', cluster.kubeconfigPath]);
    expect(paused.code, paused.stderr).toBe(0);
    await mergePatch(k, ROLLOUTS, NS, 'web', { metadata: { annotations: { 'example.com/typed-by-hand': 'yes' } } }, 'kubectl-annotate');
    await eventually(async () => (await rolloutOf('web')).status?.phase === 'Paused', 'web to be Paused', 30_000, 200);
    await expectHealth('web', 'paused', 'Suspended', 'Current');
    const afterPause = await reconcile('web');
    expect(ready(afterPause)?.status, 'Paused is Current: Flux stays Ready').toBe('True');
    const r = await rolloutOf('web');
    expect(r.metadata.annotations?.['fledge.dev/paused']).toBe('true');
    expect(r.metadata.managedFields?.some((f) => f.manager === 'fledge-cli')).toBe(true);
    expect(r.metadata.annotations?.['example.com/typed-by-hand'], 'Flux takes over fields of kubectl-* managers and drops them').toBeUndefined();
    expect(r.status?.phase, 'status survives Flux').toBe('Paused');
    const gateWhilePaused = await getObject<FluxStatus>(k, KUSTOMIZATIONS, 'flux-system', 'gate');
    expect(ready(gateWhilePaused!)?.status, `the gate waits for the promotion: ${ready(gateWhilePaused!)?.message}`).toBe('Unknown');
    expect(fluxCondition(gateWhilePaused, 'Healthy')?.status).toBe('Unknown');

    const resumed = fledge(['resume', 'web', '-n', NS, '--kubeconfig', cluster.kubeconfigPath]);
    expect(resumed.code, resumed.stderr).toBe(0);
    await eventually(async () => (await rolloutOf('web')).status?.phase === 'Promoted', 'web to be Promoted', 120_000, 250);
    await waitForWeights(k, NS, 'web', { stable: 0, canary: 100 });
    await expectHealth('web', 'promoted', 'Healthy', 'Current');
    const promotedAt = Date.now();
    const gated = await waitForKustomization(k, flux, 'gate', 'Ready=True once promoted', (o) => ready(o)?.status === 'True', 60_000);
    figures.gateReadyAfterPromotionMs = Date.now() - promotedAt;
    expect(fluxCondition(gated, 'Healthy')).toMatchObject({ status: 'True' });
    expect(ready(await reconcile('web'))?.status).toBe('True');
  });

  it('an unchanged re-sync writes nothing: Flux reconciles three times, Fledge sends no write', async () => {
    const objects = async () => Promise.all([
      rolloutOf('web').then((r) => r.metadata.resourceVersion),
      vsOf('web').then((v) => v?.metadata.resourceVersion),
      getObject<VirtualServiceLike>(k, DESTINATION_RULES, NS, 'web').then((v) => v?.metadata.resourceVersion),
    ]);
    const rvBefore = await objects();
    const before = await scrape(controller.port);
    for (let i = 0; i < 3; i++) {
      const t = Date.now();
      expect(ready(await reconcile('web'))?.status).toBe('True');
      figures[`resync${i}Ms`] = Date.now() - t;
    }
    const delta = requestDelta(before, await scrape(controller.port));
    expect(writesOf(delta), `Fledge's writes during the re-syncs: ${JSON.stringify(delta)}`).toBe(0);
    expect(delta, 'Fledge sends no request at all: Flux changed nothing it watches').toEqual({});
    expect(await objects(), 'neither Flux nor Fledge changed the Rollout, VirtualService or DestinationRule').toEqual(rvBefore);
  });

  it('an adopted VirtualService marked ssa: IfNotPresent keeps Fledge\'s weights; one without it is written back by Flux and restored', async () => {
    await eventually(async () => weightsOf((await vsOf('shop-route'))!).canary === 50 && weightsOf((await vsOf('fought-route'))!).canary === 50, 'both adopted routes at 50/50', 30_000, 200);
    await reconcile('adopted');
    const kept = (await vsOf('shop-route'))!;
    expectValidWeights(kept);
    expect(weightsOf(kept)).toEqual({ stable: 50, canary: 50 });
    // Without the annotation, Flux applies git's 100/0 again; Fledge puts 50/50 back and says who wrote.
    const restored = await eventually(async () => {
      const events = await listEvents(k, NS, 'fought');
      return events.find((e) => e.reason === 'RoutingRestored' && e.note?.includes('kustomize-controller'));
    }, 'a RoutingRestored Event naming kustomize-controller', 30_000, 200);
    expect(restored.type).toBe('Warning');
    await waitForWeights(k, NS, 'fought-route', { stable: 50, canary: 50 });
  });

  it('release v3 fails: rolled back; Flux fails fast on the Stalled Rollout; prune keeps the generated objects', async () => {
    const start = Date.now();
    const mark = (what: string) => { figures[`v3.${what}Ms`] = Date.now() - start; };
    const third = await push('release v3; drop web-config', {
      'apps/web/rollout.yaml': yaml(webRollout('v2', 'v3')),
      'apps/web/config.yaml': null,
      'apps/adopted/routes.yaml': yaml(...adopted('shop', { 'kustomize.toolkit.fluxcd.io/ssa': 'IfNotPresent' }, '5s'), ...adopted('fought', undefined)),
    });
    // Pruned: the ConfigMap left git. Never pruned: what Fledge generates (not in Flux's inventory).
    await eventually(async () => (await k.core.readNamespacedConfigMap({ name: 'web-config', namespace: NS }).then(() => false, () => true)), 'web-config to be pruned', 60_000, 200);
    mark('pruned');
    await eventually(async () => (await rolloutOf('web')).status?.phase === 'RolledBack', 'web to be RolledBack', 120_000, 250);
    mark('rolledBack');
    const vs = await waitForWeights(k, NS, 'web', { stable: 100, canary: 0 });
    expectValidWeights(vs);
    expect(await getObject(k, DESTINATION_RULES, NS, 'web')).toBeDefined();
    const r = await expectHealth('web', 'rolled-back', 'Degraded', 'Failed');
    expect(argoHealth(r).message).toMatch(/^rolled back: analysis failed/);

    // Whether Flux had passed this revision mid-release (Current) or not, its next reconcile (its
    // interval, or `flux reconcile`) fails at once instead of timing out.
    const t = Date.now();
    const failed = await reconcile('web');
    figures.rolledBackFailedMs = Date.now() - t;
    expect(figures.rolledBackFailedMs, 'Flux fails fast instead of timing out').toBeLessThan(15_000);
    expect(revisionOf(failed)).toMatch(new RegExp(`${third}$`));
    expect(ready(failed)).toMatchObject({ status: 'False', reason: 'HealthCheckFailed' });
    expect(ready(failed)?.message).toMatch(/stalled resources: \[Rollout\/shop\/web status: 'Failed'\]/);
    // The gate never passes v3 (Flux records lastAppliedRevision only once health checks pass):
    // its own check fails as soon as the Rollout is Stalled if it ran (once `web` had passed v3
    // mid-release), or it waits on `web` (when the rollback came within `web`'s own check).
    const gate = await reconcile('gate');
    mark('gateFailed');
    expect(ready(gate)?.status).toBe('False');
    expect(gate.status?.lastAppliedRevision ?? '').not.toMatch(new RegExp(`${third}$`));
    expect(ready(gate)?.message).toMatch(/failed early due to stalled resources: \[Rollout\/shop\/web status: 'Failed'\]|dependency 'flux-system\/web' (is not ready|revision is not up to date)/);
    mark('webFailed');
    // Re-syncing the same commit after a rollback changes nothing either.
    const rv = (await rolloutOf('web')).metadata.resourceVersion;
    const before = await scrape(controller.port);
    expect(ready(await reconcile('web'))?.status).toBe('False');
    expect(writesOf(requestDelta(before, await scrape(controller.port)))).toBe(0);
    expect((await rolloutOf('web')).metadata.resourceVersion).toBe(rv);
    // The adopted route marked IfNotPresent: git's later edit never reaches it.
    await waitForKustomization(k, flux, 'adopted', `applied ${third.slice(0, 7)}`, (o) => (o.status?.lastAppliedRevision ?? '').endsWith(third));
    mark('adoptedApplied');
    const route = (await vsOf('shop-route'))!.spec.http![0] as { timeout?: string };
    expect(route.timeout).toBeUndefined();
    expect(weightsOf((await vsOf('shop-route'))!)).toEqual({ stable: 50, canary: 50 });
  });

  it('an invalid Rollout: Invalid with the field named, and Flux fails fast on it', async () => {
    const spec = webRollout('v2', 'v3', { trafficRouting: { destinationRule: { trafficPolicy: { loadBalancer: { simple: 'NOT_A_POLICY' } } } } });
    const fourth = await push('a load balancer Istio does not know', { 'apps/web/rollout.yaml': yaml(spec) });
    await eventually(async () => (await rolloutOf('web')).status?.phase === 'Invalid', 'web to be Invalid', 60_000, 200);
    const r = await expectHealth('web', 'invalid', 'Degraded', 'Failed');
    expect(argoHealth(r).message).toContain('loadBalancer');
    const t = Date.now();
    const failed = await settledOn('web', fourth, 'False', 60_000);
    figures.invalidFailedMs = Date.now() - t;
    expect(ready(failed)?.message).toMatch(/stalled resources: \[Rollout\/shop\/web status: 'Failed'\]/);
    // And at every later reconcile, at once.
    const again = await reconcile('web');
    expect(ready(again)).toMatchObject({ status: 'False', reason: 'HealthCheckFailed' });
    expect(ready(again)?.message).toMatch(/failed early due to stalled resources/);
    // The routing of the rolled-back release stays as it was.
    expect(weightsOf((await vsOf('web'))!)).toEqual({ stable: 100, canary: 0 });
  });

  it('a commit the CRD\'s CEL refuses: the Kustomization fails naming the field and the rule, the live Rollout is untouched', async () => {
    const before = await rolloutOf('web');
    const fifth = await push('canary labels equal to stable\'s', { 'apps/web/rollout.yaml': yaml(webRollout('v3', 'v3')) });
    const failed = await settledOn('web', fifth, 'False', 60_000);
    // Flux's server-side dry run carries the API server's answer: the field path and fledge validate's own words.
    expect(ready(failed)?.message).toContain('spec.canary.labels');
    expect(ready(failed)?.message).toContain(MESSAGES.labelsSame);
    const after = await rolloutOf('web');
    expect(after.metadata.generation).toBe(before.metadata.generation);
    expect(after.spec).toEqual(before.spec);
    expect(after.status?.phase).toBe(before.status?.phase);
  });
});
