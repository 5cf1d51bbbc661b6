/**
 * Generated objects shared with other field managers. A GitOps tool (server-side apply, its own
 * manager) and a person with kubectl (merge patches) edit the fields of a generated
 * VirtualService and DestinationRule that Fledge does not set: labels, annotations, `exportTo`,
 * a trafficPolicy or part of one. Fledge keeps them through a whole rollout and changes only its
 * own fields, without a write loop or a stream of Events.
 *
 * The contract for `spec.http` of a *generated* VirtualService: Istio's CRDs declare no list
 * types, so the API server tracks the route list as one atomic field, owned by Fledge. A route
 * someone else adds is put back (removed) with a RoutingRestored Event naming them, and a
 * GitOps tool that server-side applies `spec.http` without force is refused with a conflict.
 * Adopted VirtualServices (where the routes are the team's) are tested in adoption.test.ts.
 */
import { PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import {
  DESTINATION_RULES, ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, getObject, gitopsApply, listEvents,
  mergePatch, rolloutManifest, testKube, weightsOf, waitForPhase, type RolloutLike, type TestKube,
  type VirtualServiceLike,
} from '../support/kube.ts';
import { checkHistory } from '../soak/invariants.ts';
import { WriteRecorder } from '../soak/recorder.ts';

const NS = 'shared';
let cluster: LocalCluster;
let k: TestKube;
let controller: ControllerProcess;
let recorder: WriteRecorder;

interface Obj {
  metadata: { name: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string>; managedFields?: { manager?: string; operation?: string; fieldsV1?: Record<string, unknown> }[] };
  spec: Record<string, unknown>;
}
const vsOf = (name: string) => getObject<Obj & VirtualServiceLike>(k, VIRTUAL_SERVICES, NS, name);
const drOf = (name: string) => getObject<Obj>(k, DESTINATION_RULES, NS, name);
const rolloutOf = (name: string) => getObject<RolloutLike>(k, ROLLOUTS, NS, name);

/** The top-level spec fields and the metadata keys a manager owns, from managedFields. */
function owned(obj: Obj, manager: string): string[] {
  const out: string[] = [];
  for (const mf of obj.metadata.managedFields ?? []) {
    if (mf.manager !== manager) continue;
    const f = mf.fieldsV1 ?? {};
    for (const key of Object.keys((f['f:spec'] as Record<string, unknown>) ?? {})) out.push(`spec.${key.slice(2)}`);
    const meta = (f['f:metadata'] as Record<string, Record<string, unknown>>) ?? {};
    for (const group of ['f:labels', 'f:annotations']) for (const key of Object.keys(meta[group] ?? {})) out.push(`${group.slice(2)}.${key.slice(2)}`);
  }
  return out.sort();
}

function spec(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    service: { name: 'web', port: 8080 },
    stable: { labels: { app: 'web', version: 'v1' } },
    canary: { labels: { app: 'web', version: 'v2' } },
    strategy: { steps: [10, 20, 30, 40, 50, 70, 100], interval: '2s' },
    ...extra,
  };
}

beforeAll(async () => {
  cluster = await startTestCluster();
  k = testKube(cluster.kubeconfigPath);
  await createNamespace(k, NS);
  recorder = new WriteRecorder(cluster.kubeconfigPath, NS);
  await recorder.start();
  controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ['--resync', '30s'] });
});

afterAll(async () => {
  recorder?.stop();
  await controller?.stop();
  await cluster?.stop();
});

