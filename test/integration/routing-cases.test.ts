/**
 * The routing cases on a real API server with the controller running: a shared edge
 * VirtualService (only the Rollout's own route moves), a tcp-only VirtualService, gateway-only
 * routing (a warning condition and Event), another VirtualService for the mesh host (refused with
 * the adopt fix, which then works as written), two Rollouts of one Service, and a written field
 * Istio refuses (Invalid, nothing written). Fixtures: test/fixtures/routing.
 */
import { readFileSync } from 'node:fs';
import type { KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import {
  DESTINATION_RULES, ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, expectValidWeights, getObject, gitopsApply,
  listEvents, rolloutManifest, testKube, waitForPhase, weightsOf, type RolloutLike, type TestKube, type VirtualServiceLike,
} from '../support/kube.ts';

type Obj = KubernetesObject & { spec: Record<string, unknown> };

let cluster: LocalCluster;
let k: TestKube;
let controller: ControllerProcess;

function fixture(name: string): Obj[] {
  const docs = parseAllDocuments(readFileSync(new URL(`../fixtures/routing/${name}.yaml`, import.meta.url), 'utf8')).map((d) => d.toJS() as Obj);
  for (const d of docs) {
    // Hold each Rollout at its first step: the cases are about where traffic goes, not when.
    if (d.kind === 'Rollout') (d.spec.strategy as Record<string, unknown>).interval = '1h';
  }
  return docs;
}

const kindOf = (docs: Obj[], kind: string) => docs.find((d) => d.kind === kind)!;
const vsOf = (ns: string, name: string) => getObject<VirtualServiceLike>(k, VIRTUAL_SERVICES, ns, name);
const rolloutOf = (ns: string, name: string) => getObject<RolloutLike>(k, ROLLOUTS, ns, name);

async function invalid(ns: string, name: string): Promise<string> {
  const r = await waitForPhase(k, ns, name, 'Invalid');
  return r.status!.message!;
}

beforeAll(async () => {
  cluster = await startTestCluster();
  k = testKube(cluster.kubeconfigPath);
  for (const ns of ['shop', 'bank', 'books', 'ten', 'bad-hosts']) await createNamespace(k, ns);
  controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ['--resync', '10m'] }); // every case must be woken by an event, not by the resync
});

afterAll(async () => {
  await controller?.stop();
  await cluster?.stop();
});

