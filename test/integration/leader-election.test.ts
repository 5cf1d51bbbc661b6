/**
 * Two replicas with --leader-elect: exactly one writes; the other takes over when it dies.
 * Timing claims are checked on the Lease's own timestamps (what the protocol promises), not on the
 * test's wall clock, so a busy machine slows the test down without failing it.
 */
import { CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import { ROLLOUTS, createNamespace, eventually, getObject, gitopsApply, rolloutManifest, testKube, type RolloutLike, type TestKube } from '../support/kube.ts';

let cluster: LocalCluster;
let k: TestKube;
const replicas: ControllerProcess[] = [];
const ARGS = ['--leader-elect', '--lease-namespace', 'kube-system', '--resync', '30s'];
/** The controller's lease duration (src/kube/lease.ts) and retry period. */
const LEASE_MS = 15_000;
const RETRY_MS = 2_000;

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
const weight = async () => (await getObject<RolloutLike>(k, ROLLOUTS, 'team', 'web'))?.status?.canaryWeight ?? 0;
const readLease = (): Promise<V1Lease> => k.kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: 'kube-system', name: 'fledge-controller' });
const ms = (t: Date | string | undefined) => new Date(t ?? 0).getTime();
/** leader_election_master_status and this instance's transitions, from its /metrics. */
async function leaderMetrics(c: ControllerProcess): Promise<{ leading: number; transitions: number }> {
  const text = await (await fetch(`http://127.0.0.1:${c.port}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}\\{name="fledge-controller"\\} (\\S+)$`, 'm').exec(text)?.[1]);
  return { leading: value('leader_election_master_status'), transitions: value('fledge_leader_election_transitions_total') };
}

it('elects one leader; only it writes; the standby takes over once the lease expires', async () => {
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
  // Several steps under a's lead: b had every chance to write, and must not have.
  await eventually(async () => (await weight()) >= 40, 'the rollout to progress', 90_000);
  expect(started(a)).toBe(true);
  expect(started(b)).toBe(false);
  expect(wrote(a)).toBe(true);
  expect(wrote(b)).toBe(false);

  const held = await readLease();
  expect(held.spec?.holderIdentity).toContain(String(a.proc.pid));
  // Leadership in metrics, by client-go's name: the leader 1, the standby 0, no change yet.
  expect(await leaderMetrics(a)).toEqual({ leading: 1, transitions: 1 });
  expect(await leaderMetrics(b)).toEqual({ leading: 0, transitions: 0 });

  const before = await weight();
  a.kill('SIGKILL');
  await b.waitForLog((l) => l.msg === 'controller started', 90_000);
  const taken = await readLease();
  expect(taken.spec?.holderIdentity).toContain(String(b.proc.pid));
  expect(taken.spec?.leaseTransitions).toBe((held.spec?.leaseTransitions ?? 0) + 1);
  // Safety: b acquired only after a's last renewal had expired (server timestamps, both written
  // by the lease protocol), never while a might still have been writing.
  const lastRenewOfA = ms(held.spec?.renewTime);
  expect(ms(taken.spec?.acquireTime)).toBeGreaterThanOrEqual(lastRenewOfA + LEASE_MS);
  expect(await leaderMetrics(b)).toEqual({ leading: 1, transitions: 1 });
  await eventually(async () => (await weight()) > before, 'the new leader to carry on', 60_000);
  // Status is written first, then routing and Events: the log line follows.
  await b.waitForLog((l) => l.msg === 'event', 30_000);
}, 300_000);

it('a leader that stops gracefully hands over without waiting for its lease to expire', async () => {
  const b = replicas[1]!;
  const c = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ARGS, until: 'waiting for leadership' });
  replicas.push(c);
  expect(await b.stop()).toBe(0);
  const released = await readLease();
  await c.waitForLog((l) => l.msg === 'controller started', 60_000);
  const taken = await readLease();
  expect(taken.spec?.holderIdentity).toContain(String(c.proc.pid));
  // b gave the lease up (no holder, 1 s duration): c took it on one of its next tries, long
  // before b's last full-length renewal would have run out.
  expect(released.spec?.holderIdentity ?? '').not.toContain(String(b.proc.pid));
  expect(ms(taken.spec?.acquireTime)).toBeLessThan(ms(released.spec?.renewTime) + LEASE_MS - RETRY_MS);
}, 120_000);

it('a standby stopped before it ever leads exits 0 at once', async () => {
  const d = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ARGS, until: 'waiting for leadership' });
  replicas.push(d);
  expect(await d.stop()).toBe(0);
  expect(d.logs.some((l) => l.msg === 'stopped before leading')).toBe(true);
  expect(started(d)).toBe(false);
}, 60_000);
