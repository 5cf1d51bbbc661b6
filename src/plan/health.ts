/**
 * What a Rollout's standing means to the tools that read Kubernetes status without knowing
 * Fledge: kstatus (Flux's `wait: true` and `healthChecks`, `kubectl wait`, cli-utils) and the
 * generic readers built on it.
 *
 * kstatus's rules for a custom resource (sigs.k8s.io/cli-utils pkg/kstatus/status, generic.go
 * and status.go; Flux uses its fork fluxcd/cli-utils v1.2.3, same rules), first match wins:
 * `status.observedGeneration` != `metadata.generation` → InProgress; condition `Reconciling=True`
 * → InProgress; `Stalled=True` → Failed; `Ready=True` → Current; `Ready` False or Unknown →
 * InProgress; no `Ready` → Current.
 *
 * The decision (docs/gitops.md, "Health: what Flux and Argo CD see"): a release in progress must not
 * block a GitOps pipeline for the hours a release may take, so mid-release and paused are
 * Current, like promoted; a release that cannot go on without a new commit or a person (rolled
 * back, an invalid spec, a release the guard refused, a routing write the API server refused)
 * is Failed, so Flux fails fast with Fledge's reason instead of timing out; waiting for an object
 * the Rollout adopts is InProgress (the GitOps tool is likely applying it). Gating on promotion
 * is Flux's `healthCheckExprs` (docs/gitops.md).
 */
import { CONDITION_TYPES, removeCondition, setCondition } from '../api/conditions.ts';
import { REASONS } from '../api/events.ts';
import type { Condition, Phase } from '../api/schema.ts';

export type Health = 'Current' | 'InProgress' | 'Failed';

/** Why a Rollout stands where it does, beyond its phase: the guard, a hold, a refused write. */
export type Cause = typeof REASONS.unsafeRelease | typeof REASONS.routingRefused | typeof REASONS.invalidSpec | typeof REASONS.waiting;

const FAILED_CAUSES: ReadonlySet<string> = new Set([REASONS.unsafeRelease, REASONS.routingRefused, REASONS.invalidSpec]);

const PHASE_HEALTH: Record<Phase, Health> = {
  Progressing: 'Current',
  Paused: 'Current',
  Promoted: 'Current',
  RolledBack: 'Failed',
  Invalid: 'Failed',
  Pending: 'InProgress',
};

/** The kstatus result a standing is meant to produce (at the observed generation). */
export function healthOf(phase: Phase, cause?: Cause): Health {
  if (cause !== undefined) return FAILED_CAUSES.has(cause) ? 'Failed' : 'InProgress';
  return PHASE_HEALTH[phase];
}

type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

/**
 * The Ready, Stalled and Reconciling conditions of a standing: Ready always (reason: the cause,
 * else the phase); Stalled and Reconciling only while True, as kstatus's "abnormal-true"
 * conventions ask (absent means False).
 */
export function healthConditions(phase: Phase, cause: Cause | undefined, message: string, observedGeneration: number): { ready: ConditionInput; stalled?: ConditionInput; reconciling?: ConditionInput } {
  const reason = cause ?? phase;
  const health = healthOf(phase, cause);
  const ready: ConditionInput = { type: CONDITION_TYPES.ready, status: health === 'Current' ? 'True' : 'False', reason, message, observedGeneration };
  if (health === 'Failed') return { ready, stalled: { ...ready, type: CONDITION_TYPES.stalled, status: 'True' } };
  if (health === 'InProgress') return { ready, reconciling: { ...ready, type: CONDITION_TYPES.reconciling, status: 'True' } };
  return { ready };
}

/** `conditions` with Ready, Stalled and Reconciling set for the standing (transition times kept while a status holds). */
export function withHealth(conditions: readonly Condition[], phase: Phase, cause: Cause | undefined, message: string, observedGeneration: number, now: Date): Condition[] {
  const h = healthConditions(phase, cause, message, observedGeneration);
  let out = setCondition(conditions, h.ready, now);
  out = h.stalled ? setCondition(out, h.stalled, now) : removeCondition(out, CONDITION_TYPES.stalled);
  out = h.reconciling ? setCondition(out, h.reconciling, now) : removeCondition(out, CONDITION_TYPES.reconciling);
  return out;
}