describe('routing the VirtualServices teams have', () => {
  it('case 1: adopting a shared edge VirtualService moves cart\'s route to 90/10 and leaves checkout\'s at 100/0', async () => {
    const docs = fixture('shared-edge');
    await gitopsApply(k, kindOf(docs, 'VirtualService'));
    await gitopsApply(k, kindOf(docs, 'DestinationRule'));
    await gitopsApply(k, kindOf(docs, 'Rollout'));
    const vs = await eventually(async () => {
      const v = await vsOf('shop', 'shop-edge');
      return v && weightsOf(v, 0).v2 === 10 ? v : undefined;
    }, 'cart at 90/10');
    expect(weightsOf(vs, 0)).toEqual({ v1: 90, v2: 10 });
    expect(weightsOf(vs, 1)).toEqual({ v1: 100, v2: 0 });
    expect(vs.spec.http?.[1]?.route?.map((d) => (d.destination as { host?: string }).host)).toEqual(['checkout', 'checkout']);
    expectValidWeights(vs);
    const status = (await eventually(async () => {
      const r = await rolloutOf('shop', 'cart');
      return r?.status?.conditions?.some((c) => c.type === 'RoutingWarning') ? r : undefined;
    }, 'cart\'s RoutingWarning'))!.status!;
    expect(status).toMatchObject({ phase: 'Progressing', canaryWeight: 10 });
    // The edge VirtualService is bound to the ingress gateway only: in-mesh callers of cart are not split.
    expect(status.conditions!.find((c) => c.type === 'RoutingWarning')!.message).toContain('in-mesh calls to Service cart are not steered: VirtualService shop-edge is bound to istio-system/public only');
  });

  it('case 2: a tcp-only VirtualService is Invalid saying Fledge steers http routes only, and is not touched', async () => {
    const docs = fixture('tcp-only');
    const before = await gitopsApply(k, kindOf(docs, 'VirtualService'));
    await gitopsApply(k, rolloutManifest('bank', 'ledger', { ...kindOf(docs, 'Rollout').spec, trafficRouting: { virtualService: { ref: 'ledger' } } }));
    expect(await invalid('bank', 'ledger')).toBe('spec.trafficRouting.virtualService: VirtualService ledger has no http routes, only tcp routes: Fledge steers http routes only (HTTP, HTTP/2, gRPC), so it cannot run this Service\'s canary');
    expect((await vsOf('bank', 'ledger'))?.metadata.resourceVersion).toBe(before.metadata?.resourceVersion);
  });

  it('case 3: gateway-only routing progresses with a RoutingWarning condition and Event; the fix as written clears it', async () => {
    const rollout = fixture('gateway-only')[0]!;
    await gitopsApply(k, rollout);
    const warned = await eventually(async () => {
      const r = await rolloutOf('shop', 'catalog');
      return r?.status?.phase === 'Progressing' && r.status.conditions?.some((c) => c.type === 'RoutingWarning') ? r : undefined;
    }, 'catalog Progressing with a warning');
    const condition = warned.status!.conditions!.find((c) => c.type === 'RoutingWarning')!;
    expect(condition).toMatchObject({ status: 'True', reason: 'RoutingWarning' });
    expect(condition.message).toContain('in-mesh calls to Service catalog are not steered');
    const events = await eventually(async () => {
      const e = (await listEvents(k, 'shop', 'catalog')).filter((x) => x.reason === 'RoutingWarning');
      return e.length > 0 ? e : undefined;
    }, 'a RoutingWarning Event');
    expect(events[0]).toMatchObject({ type: 'Warning', note: condition.message });

    // The fix the warning names, applied as written.
    const hint = condition.message;
    const hosts = /hosts: \[([^\]]*)\]/.exec(hint)![1]!.split(', ');
    const gateways = /gateways: \[([^\]]*)\]/.exec(hint)![1]!.split(', ');
    await gitopsApply(k, { ...rollout, spec: { ...rollout.spec, trafficRouting: { virtualService: { hosts, gateways } } } });
    await eventually(async () => {
      const r = await rolloutOf('shop', 'catalog');
      return r?.status?.observedGeneration === 2 && !r.status.conditions?.some((c) => c.type === 'RoutingWarning');
    }, 'the warning to clear');
    const vs = (await vsOf('shop', 'catalog'))!;
    expect(vs.spec).toMatchObject({ hosts: ['catalog.example.com', 'catalog'], gateways: ['istio-system/public', 'mesh'] });
    expect(weightsOf(vs)).toEqual({ stable: 90, canary: 10 });
  });

  it('case 4: another name beside an existing mesh VirtualService is refused with the adopt fix, which then works as written', async () => {
    const docs = fixture('existing-mesh-vs');
    const existing = await gitopsApply(k, kindOf(docs, 'VirtualService'), 'kiali');
    const rollout = kindOf(docs, 'Rollout');
    await gitopsApply(k, rollout);
    const message = await invalid('books', 'reviews');
    expect(message).toBe('spec.trafficRouting.virtualService: VirtualService reviews already routes host reviews on the mesh, and Istio applies only the oldest VirtualService of a host there: a new one would steer nothing; adopt it: set spec.trafficRouting.virtualService to {ref: reviews}, and name the subsets as its routes do: spec.stable.subset: v1, spec.canary.subset: v2');
    expect(await vsOf('books', 'reviews-canary')).toBeUndefined();
    expect(await getObject(k, DESTINATION_RULES, 'books', 'reviews')).toBeUndefined();

    // Followed literally.
    const spec = structuredClone(rollout.spec) as Record<string, Record<string, unknown>>;
    spec.trafficRouting = { virtualService: { ref: /\{ref: ([a-z0-9-]+)\}/.exec(message)![1] } };
    spec.stable!.subset = /spec\.stable\.subset: ([a-z0-9-]+)/.exec(message)![1];
    spec.canary!.subset = /spec\.canary\.subset: ([a-z0-9-]+)/.exec(message)![1];
    await gitopsApply(k, { ...rollout, spec });
    const vs = await eventually(async () => {
      const v = await vsOf('books', 'reviews');
      return v && weightsOf(v).v2 === 10 ? v : undefined;
    }, 'the adopted VirtualService at 90/10');
    expect(weightsOf(vs)).toEqual({ v1: 90, v2: 10 });
    expect(vs.spec.hosts).toEqual((existing as Obj).spec.hosts);
    expect((await rolloutOf('books', 'reviews'))?.status).toMatchObject({ phase: 'Progressing', canaryWeight: 10 });
  });

  it('case 10: a second Rollout of the same Service is refused naming the first, which keeps steering', async () => {
    const spec = { service: { name: 'reviews' }, stable: { labels: { version: 'v1' } }, canary: { labels: { version: 'v2' } }, strategy: { steps: [10, 100], interval: '1h' } };
    await gitopsApply(k, rolloutManifest('ten', 'reviews', spec));
    await eventually(async () => (await vsOf('ten', 'reviews')) !== undefined, 'the first VirtualService');
    await gitopsApply(k, rolloutManifest('ten', 'reviews-b', spec));
    expect(await invalid('ten', 'reviews-b')).toContain('VirtualService reviews of Rollout reviews already routes host reviews on the mesh');
    expect(await vsOf('ten', 'reviews-b')).toBeUndefined();
    expect(await getObject(k, DESTINATION_RULES, 'ten', 'reviews-b')).toBeUndefined();
    expect((await rolloutOf('ten', 'reviews'))?.status).toMatchObject({ phase: 'Progressing', canaryWeight: 10 });

    // The first Rollout goes, and then its VirtualService (this cluster runs no garbage
    // collector): the second is woken by that deletion, with no change of its own, and starts.
    await k.co.deleteNamespacedCustomObject({ ...ROLLOUTS, namespace: 'ten', name: 'reviews' });
    await k.co.deleteNamespacedCustomObject({ ...VIRTUAL_SERVICES, namespace: 'ten', name: 'reviews' });
    const b = await waitForPhase(k, 'ten', 'reviews-b', 'Progressing', 15_000);
    expect(b.status).toMatchObject({ canaryWeight: 10, observedGeneration: 1 });
    expect(weightsOf((await eventually(() => vsOf('ten', 'reviews-b'), 'the second VirtualService'))!)).toEqual({ stable: 90, canary: 10 });
  });

  it('case 8: duplicate hosts are Invalid at the field with Istio\'s message; nothing is written', async () => {
    const spec = { service: { name: 'reviews' }, stable: { labels: { version: 'v1' } }, canary: { labels: { version: 'v2' } }, trafficRouting: { virtualService: { hosts: ['reviews', 'reviews'] } }, strategy: { steps: [10, 100], interval: '1h' } };
    await gitopsApply(k, rolloutManifest('bad-hosts', 'reviews', spec));
    expect(await invalid('bad-hosts', 'reviews')).toBe('spec.trafficRouting.virtualService.hosts[1]: Istio refuses it: duplicate hosts in virtual service: reviews & reviews');
    expect(await vsOf('bad-hosts', 'reviews')).toBeUndefined();
    expect(await getObject(k, DESTINATION_RULES, 'bad-hosts', 'reviews')).toBeUndefined();
  });
});
