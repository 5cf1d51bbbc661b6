/**
 * The reconcile's whole decision, as pure functions: from one snapshot of the world (the Rollout,
 * the live routing objects, the other Rollouts and VirtualServices that bear on it, the API
 * server's verdict on the objects it would write, the judgement if one was due) to the status and
 * the ordered writes that carry it out. The reconciler reads the snapshot, the executor performs
 * the actions; nothing here does I/O, so every path is tested table-driven with its action list
 * (test/unit/decide.test.ts).
 *
 * Order matters, and is the contract with the executor: the routing the previous status says is
 * live is made live first (a routing write that failed must stop the rollout, not let the status
 * walk on to promotion without traffic ever moving); then the status; then the new routing (a
 * crash between the two leaves a status that the next reconcile re-applies, never a weight the
 * status does not remember); then the Events.
 */
import { isDeepStrictEqual } from 'node:util';
import type { PlannedEvent } from '../api/events.ts';
import type { KubeObject } from '../api/object.ts';
import type { OperatorRequests } from '../api/requests.ts';
import { atVirtualService, withVirtualService, type ResolvedRollout } from '../api/resolve.ts';
import type { AnalysisResult, RolloutStatus } from '../api/schema.ts';
import type { Problem } from '../api/validate.ts';
import type { CheckResult } from '../check/rollout.ts';
import { planInvalid, planRoutingRefused, planWaiting } from '../plan/invalid.ts';
import { analysisCheck, plan, routingOf } from '../plan/plan.ts';
import type { Routing } from '../plan/types.ts';
import { planWarnings } from '../plan/warnings.ts';
import type { AnalysisCheck } from '../api/check.ts';
import type { RoutingObjects, TrafficRouter } from '../router/types.ts';
import type { RolloutObject } from '../api/rollout-object.ts';

/** Everything one reconcile of one Rollout decides from, read once. */
export interface Snapshot {
  rollout: RolloutObject;
  /** The offline check of `rollout` (the same as `fledge validate`'s), with the platform's providers. */
  checked: CheckResult;
  /** The live objects the Rollout names (generated or adopted), from the caches; the VirtualService is its first. */
  live: RoutingObjects;
  /**
   * Each of the Rollout's VirtualServices (`virtualServices`, in order) as live, when it lists
   * several; absent: just `live.virtualService`.
   */
  liveVirtualServices?: readonly (KubeObject | undefined)[];
  /** The other Rollouts of the namespace that claim one of the same VirtualServices. */
  claimants: readonly RolloutObject[];
  /** The VirtualServices of any namespace that name a host of one of the Rollout's VirtualServices. */
  overlapping: readonly KubeObject[];
  /** What the API server's dry run refused in the generated objects (read only when `admission` says `dryRun`). */
  refusals: readonly Problem[];
  requests: OperatorRequests;
  /** The judgement of the current step, when `judgementDue` said one is due. */
  analysis?: AnalysisResult;
}

/** One write, in the order the executor must perform them. */
export type Action =
  /** Server-side apply of the Rollout's status (skipped when it is what the server has). */
  | { type: 'status'; status: RolloutStatus }
  /**
   * Make `routing` live: the router's objects applied, an adopted VirtualService's weights
   * patched, in the order `routingPath` picks. `restore`: this is the routing the status says is
   * live already, so what the write puts back was drift (an Event says so).
   */
  | { type: 'routing'; routing: Routing; restore: boolean }
  | { type: 'event'; event: PlannedEvent }
  /** Reconcile again after this long even if nothing changes (a step's hold ends, a check is due). */
  | { type: 'requeue'; afterMs: number };

export interface Decision {
  /** The status the actions write: what the metrics report once they are done. */
  status: RolloutStatus;
  actions: Action[];
  /** Why the Rollout is Invalid (logged), when it is. */
  problems?: Problem[];
}

