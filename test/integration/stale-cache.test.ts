/**
 * A blind controller: its watches are refused (here: RBAC no longer grants `watch` on Rollouts,
 * and an API server restart ends the watches it had), while reads and writes still work. Its
 * cache then holds a Rollout whose status is older than the last one it wrote, once the copy of
 * its own write it remembers has expired (10 s). Routing must never be written from that stale
 * copy: before the fix, the next reconcile "restored" the routing of the old status, moving the
 * canary's weight backwards, before the status write's resourceVersion check caught the staleness.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import {
  ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, getObject, gitopsApply, rolloutManifest, testKube,
  weightsOf, waitForPhase, type RolloutLike, type TestKube, type VirtualServiceLike,
} from '../support/kube.ts';
import { checkHistory, describeHistory } from '../soak/invariants.ts';
import { WriteRecorder } from '../soak/recorder.ts';

const NS = 'blind';
const USER = 'fledge-blind';
let cluster: LocalCluster;
let k: TestKube;
let controller: ControllerProcess;
let recorder: WriteRecorder;

/** What the controller needs (deploy/base's rules), with or without `watch` on Rollouts. */
function role(watchRollouts: boolean): KubernetesObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: USER },
    rules: [
      { apiGroups: ['fledge.dev'], resources: ['rollouts'], verbs: ['get', 'list', ...(watchRollouts ? ['watch'] : [])] },
      { apiGroups: ['fledge.dev'], resources: ['rollouts/status'], verbs: ['get', 'patch'] },
      { apiGroups: ['networking.istio.io'], resources: ['virtualservices', 'destinationrules'], verbs: ['get', 'list', 'watch', 'create', 'patch'] },
      { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create'] },
    ],
  } as KubernetesObject;
}

beforeAll(async () => {
  cluster = await startTestCluster({ users: [{ name: USER, groups: ['system:authenticated'] }] });
  k = testKube(cluster.kubeconfigPath);
  await createNamespace(k, NS);
  await gitopsApply(k, role(true), 'kubectl');
  await gitopsApply(k, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: USER },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: USER },
    subjects: [{ kind: 'User', name: USER, apiGroup: 'rbac.authorization.k8s.io' }],
  } as KubernetesObject, 'kubectl');
  recorder = new WriteRecorder(cluster.kubeconfigPath, NS);
  await recorder.start();
  controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigFor(USER), args: ['--namespace', NS], env: { LOG_LEVEL: 'info' } });
});

afterAll(async () => {
  recorder?.stop();
  await controller?.stop();
  await cluster?.stop();
});

const rolloutOf = (name: string) => getObject<RolloutLike>(k, ROLLOUTS, NS, name);

it('never moves traffic back from a stale cache while its Rollout watch is refused', async () => {
  // Holds longer than the 10 s a written status is remembered: the cache goes stale between steps.
  await gitopsApply(k, rolloutManifest(NS, 'stale', { service: { name: 'stale' }, stable: { labels: { version: 'v1' } }, canary: { labels: { version: 'v2' } }, strategy: { steps: [10, 20, 100], interval: '11s' } }));
  await eventually(async () => (await rolloutOf('stale'))?.status?.canaryWeight === 10, 'step 1', 60_000, 100);
  await gitopsApply(k, role(false), 'kubectl');
  await cluster.restartApiServer();
  await eventually(async () => controller.raw.some((l) => /forbidden/i.test(l) && /watch/i.test(l)) || controller.logs.some((l) => l.msg === 'watch failed; restarting' && l.informer === 'rollouts' && l.code === 403), 'the Rollout watch to be refused', 60_000, 200);

  const done = await waitForPhase(k, NS, 'stale', 'Promoted', 90_000, 200);
  expect(done.status?.canaryWeight).toBe(100);
  await eventually(async () => {
    const vs = await getObject<VirtualServiceLike>(k, VIRTUAL_SERVICES, NS, 'stale');
    return vs !== undefined && weightsOf(vs).canary === 100;
  }, 'the VirtualService at 100 %', 30_000, 200);
  // Still blind: the Rollout informer never had a watch open again (lists alone do not count),
  // so every decision came from fresh reads.
  expect(controller.logs.some((l) => l.msg === 'watch restored' && l.informer === 'rollouts')).toBe(false);
  // The recorder has seen every write the controller made (the last is the 100 % VirtualService).
  await eventually(async () => recorder.ordered().some((e) => e.name === 'stale' && e.kind === 'VirtualService' && weightsOf(e.obj as VirtualServiceLike).canary === 100), 'the recorder to see the last write', 30_000, 100);
  const history = recorder.ordered().filter((e) => e.name === 'stale');
  const { violations } = checkHistory(history, []);
  expect(violations, describeHistory(history)).toEqual([]);

  // Watching again: it recovers by itself.
  await gitopsApply(k, role(true), 'kubectl');
  await eventually(async () => controller.logs.some((l) => l.msg === 'watch restored' && l.informer === 'rollouts'), 'the Rollout watch to be restored', 60_000, 200);
}, 300_000);
