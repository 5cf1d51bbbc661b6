/**
 * One reconcile: read the Rollout and its Istio objects from the informer caches, call the pure
 * planner, write what it returns. Status is written before the routing objects, so a crash
 * between the two leaves a status that the next reconcile re-applies, never a weight the status
 * does not remember (which could later step backwards).
 */
import { isDeepStrictEqual } from 'node:util';
import pRetry, { AbortError } from 'p-retry';
import { API_VERSION, FIELD_MANAGER, GROUP, ISTIO_GROUP, ISTIO_VERSION, KIND, PLURAL, VERSION } from '../api/constants.ts';
import { REASONS, type PlannedEvent } from '../api/events.ts';
import type { KubeObject } from '../api/object.ts';
import type { PrometheusPolicy } from '../api/prometheus-policy.ts';
import { readRequests } from '../api/requests.ts';
import type { ResolvedRollout } from '../api/resolve.ts';
import type { AnalysisResult, RolloutStatus } from '../api/schema.ts';
import { sameLabels, type Problem } from '../api/validate.ts';
import { checkRollout } from '../check/rollout.ts';
import { applyWouldChange, otherManagers } from '../kube/apply-diff.ts';
import type { KubeClient } from '../kube/client.ts';
import { KubeApiError } from '../kube/errors.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { Logger } from '../kube/log.ts';
import type { QueueResult } from '../kube/workqueue.ts';
import { planInvalid, planRoutingRefused, planWaiting } from '../plan/invalid.ts';
import { analysisCheck, plan, routingOf } from '../plan/plan.ts';
import { routingPath } from '../plan/transition.ts';
import { stepExtras } from '../plan/step-routing.ts';
import type { Routing } from '../plan/types.ts';
import type { AdoptedObjects, TrafficRouter } from '../router/types.ts';
import type { Analyzer } from './analyzer.ts';
import { planWarnings } from '../plan/warnings.ts';
import { isDestination } from '../router/istio/adopt.ts';
import { canonicalHost } from '../router/istio/hosts.ts';
import { adoptedCoverageWarnings } from '../router/istio/offline.ts';
import { MATCH_ROUTE } from '../router/istio/step-routes.ts';
import { claimedVirtualService, hostOverlaps, ownershipProblems, routingVirtualService } from './conflicts.ts';
import type { ControllerMetrics } from './metrics.ts';

export const ROLLOUT_REF = { group: GROUP, version: VERSION, plural: PLURAL };
const ISTIO_VS_REF = { group: ISTIO_GROUP, version: ISTIO_VERSION, plural: 'virtualservices' };
const ISTIO_DR_REF = { group: ISTIO_GROUP, version: ISTIO_VERSION, plural: 'destinationrules' };

export interface Cache<T> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
  /** Record an object we just wrote, until the watch delivers it. */
  remember(obj: T): void;
  /** Runs a write of the object `name` and remembers what it wrote (so its echo wakes no one). */
  track(name: string, namespace: string | undefined, write: () => Promise<T>): Promise<T>;
}

export type RolloutObject = KubeObject & { status?: RolloutStatus; metadata: KubeObject['metadata'] & { creationTimestamp?: string | Date } };

export interface ReconcilerDeps {
  rollouts: Cache<RolloutObject>;
  virtualServices: Cache<KubeObject>;
  destinationRules: Cache<KubeObject>;
  /** The Rollouts of a namespace that claim a VirtualService (an index). */
  claimants: (namespace: string, virtualService: string) => readonly RolloutObject[];
  /** The VirtualServices of any namespace that name one of these canonical hosts (an index; see HostIndex). */
  virtualServicesNaming: (canonicalHosts: readonly string[]) => readonly KubeObject[];
  client: KubeClient;
  recorder: EventRecorder;
  router: TrafficRouter;
  analyzer?: Analyzer;
  /** Which Prometheus a Rollout may name: the platform's provider configuration. */
  prometheus: PrometheusPolicy;
  metrics: ControllerMetrics;
  log: Logger;
  now?: () => Date;
}

