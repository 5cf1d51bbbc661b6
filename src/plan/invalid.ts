import { CONDITION_TYPES, setCondition } from '../api/conditions.ts';
import { REASONS, type PlannedEvent } from '../api/events.ts';
import type { RolloutStatus } from '../api/schema.ts';
import type { Problem } from '../api/validate.ts';
import { withHealth } from './health.ts';

export interface Hold {
  phase: 'Invalid' | 'Pending';
  reason: typeof REASONS.invalidSpec | typeof REASONS.waiting;
  message: string;
  eventType: 'Normal' | 'Warning';
}

/** Held by planHeld: Invalid, or Pending while waiting for an object (then with the phase it had kept aside). */
export function isHeld(status: RolloutStatus): boolean {
  return status.phase === 'Invalid' || (status.phase === 'Pending' && status.previousPhase !== undefined);
}

/**
 * A rollout that cannot be planned (an invalid spec, a referenced object that does not exist yet)
 * changes nothing but its status: the routing fields keep describing what is live, and the phase
 * it had is kept aside, so once the cause is gone it carries on from there.
 */
export function planHeld(hold: Hold, prev: RolloutStatus | undefined, generation: number, now: Date): { status: RolloutStatus; events: PlannedEvent[] } {
  const base = prev ?? {};
  const { message } = hold;
  let conditions = withHealth(base.conditions ?? [], hold.phase, hold.reason, message, generation, now);
  conditions = setCondition(conditions, { type: CONDITION_TYPES.progressing, status: 'False', reason: hold.reason, message, observedGeneration: generation }, now);
  const previousPhase = isHeld(base) ? base.previousPhase : base.phase;
  const changed = base.phase !== hold.phase || base.message !== message;
  return {
    status: { ...base, phase: hold.phase, message, observedGeneration: generation, conditions, ...(previousPhase ? { previousPhase } : {}) },
    events: changed ? [{ type: hold.eventType, reason: hold.reason, message }] : [],
  };
}

export function planInvalid(problems: Problem[], prev: RolloutStatus | undefined, generation: number, now: Date): { status: RolloutStatus; events: PlannedEvent[] } {
  const message = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
  return planHeld({ phase: 'Invalid', reason: REASONS.invalidSpec, message, eventType: 'Warning' }, prev, generation, now);
}

/** Waiting for an object the Rollout adopts (the GitOps tool may apply it after the Rollout). */
export function planWaiting(kind: string, name: string, prev: RolloutStatus | undefined, generation: number, now: Date): { status: RolloutStatus; events: PlannedEvent[] } {
  const message = `waiting for ${kind} ${name}, which the Rollout adopts, to exist`;
  return planHeld({ phase: 'Pending', reason: REASONS.waiting, message, eventType: 'Normal' }, prev, generation, now);
}

/**
 * The API server refused a routing write (an admission policy or webhook, RBAC): the status goes
 * back to `live`, the status whose routing is live, so it never claims a weight that was not
 * written, with Ready False naming the refusal. The next plan that gets its routing written sets
 * Ready from the phase again.
 */
export function planRoutingRefused(live: RolloutStatus | undefined, message: string, now: Date): { status: RolloutStatus; events: PlannedEvent[] } {
  const base = live ?? {};
  const ready = base.conditions?.find((c) => c.type === CONDITION_TYPES.ready);
  const conditions = withHealth(base.conditions ?? [], base.phase ?? 'Pending', REASONS.routingRefused, message, ready?.observedGeneration ?? base.observedGeneration ?? 0, now);
  const changed = ready?.reason !== REASONS.routingRefused || ready.message !== message;
  return { status: { ...base, conditions }, events: changed ? [{ type: 'Warning', reason: REASONS.routingRefused, message }] : [] };
}
