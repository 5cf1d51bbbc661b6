import {
  CoordinationV1Api, CustomObjectsApi, EventsV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, setHeaderOptions,
  type KubernetesListObject, type KubernetesObject, type V1Lease, type EventsV1Event,
} from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JsonPatchOp, KubeObject, ResourceRef } from '../api/object.ts';
import { shareConnections } from './connections.ts';
import { toKubeError } from './errors.ts';
import { TokenBucket } from './rate-limit.ts';
import { DEFAULT_RETRY_AFTER, throttleDelayMs, type RetryAfterPolicy } from './retry-after.ts';

export interface ClientOptions {
  fieldManager: string;
  qps?: number;
  burst?: number;
  /**
   * How many times a request the server throttled (429, or 503 with Retry-After) is sent again
   * before its error is thrown. Default 5; 0 turns it off.
   */
  throttleRetries?: number;
  /** Bounds on the wait before each of those retries; see `DEFAULT_RETRY_AFTER`. */
  retryAfter?: Partial<RetryAfterPolicy>;
}

/**
 * Five retries: APF sheds in bursts and says "Retry-After: 1", so five ride out a burst of ~5 s
 * (up to ~50 s if the server asks for the 10 s cap each time). Longer overload is not a blip: the
 * error then goes to the per-key back-off of the workqueue, which frees the worker and spreads
 * the keys out. client-go allows 10, but its callers bound them with a context deadline; ours have none.
 */
export const DEFAULT_THROTTLE_RETRIES = 5;

export type { ResourceRef } from '../api/object.ts';


/** Counts requests by verb so benchmarks and /metrics can show exactly what the controller costs. */
export type RequestCounter = (verb: string, resource: string) => void;

/** Told each time a throttled request is about to be retried, with the wait before it. */
export type ThrottleObserver = (verb: string, resource: string, status: number, waitMs: number) => void;

export { loadKubeConfig } from './kubeconfig.ts';

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
  private readonly bucket: TokenBucket;
  private readonly fieldManager: string;
  private readonly throttleRetries: number;
  private readonly retryAfter: RetryAfterPolicy;
  /** Every request sent, retries of throttled ones included (each is a request the server saw). */
  onRequest: RequestCounter = () => {};
  /** Every retry of a throttled request (429, or 503 with Retry-After), before its wait. */
  onThrottled: ThrottleObserver = () => {};

  constructor(kc: KubeConfig, opts: ClientOptions) {
    // One connection pool for every request (and the informers' watches made with the same kc).
    this.kc = shareConnections(kc);
    this.objects = KubernetesObjectApi.makeApiClient(kc);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.events = kc.makeApiClient(EventsV1Api);
    this.leases = kc.makeApiClient(CoordinationV1Api);
    this.bucket = new TokenBucket(opts.qps ?? 50, opts.burst ?? 100);
    this.fieldManager = opts.fieldManager;
    this.throttleRetries = Math.max(0, opts.throttleRetries ?? DEFAULT_THROTTLE_RETRIES);
    this.retryAfter = { ...DEFAULT_RETRY_AFTER, ...opts.retryAfter };
  }

  /**
   * Sends a request; when the server throttled it (429, or 503 with Retry-After), waits what it
   * asked (clamped, see `throttleDelayMs`) and sends the same request again, up to
   * `throttleRetries` times, each retry taking a token and counted like any request. Safe for
   * every verb here: a throttled request was rejected before the server handled it (and our
   * non-idempotent writes are guarded anyway: Events have a unique name, JSON patches a `test`).
   * Nothing else is retried here. `retries: 0` opts a call out (the leader election's).
   */
  private async call<T>(verb: string, resource: string, fn: () => Promise<T>, retries = this.throttleRetries): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      await this.bucket.take();
      this.onRequest(verb, resource);
      try {
        return await fn();
      } catch (err) {
        const e = err as { code?: unknown; headers?: unknown };
        const wait = attempt < retries && typeof e?.code === 'number' ? throttleDelayMs(e.code, e.headers, Date.now(), this.retryAfter) : undefined;
        if (wait === undefined) throw toKubeError(err, verb);
        this.onThrottled(verb, resource, e.code as number, wait);
        await sleep(wait);
      }
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

  // The lease calls are never retried on throttling: the elector tries again every retry period
  // and steps down when renewals have failed for its renew deadline. A retry sleeping inside a
  // renewal would hide that deadline, and a leader could go on acting past its lease's expiry.

  readLease(namespace: string, name: string): Promise<V1Lease> {
    return this.call('get', 'leases', () => this.leases.readNamespacedLease({ namespace, name }), 0);
  }

  createLease(namespace: string, lease: V1Lease): Promise<V1Lease> {
    return this.call('create', 'leases', () => this.leases.createNamespacedLease({ namespace, body: lease }), 0);
  }

  replaceLease(namespace: string, name: string, lease: V1Lease): Promise<V1Lease> {
    return this.call('update', 'leases', () => this.leases.replaceNamespacedLease({ namespace, name, body: lease }), 0);
  }
}
