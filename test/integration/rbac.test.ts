/**
 * The RBAC of deploy/ is enough, and no more: the real controller runs as the ServiceAccount the
 * manifests bind (a bearer token for `system:serviceaccount:NS:fledge` with a ServiceAccount's
 * groups), with only the Roles those manifests grant, and must still take a Rollout to Promoted and
 * write its Events; the same identity is then refused what the controller never does. If the
 * controller fails here for lack of a permission, deploy/ is what is wrong.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoordinationV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { microTime } from '../../src/kube/time.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import {
  DESTINATION_RULES, ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, getObject, gitopsApply, listEvents,
  mergePatch, rolloutManifest, testKube, weightsOf, waitForPhase, waitForWeights, type RolloutLike, type TestKube,
  type VirtualServiceLike,
} from '../support/kube.ts';

const DEPLOY = fileURLToPath(new URL('../../deploy', import.meta.url));
const KUBECTL = process.env.KUBECTL ?? 'kubectl';

const saGroups = (ns: string) => ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'];
/** deploy/base: cluster-wide, in fledge-system. */
const CLUSTER_SA = 'system:serviceaccount:fledge-system:fledge';
/** deploy/namespaced: the overlay's namespace. */
const TEAM_NS = 'team-a';
const TEAM_SA = `system:serviceaccount:${TEAM_NS}:fledge`;
const RBAC_KINDS = new Set(['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

let cluster: LocalCluster;
let admin: TestKube;
const running: ControllerProcess[] = [];

/** `kubectl kustomize DIR`, as objects; a missing kubectl fails with what to install. */
function kustomize(dir: string): Promise<KubernetesObject[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(KUBECTL, ['kustomize', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT'
      ? new Error(`${KUBECTL} is not installed or not on PATH: this test renders deploy/ with \`kubectl kustomize\` and needs kubectl >= 1.27 (set KUBECTL=/path/to/kubectl to use another one)`)
      : e));
    child.on('close', (code) => (code === 0
      ? resolve(parseAllDocuments(out).map((d) => d.toJS() as KubernetesObject).filter(Boolean))
      : reject(new Error(`kubectl kustomize ${dir} failed (${code}):\n${err}`))));
  });
}

/** Applies the RBAC objects (and Namespace, ServiceAccount) of a rendering, as the admin. */
async function applyRbac(objects: KubernetesObject[]): Promise<string[]> {
  const picked = objects.filter((o) => RBAC_KINDS.has(o.kind!));
  // Namespaces first, then ServiceAccounts and Roles, then what binds them.
  const order = ['Namespace', 'ServiceAccount', 'ClusterRole', 'Role', 'ClusterRoleBinding', 'RoleBinding'];
  picked.sort((a, b) => order.indexOf(a.kind!) - order.indexOf(b.kind!));
  for (const o of picked) await gitopsApply(admin, o, 'kubectl');
  return picked.map((o) => `${o.kind}/${o.metadata?.name}`);
}

function spec(): Record<string, unknown> {
  return {
    service: { name: 'staff', port: 8080 },
    stable: { subset: 'safe', labels: { version: 'safe' } },
    canary: { subset: 'risky', labels: { version: 'risky' } },
    strategy: { steps: [10, 50, 100], interval: '1s' },
  };
}

async function waitPromoted(namespace: string, name: string): Promise<RolloutLike> {
  return waitForPhase(admin, namespace, name, 'Promoted');
}

/** The call must be refused by the authorizer: 403, not 404 or any other failure. */
async function expectForbidden(what: string, call: () => Promise<unknown>): Promise<void> {
  const outcome = await call().then(() => 'allowed', (err: { code?: number; body?: unknown }) => err);
  expect(outcome, `${what} must be forbidden, but it was allowed`).not.toBe('allowed');
  expect((outcome as { code?: number }).code, `${what}: ${JSON.stringify((outcome as { body?: unknown }).body ?? outcome)}`).toBe(403);
}

/** No log line of the controller says an API call was forbidden (events are dropped silently otherwise). */
function expectNoForbiddenLogs(c: ControllerProcess): void {
  const forbidden = c.raw.filter((l) => /forbidden/i.test(l));
  expect(forbidden, 'the controller was refused an API call: deploy/ lacks a permission').toEqual([]);
}

