/**
 * Adopting the VirtualService and DestinationRule a team keeps in git: only the weights change,
 * everything else (routes, matches, retries, timeouts) stays theirs, through every step.
 */
import { readFileSync } from 'node:fs';
import { PatchStrategy, setHeaderOptions, type KubernetesObject } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import {
  DESTINATION_RULES, ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, expectValidWeights, getObject, gitopsApply,
  listEvents, testKube, weightsOf, type RolloutLike, type TestKube, type VirtualServiceLike,
} from '../support/kube.ts';

let cluster: LocalCluster;
let k: TestKube;
let controller: ControllerProcess;

type Obj = KubernetesObject & { spec: Record<string, unknown> };
const example = (dir: string, file: string, fast = true): Obj => {
  const obj = parse(readFileSync(new URL(`../../examples/adopted/${dir}/${file}.yaml`, import.meta.url), 'utf8')) as Obj;
  // The examples hold production intervals; the tests walk the same schedules quickly.
  if (fast && obj.kind === 'Rollout') (obj.spec.strategy as Record<string, unknown>).interval = '1s';
  return obj;
};

async function adopt(dir: string, vsName: string): Promise<{ ns: string; rollout: Obj }> {
  const rollout = example(dir, 'rollout');
  const ns = rollout.metadata!.namespace!;
  await createNamespace(k, ns).catch(() => undefined);
  // The team's objects arrive first, applied by their GitOps tool.
  await gitopsApply(k, example(dir, 'virtual-service'));
  await gitopsApply(k, example(dir, 'destination-rule'));
  await gitopsApply(k, rollout);
  await eventually(async () => (await getObject<VirtualServiceLike>(k, VIRTUAL_SERVICES, ns, vsName)) !== undefined, vsName);
  return { ns, rollout };
}

/** The staff example's objects name its Service by FQDN in namespace default: moved to `ns`, they must name `ns`'s. */
function movedTo<T extends Obj>(obj: T, ns: string, name: string): T {
  const moved = JSON.parse(JSON.stringify(obj).replaceAll('fleetman-staff-service.default.svc', `fleetman-staff-service.${ns}.svc`)) as T;
  moved.metadata = { name, namespace: ns };
  return moved;
}

const vs = (ns: string, name: string) => getObject<VirtualServiceLike & { spec: Record<string, unknown> }>(k, VIRTUAL_SERVICES, ns, name);
const rolloutStatus = (ns: string, name: string) => getObject<RolloutLike>(k, ROLLOUTS, ns, name);

/** Everything but the weights: what must never change under Fledge. */
function withoutWeights(spec: unknown): unknown {
  return JSON.parse(JSON.stringify(spec, (key, value) => (key === 'weight' ? undefined : value)));
}

beforeAll(async () => {
  cluster = await startTestCluster();
  k = testKube(cluster.kubeconfigPath);
  controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ['--resync', '30s'] });
});

afterAll(async () => {
  await controller?.stop();
  await cluster?.stop();
});

