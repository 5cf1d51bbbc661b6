import {
  CoordinationV1Api, CoreV1Api, CustomObjectsApi, EventsV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, setHeaderOptions,
  type KubernetesListObject, type KubernetesObject, type V1Lease, type EventsV1Event,
} from '@kubernetes/client-node';
import type { JsonPatchOp, KubeObject } from '../api/object.ts';
import { shareConnections } from './connections.ts';
import { toKubeError } from './errors.ts';
import { TokenBucket } from './rate-limit.ts';

export interface ClientOptions {
  fieldManager: string;
  qps?: number;
  burst?: number;
}

export interface ResourceRef { group: string; version: string; plural: string }


/** Counts requests by verb so benchmarks and /metrics can show exactly what the controller costs. */
export type RequestCounter = (verb: string, resource: string) => void;

export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return kc;
}

/**
 * Every request the controller makes goes through here: rate limited, counted, and with API
 * errors turned into `KubeApiError`. It knows Kubernetes, and nothing about rollouts.
 */
export class KubeClient {
  readonly kc: KubeConfig;
  private readonly objects: KubernetesObjectApi;
  private readonly custom: CustomObjectsApi;
  private readonly events: EventsV1Api;
  private readonly leases: CoordinationV1Api;
  private readonly core: CoreV1Api;
  private readonly bucket: TokenBucket;
  private readonly fieldManager: string;
  onRequest: RequestCounter = () => {};

  constructor(kc: KubeConfig, opts: ClientOptions) {
    // One connection pool for every request (and the informers' watches made with the same kc).
    this.kc = shareConnections(kc);
    this.objects = KubernetesObjectApi.makeApiClient(kc);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.events = kc.makeApiClient(EventsV1Api);
    this.leases = kc.makeApiClient(CoordinationV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
    this.bucket = new TokenBucket(opts.qps ?? 50, opts.burst ?? 100);
    this.fieldManager = opts.fieldManager;
  }

  private async call<T>(verb: string, resource: string, fn: () => Promise<T>): Promise<T> {
    await this.bucket.take();
    this.onRequest(verb, resource);
    try {
      return await fn();
    } catch (err) {
      throw toKubeError(err, verb);
    }
  }

  list<T extends KubernetesObject>(ref: ResourceRef, namespace?: string, labelSelector?: string): Promise<KubernetesListObject<T>> {
    const selector = labelSelector ? { labelSelector } : {};
    return this.call('list', ref.plural, async () => (await (namespace
      ? this.custom.listNamespacedCustomObject({ ...ref, namespace, ...selector })
      : this.custom.listClusterCustomObject({ ...ref, ...selector }))) as KubernetesListObject<T>);
  }

  get<T = KubeObject>(ref: ResourceRef, namespace: string, name: string): Promise<T> {
    return this.call('get', ref.plural, async () => (await this.custom.getNamespacedCustomObject({ ...ref, namespace, name })) as T);
  }

  /** Server-side apply: the object names every field we own; `force` takes them back from others. */
  apply<T extends KubeObject>(obj: T, force = true): Promise<T> {
    return this.call('apply', obj.kind, async () =>
      (await this.objects.patch(obj as KubernetesObject, undefined, undefined, this.fieldManager, force, PatchStrategy.ServerSideApply)) as unknown as T);
  }

  /**
   * A server-side apply with dryRun=All: the API server validates the object (schema, admission)
   * as it would on a real apply, and writes nothing.
   */
  applyDryRun<T extends KubeObject>(obj: T): Promise<T> {
    return this.call('apply-dry-run', obj.kind, async () =>
      (await this.objects.patch(obj as KubernetesObject, undefined, 'All', this.fieldManager, true, PatchStrategy.ServerSideApply)) as unknown as T);
  }

  /** Server-side apply of the status subresource; `resourceVersion` makes it fail on a stale read. */
  applyStatus(ref: ResourceRef, obj: { apiVersion: string; kind: string; metadata: { name: string; namespace: string; resourceVersion?: string }; status: unknown }): Promise<KubeObject> {
    return this.call('apply-status', ref.plural, async () => (await this.custom.patchNamespacedCustomObjectStatus(
      { ...ref, namespace: obj.metadata.namespace, name: obj.metadata.name, body: obj, fieldManager: this.fieldManager, force: true },
      setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
    )) as KubeObject);
  }

  jsonPatch(ref: ResourceRef, namespace: string, name: string, ops: JsonPatchOp[]): Promise<KubeObject> {
    return this.call('patch', ref.plural, async () => (await this.custom.patchNamespacedCustomObject(
      { ...ref, namespace, name, body: ops, fieldManager: this.fieldManager },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    )) as KubeObject);
  }

  mergePatch(ref: ResourceRef, namespace: string, name: string, patch: unknown): Promise<KubeObject> {
    return this.call('patch', ref.plural, async () => (await this.custom.patchNamespacedCustomObject(
      { ...ref, namespace, name, body: patch, fieldManager: this.fieldManager },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as KubeObject);
  }

  createEvent(namespace: string, event: EventsV1Event): Promise<EventsV1Event> {
    return this.call('create', 'events', () => this.events.createNamespacedEvent({ namespace, body: event }));
  }

  listEvents(namespace: string, fieldSelector: string): Promise<EventsV1Event[]> {
    return this.call('list', 'events', async () => (await this.events.listNamespacedEvent({ namespace, fieldSelector })).items);
  }

  /** One key of a Secret, decoded. The value is never logged or put in an error. */
  async readSecretKey(namespace: string, name: string, key: string): Promise<string> {
    const secret = await this.call('get', 'secrets', () => this.core.readNamespacedSecret({ namespace, name }));
    const data = secret.data?.[key];
    if (data === undefined) throw new Error(`Secret ${namespace}/${name} has no key "${key}"`);
    return Buffer.from(data, 'base64').toString('utf8').trim();
  }

  readLease(namespace: string, name: string): Promise<V1Lease> {
    return this.call('get', 'leases', () => this.leases.readNamespacedLease({ namespace, name }));
  }

  createLease(namespace: string, lease: V1Lease): Promise<V1Lease> {
    return this.call('create', 'leases', () => this.leases.createNamespacedLease({ namespace, body: lease }));
  }

  replaceLease(namespace: string, name: string, lease: V1Lease): Promise<V1Lease> {
    return this.call('update', 'leases', () => this.leases.replaceNamespacedLease({ namespace, name, body: lease }));
  }
}