beforeAll(async () => {
  // Render first: a missing kubectl fails in seconds, before a cluster is started.
  const base = await kustomize(join(DEPLOY, 'base'));
  const namespaced = await kustomize(join(DEPLOY, 'namespaced'));
  cluster = await startTestCluster({
    users: [
      { name: CLUSTER_SA, groups: saGroups('fledge-system') },
      { name: TEAM_SA, groups: saGroups(TEAM_NS) },
    ],
  });
  admin = testKube(cluster.kubeconfigPath);
  for (const ns of ['shop', TEAM_NS, 'team-b']) await createNamespace(admin, ns);
  expect(await applyRbac(base)).toEqual(expect.arrayContaining(['ClusterRole/fledge-controller', 'ClusterRoleBinding/fledge-controller', 'Role/fledge-leader-election', 'RoleBinding/fledge-leader-election']));
  expect(await applyRbac(namespaced)).toEqual(expect.arrayContaining(['Role/fledge-controller', 'RoleBinding/fledge-controller', 'Role/fledge-leader-election', 'RoleBinding/fledge-leader-election']));
});

afterAll(async () => {
  for (const c of running) await c.stop();
  await cluster?.stop();
});

async function startController(user: string, args: string[], podName: string): Promise<ControllerProcess> {
  const c = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigFor(user), args: [...args, '--resync', '30s'], env: { POD_NAME: podName } });
  running.push(c);
  return c;
}

describe('deploy/base: the controller as system:serviceaccount:fledge-system:fledge, all namespaces', () => {
  let controller: ControllerProcess;
  let sa: TestKube;

  beforeAll(async () => {
    sa = testKube(cluster.kubeconfigFor(CLUSTER_SA));
    controller = await startController(CLUSTER_SA, ['--leader-elect', '--lease-namespace', 'fledge-system'], 'fledge-controller-0');
  });

  afterAll(async () => {
    expect(await controller?.stop()).toBe(0);
  });

  it('holds its Lease in fledge-system', async () => {
    const leases = cluster.adminKubeConfig().makeApiClient(CoordinationV1Api);
    const lease = await leases.readNamespacedLease({ namespace: 'fledge-system', name: 'fledge-controller' });
    expect(lease.spec?.holderIdentity).toBe('fledge-controller-0');
  });

  it('takes a Rollout to Promoted with its VirtualService, DestinationRule and Events', async () => {
    await gitopsApply(admin, rolloutManifest('shop', 'staff', spec()));
    const r = await waitPromoted('shop', 'staff');
    // First: a refused write still lets the status advance, so the logs say best what is missing.
    expectNoForbiddenLogs(controller);
    expect(r.status).toMatchObject({ canaryWeight: 100, observedGeneration: r.metadata.generation });
    const vs = await waitForWeights(admin, 'shop', 'staff', { safe: 0, risky: 100 });
    expect(weightsOf(vs)).toEqual({ safe: 0, risky: 100 });
    expect(await getObject(admin, DESTINATION_RULES, 'shop', 'staff')).toBeDefined();
    const reasons = await eventually(async () => {
      const got = (await listEvents(admin, 'shop', 'staff')).map((e) => e.reason);
      return got.includes('Promoted') ? got : undefined;
    }, 'the Promoted Event');
    expect(reasons).toEqual(expect.arrayContaining(['RolloutStarted', 'StepAdvanced', 'Promoted']));
    expectNoForbiddenLogs(controller);
  });

  it('puts back a hand-edited weight (watch + patch of an existing VirtualService)', async () => {
    const vs = await getObject<VirtualServiceLike>(admin, VIRTUAL_SERVICES, 'shop', 'staff');
    const http = structuredClone(vs!.spec.http!);
    http[0]!.route![0]!.weight = 50;
    http[0]!.route![1]!.weight = 50;
    await mergePatch(admin, VIRTUAL_SERVICES, 'shop', 'staff', { spec: { http } });
    await eventually(async () => weightsOf((await getObject<VirtualServiceLike>(admin, VIRTUAL_SERVICES, 'shop', 'staff'))!).risky === 100, 'the weight restored', 10_000);
    await eventually(async () => (await listEvents(admin, 'shop', 'staff')).some((e) => e.reason === 'RoutingRestored'), 'the RoutingRestored Event', 10_000);
    expectNoForbiddenLogs(controller);
  });

  it('is refused what the controller never does', async () => {
    await expectForbidden('list Secrets in all namespaces', () => sa.core.listSecretForAllNamespaces());
    await expectForbidden('get a Secret', () => sa.core.readNamespacedSecret({ namespace: 'shop', name: 'anything' }));
    await expectForbidden('delete a VirtualService', () => sa.co.deleteNamespacedCustomObject({ ...VIRTUAL_SERVICES, namespace: 'shop', name: 'staff' }));
    await expectForbidden('delete a DestinationRule', () => sa.co.deleteNamespacedCustomObject({ ...DESTINATION_RULES, namespace: 'shop', name: 'staff' }));
    await expectForbidden('delete a Rollout', () => sa.co.deleteNamespacedCustomObject({ ...ROLLOUTS, namespace: 'shop', name: 'staff' }));
    await expectForbidden('patch a Rollout\'s annotations (that is the CLI, as the user)', () => mergePatch(sa, ROLLOUTS, 'shop', 'staff', { metadata: { annotations: { 'fledge.dev/paused': 'true' } } }));
    await expectForbidden('create a Lease outside fledge-system', () => sa.kc.makeApiClient(CoordinationV1Api).createNamespacedLease({ namespace: 'shop', body: { metadata: { name: 'fledge-controller' } } }));
    await expectForbidden('read another Lease in fledge-system', () => sa.kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: 'fledge-system', name: 'someone-else' }));
    await expectForbidden('list Pods', () => sa.core.listPodForAllNamespaces());
    await expectForbidden('create a core/v1 Event', () => sa.core.createNamespacedEvent({ namespace: 'shop', body: { metadata: { name: 'x' }, involvedObject: {} } }));
  });
});

