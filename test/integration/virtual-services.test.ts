/**
 * One release steered in several adopted VirtualServices (`trafficRouting.virtualServices`): an
 * ingress gateway's and the mesh's move together through every step to promotion, both go back
 * to 100/0 on a rollback, and one edited by someone else is put back to the status's weights.
 * Every write is a JSON patch the real API server judges by Istio's CRD schema.
 */
import { readFileSync } from 'node:fs';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { ANNOTATIONS } from '../../src/api/constants.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import {
  ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, expectValidWeights, getObject, gitopsApply, mergePatch,
  testKube, waitForEvents, weightsOf, type RolloutLike, type TestKube, type VirtualServiceLike,
} from '../support/kube.ts';

let cluster: LocalCluster;
let k: TestKube;
let controller: ControllerProcess;

type Obj = KubernetesObject & { spec: Record<string, unknown> };
const example = (file: string, ns: string): Obj => {
  const obj = parse(readFileSync(new URL(`../../examples/adopted/gateway-and-mesh/${file}.yaml`, import.meta.url), 'utf8')) as Obj;
  obj.metadata!.namespace = ns;
  return obj;
};
const NAMES = ['reviews-ingress', 'reviews-mesh'] as const;
const vs = async (ns: string, name: string) => (await getObject<VirtualServiceLike>(k, VIRTUAL_SERVICES, ns, name))!;
const rollout = (ns: string) => getObject<RolloutLike & { status?: { release?: string } }>(k, ROLLOUTS, ns, 'reviews');

async function start(ns: string, steps: unknown[], interval: string): Promise<void> {
  await createNamespace(k, ns);
  for (const f of ['virtual-service-ingress', 'virtual-service-mesh', 'destination-rule']) await gitopsApply(k, example(f, ns));
  const r = example('rollout', ns);
  r.spec.strategy = { steps, interval };
  await gitopsApply(k, r);
}

/** Both VirtualServices' canary weights, each checked for weights Istio accepts. */
async function canaryWeights(ns: string): Promise<number[]> {
  return Promise.all(NAMES.map(async (n) => {
    const live = await vs(ns, n);
    expectValidWeights(live);
    return weightsOf(live, 0)['v2']!;
  }));
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

describe('several VirtualServices for one release', () => {
  it('moves both through every step to promotion, leaving the rest of each as it was', async () => {
    await start('vs-promote', [10, 50, 100], '1s');
    const before = await Promise.all(NAMES.map((n) => vs('vs-promote', n)));
    const seen = new Set<string>();
    await eventually(async () => {
      seen.add((await canaryWeights('vs-promote')).join('/'));
      return (await rollout('vs-promote'))?.status?.phase === 'Promoted';
    }, 'promoted', 60_000, 50);
    await eventually(async () => (await canaryWeights('vs-promote')).every((w) => w === 100), 'both at 100 %', 10_000, 50);
    // Both were seen at the intermediate steps (the two are written one after the other, so a
    // sample may catch them a step apart, never further).
    expect([...seen].some((s) => s === '10/10' || s === '50/50')).toBe(true);
    for (const s of seen) {
      const [a, b] = s.split('/').map(Number) as [number, number];
      expect([0, 10, 50, 100]).toContain(a);
      expect([0, 10, 50, 100]).toContain(b);
    }
    const after = await Promise.all(NAMES.map((n) => vs('vs-promote', n)));
    const noWeights = (o: VirtualServiceLike) => JSON.parse(JSON.stringify(o.spec, (key, v: unknown) => (key === 'weight' ? undefined : v))) as unknown;
    after.forEach((a, i) => expect(noWeights(a)).toEqual(noWeights(before[i]!)));
  }, 90_000);

  it('puts back weights edited in the second one, and takes both back to 100/0 on a rollback', async () => {
    await start('vs-abort', [30, 100], '1h');
    await eventually(async () => (await canaryWeights('vs-abort')).every((w) => w === 30), 'both at 30 %', 30_000, 50);
    // Someone sets the mesh VirtualService back to 100/0 by hand: the status says 30.
    const mesh = await vs('vs-abort', 'reviews-mesh');
    const http = structuredClone(mesh.spec.http!) as { route?: { weight?: number }[] }[];
    http[0]!.route![0]!.weight = 100;
    http[0]!.route![1]!.weight = 0;
    await mergePatch(k, VIRTUAL_SERVICES, 'vs-abort', 'reviews-mesh', { spec: { http } }, 'someone');
    await eventually(async () => (await canaryWeights('vs-abort')).every((w) => w === 30), 'the mesh one put back to 30 %', 40_000, 50);
    const restored = await waitForEvents(k, 'vs-abort', 'reviews', ['RoutingRestored']);
    expect(restored.find((e) => e.reason === 'RoutingRestored')?.note).toMatch(/the weights of VirtualService reviews-mesh/);
    const release = (await rollout('vs-abort'))!.status!.release!;
    await mergePatch(k, ROLLOUTS, 'vs-abort', 'reviews', { metadata: { annotations: { [ANNOTATIONS.abort]: release } } });
    await eventually(async () => (await rollout('vs-abort'))?.status?.phase === 'RolledBack', 'rolled back', 30_000, 50);
    await eventually(async () => (await canaryWeights('vs-abort')).every((w) => w === 0), 'both at 0 %', 10_000, 50);
  }, 90_000);

  it('refuses a VirtualService of the list that another Rollout already steers, naming the entry', async () => {
    const ns = 'vs-claimed';
    await start(ns, [30, 100], '1h');
    await eventually(async () => (await rollout(ns))?.status?.phase === 'Progressing', 'first rollout progressing', 30_000, 50);
    const rival = example('rollout', ns);
    rival.metadata!.name = 'reviews-rival';
    (rival.spec.trafficRouting as Record<string, unknown>) = { virtualServices: [{ ref: 'other-ingress' }, { ref: 'reviews-mesh' }], destinationRule: { ref: 'reviews' } };
    const other = example('virtual-service-ingress', ns);
    other.metadata!.name = 'other-ingress';
    (other.spec as { hosts: string[] }).hosts = ['other.example.com'];
    await gitopsApply(k, other);
    await gitopsApply(k, rival);
    const invalid = await eventually(async () => {
      const r = await getObject<RolloutLike>(k, ROLLOUTS, ns, 'reviews-rival');
      return r?.status?.phase === 'Invalid' ? r : undefined;
    }, 'rival invalid', 30_000, 50);
    expect(invalid.status?.message).toMatch(/spec\.trafficRouting\.virtualServices\[1\].*already managed by Rollout reviews/);
    // The first Rollout's weights were never touched by the rival.
    expect(await canaryWeights(ns)).toEqual([30, 30]);
    expect(weightsOf(await vs(ns, 'other-ingress'), 0)['v2']).toBe(0);
  }, 90_000);
});