export class Reconciler {
  private readonly d: ReconcilerDeps;
  /** Rollouts whose generated objects the API server's dry run has judged, by uid/generation. */
  private readonly vetted = new Map<string, { stamp: string; problems: Problem[] }>();

  constructor(deps: ReconcilerDeps) {
    this.d = deps;
  }

  async reconcile(key: string): Promise<QueueResult> {
    const [namespace, name] = splitKey(key);
    const raw = this.d.rollouts.get(name, namespace);
    if (!raw) {
      // Deleted: generated objects go with it through their ownerReferences.
      this.d.metrics.forgetRollout(namespace, name);
      this.vetted.delete(key);
      return {};
    }
    if (raw.metadata.deletionTimestamp) return {};
    const now = this.d.now?.() ?? new Date();
    const generation = raw.metadata.generation ?? 0;

    // The same offline check as `fledge validate` and `fledge render`, with the platform's providers.
    const checked = checkRollout(raw, namespace, { prometheus: this.d.prometheus });
    if (!checked.ok) return this.invalid(raw, checked.problems, generation, now);
    const r: ResolvedRollout = checked.resolved;

    const liveVs = this.d.virtualServices.get(r.virtualService.name, namespace);
    const liveDr = this.d.destinationRules.get(r.destinationRule.name, namespace);
    const adopted: AdoptedObjects = {};
    for (const [kind, mode, live] of [['VirtualService', r.virtualService.mode, liveVs], ['DestinationRule', r.destinationRule.mode, liveDr]] as const) {
      if (mode !== 'adopted') continue;
      const objectName = kind === 'VirtualService' ? r.virtualService.name : r.destinationRule.name;
      if (!live) return this.held(raw, planWaiting(kind, objectName, raw.status, generation, now));
      adopted[kind === 'VirtualService' ? 'virtualService' : 'destinationRule'] = live;
    }
    const own = routingVirtualService(r, liveVs);
    const overlaps = own ? hostOverlaps(r, own, this.d.virtualServicesNaming(own.hosts.map((h) => canonicalHost(h, namespace)))) : { problems: [], warnings: [] };
    const problems = [
      ...ownershipProblems(raw as never, r, this.d.claimants(namespace, claimedVirtualService(raw as never)) as never, liveVs, liveDr),
      ...this.d.router.checkAdopted(r, adopted),
      ...overlaps.problems,
    ];
    if (problems.length === 0) problems.push(...await this.istioSchemaProblems(r));
    if (problems.length > 0) return this.invalid(raw, problems, generation, now);
    const warnings = [...checked.warnings, ...(adopted.virtualService ? adoptedCoverageWarnings(r, adopted.virtualService) : []), ...overlaps.warnings];

    const previous = raw.status;
    // Routing is written from the status in the cache: that copy must be the live one. While a
    // watch is down, the cache can hold a status older than the last one written (our own writes
    // are remembered for a few seconds only), and writing its routing would move traffic back.
    // A status write is guarded by its resourceVersion; before a routing write without one, the
    // Rollout is read afresh (rarely: only when routing differs from what the status says).
    let confirmed = false;
    const confirm = async () => {
      if (confirmed) return;
      await this.confirmCurrent(raw);
      confirmed = true;
    };
    // What the status says is live must be live before anything new is decided: a routing write
    // that failed (no permission, an admission webhook) must stop the rollout, not let the status
    // walk on to promotion without traffic ever moving.
    const madeLive = previous?.release && previous.stableLabels ? routingOf(previous, r) : undefined;
    const restored = madeLive ? await this.refusable(raw, previous, now, () => this.writeRouting(r, madeLive, adopted.virtualService, confirm)) : [];
    let analysis: AnalysisResult | undefined;
    const requests = readRequests(raw.metadata.annotations);
    const check = this.d.analyzer ? analysisCheck(r, previous, now, requests.paused) : undefined;
    if (this.d.analyzer && check) {
      analysis = await this.d.analyzer.analyze(r, check, now);
      this.d.metrics.analyses.inc({ verdict: analysis.verdict });
      this.d.log.debug({ rollout: key, step: analysis.stepIndex, final: analysis.final, verdict: analysis.verdict, reason: analysis.reason, canary: analysis.canary, stable: analysis.stable, pWorse: analysis.probabilityWorse, bayesFactor: analysis.bayesFactor, windowSeconds: analysis.windowSeconds, releaseSeconds: analysis.releaseSeconds }, 'analysis');
    }
    const planned = plan({ rollout: r, status: previous, requests, ...(analysis ? { analysis } : {}), now });
    const warned = planWarnings(planned.status, previous, warnings, generation, now);
    const result = { ...planned, status: warned.status, events: [...planned.events, ...warned.events] };

    if (await this.writeStatus(raw, result.status)) confirmed = true;
    // Most plans keep the routing the status had (every reconcile at rest). The call above has
    // just made exactly that live: it returns only once every write it needed succeeded (a
    // failure throws), the caches remember those writes, and `desiredObjects` depends on the
    // Rollout and the routing alone, so a second call would walk the same path and write nothing.
    // An edit by someone else in between comes as a watch event, which queues this Rollout again
    // (an add while a key is processed re-queues it), as an edit a moment later would. When the
    // routing moves, `routingPath` orders the writes from what is live to the plan's routing.
    if (!madeLive || !isDeepStrictEqual(json(madeLive), json(result.routing))) {
      await this.refusable(raw, previous, now, () => this.writeRouting(r, result.routing, adopted.virtualService, confirm));
    }
    const events: PlannedEvent[] = [...result.events];
    if (restored.length > 0) {
      events.push({ type: 'Warning', reason: REASONS.routingRestored, message: `put back fields owned by Fledge in ${restored.join(', ')}` });
    }
    for (const e of events) {
      this.d.log.info({ rollout: key, reason: e.reason, type: e.type, message: e.message }, 'event');
      await this.d.recorder.record(raw, e);
    }
    this.d.metrics.setRollout(namespace, name, result.status.phase ?? 'Pending', result.status.canaryWeight ?? 0);
    return result.requeueAfterMs !== undefined ? { requeueAfterMs: result.requeueAfterMs } : {};
  }

