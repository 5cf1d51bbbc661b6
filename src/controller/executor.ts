/**
 * Performs the actions `decide` returned, in their order, and nothing it did not return: status
 * by server-side apply guarded by the resourceVersion it was decided from, routing objects by
 * server-side apply (skipped when nothing would change) and an adopted VirtualService's weights
 * by a guarded JSON patch, Events. What it knows is how to write safely, not what to write.
 */
import { isDeepStrictEqual } from 'node:util';
import pRetry, { AbortError } from 'p-retry';
import { API_VERSION, FIELD_MANAGER, GROUP, KIND, PLURAL, VERSION } from '../api/constants.ts';
import { REASONS, type PlannedEvent } from '../api/events.ts';
import type { KubeObject, ResourceRef } from '../api/object.ts';
import { withVirtualService, type ResolvedRollout } from '../api/resolve.ts';
import type { RolloutObject } from '../api/rollout-object.ts';
import type { RolloutStatus } from '../api/schema.ts';
import { sameLabels } from '../api/validate.ts';
import { applyWouldChange, otherManagers } from '../kube/apply-diff.ts';
import type { KubeClient } from '../kube/client.ts';
import { KubeApiError } from '../kube/errors.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { Logger } from '../kube/log.ts';
import type { QueueResult } from '../kube/workqueue.ts';
import { routingPath } from '../plan/transition.ts';
import type { Routing } from '../plan/types.ts';
import type { TrafficRouter } from '../router/types.ts';
import type { Action } from './decide.ts';
import type { ControllerMetrics } from './metrics.ts';

export const ROLLOUT_REF: ResourceRef = { group: GROUP, version: VERSION, plural: PLURAL };

export interface Cache<T> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
  /** Record an object we just wrote, until the watch delivers it. */
  remember(obj: T): void;
  /** Runs a write of the object `name` and remembers what it wrote (so its echo wakes no one). */
  track(name: string, namespace: string | undefined, write: () => Promise<T>): Promise<T>;
}

export interface ExecutorDeps {
  rollouts: Cache<RolloutObject>;
  virtualServices: Cache<KubeObject>;
  destinationRules: Cache<KubeObject>;
  client: KubeClient;
  recorder: EventRecorder;
  router: TrafficRouter;
  metrics: ControllerMetrics;
}

/**
 * The cached Rollout a decision was made from is not the live one (a watch was down): nothing was
 * written from it; the queue retries at once, from the fresh copy the check put in the cache.
 */
export class StaleRolloutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StaleRolloutError';
  }
}

/** The API server refused a routing write for good (a policy, a webhook, RBAC): `cause` is its answer. */
export class RoutingRefusedError extends Error {
  override readonly cause: KubeApiError;
  constructor(cause: KubeApiError) {
    super(cause.message);
    this.name = 'RoutingRefusedError';
    this.cause = cause;
  }
}

/** Retried at once by the queue: a write raced another one, or a decision was made from a stale copy. */
export function isStaleWrite(err: unknown): boolean {
  return err instanceof StaleRolloutError || (err instanceof KubeApiError && err.isStale);
}

/** What one run of actions is about: the Rollout object read (its resourceVersion guards the status), resolved when valid. */
export interface Target {
  rollout: RolloutObject;
  resolved?: ResolvedRollout;
  /** The live VirtualServices the Rollout adopts, by their index in `resolved.virtualServices`. */
  adoptedVirtualServices?: ReadonlyMap<number, KubeObject>;
  log: Logger;
}

export class Executor {
  private readonly d: ExecutorDeps;

  constructor(deps: ExecutorDeps) {
    this.d = deps;
  }

  /**
   * Performs `actions` in order; returns the requeue they ask for. A refused routing write throws
   * RoutingRefusedError (the caller decides what the status says then); anything else that fails
   * throws as the API server answered.
   */
  async run(t: Target, actions: readonly Action[]): Promise<QueueResult> {
    // Routing is written from the status in the cache: that copy must be the live one. While a
    // watch is down, the cache can hold a status older than the last one written (our own writes
    // are remembered for a few seconds only), and writing its routing would move traffic back.
    // A status write is guarded by its resourceVersion; before a routing write without one, the
    // Rollout is read afresh (rarely: only when routing differs from what the status says).
    let confirmed = false;
    const confirm = async () => {
      if (confirmed) return;
      await this.confirmCurrent(t.rollout);
      confirmed = true;
    };
    const restored: string[] = [];
    let result: QueueResult = {};
    for (const a of actions) {
      switch (a.type) {
        case 'status':
          if (await this.writeStatus(t.rollout, a.status)) confirmed = true;
          break;
        case 'routing': {
          if (!t.resolved) throw new Error('a routing action needs a resolved Rollout');
          const r = t.resolved;
          const put = await this.refusable(() => this.writeRouting(r, a.routing, t.adoptedVirtualServices ?? new Map(), confirm));
          if (a.restore) restored.push(...put);
          break;
        }
        case 'event':
          await this.record(t, a.event);
          break;
        case 'requeue':
          result = { requeueAfterMs: a.afterMs };
          break;
      }
    }
    if (restored.length > 0) {
      await this.record(t, { type: 'Warning', reason: REASONS.routingRestored, message: `put back fields owned by Fledge in ${restored.join(', ')}` });
    }
    return result;
  }

