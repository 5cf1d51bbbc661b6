/**
 * The API server goes away mid-rollout: the controller's watches fail, /readyz says so, and once
 * the API server is back the informers restart by themselves and the rollout carries on.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import {
  ROLLOUTS, createNamespace, eventually, getObject, gitopsApply, rolloutManifest, testKube,
  weightsOf, waitForPhase, type RolloutLike, type TestKube, waitForWeights,
} from '../support/kube.ts';

let cluster: LocalCluster;
let k: TestKube;
let controller: ControllerProcess;

beforeAll(async () => {
  cluster = await startTestCluster();
  k = testKube(cluster.kubeconfigPath);
  await createNamespace(k, 'ops');
  controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ['--resync', '20s'] });
});

afterAll(async () => {
  await controller?.stop();
  await cluster?.stop();
});

const readyz = async () => {
  const res = await fetch(`http://127.0.0.1:${controller.port}/readyz`);
  if (process.env.FLEDGE_TEST_LOGS) process.stderr.write(`readyz ${res.status} ${await res.text()}`);
  return res.status;
};

it('recovers by itself after the API server was down for a while mid-rollout', async () => {
  await gitopsApply(k, rolloutManifest('ops', 'api', {
    service: { name: 'api' }, stable: { labels: { version: 'v1' } }, canary: { labels: { version: 'v2' } },
    strategy: { steps: [10, 20, 30, 40, 50, 60, 100], interval: '2s' },
  }));
  await eventually(async () => ((await getObject<RolloutLike>(k, ROLLOUTS, 'ops', 'api'))?.status?.canaryWeight ?? 0) >= 20, 'step 2');
  expect(await readyz()).toBe(200);

  await cluster.stopApiServer();
  await eventually(async () => (await readyz()) === 503, 'readyz to report the lost watches', 20_000, 250);
  await new Promise((r) => setTimeout(r, 5000));
  await cluster.startApiServer();

  await eventually(async () => (await readyz()) === 200, 'readyz to recover', 60_000, 250);
  const done = await waitForPhase(k, 'ops', 'api', 'Promoted', 60_000, 250);
  expect(done.status?.canaryWeight).toBe(100);
  expect(weightsOf(await waitForWeights(k, 'ops', 'api', { stable: 0, canary: 100 }))).toEqual({ stable: 0, canary: 100 });
  expect(controller.logs.some((l) => l.msg === 'watch failed; restarting')).toBe(true);
}, 150_000);