  /**
   * The offline check judges the passthrough fields by the Istio CRD schema Fledge vendors; the
   * cluster's may be another version, and admission webhooks (istiod's validation, policies) may
   * refuse more. So every generated object is applied with dryRun=All first, once per generation,
   * and a refusal makes the Rollout Invalid (naming the field) before anything is written, instead
   * of a status that claims a weight whose VirtualService the API server refused.
   */
  private async istioSchemaProblems(r: ResolvedRollout): Promise<Problem[]> {
    if (r.virtualService.mode !== 'generated' && r.destinationRule.mode !== 'generated') return [];
    const key = `${r.namespace}/${r.name}`;
    const stamp = `${r.uid ?? ''}/${r.generation}`;
    const memo = this.vetted.get(key);
    if (memo?.stamp === stamp) return memo.problems;
    const problems: Problem[] = [];
    let settled = true;
    for (const { obj, step } of dryRunObjects(this.d.router, r)) {
      try {
        await this.d.client.applyDryRun(obj);
      } catch (err) {
        if (!(err instanceof KubeApiError)) throw err;
        // 422: the schema refused a value. Server-side apply answers a value of the wrong type or
        // a field the schema does not declare with a 500 "failed to create typed patch object".
        // istiod's validating webhook judges the content too. Any other admission policy or
        // webhook, or RBAC, may be lifted without a change to the Rollout: not the Rollout's
        // fault, not remembered; the write itself then ends as RoutingRefused, retried with back-off.
        const denied = /\bdenied\b/i.test(err.message);
        const istio = denied && /validation\.istio\.io/.test(err.message);
        const schema = !denied && (err.status === 422 || err.status === 400 || (err.status === 500 && err.message.includes('failed to create typed patch object')));
        if ((denied && !istio) || err.status === 403) {
          settled = false;
          continue;
        }
        if (!schema && !istio) throw err;
        problems.push({ path: step !== undefined ? `spec.strategy.steps[${step}]` : dryRunPath(r, obj.kind, err.message), message: `${istio ? 'Istio\'s validation' : 'Istio\'s schema'} refuses the ${obj.kind} it would make: ${err.message.slice(0, 400)}` });
      }
    }
    if (settled) this.vetted.set(key, { stamp, problems });
    return problems;
  }