describe('adopted VirtualServices', () => {
  it.each([
    ['staff', 'fleetman-staff-service', 0, ['safe', 'risky']],
    ['httpping', 'httpping-without-sidecar', 0, ['v1', 'v2']],
    ['product', 'product-service', 0, ['v1', 'v2']],
  ] as const)('%s: steps to promotion changing nothing but the weights', async (dir, name, route, [stable, canary]) => {
    const { ns, rollout } = await adopt(dir, name);
    const original = (await vs(ns, name))!;
    const seen = new Set<number>();
    await eventually(async () => {
      const live = (await vs(ns, name))!;
      expectValidWeights(live);
      expect(withoutWeights(live.spec)).toEqual(withoutWeights(original.spec));
      seen.add(weightsOf(live, route)[canary]!);
      return (await rolloutStatus(ns, rollout.metadata!.name!))?.status?.phase === 'Promoted';
    }, `${name} promoted`, 60_000, 50);
    // The status is written before the routing it describes (the VirtualService may trail it, never lead).
    const final = await eventually(async () => {
      const live = (await vs(ns, name))!;
      return weightsOf(live, route)[canary] === 100 ? live : undefined;
    }, `${name} at 100 %`, 10_000, 50);
    expect(weightsOf(final, route)).toEqual({ [stable]: 0, [canary]: 100 });
    expect(seen.size).toBeGreaterThan(2);
    // Nothing Fledge-owned was added to the team's objects.
    const meta = (final as unknown as { metadata: { labels?: Record<string, string>; ownerReferences?: unknown[] } }).metadata;
    expect(meta.ownerReferences ?? []).toEqual([]);
    expect(meta.labels?.['app.kubernetes.io/managed-by']).toBeUndefined();
    // The DestinationRule is theirs too: untouched.
    const dr = await getObject<{ metadata: { managedFields?: { manager?: string }[] } }>(k, DESTINATION_RULES, ns, (rollout.spec.trafficRouting as { destinationRule: { ref: string } }).destinationRule.ref);
    expect(dr?.metadata.managedFields?.map((m) => m.manager)).not.toContain('fledge');
    if (dir === 'product') {
      // The default route (not named in routes) keeps sending everyone else to v1.
      expect(final.spec.http?.[1]).toEqual(original.spec.http?.[1]);
    }
  }, 90_000);

  it('keeps a retry policy and a timeout that another manager adds mid-rollout, through every step', async () => {
    const rollout = example('staff', 'rollout');
    rollout.metadata!.name = 'staff-b';
    rollout.metadata!.namespace = 'team-b';
    rollout.spec.service = { name: 'fleetman-staff-service' };
    (rollout.spec.strategy as Record<string, unknown>) = { steps: [10, 20, 30, 40, 50, 100], interval: '2s' };
    (rollout.spec.trafficRouting as Record<string, unknown>) = { virtualService: { ref: 'staff-b' }, destinationRule: { ref: 'staff-b' } };
    const vsObj = movedTo(example('staff', 'virtual-service'), 'team-b', 'staff-b');
    const drObj = movedTo(example('staff', 'destination-rule'), 'team-b', 'staff-b');
    await createNamespace(k, 'team-b');
    await gitopsApply(k, vsObj);
    await gitopsApply(k, drObj);
    await gitopsApply(k, rollout);
    await eventually(async () => ((await rolloutStatus('team-b', 'staff-b'))?.status?.canaryWeight ?? 0) >= 20, 'step 2');
    // Another team's tool edits the route: a retry policy and a timeout.
    const live = (await vs('team-b', 'staff-b'))!;
    const http = structuredClone(live.spec.http as Record<string, unknown>[]);
    http[0]!.retries = { attempts: 3, perTryTimeout: '2s' };
    http[0]!.timeout = '10s';
    await k.co.patchNamespacedCustomObject({ ...VIRTUAL_SERVICES, namespace: 'team-b', name: 'staff-b', body: { spec: { http } }, fieldManager: 'platform-team' }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await eventually(async () => {
      const v = (await vs('team-b', 'staff-b'))!;
      expectValidWeights(v);
      const route = (v.spec.http as Record<string, unknown>[])[0]!;
      expect(route.retries).toEqual({ attempts: 3, perTryTimeout: '2s' });
      expect(route.timeout).toBe('10s');
      return (await rolloutStatus('team-b', 'staff-b'))?.status?.phase === 'Promoted';
    }, 'promotion with the other fields kept', 60_000, 50);
  }, 90_000);

  it('restores its weights after a GitOps re-sync of the original weights, says who did it, and does not loop', async () => {
    const rollout = example('staff', 'rollout', false);
    rollout.metadata = { name: 'staff-c', namespace: 'team-c' };
    rollout.spec.service = { name: 'fleetman-staff-service' };
    (rollout.spec.strategy as Record<string, unknown>) = { steps: [30, 100], interval: '1h' };
    (rollout.spec.trafficRouting as Record<string, unknown>) = { virtualService: { ref: 'staff-c' }, destinationRule: { ref: 'staff-c' } };
    const vsObj = movedTo(example('staff', 'virtual-service'), 'team-c', 'staff-c');
    const drObj = movedTo(example('staff', 'destination-rule'), 'team-c', 'staff-c');
    await createNamespace(k, 'team-c');
    await gitopsApply(k, vsObj, 'argocd-controller');
    await gitopsApply(k, drObj, 'argocd-controller');
    await gitopsApply(k, rollout);
    await eventually(async () => weightsOf((await vs('team-c', 'staff-c'))!).risky === 30, '70/30');
    // A sync without ignoreDifferences puts git's 100/0 back.
    await gitopsApply(k, vsObj, 'argocd-controller');
    const restored = await eventually(async () => {
      const v = (await vs('team-c', 'staff-c'))!;
      return weightsOf(v).risky === 30 ? v : undefined;
    }, 'the weights restored', 10_000, 25);
    expectValidWeights(restored);
    const event = await eventually(async () => (await listEvents(k, 'team-c', 'staff-c')).find((e) => e.reason === 'RoutingRestored'), 'a RoutingRestored event', 10_000);
    expect(event.type).toBe('Warning');
    expect(event.note).toContain('argocd-controller');
    // No hot loop: with nobody fighting, the object stays put.
    const rv = (restored.metadata as { resourceVersion?: string }).resourceVersion;
    await new Promise((r) => setTimeout(r, 2000));
    expect(((await vs('team-c', 'staff-c'))!.metadata as { resourceVersion?: string }).resourceVersion).toBe(rv);
  }, 60_000);

  it('refuses a VirtualService whose route does not send to the canary, naming the destination to add', async () => {
    await createNamespace(k, 'team-d');
    const vsObj = example('staff', 'virtual-service');
    vsObj.metadata = { name: 'only-v1', namespace: 'team-d' };
    vsObj.spec = { hosts: ['web'], http: [{ name: 'main', route: [{ destination: { host: 'web', subset: 'v1' }, weight: 100 }] }] };
    await gitopsApply(k, vsObj);
    await gitopsApply(k, {
      apiVersion: 'fledge.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'web', namespace: 'team-d' },
      spec: { service: { name: 'web' }, stable: { subset: 'v1', labels: { version: 'v1' } }, canary: { subset: 'v2', labels: { version: 'v2' } }, trafficRouting: { virtualService: { ref: 'only-v1' } }, strategy: { steps: [50, 100], interval: '1s' } },
    } as Obj);
    const r = await eventually(async () => {
      const x = await rolloutStatus('team-d', 'web');
      return x?.status?.phase === 'Invalid' ? x : undefined;
    }, 'Invalid');
    expect(r.status?.message).toContain('"main"');
    expect(r.status?.message).toContain('{destination: {host: web, subset: v2}, weight: 0}');
    expect(weightsOf((await vs('team-d', 'only-v1'))!)).toEqual({ v1: 100 });
  });

  it('waits Pending for a referenced VirtualService that does not exist yet, and starts when it appears', async () => {
    await createNamespace(k, 'team-e');
    await gitopsApply(k, {
      apiVersion: 'fledge.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'late', namespace: 'team-e' },
      spec: { service: { name: 'late' }, stable: { labels: { version: 'v1' } }, canary: { labels: { version: 'v2' } }, trafficRouting: { virtualService: { ref: 'late' } }, strategy: { steps: [40, 100], interval: '1h' } },
    } as Obj);
    const pending = await eventually(async () => {
      const x = await rolloutStatus('team-e', 'late');
      return x?.status?.phase === 'Pending' ? x : undefined;
    }, 'Pending');
    expect(pending.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'WaitingForObject' });
    await gitopsApply(k, {
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'late', namespace: 'team-e' },
      spec: { hosts: ['late'], http: [{ route: [{ destination: { host: 'late', subset: 'stable' }, weight: 100 }, { destination: { host: 'late', subset: 'canary' }, weight: 0 }] }] },
    } as Obj);
    await eventually(async () => weightsOf((await vs('team-e', 'late'))!).canary === 40, 'the first step on the late VirtualService', 10_000);
    expect((await rolloutStatus('team-e', 'late'))?.status?.phase).toBe('Progressing');
  });
});