describe('fields of generated objects that other managers own', () => {
  it('keeps labels, annotations and exportTo from a GitOps tool and kubectl through a whole rollout', async () => {
    await gitopsApply(k, rolloutManifest(NS, 'web', spec()));
    await eventually(async () => weightsOf((await vsOf('web')) ?? { metadata: { name: '' }, spec: {} }).canary === 10, 'the first step');

    // Argo CD's server-side apply, as its own manager, of only the fields it means to own.
    await gitopsApply(k, {
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService',
      metadata: { name: 'web', namespace: NS, labels: { 'team': 'shop' }, annotations: { 'argocd.argoproj.io/tracking-id': 'shop:networking.istio.io/VirtualService:shared/web' } },
      spec: { exportTo: ['.'] },
    } as KubernetesObject, 'argocd-controller');
    await gitopsApply(k, {
      apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule',
      metadata: { name: 'web', namespace: NS, labels: { 'team': 'shop' } },
      spec: { exportTo: ['.'] },
    } as KubernetesObject, 'argocd-controller');
    // A person with kubectl: merge patches, manager kubectl-edit.
    await mergePatch(k, VIRTUAL_SERVICES, NS, 'web', { metadata: { labels: { oncall: 'alice' }, annotations: { note: 'do not page before 9' } } });
    await mergePatch(k, DESTINATION_RULES, NS, 'web', { spec: { trafficPolicy: { connectionPool: { tcp: { maxConnections: 100 } } } } });
    const editedAt = BigInt((await drOf('web'))!.metadata.resourceVersion!);

    const done = await waitForPhase(k, NS, 'web', 'Promoted', 60_000, 200);
    expect(done.status?.canaryWeight).toBe(100);
    await new Promise((r) => setTimeout(r, 300));

    // Every version Fledge wrote after the edits kept them.
    const history = recorder.ordered().filter((e) => e.name === 'web' && e.rv > editedAt && e.kind !== 'Rollout');
    // Nobody but Fledge writes after the edits: these are its weights, one per step.
    expect(history.filter((e) => e.kind === 'VirtualService').length, 'weights written after the edits').toBeGreaterThanOrEqual(5);
    for (const e of history) {
      const m = e.obj.metadata;
      expect(m.labels?.team, `${e.kind} @${e.rv}`).toBe('shop');
      expect(e.obj.spec?.exportTo, `${e.kind} @${e.rv}`).toEqual(['.']);
      if (e.kind === 'VirtualService') {
        expect(m.labels?.oncall).toBe('alice');
        expect(m.annotations).toMatchObject({ note: 'do not page before 9', 'argocd.argoproj.io/tracking-id': 'shop:networking.istio.io/VirtualService:shared/web' });
      } else {
        expect(e.obj.spec?.trafficPolicy).toEqual({ connectionPool: { tcp: { maxConnections: 100 } } });
      }
    }
    const { violations } = checkHistory(recorder.ordered().filter((e) => e.name === 'web'), []);
    expect(violations).toEqual([]);

    // Ownership stayed where it was: Fledge owns only what it sets.
    const vs = (await vsOf('web'))!;
    const dr = (await drOf('web'))!;
    expect(owned(vs, 'fledge')).toEqual(['labels.app.kubernetes.io/managed-by', 'labels.fledge.dev/rollout', 'spec.hosts', 'spec.http']);
    expect(owned(vs, 'argocd-controller')).toEqual(['annotations.argocd.argoproj.io/tracking-id', 'labels.team', 'spec.exportTo']);
    expect(owned(vs, 'kubectl-edit')).toEqual(['annotations.note', 'labels.oncall']);
    expect(owned(dr, 'fledge')).toEqual(['labels.app.kubernetes.io/managed-by', 'labels.fledge.dev/rollout', 'spec.host', 'spec.subsets']);
    expect(owned(dr, 'kubectl-edit')).toEqual(['spec.trafficPolicy']);
    // None of it was taken for drift: no RoutingRestored, and no write once promoted.
    expect((await listEvents(k, NS, 'web')).map((e) => e.reason)).not.toContain('RoutingRestored');
    const rv = [vs.metadata.resourceVersion, dr.metadata.resourceVersion];
    await new Promise((r) => setTimeout(r, 2000));
    expect([(await vsOf('web'))!.metadata.resourceVersion, (await drOf('web'))!.metadata.resourceVersion]).toEqual(rv);
  }, 90_000);

  it('keeps the part of its own trafficPolicy that another manager added, without rewriting it or crying drift', async () => {
    await gitopsApply(k, rolloutManifest(NS, 'lb', spec({
      service: { name: 'lb' },
      trafficRouting: { destinationRule: { trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } } },
      strategy: { steps: [10, 30, 60, 100], interval: '2s' },
    })));
    await eventually(async () => (await drOf('lb')) !== undefined, 'the DestinationRule');
    await mergePatch(k, DESTINATION_RULES, NS, 'lb', { spec: { trafficPolicy: { outlierDetection: { consecutive5xxErrors: 7 } } } });
    const patchedAt = BigInt((await drOf('lb'))!.metadata.resourceVersion!);
    await eventually(async () => (await rolloutOf('lb'))?.status?.phase === 'Promoted', 'promotion', 30_000, 200);
    const dr = (await drOf('lb'))!;
    expect(dr.spec.trafficPolicy).toEqual({ loadBalancer: { simple: 'LEAST_REQUEST' }, outlierDetection: { consecutive5xxErrors: 7 } });
    // Server-side apply merges the map: the other manager's part is not drift to put back.
    const drWrites = recorder.ordered().filter((e) => e.kind === 'DestinationRule' && e.name === 'lb' && e.rv > patchedAt);
    expect(drWrites, 'DestinationRule writes after the patch').toEqual([]);
    expect((await listEvents(k, NS, 'lb')).map((e) => e.reason)).not.toContain('RoutingRestored');
  }, 60_000);

  it('spec.http of a generated VirtualService is Fledge\'s: a route added by kubectl is put back, and a GitOps apply of it conflicts', async () => {
    await gitopsApply(k, rolloutManifest(NS, 'api', spec({ service: { name: 'api' }, strategy: { steps: [30, 100], interval: '1h' } })));
    const vs = await eventually(async () => {
      const v = await vsOf('api');
      return v && weightsOf(v).canary === 30 ? v : undefined;
    }, '70/30');
    const http = structuredClone(vs.spec.http as Record<string, unknown>[]);
    const debugRoute = { name: 'debug', match: [{ headers: { 'x-debug': { exact: '1' } } }], route: [{ destination: { host: 'api', subset: 'canary', port: { number: 8080 } }, weight: 100 }] };
    // kubectl edit: a merge patch replaces the whole list.
    await mergePatch(k, VIRTUAL_SERVICES, NS, 'api', { spec: { http: [debugRoute, ...http] } });
    const restored = await eventually(async () => {
      const v = await vsOf('api');
      return v && (v.spec.http as { name?: string }[]).every((r) => r.name !== 'debug') ? v : undefined;
    }, 'the added route to be put back', 10_000, 50);
    expect(restored.spec.http).toEqual(http);
    const event = await eventually(async () => (await listEvents(k, NS, 'api')).find((e) => e.reason === 'RoutingRestored'), 'RoutingRestored', 10_000);
    expect(event.type).toBe('Warning');
    expect(event.note).toContain('kubectl-edit');

    // A GitOps tool applying spec.http under its own manager, without force: refused, naming fledge.
    const refused = await k.objects.patch({
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'api', namespace: NS }, spec: { http: [debugRoute] },
    } as KubernetesObject, undefined, undefined, 'argocd-controller', false, PatchStrategy.ServerSideApply).then(() => undefined, (err: { code?: number; body?: unknown }) => err);
    expect(refused?.code).toBe(409);
    expect(String(refused?.body)).toContain('fledge');
    expect(String(refused?.body)).toContain('.spec.http');
    expect(weightsOf((await vsOf('api'))!)).toEqual({ stable: 70, canary: 30 });
  }, 60_000);
});