/** Where a snapshot stands before any planning: refused, waiting for an adopted object, or admitted. */
export type Admission =
  | { kind: 'invalid'; problems: Problem[] }
  | { kind: 'waiting'; objectKind: 'VirtualService' | 'DestinationRule'; name: string }
  /** `dryRun`: the generated objects must pass the API server's dry run before anything is written. */
  | { kind: 'admitted'; r: ResolvedRollout; warnings: Problem[]; dryRun: boolean };

type AdmissionInput = Pick<Snapshot, 'rollout' | 'checked' | 'live' | 'liveVirtualServices' | 'claimants' | 'overlapping'>;

/**
 * The checks that need the cluster's state, in the order they are reported: the offline check,
 * the adopted objects' existence, ownership (two Rollouts never manage one VirtualService), the
 * adopted objects' shape (the router's), other VirtualServices for the same hosts.
 */
export function admission(s: AdmissionInput, router: TrafficRouter): Admission {
  if (!s.checked.ok) return { kind: 'invalid', problems: s.checked.problems };
  const r = s.checked.resolved;
  const lives = liveVirtualServices(s, r);
  for (const [i, vs] of r.virtualServices.entries()) {
    if (vs.mode === 'adopted' && !lives[i]) return { kind: 'waiting', objectKind: 'VirtualService', name: vs.name };
  }
  if (r.destinationRule.mode === 'adopted' && !s.live.destinationRule) {
    return { kind: 'waiting', objectKind: 'DestinationRule', name: r.destinationRule.name };
  }
  // Each VirtualService is checked as if it were the only one; the others of the list are not
  // "other VirtualServices for the same host" (an ingress one and a mesh one may share a host).
  const own = new Set(r.virtualServices.map((vs) => vs.name));
  const others = s.overlapping.filter((o) => !((o.metadata.namespace ?? '') === r.namespace && own.has(o.metadata.name)));
  const problems: Problem[] = [];
  const warnings: Problem[] = [...s.checked.warnings];
  const unsteered: Problem[][] = [];
  r.virtualServices.forEach((vs, i) => {
    const ri = withVirtualService(r, i);
    const live: RoutingObjects = { ...(lives[i] ? { virtualService: lives[i] } : {}), ...(s.live.destinationRule ? { destinationRule: s.live.destinationRule } : {}) };
    const adopted: RoutingObjects = {
      ...(vs.mode === 'adopted' && lives[i] ? { virtualService: lives[i] } : {}),
      ...(r.destinationRule.mode === 'adopted' && s.live.destinationRule ? { destinationRule: s.live.destinationRule } : {}),
    };
    const overlaps = router.hostOverlaps(ri, live, others);
    problems.push(...atVirtualService(r, i, [
      ...router.ownershipProblems(ri, s.rollout, s.claimants, live),
      ...router.checkAdopted(ri, adopted),
      ...overlaps.problems,
    ]));
    unsteered.push(atVirtualService(r, i, router.adoptedWarnings(ri, adopted)));
    warnings.push(...atVirtualService(r, i, overlaps.warnings));
  });
  // The adopted warnings say what traffic one VirtualService leaves unsteered (in-mesh calls to
  // the Service): when another of the list steers it, they are no longer true.
  if (unsteered.every((w) => w.length > 0)) warnings.push(...unsteered.flat());
  if (problems.length > 0) return { kind: 'invalid', problems: dedupe(problems) };
  return {
    kind: 'admitted',
    r,
    warnings: dedupe(warnings),
    dryRun: (r.virtualService.mode === 'generated' || r.destinationRule.mode === 'generated') && !routedBefore(s.rollout),
  };
}

/** Phases in which this generation's routing has been written (so its shapes passed the dry run). */
const ROUTED_PHASES: ReadonlySet<string> = new Set(['Progressing', 'Paused', 'Promoted', 'RolledBack']);

/**
 * The status already shows this generation admitted and routed: a controller (this one before a
 * restart, or the previous leader) dry-ran its objects then. Status is the memory, so a restart or
 * failover does not dry-run every Rollout again (2 requests each; 10,000 at 5,000 Rollouts).
 */
function routedBefore(rollout: Snapshot['rollout']): boolean {
  const st = rollout.status;
  return st?.observedGeneration !== undefined && st.observedGeneration === rollout.metadata.generation
    && st.phase !== undefined && ROUTED_PHASES.has(st.phase);
}

