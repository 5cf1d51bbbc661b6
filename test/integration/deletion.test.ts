/**
 * Deleting a Rollout deletes the objects it generated (ownerReferences + the garbage collector);
 * deleting it with --cascade=orphan keeps them serving at their last weights.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import { DESTINATION_RULES, ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, getObject, gitopsApply, rolloutManifest, testKube, weightsOf, type TestKube, type VirtualServiceLike } from '../support/kube.ts';

let cluster: LocalCluster;
let k: TestKube;
let controller: ControllerProcess;
const NS = 'apps';

const spec = { service: { name: 'api' }, stable: { labels: { version: 'v1' } }, canary: { labels: { version: 'v2' } }, strategy: { steps: [30, 100], interval: '1h' } };

beforeAll(async () => {
  cluster = await startTestCluster({ garbageCollector: true });
  k = testKube(cluster.kubeconfigPath);
  await createNamespace(k, NS);
  controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ['--namespace', NS] });
});

afterAll(async () => {
  await controller?.stop();
  await cluster?.stop();
});

async function rolloutAt30(name: string): Promise<void> {
  await gitopsApply(k, rolloutManifest(NS, name, spec));
  await eventually(async () => {
    const vs = await getObject<VirtualServiceLike>(k, VIRTUAL_SERVICES, NS, name);
    return vs && weightsOf(vs).canary === 30;
  }, `${name} at 70/30`);
}

it('deleting the Rollout deletes its generated VirtualService and DestinationRule', async () => {
  await rolloutAt30('gone');
  await k.co.deleteNamespacedCustomObject({ ...ROLLOUTS, namespace: NS, name: 'gone' });
  await eventually(async () => (await getObject(k, VIRTUAL_SERVICES, NS, 'gone')) === undefined, 'the VirtualService to be collected', 30_000, 250);
  await eventually(async () => (await getObject(k, DESTINATION_RULES, NS, 'gone')) === undefined, 'the DestinationRule to be collected', 30_000, 250);
});

it('deleting with propagationPolicy Orphan (kubectl --cascade=orphan) keeps them at their last weights', async () => {
  await rolloutAt30('kept');
  await k.co.deleteNamespacedCustomObject({ ...ROLLOUTS, namespace: NS, name: 'kept', propagationPolicy: 'Orphan' });
  await eventually(async () => (await getObject(k, ROLLOUTS, NS, 'kept')) === undefined, 'the Rollout to go');
  await new Promise((r) => setTimeout(r, 3000));
  const vs = await getObject<VirtualServiceLike & { metadata: { ownerReferences?: unknown[] } }>(k, VIRTUAL_SERVICES, NS, 'kept');
  expect(vs).toBeDefined();
  expect(vs!.metadata.ownerReferences ?? []).toEqual([]);
  expect(weightsOf(vs!)).toEqual({ stable: 70, canary: 30 });
  expect(await getObject(k, DESTINATION_RULES, NS, 'kept')).toBeDefined();
});