  /**
   * Runs a routing write; if the API server refuses it for good (an admission policy or webhook,
   * RBAC), puts the status back to `live` (whose routing is the live one: the status must not
   * claim a weight that was never written) with Ready False saying why, then rethrows, so the
   * queue retries with back-off until the refusal is lifted.
   */
  private async refusable<T>(raw: RolloutObject, live: RolloutStatus | undefined, now: Date, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (!(err instanceof KubeApiError && err.isRefused)) throw err;
      const ns = raw.metadata.namespace ?? 'default';
      // The cache holds the status written just before, if any, with the resourceVersion to guard on.
      const current = this.d.rollouts.get(raw.metadata.name, ns) ?? raw;
      const { status, events } = planRoutingRefused(live, `the API server refused a routing write: ${err.message.slice(0, 500)}`, now);
      await this.writeStatus(current, status);
      for (const e of events) await this.d.recorder.record(current, e);
      throw err;
    }
  }

  private async invalid(raw: RolloutObject, problems: Problem[], generation: number, now: Date): Promise<QueueResult> {
    const ns = raw.metadata.namespace ?? 'default';
    this.d.log.warn({ rollout: `${ns}/${raw.metadata.name}`, problems: problems.map((p) => `${p.path}: ${p.message}`) }, 'invalid rollout');
    return this.held(raw, planInvalid(problems, raw.status, generation, now));
  }

  /** Status only: an Invalid or Pending rollout writes nothing else. */
  private async held(raw: RolloutObject, { status, events }: { status: RolloutStatus; events: PlannedEvent[] }): Promise<QueueResult> {
    await this.writeStatus(raw, status);
    for (const e of events) await this.d.recorder.record(raw, e);
    this.d.metrics.setRollout(raw.metadata.namespace ?? 'default', raw.metadata.name, status.phase ?? 'Pending', raw.status?.canaryWeight ?? 0);
    return {};
  }

  /** Fails with a stale-write error (retried at once, from the fresh copy) if the cached Rollout is not the live one. */
  private async confirmCurrent(raw: RolloutObject): Promise<void> {
    const ns = raw.metadata.namespace ?? 'default';
    const live = await this.d.client.get<RolloutObject>(ROLLOUT_REF, ns, raw.metadata.name);
    if (live.metadata.resourceVersion === raw.metadata.resourceVersion) return;
    this.d.rollouts.remember(live);
    throw new KubeApiError(409, 'Conflict', `the cached Rollout ${ns}/${raw.metadata.name} is stale (${raw.metadata.resourceVersion}, live ${live.metadata.resourceVersion}); reconciling again`, 'get');
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
   * Applies what differs; returns the objects it wrote (read as drift from a hand edit put back
   * when `routing` is the one the status says is live: the caller ignores it otherwise). When both
   * the DestinationRule's labels and the VirtualService's weights must change, they are written
   * one at a time in the order `routingPath` picks, so that the mix live between the two writes
   * (or after a crash between them) never sends a set of pods more than before or after.
   */
  private async writeRouting(r: ResolvedRollout, routing: Routing, adoptedVs: KubeObject | undefined, beforeWrite: () => Promise<void>): Promise<string[]> {
    const restored = new Set<string>();
    let live = this.liveRouting(r, adoptedVs);
    if (live && !(sameLabels(live.stableLabels, routing.stableLabels) && sameLabels(live.canaryLabels, routing.canaryLabels))) {
      // Labels change (once per release): the order of the writes depends on what is live, so
      // read it from the API server, not from caches a down watch may have left behind.
      await this.refreshRoutingObjects(r, adoptedVs);
      live = this.liveRouting(r, adoptedVs);
    }
    for (const step of routingPath(live, routing)) {
      for (const desired of this.d.router.desiredObjects(r, step)) {
        const cache = desired.kind === 'VirtualService' ? this.d.virtualServices : this.d.destinationRules;
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
      // Read it again: the write just before may have changed it (the cache remembers our writes).
      const vs = adoptedVs && (this.d.virtualServices.get(adoptedVs.metadata.name, r.namespace) ?? adoptedVs);
      if (vs) {
        const drift = await this.patchAdopted(r, vs, step, beforeWrite);
        if (drift) restored.add(`the weights of VirtualService ${vs.metadata.name}${drift.by ? ` (changed by ${drift.by})` : ''}`);
      }
    }
    return [...restored];
  }

  private async refreshRoutingObjects(r: ResolvedRollout, adoptedVs: KubeObject | undefined): Promise<void> {
    const read = async (ref: typeof ISTIO_VS_REF, name: string, cache: Cache<KubeObject>) => {
      try {
        cache.remember(await this.d.client.get<KubeObject>(ref, r.namespace, name));
      } catch (err) {
        if (!(err instanceof KubeApiError && err.isNotFound)) throw err;
      }
    };
    await Promise.all([
      read(ISTIO_VS_REF, adoptedVs?.metadata.name ?? r.virtualService.name, this.d.virtualServices),
      read(ISTIO_DR_REF, r.destinationRule.name, this.d.destinationRules),
    ]);
  }

  /**
   * What the mesh runs now, read from the live objects: the generated DestinationRule's subset
   * labels (an adopted one is never written, so its labels count as already right) and the
   * canary weight of the first route sending to the canary subset. Undefined when either object
   * is missing or unreadable: then there is no traffic of ours to protect.
   */
  private liveRouting(r: ResolvedRollout, adoptedVs: KubeObject | undefined): Routing | undefined {
    const vs = r.virtualService.mode === 'adopted'
      ? (adoptedVs && (this.d.virtualServices.get(adoptedVs.metadata.name, r.namespace) ?? adoptedVs))
      : this.d.virtualServices.get(r.virtualService.name, r.namespace);
    if (!vs || r.destinationRule.mode !== 'generated') return undefined;
    const dr = this.d.destinationRules.get(r.destinationRule.name, r.namespace);
    const subsets = Array.isArray(dr?.spec?.subsets) ? (dr.spec.subsets as { name?: string; labels?: Record<string, string> }[]) : [];
    const stableLabels = subsets.find((s) => s.name === r.stable.subset)?.labels;
    const canaryLabels = subsets.find((s) => s.name === r.canary.subset)?.labels;
    // A match step's route sends its requests to the canary whatever the weight: not the split.
    const routes = (Array.isArray(vs.spec?.http) ? (vs.spec.http as { name?: string; route?: { destination?: { host?: string; subset?: string }; weight?: number }[] }[]) : []).filter((h) => h.name !== MATCH_ROUTE);
    const ns = vs.metadata.namespace ?? r.namespace;
    const canaryWeight = routes.map((h) => h.route?.find((d) => isDestination(r, ns, d, r.canary.subset))?.weight).find((w) => w !== undefined);
    if (!stableLabels || !canaryLabels || typeof canaryWeight !== 'number' || !Number.isInteger(canaryWeight) || canaryWeight < 0 || canaryWeight > 100) return undefined;
    return { stableLabels, canaryLabels, canaryWeight };
  }

  /**
   * Sets the weights of an adopted VirtualService by a guarded JSON patch. A `test` that fails
   * means someone changed it since our cache saw it: read it afresh and try again (a few times).
   * Returns who had changed the weights when a write was needed.
   */
  private async patchAdopted(r: ResolvedRollout, cached: KubeObject, routing: Routing, beforeWrite: () => Promise<void>): Promise<{ by?: string } | undefined> {
    let live = cached;
    let wrote: { by?: string } | undefined;
    await pRetry(async () => {
      const ops = this.d.router.adoptedWeightPatch(r, live, routing);
      if (ops.length === 0) return;
      // A stale cache is not for this retry loop: the reconcile starts again from a fresh copy.
      await beforeWrite().catch((err: Error) => { throw new AbortError(err); });
      wrote ??= { ...(otherManagers(live, FIELD_MANAGER)[0] ? { by: otherManagers(live, FIELD_MANAGER)[0] } : {}) };
      try {
        await this.d.virtualServices.track(r.virtualService.name, r.namespace, () => this.d.client.jsonPatch(ISTIO_VS_REF, r.namespace, r.virtualService.name, ops));
      } catch (err) {
        if (!(err instanceof KubeApiError && err.isStale)) throw new AbortError(err as Error);
        live = await this.d.client.get<KubeObject>(ISTIO_VS_REF, r.namespace, r.virtualService.name);
        const problems = this.d.router.checkAdopted(r, { virtualService: live });
        if (problems.length > 0) throw new AbortError(`VirtualService ${r.virtualService.name} changed: ${problems.map((p) => p.message).join('; ')}`);
        throw err;
      }
    }, { retries: 3, minTimeout: 50, maxTimeout: 500 });
    if (!wrote) this.d.metrics.writesSkipped.inc({ kind: 'VirtualService' });
    return wrote;
  }
}

/**
 * The objects to dry-run: the routing of a plain weight step, and one VirtualService for each
 * match or mirror step whose routes differ (tagged with its index), so that every shape Fledge
 * may write has been judged by the API server before the first write.
 */
function dryRunObjects(router: TrafficRouter, r: ResolvedRollout): { obj: KubeObject; step?: number }[] {
  const base: Routing = { stableLabels: r.stable.labels, canaryLabels: r.canary.labels, canaryWeight: 0 };
  const out: { obj: KubeObject; step?: number }[] = router.desiredObjects(r, base).map((obj) => ({ obj }));
  const seen = new Set<string>();
  r.steps.forEach((s, i) => {
    if (!s.match && s.mirror === undefined) return;
    const extras = stepExtras(r.steps, i);
    const key = JSON.stringify(extras);
    if (seen.has(key)) return;
    seen.add(key);
    for (const obj of router.desiredObjects(r, { ...base, ...extras })) if (obj.kind === 'VirtualService') out.push({ obj, step: i });
  });
  return out;
}

/** The Rollout field behind the part of a generated object the API server's dry run refused. */
function dryRunPath(r: ResolvedRollout, kind: string, message: string): string {
  if (kind === 'DestinationRule') return r.destinationRule.mode === 'generated' && r.destinationRule.trafficPolicy && /trafficPolicy/.test(message) ? 'spec.trafficRouting.destinationRule.trafficPolicy' : 'spec.trafficRouting.destinationRule';
  const vs = r.virtualService;
  if (vs.mode !== 'generated') return 'spec.trafficRouting.virtualService';
  if (/spec\.http\[[0-9]+\]\.match/.test(message) && vs.match) return 'spec.trafficRouting.virtualService.match';
  if (/spec\.hosts/.test(message)) return 'spec.trafficRouting.virtualService.hosts';
  if (/spec\.gateways/.test(message)) return 'spec.trafficRouting.virtualService.gateways';
  return vs.http ? 'spec.trafficRouting.virtualService.http' : 'spec.trafficRouting.virtualService';
}

export function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

function json(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v));
}

export function isStaleWrite(err: unknown): boolean {
  return err instanceof KubeApiError && err.isStale;
}