/** Each of the Rollout's VirtualServices as live (undefined: not there), in its order. */
export function liveVirtualServices(s: Pick<Snapshot, 'live' | 'liveVirtualServices'>, r: ResolvedRollout): (KubeObject | undefined)[] {
  return r.virtualServices.map((_, i) => (i === 0 ? s.live.virtualService : s.liveVirtualServices?.[i]));
}

/** A DestinationRule problem is found once per VirtualService checked: reported once. */
function dedupe(problems: readonly Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.path}\0${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The check to run before `decide`, or undefined when no judgement is due. */
export function judgementDue(a: Admission, s: Pick<Snapshot, 'rollout' | 'refusals' | 'requests'>, now: Date): AnalysisCheck | undefined {
  if (a.kind !== 'admitted' || s.refusals.length > 0) return undefined;
  return analysisCheck(a.r, s.rollout.status, now, s.requests.paused);
}

/**
 * The whole decision of one reconcile. A Rollout that is not admitted (Invalid, or Pending on an
 * adopted object) gets its status and Events only; an admitted one gets, in order: the routing its
 * status says is live (restore), the status `plan` returns (with the warnings' condition), the new
 * routing when it differs, the Events, and the requeue `plan` asks for. `router` supplies the
 * mesh's rules (ownership, overlaps, adopted objects); it does no I/O either.
 */
export function decide(s: Snapshot, now: Date, router: TrafficRouter): Decision {
  const raw = s.rollout;
  const generation = raw.metadata.generation ?? 0;
  const a = admission(s, router);
  if (a.kind === 'waiting') return held(planWaiting(a.objectKind, a.name, raw.status, generation, now));
  if (a.kind === 'invalid') return { ...held(planInvalid(a.problems, raw.status, generation, now)), problems: a.problems };
  if (s.refusals.length > 0) return { ...held(planInvalid([...s.refusals], raw.status, generation, now)), problems: [...s.refusals] };

  const previous = raw.status;
  const live = previous?.release && previous.stableLabels ? routingOf(previous, a.r) : undefined;
  const planned = plan({ rollout: a.r, status: previous, requests: s.requests, ...(s.analysis ? { analysis: s.analysis } : {}), now });
  const warned = planWarnings(planned.status, previous, a.warnings, generation, now);
  const actions: Action[] = [];
  if (live) actions.push({ type: 'routing', routing: live, restore: true });
  actions.push({ type: 'status', status: warned.status });
  // Most plans keep the routing the status had (every reconcile at rest): the restore above has
  // made exactly that live, and a second write of it would write nothing.
  if (!live || !isDeepStrictEqual(json(live), json(planned.routing))) actions.push({ type: 'routing', routing: planned.routing, restore: false });
  for (const event of [...planned.events, ...warned.events]) actions.push({ type: 'event', event });
  if (planned.requeueAfterMs !== undefined) actions.push({ type: 'requeue', afterMs: planned.requeueAfterMs });
  return { status: warned.status, actions };
}

/**
 * The API server refused a routing write for good (an admission policy or webhook, RBAC): the
 * status goes back to the one read (whose routing is the live one: the status must not claim a
 * weight that was never written), with Ready False saying why. The reconcile then fails, so the
 * queue retries with back-off until the refusal is lifted.
 */
export function decideRefused(s: Pick<Snapshot, 'rollout'>, message: string, now: Date): Action[] {
  const { status, events } = planRoutingRefused(s.rollout.status, `the API server refused a routing write: ${message.slice(0, 500)}`, now);
  return [{ type: 'status', status }, ...events.map((event): Action => ({ type: 'event', event }))];
}

/** Status and Events only: an Invalid or Pending rollout writes nothing else. */
function held({ status, events }: { status: RolloutStatus; events: PlannedEvent[] }): Decision {
  return { status, actions: [{ type: 'status', status }, ...events.map((event): Action => ({ type: 'event', event }))] };
}

function json(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v));
}
