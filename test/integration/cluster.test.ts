import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { startLocalCluster, type LocalCluster } from '../../src/devenv/cluster.ts';

const ROLLOUT_CRD = fileURLToPath(new URL('../../crds/rollouts.fledge.dev.yaml', import.meta.url));
const NS = 'cluster-test';
const OPERATOR = 'system:serviceaccount:fledge:operator';

let cluster: LocalCluster;
let kc: KubeConfig;
let objects: KubernetesObjectApi;

async function apply<T extends KubernetesObject>(obj: T): Promise<T> {
  return objects.patch(obj, undefined, undefined, 'fledge-test', true, PatchStrategy.ServerSideApply);
}

/** Command lines of live processes that mention `text` (the cluster's temp dir). */
function processesMentioning(text: string): string[] {
  return execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(text) && !line.includes(' ps '));
}

async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('local cluster', () => {
  beforeAll(async () => {
    cluster = await startLocalCluster({
      users: [{ name: OPERATOR, groups: ['system:serviceaccounts', 'system:serviceaccounts:fledge'] }],
      garbageCollector: true,
      crdFiles: existsSync(ROLLOUT_CRD) ? [ROLLOUT_CRD] : [],
    });
    kc = cluster.adminKubeConfig();
    objects = KubernetesObjectApi.makeApiClient(kc);
    await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('serves Istio VirtualService and DestinationRule at networking.istio.io/v1 (and the Rollout CRD if present)', async () => {
    const co = kc.makeApiClient(CustomObjectsApi);
    const drs = await co.listNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace: NS, plural: 'destinationrules' });
    expect(drs.items).toEqual([]);

    await apply({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'web', namespace: NS },
      spec: {
        hosts: ['web'],
        http: [{ route: [
          { destination: { host: 'web', subset: 'stable' }, weight: 90 },
          { destination: { host: 'web', subset: 'canary' }, weight: 10 },
        ] }],
      },
    });
    const vs = (await co.getNamespacedCustomObject({
      group: 'networking.istio.io', version: 'v1', namespace: NS, plural: 'virtualservices', name: 'web',
    })) as { spec: { http: { route: { weight: number }[] }[] } };
    expect(vs.spec.http[0]?.route.map((r) => r.weight)).toEqual([90, 10]);

    if (existsSync(ROLLOUT_CRD)) {
      const crd = await objects.read({
        apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'rollouts.fledge.dev' },
      });
      expect(crd.metadata?.name).toBe('rollouts.fledge.dev');
    }
  });

  it('enforces RBAC on declared users', async () => {
    const userKc = new KubeConfig();
    userKc.loadFromFile(cluster.kubeconfigFor(OPERATOR));
    const err: unknown = await userKc.makeApiClient(CoreV1Api).listNamespace().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApiException);
    expect((err as ApiException<unknown>).code).toBe(403);
    expect(cluster.tokenFor(OPERATOR)).not.toBe(cluster.adminToken);
    expect(() => cluster.tokenFor('nobody')).toThrow(/unknown user/);
  });

  it('garbage-collects dependents of a deleted owner', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const owner = await apply<KubernetesObject>({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner', namespace: NS } });
    const uid = owner.metadata?.uid;
    expect(uid).toBeTruthy();
    await apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'dependent',
        namespace: NS,
        ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: String(uid) }],
      },
    });
    await core.deleteNamespacedConfigMap({ name: 'owner', namespace: NS });
    await eventually(
      () => core.readNamespacedConfigMap({ name: 'dependent', namespace: NS }).then(() => false, (e: unknown) => e instanceof ApiException && e.code === 404),
      30_000,
    );
  }, 40_000);

  it('restarts kube-apiserver keeping the data in etcd', async () => {
    await cluster.restartApiServer();
    const co = cluster.adminKubeConfig().makeApiClient(CustomObjectsApi);
    const vs = await co.getNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace: NS, plural: 'virtualservices', name: 'web' });
    expect(vs).toMatchObject({ metadata: { name: 'web' } });
  }, 90_000);

  it('stop() leaves no process and no temp dir behind', async () => {
    expect(processesMentioning(cluster.dir).length).toBeGreaterThanOrEqual(3);
    await cluster.stop();
    expect(processesMentioning(cluster.dir)).toEqual([]);
    expect(existsSync(cluster.dir)).toBe(false);
  }, 60_000);
});