  private async record(t: Target, e: PlannedEvent): Promise<void> {
    t.log.info({ reason: e.reason, type: e.type, message: e.message }, 'event');
    await this.d.recorder.record(t.rollout, e);
  }

  private async refusable<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (err instanceof KubeApiError && err.isRefused) throw new RoutingRefusedError(err);
      throw err;
    }
  }

  /** Throws StaleRolloutError (after caching the live copy) if the cached Rollout is not the live one. */
  private async confirmCurrent(raw: RolloutObject): Promise<void> {
    const ns = raw.metadata.namespace ?? 'default';
    const live = await this.d.client.get<RolloutObject>(ROLLOUT_REF, ns, raw.metadata.name);
    if (live.metadata.resourceVersion === raw.metadata.resourceVersion) return;
    this.d.rollouts.remember(live);
    throw new StaleRolloutError(`the cached Rollout ${ns}/${raw.metadata.name} is stale (${raw.metadata.resourceVersion}, live ${live.metadata.resourceVersion}); reconciling again`);
  }

  /** Returns whether it wrote (a written status is current: its resourceVersion guarded it). */
  private async writeStatus(raw: RolloutObject, status: RolloutStatus): Promise<boolean> {
    if (isDeepStrictEqual(json(raw.status ?? {}), json(status))) {
      this.d.metrics.writesSkipped.inc({ kind: 'status' });
      return false;
    }
    const ns = raw.metadata.namespace ?? 'default';
    await this.d.rollouts.track(raw.metadata.name, ns, async () => (await this.d.client.applyStatus(ROLLOUT_REF, {
      apiVersion: API_VERSION,
      kind: KIND,
      // resourceVersion: refuse to write a decision made from a stale cache; the retry re-reads.
      metadata: { name: raw.metadata.name, namespace: ns, ...(raw.metadata.resourceVersion ? { resourceVersion: raw.metadata.resourceVersion } : {}) },
      status,
    })) as RolloutObject).catch(async (err: unknown) => {
      // The retry must not depend on the watch bringing the newer copy: it may be down.
      if (err instanceof KubeApiError && err.isConflict) {
        await this.d.client.get<RolloutObject>(ROLLOUT_REF, ns, raw.metadata.name).then((live) => this.d.rollouts.remember(live), () => undefined);
      }
      throw err;
    });
    return true;
  }

  /**
   * Applies what differs; returns the objects it wrote (read as drift put back when `routing` is
   * the one the status says is live). When both the DestinationRule's labels and the
   * VirtualService's weights must change, they are written one at a time in the order
   * `routingPath` picks, so that the mix live between the two writes (or after a crash between
   * them) never sends a set of pods more than before or after.
   *
   * Several VirtualServices (`virtualServices`) take each step of that path, every one in list
   * order, before any takes the next: each carries its own traffic (an ingress gateway's, the
   * mesh's) and only ever moves between the routing before and after a step, so the order among
   * them moves no request to a set of pods it was not sent to before or after, and each step's
   * safety holds for each. The live routing is read from the first; the others are set to the
   * same routing (weights someone changed in one are put back, like drift in the first); before
   * a label change, the others are first brought to the first's weights (a step half-written).
   */
  private async writeRouting(r: ResolvedRollout, routing: Routing, adopted: ReadonlyMap<number, KubeObject>, beforeWrite: () => Promise<void>): Promise<string[]> {
    const adoptedVs = adopted.get(0);
    const restored = new Set<string>();
    let live = this.liveRouting(r, adoptedVs);
    if (live && !(sameLabels(live.stableLabels, routing.stableLabels) && sameLabels(live.canaryLabels, routing.canaryLabels))) {
      // Labels change (once per release): the order of the writes depends on what is live, so
      // read it from the API server, not from caches a down watch may have left behind.
      await this.refreshRoutingObjects(r, adoptedVs);
      live = this.liveRouting(r, adoptedVs);
      // The path is planned from the first VirtualService's weights, but a crash (or a refused
      // patch) part-way through a step can leave the later ones a step behind: relabelling the
      // DestinationRule then would send their old canary share to the new, unjudged canary. So
      // each later one first finishes the step the first one already took.
      if (live) {
        for (const [i, cached] of [...adopted].sort(([a], [b]) => a - b)) {
          if (i === 0) continue;
          const vs = this.d.virtualServices.get(cached.metadata.name, r.namespace) ?? cached;
          const drift = await this.patchAdopted(withVirtualService(r, i), vs, live, beforeWrite);
          if (drift?.by) restored.add(`the weights of VirtualService ${vs.metadata.name} (changed by ${drift.by})`);
        }
      }
    }
    for (const step of routingPath(live, routing)) {
      for (const desired of this.d.router.desiredObjects(r, step)) {
        const cache = this.cacheOf(desired.kind);
        const live = cache.get(desired.metadata.name, r.namespace);
        if (!applyWouldChange(live, desired, FIELD_MANAGER)) {
          this.d.metrics.writesSkipped.inc({ kind: desired.kind });
          continue;
        }
        await beforeWrite();
        const written = await cache.track(desired.metadata.name, r.namespace, () => this.d.client.apply(desired));
        // An apply that changed nothing (the same resourceVersion) put nothing back: what looked
        // like drift was not (say, a field another manager owns, in an object whose managedFields
        // do not show Fledge's own fields), and crying RoutingRestored would be a false alarm.
        if (live && written.metadata.resourceVersion !== live.metadata.resourceVersion) {
          const who = otherManagers(live, FIELD_MANAGER)[0];
          restored.add(`${desired.kind} ${desired.metadata.name}${who ? ` (changed by ${who})` : ''}`);
        }
      }
      for (const [i, cached] of [...adopted].sort(([a], [b]) => a - b)) {
        // Read it again: the write just before may have changed it (the cache remembers our writes).
        const vs = this.d.virtualServices.get(cached.metadata.name, r.namespace) ?? cached;
        const drift = await this.patchAdopted(withVirtualService(r, i), vs, step, beforeWrite);
        if (drift) restored.add(`the weights of VirtualService ${vs.metadata.name}${drift.by ? ` (changed by ${drift.by})` : ''}`);
      }
    }
    return [...restored];
  }

  private cacheOf(kind: string): Cache<KubeObject> {
    return kind === 'VirtualService' ? this.d.virtualServices : this.d.destinationRules;
  }

  /** The routing the mesh runs now, by the router's reading of the cached objects. */
  private liveRouting(r: ResolvedRollout, adoptedVs: KubeObject | undefined): Routing | undefined {
    const virtualService = r.virtualService.mode === 'adopted'
      ? (adoptedVs && (this.d.virtualServices.get(adoptedVs.metadata.name, r.namespace) ?? adoptedVs))
      : this.d.virtualServices.get(r.virtualService.name, r.namespace);
    const destinationRule = this.d.destinationRules.get(r.destinationRule.name, r.namespace);
    return this.d.router.liveRouting(r, { ...(virtualService ? { virtualService } : {}), ...(destinationRule ? { destinationRule } : {}) });
  }

  private async refreshRoutingObjects(r: ResolvedRollout, adoptedVs: KubeObject | undefined): Promise<void> {
    const read = async (ref: ResourceRef, name: string, cache: Cache<KubeObject>) => {
      try {
        cache.remember(await this.d.client.get<KubeObject>(ref, r.namespace, name));
      } catch (err) {
        if (!(err instanceof KubeApiError && err.isNotFound)) throw err;
      }
    };
    const { resources } = this.d.router;
    await Promise.all([
      read(resources.virtualService, adoptedVs?.metadata.name ?? r.virtualService.name, this.d.virtualServices),
      read(resources.destinationRule, r.destinationRule.name, this.d.destinationRules),
    ]);
  }

  /**
   * Sets the weights of an adopted VirtualService by a guarded JSON patch. A `test` that fails
   * means someone changed it since our cache saw it: read it afresh and try again (a few times).
   * Returns who had changed the weights when a write was needed.
   */
  private async patchAdopted(r: ResolvedRollout, cached: KubeObject, routing: Routing, beforeWrite: () => Promise<void>): Promise<{ by?: string } | undefined> {
    const ref = this.d.router.resources.virtualService;
    let live = cached;
    let wrote: { by?: string } | undefined;
    await pRetry(async () => {
      const ops = this.d.router.adoptedWeightPatch(r, live, routing);
      if (ops.length === 0) return;
      // A stale cache is not for this retry loop: the reconcile starts again from a fresh copy.
      await beforeWrite().catch((err: Error) => { throw new AbortError(err); });
      wrote ??= { ...(otherManagers(live, FIELD_MANAGER)[0] ? { by: otherManagers(live, FIELD_MANAGER)[0] } : {}) };
      try {
        await this.d.virtualServices.track(r.virtualService.name, r.namespace, () => this.d.client.jsonPatch(ref, r.namespace, r.virtualService.name, ops));
      } catch (err) {
        if (!(err instanceof KubeApiError && err.isStale)) throw new AbortError(err as Error);
        live = await this.d.client.get<KubeObject>(ref, r.namespace, r.virtualService.name);
        const problems = this.d.router.checkAdopted(r, { virtualService: live });
        if (problems.length > 0) throw new AbortError(`VirtualService ${r.virtualService.name} changed: ${problems.map((p) => p.message).join('; ')}`);
        throw err;
      }
    }, { retries: 3, minTimeout: 50, maxTimeout: 500 });
    if (!wrote) this.d.metrics.writesSkipped.inc({ kind: 'VirtualService' });
    return wrote;
  }
}

function json(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v));
}
