/**
 * Several adopted VirtualServices with a generated DestinationRule, a step half-written: the
 * first VirtualService took it, the second did not (the controller was killed between the two
 * patches, or the second was refused; here a ValidatingAdmissionPolicy refuses it, which holds
 * that state for as long as the test needs). On a new release the DestinationRule's canary subset
 * is relabelled onto the new, unjudged pods; done while the second VirtualService still sends
 * the old canary its share, that share would reach the new canary. The DestinationRule must wait
 * until every VirtualService is off the old canary.
 */
import { readFileSync } from 'node:fs';
import { PatchStrategy, setHeaderOptions, type KubernetesObject } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { releaseId } from '../../src/api/release.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import {
  DESTINATION_RULES, ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, expectValidWeights, getObject, gitopsApply, mergePatch,
  testKube, weightsOf, type TestKube, type VirtualServiceLike,
} from '../support/kube.ts';

let cluster: LocalCluster;
let k: TestKube;
let controller: ControllerProcess;

type Obj = KubernetesObject & { spec: Record<string, unknown> };
const NS = 'vs-resume';
const example = (file: string): Obj => {
  const obj = parse(readFileSync(new URL(`../../examples/adopted/gateway-and-mesh/${file}.yaml`, import.meta.url), 'utf8')) as Obj;
  obj.metadata!.namespace = NS;
  return obj;
};
const vs = async (name: string) => (await getObject<VirtualServiceLike>(k, VIRTUAL_SERVICES, NS, name))!;
interface DestinationRuleLike { spec: { subsets?: { name: string; labels?: Record<string, string> }[] } }
const canaryLabels = async () => (await getObject<DestinationRuleLike>(k, DESTINATION_RULES, NS, 'reviews'))?.spec.subsets?.find((s) => s.name === 'v2')?.labels;

beforeAll(async () => {
  cluster = await startTestCluster();
  k = testKube(cluster.kubeconfigPath);
  controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ['--resync', '30s'] });
});

afterAll(async () => {
  await controller?.stop();
  await cluster?.stop();
});

const RELEASE_B = releaseId({ version: 'v1' }, { version: 'v3' });
/**
 * The state a crash would leave: the mesh VirtualService refused any move off 50 %, and the
 * status, once it names the new release, kept from going back (on a refused routing write the
 * controller rewrites the status it started from; a killed one would leave the new one).
 */
const policy: KubernetesObject & Record<string, unknown> = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicy',
  metadata: { name: 'mesh-frozen' },
  spec: {
    failurePolicy: 'Fail',
    matchConstraints: {
      resourceRules: [
        { apiGroups: ['networking.istio.io'], apiVersions: ['*'], operations: ['UPDATE'], resources: ['virtualservices'] },
        { apiGroups: ['fledge.dev'], apiVersions: ['*'], operations: ['UPDATE'], resources: ['rollouts/status'] },
      ],
    },
    validations: [{
      expression: "object.kind != 'VirtualService' || object.metadata.name != 'reviews-mesh' || object.spec.http.all(h, !has(h.route) || h.route.all(d, !has(d.weight) || d.destination.subset != 'v2' || d.weight == 50))",
      message: 'the mesh VirtualService is frozen at 50 %',
    }, {
      expression: `object.kind != 'Rollout' || !has(oldObject.status) || !has(oldObject.status.release) || oldObject.status.release != '${RELEASE_B}' || (has(object.status) && has(object.status.release) && object.status.release == '${RELEASE_B}')`,
      message: 'the status keeps the new release, as after a crash',
    }],
  },
};
const binding: KubernetesObject & Record<string, unknown> = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicyBinding',
  metadata: { name: 'mesh-frozen' },
  spec: { policyName: 'mesh-frozen', validationActions: ['Deny'] },
};

it('relabels the DestinationRule only once every VirtualService is off the old canary, after a step written to the first alone', async () => {
  await createNamespace(k, NS);
  for (const f of ['virtual-service-ingress', 'virtual-service-mesh']) await gitopsApply(k, example(f));
  const r = example('rollout');
  // The DestinationRule generated (its labels written by Fledge), not adopted.
  r.spec.trafficRouting = { virtualServices: [{ ref: 'reviews-ingress', routes: ['primary'] }, { ref: 'reviews-mesh' }] };
  r.spec.strategy = { steps: [50, 100], interval: '1h' };
  await gitopsApply(k, r);
  const canaryWeights = async () => Promise.all(['reviews-ingress', 'reviews-mesh'].map(async (n) => weightsOf(await vs(n), 0)['v2']));
  await eventually(async () => (await canaryWeights()).every((w) => w === 50) && (await canaryLabels())?.version === 'v2',
    'both VirtualServices at 50 %, the canary subset on v2', 30_000, 50);

  await gitopsApply(k, policy, 'platform-team');
  await gitopsApply(k, binding, 'platform-team');
  const mesh = await vs('reviews-mesh');
  const frozen = structuredClone(mesh.spec.http!) as { route?: { destination?: { subset?: string }; weight?: number }[] }[];
  for (const d of frozen[0]!.route!) d.weight = d.destination?.subset === 'v2' ? 0 : 100;
  await eventually(async () => {
    try {
      await k.co.patchNamespacedCustomObject({ ...VIRTUAL_SERVICES, namespace: NS, name: 'reviews-mesh', body: { spec: { http: frozen } }, dryRun: 'All' }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      return false;
    } catch (err) {
      return /frozen at 50/.test(String((err as { body?: unknown }).body ?? err));
    }
  }, 'the admission policy to be enforced', 30_000, 250);

  // A new release mid-rollout: all traffic back to stable first, then the canary subset relabelled to v3.
  await mergePatch(k, ROLLOUTS, NS, 'reviews', { spec: { canary: { labels: { version: 'v3' } }, strategy: { steps: [{ weight: 0, pause: 'manual' }, 100], interval: '1h' } } });
  await eventually(async () => weightsOf(await vs('reviews-ingress'), 0)['v2'] === 0, 'the ingress VirtualService at 0 %', 30_000, 50);
  await eventually(async () => (await getObject<{ status?: { release?: string } }>(k, ROLLOUTS, NS, 'reviews'))?.status?.release === RELEASE_B, 'the status on the new release', 30_000, 50);
  // The controller keeps trying (with back-off); each try must leave the DestinationRule alone.
  const failures = () => controller.logs.filter((l) => l.msg === 'reconcile failed' && String(l.err).includes('frozen at 50')).length;
  const seen = failures();
  await eventually(async () => failures() >= seen + 2, 'two more refused tries', 60_000, 100);
  expect(weightsOf(await vs('reviews-mesh'), 0)['v2']).toBe(50);
  expect((await canaryLabels())?.version).toBe('v2');

  // Lifted: the mesh VirtualService follows, then the subset is relabelled, and the release holds at its first step.
  await k.objects.delete(binding);
  await k.objects.delete(policy);
  await eventually(async () => (await canaryLabels())?.version === 'v3', 'the canary subset relabelled to v3', 60_000, 100);
  expect(await canaryWeights()).toEqual([0, 0]);
  for (const n of ['reviews-ingress', 'reviews-mesh']) expectValidWeights(await vs(n));
  await eventually(async () => (await getObject<{ status?: { phase?: string } }>(k, ROLLOUTS, NS, 'reviews'))?.status?.phase === 'Paused', 'paused at the first step', 30_000, 100);
}, 180_000);
