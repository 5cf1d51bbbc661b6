/**
 * A routing write the API server refuses for a reason no dry run could foresee: here a real
 * ValidatingAdmissionPolicy (CEL, evaluated by the kube-apiserver itself) that forbids a
 * VirtualService sending 50 % to a canary. The rollout must stop at the last weight that was
 * written, say why in its status (Ready False, RoutingRefused) and in an Event, never claim the
 * refused weight, and carry on by itself once the policy is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import {
  ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, expectValidWeights, getObject, gitopsApply, listEvents,
  rolloutManifest, testKube, weightsOf, waitForPhase, type RolloutLike, type TestKube, type VirtualServiceLike,
} from '../support/kube.ts';

const NS = 'guarded';
let cluster: LocalCluster;
let k: TestKube;
let controller: ControllerProcess;

const policy: KubernetesObject & Record<string, unknown> = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicy',
  metadata: { name: 'no-half-canary' },
  spec: {
    failurePolicy: 'Fail',
    matchConstraints: {
      resourceRules: [{ apiGroups: ['networking.istio.io'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['virtualservices'] }],
    },
    validations: [{
      expression: "!has(object.spec.http) || !object.spec.http.exists(h, has(h.route) && h.route.exists(d, has(d.weight) && d.weight == 50 && d.destination.subset == 'canary'))",
      message: 'change board: no canary may take half the traffic',
    }],
  },
};
const binding: KubernetesObject & Record<string, unknown> = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicyBinding',
  metadata: { name: 'no-half-canary' },
  spec: { policyName: 'no-half-canary', validationActions: ['Deny'] },
};

beforeAll(async () => {
  cluster = await startTestCluster();
  k = testKube(cluster.kubeconfigPath);
  await createNamespace(k, NS);
  await gitopsApply(k, policy, 'platform-team');
  await gitopsApply(k, binding, 'platform-team');
  controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ['--resync', '30s'] });
});

afterAll(async () => {
  await controller?.stop();
  await cluster?.stop();
});

const rolloutOf = () => getObject<RolloutLike>(k, ROLLOUTS, NS, 'web');
const vsOf = () => getObject<VirtualServiceLike>(k, VIRTUAL_SERVICES, NS, 'web');
const ready = (r: RolloutLike | undefined) => r?.status?.conditions?.find((c) => c.type === 'Ready');

describe('a routing write refused by an admission policy', () => {
  it('stops at the last written weight with Ready False naming the policy, and resumes once it is lifted', async () => {
    // The policy takes effect once the API server has loaded it; a VirtualService at 50 % proves it does.
    await eventually(async () => {
      try {
        await gitopsApply(k, {
          apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'probe', namespace: NS },
          spec: { hosts: ['probe'], http: [{ route: [{ destination: { host: 'probe', subset: 'canary' }, weight: 50 }, { destination: { host: 'probe', subset: 'stable' }, weight: 50 }] }] },
        }, 'probe');
        return false;
      } catch (err) {
        return /no canary may take half/.test(String((err as { body?: unknown }).body ?? err)) ? true : false;
      }
    }, 'the admission policy to be enforced', 30_000, 250);

    await gitopsApply(k, rolloutManifest(NS, 'web', {
      service: { name: 'web', port: 8080 },
      stable: { labels: { app: 'web', version: 'v1' } },
      canary: { labels: { app: 'web', version: 'v2' } },
      strategy: { steps: [10, 50, 100], interval: '2s' },
    }));

    const refused = await eventually(async () => {
      const r = await rolloutOf();
      return ready(r)?.reason === 'RoutingRefused' ? r : undefined;
    }, 'Ready False with reason RoutingRefused', 60_000);
    const cond = ready(refused)!;
    expect(cond.status).toBe('False');
    expect(cond.message).toContain('no-half-canary');
    expect(cond.message).toContain('no canary may take half the traffic');
    // The status describes what is live: the first step, never the refused 50.
    expect(refused.status).toMatchObject({ phase: 'Progressing', canaryWeight: 10, stepIndex: 0 });
    const vs = (await vsOf())!;
    expectValidWeights(vs);
    expect(weightsOf(vs)).toEqual({ stable: 90, canary: 10 });
    const events = await eventually(async () => {
      const e = (await listEvents(k, NS, 'web')).filter((x) => x.reason === 'RoutingRefused');
      return e.length > 0 ? e : undefined;
    }, 'a RoutingRefused Event');
    expect(events[0]!.type).toBe('Warning');
    expect(events[0]!.note).toContain('no canary may take half the traffic');

    // While refused, it keeps trying (with back-off) and never writes the refused weight.
    await new Promise((r) => setTimeout(r, 3000));
    const held = (await rolloutOf())!;
    expect(held.status?.canaryWeight).toBe(10);
    expect(weightsOf((await vsOf())!)).toEqual({ stable: 90, canary: 10 });
    expect(controller.logs.some((l) => l.msg === 'reconcile failed' && String(l.err).includes('no-half-canary'))).toBe(true);

    // The platform team lifts the policy: the rollout carries on without anyone touching it.
    await k.objects.delete(binding);
    await k.objects.delete(policy);
    const promoted = await waitForPhase(k, NS, 'web', 'Promoted', 120_000, 250);
    expect(ready(promoted)).toMatchObject({ status: 'True', reason: 'Promoted' });
    await eventually(async () => weightsOf((await vsOf())!).canary === 100, 'the VirtualService at 100 %', 30_000, 100);
    expect(weightsOf((await vsOf())!)).toEqual({ stable: 0, canary: 100 });
  }, 240_000);
});
