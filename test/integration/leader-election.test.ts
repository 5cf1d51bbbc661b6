/** Two replicas with --leader-elect: exactly one writes; the other takes over when it dies. */
import { CoordinationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import { ROLLOUTS, createNamespace, eventually, getObject, gitopsApply, rolloutManifest, testKube, type RolloutLike, type TestKube } from '../support/kube.ts';

let cluster: LocalCluster;
let k: TestKube;
const replicas: ControllerProcess[] = [];
const ARGS = ['--leader-elect', '--lease-namespace', 'kube-system', '--resync', '30s'];

beforeAll(async () => {
  cluster = await startTestCluster();
  k = testKube(cluster.kubeconfigPath);
  await createNamespace(k, 'team');
});

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await cluster?.stop();
});

const started = (c: ControllerProcess) => c.logs.some((l) => l.msg === 'controller started');
const wrote = (c: ControllerProcess) => c.logs.some((l) => l.msg === 'event');

it('elects one leader; only it writes; the standby takes over within 20 s of its death', async () => {
  const a = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ARGS });
  replicas.push(a);
  const b = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ARGS, until: 'waiting for leadership' });
  replicas.push(b);

  await gitopsApply(k, rolloutManifest('team', 'web', {
    service: { name: 'web' },
    stable: { labels: { version: 'v1' } },
    canary: { labels: { version: 'v2' } },
    strategy: { steps: [10, 20, 30, 40, 50, 60, 70, 80, 90], interval: '2s' },
  }));
  await eventually(async () => ((await getObject<RolloutLike>(k, ROLLOUTS, 'team', 'web'))?.status?.canaryWeight ?? 0) >= 20, 'the rollout to progress');
  await new Promise((r) => setTimeout(r, 3000));
  expect(started(a)).toBe(true);
  expect(started(b)).toBe(false);
  expect(wrote(a)).toBe(true);
  expect(wrote(b)).toBe(false);

  const lease = await k.kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: 'kube-system', name: 'fledge-controller' });
  expect(lease.spec?.holderIdentity).toContain(String(a.proc.pid));

  const before = (await getObject<RolloutLike>(k, ROLLOUTS, 'team', 'web'))!.status!.canaryWeight!;
  a.kill('SIGKILL');
  const t0 = Date.now();
  await b.waitForLog((l) => l.msg === 'controller started', 25_000);
  const takeover = Date.now() - t0;
  expect(takeover).toBeLessThan(20_000);
  await eventually(async () => ((await getObject<RolloutLike>(k, ROLLOUTS, 'team', 'web'))?.status?.canaryWeight ?? 0) > before, 'the new leader to carry on', 15_000);
  // Status is written first, then routing and Events: the log line follows within moments.
  await b.waitForLog((l) => l.msg === 'event', 5000);
});

it('a leader that stops gracefully hands over at once', async () => {
  const b = replicas[1]!;
  const c = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ARGS, until: 'waiting for leadership' });
  replicas.push(c);
  const t0 = Date.now();
  expect(await b.stop()).toBe(0);
  await c.waitForLog((l) => l.msg === 'controller started', 10_000);
  expect(Date.now() - t0).toBeLessThan(6_000);
});