describe(`deploy/namespaced: the controller as ${TEAM_SA}, --namespace ${TEAM_NS}`, () => {
  let controller: ControllerProcess;
  let sa: TestKube;

  beforeAll(async () => {
    sa = testKube(cluster.kubeconfigFor(TEAM_SA));
    controller = await startController(TEAM_SA, ['--namespace', TEAM_NS, '--leader-elect', '--lease-namespace', TEAM_NS], 'fledge-controller-team-a-0');
  });

  afterAll(async () => {
    expect(await controller?.stop()).toBe(0);
  });

  it(`takes a Rollout in ${TEAM_NS} to Promoted, with its Events and its Lease in ${TEAM_NS}`, async () => {
    await gitopsApply(admin, rolloutManifest(TEAM_NS, 'staff', spec()));
    await waitPromoted(TEAM_NS, 'staff');
    expectNoForbiddenLogs(controller);
    expect(weightsOf(await waitForWeights(admin, TEAM_NS, 'staff', { safe: 0, risky: 100 }))).toEqual({ safe: 0, risky: 100 });
    const reasons = await eventually(async () => {
      const got = (await listEvents(admin, TEAM_NS, 'staff')).map((e) => e.reason);
      return got.includes('Promoted') ? got : undefined;
    }, 'the Promoted Event');
    expect(reasons).toEqual(expect.arrayContaining(['RolloutStarted', 'Promoted']));
    const lease = await cluster.adminKubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: TEAM_NS, name: 'fledge-controller' });
    expect(lease.spec?.holderIdentity).toBe('fledge-controller-team-a-0');
    expectNoForbiddenLogs(controller);
  });

  it('leaves Rollouts of other namespaces alone', async () => {
    await gitopsApply(admin, rolloutManifest('team-b', 'staff', spec()));
    await new Promise((r) => setTimeout(r, 2000));
    expect((await getObject<RolloutLike>(admin, ROLLOUTS, 'team-b', 'staff'))?.status).toBeUndefined();
    expect(await getObject(admin, VIRTUAL_SERVICES, 'team-b', 'staff')).toBeUndefined();
  });

  it('is forbidden outside its namespace, and cluster-wide', async () => {
    await expectForbidden('list Rollouts in all namespaces', () => sa.co.listClusterCustomObject(ROLLOUTS));
    await expectForbidden('list Rollouts in team-b', () => sa.co.listNamespacedCustomObject({ ...ROLLOUTS, namespace: 'team-b' }));
    await expectForbidden('read a Rollout in shop', () => sa.co.getNamespacedCustomObject({ ...ROLLOUTS, namespace: 'shop', name: 'staff' }));
    await expectForbidden('list VirtualServices in all namespaces', () => sa.co.listClusterCustomObject(VIRTUAL_SERVICES));
    await expectForbidden('patch a VirtualService in shop', () => mergePatch(sa, VIRTUAL_SERVICES, 'shop', 'staff', { metadata: { labels: { x: 'y' } } }));
    await expectForbidden('create an Event in shop', () => sa.events.createNamespacedEvent({ namespace: 'shop', body: { metadata: { name: 'x' }, eventTime: microTime(new Date()), reportingController: 'x', reportingInstance: 'x', action: 'x', reason: 'x', type: 'Normal' } }));
    await expectForbidden(`list Secrets in ${TEAM_NS}`, () => sa.core.listNamespacedSecret({ namespace: TEAM_NS }));
    await expectForbidden(`delete a VirtualService in ${TEAM_NS}`, () => sa.co.deleteNamespacedCustomObject({ ...VIRTUAL_SERVICES, namespace: TEAM_NS, name: 'staff' }));
  });
});
