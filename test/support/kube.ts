import { CoreV1Api, CustomObjectsApi, EventsV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, setHeaderOptions, type KubernetesObject } from '@kubernetes/client-node';
import { expect } from 'vitest';
import { weightProblems } from '../soak/invariants.ts';

export interface TestKube {
  kc: KubeConfig;
  co: CustomObjectsApi;
  core: CoreV1Api;
  events: EventsV1Api;
  objects: KubernetesObjectApi;
}

export function testKube(kubeconfigPath: string): TestKube {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return { kc, co: kc.makeApiClient(CustomObjectsApi), core: kc.makeApiClient(CoreV1Api), events: kc.makeApiClient(EventsV1Api), objects: KubernetesObjectApi.makeApiClient(kc) };
}

export const ROLLOUTS = { group: 'fledge.dev', version: 'v1alpha1', plural: 'rollouts' };
export const VIRTUAL_SERVICES = { group: 'networking.istio.io', version: 'v1', plural: 'virtualservices' };
export const DESTINATION_RULES = { group: 'networking.istio.io', version: 'v1', plural: 'destinationrules' };

export async function createNamespace(k: TestKube, name: string): Promise<void> {
  await k.core.createNamespace({ body: { metadata: { name } } });
}

/** Apply as a GitOps tool would: server-side apply under its own field manager. */
export async function gitopsApply<T extends KubernetesObject>(k: TestKube, obj: T, manager = 'argocd-controller'): Promise<T> {
  return k.objects.patch(obj, undefined, undefined, manager, true, PatchStrategy.ServerSideApply);
}

export async function getObject<T = Record<string, unknown>>(k: TestKube, ref: typeof ROLLOUTS, namespace: string, name: string): Promise<T | undefined> {
  try {
    return (await k.co.getNamespacedCustomObject({ ...ref, namespace, name })) as T;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

export async function mergePatch(k: TestKube, ref: typeof ROLLOUTS, namespace: string, name: string, body: unknown, fieldManager = 'kubectl-edit'): Promise<unknown> {
  return k.co.patchNamespacedCustomObject({ ...ref, namespace, name, body, fieldManager }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
}

/** Polls `fn` until it returns a value other than undefined/false, or fails with its last error. */
export async function eventually<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Polls a Rollout until its status phase is `phase`, and returns it. */
export async function waitForPhase(k: TestKube, namespace: string, name: string, phase: string, timeoutMs = 30_000, everyMs = 100): Promise<RolloutLike> {
  return eventually(async () => {
    const r = await getObject<RolloutLike>(k, ROLLOUTS, namespace, name);
    return r?.status?.phase === phase ? r : undefined;
  }, `${namespace}/${name} to be ${phase}`, timeoutMs, everyMs);
}

interface Route { name?: string; route?: { destination?: { subset?: string; port?: { number?: number } }; weight?: number }[] }
export interface VirtualServiceLike { metadata: { name: string; resourceVersion?: string; managedFields?: { manager?: string }[] }; spec: { hosts?: string[]; gateways?: string[]; http?: Route[] } }

/** Subset → weight of the first (weighted) route. */
export function weightsOf(vs: VirtualServiceLike, routeIndex = 0): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of vs.spec.http?.[routeIndex]?.route ?? []) out[d.destination?.subset ?? '?'] = d.weight ?? 0;
  return out;
}

/**
 * The invariant every VirtualService Fledge writes must keep: the soak checker's weight rule
 * (integers 0..100 summing to 100; Istio reads a lone destination without a weight as 100, and
 * teams' own routes often say so).
 */
export function expectValidWeights(vs: VirtualServiceLike): void {
  expect(weightProblems(vs.spec.http ?? []), `weights of VirtualService ${vs.metadata.name}`).toEqual([]);
}

export interface RolloutLike { metadata: { name: string; generation?: number }; status?: { phase?: string; canaryWeight?: number; stepIndex?: number; observedGeneration?: number; message?: string; conditions?: { type: string; status: string; reason: string; message: string }[] } }

export function rolloutManifest(namespace: string, name: string, spec: Record<string, unknown>, annotations?: Record<string, string>): KubernetesObject & { spec: Record<string, unknown> } {
  return { apiVersion: 'fledge.dev/v1alpha1', kind: 'Rollout', metadata: { name, namespace, ...(annotations ? { annotations } : {}) }, spec };
}

export async function listEvents(k: TestKube, namespace: string, name: string): Promise<{ reason?: string; note?: string; type?: string }[]> {
  const list = await k.events.listNamespacedEvent({ namespace, fieldSelector: `regarding.name=${name}` });
  return list.items;
}

/**
 * The Events of an object once every reason in `reasons` is among them. The controller writes
 * status first, then routing, then Events: a test that has just seen a phase must wait for them.
 */
export async function waitForEvents(k: TestKube, namespace: string, name: string, reasons: string[], timeoutMs = 30_000): Promise<{ reason?: string; note?: string; type?: string }[]> {
  return eventually(async () => {
    const events = await listEvents(k, namespace, name);
    return reasons.every((r) => events.some((e) => e.reason === r)) ? events : undefined;
  }, `${namespace}/${name} to have Events ${reasons.join(', ')}`, timeoutMs, 100);
}

/**
 * The VirtualService once its weights are `expected` (subset -> weight). Status is written before
 * routing: a test that has just seen a phase must wait for the routing that follows it.
 */
export async function waitForWeights(k: TestKube, namespace: string, name: string, expected: Record<string, number>, timeoutMs = 30_000): Promise<VirtualServiceLike> {
  return eventually(async () => {
    const vs = await getObject<VirtualServiceLike>(k, VIRTUAL_SERVICES, namespace, name);
    return vs && JSON.stringify(weightsOf(vs)) === JSON.stringify(expected) ? vs : undefined;
  }, `${namespace}/${name} at weights ${JSON.stringify(expected)}`, timeoutMs, 100);
}

/**
 * The spec of a Rollout judged only by a custom query on `up` (no traffic needed), checked every
 * second over 2 s steps: for tests of where the controller sends its Prometheus queries.
 */
export function queryOnlySpec(service: string, prometheus?: Record<string, unknown>): Record<string, unknown> {
  return {
    service: { name: service },
    stable: { labels: { app: service, version: 'v1' } },
    canary: { labels: { app: service, version: 'v2' } },
    strategy: { steps: [50, 100], interval: '2s' },
    analysis: {
      ...(prometheus ? { prometheus } : {}),
      metrics: [{ name: 'saturation', query: 'max(up{service="{{service}}"})', max: 1 }],
      comparison: { enabled: false },
      minRequests: 0,
      checkInterval: '1s',
    },
  };
}
