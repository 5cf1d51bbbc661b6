import { CONDITION_TYPES, findCondition, removeCondition, setCondition } from '../api/conditions.ts';
import { REASONS, type PlannedEvent } from '../api/events.ts';
import type { RolloutStatus } from '../api/schema.ts';
import type { Problem } from '../api/validate.ts';

/**
 * Warnings about routing that works but leaves traffic unsteered become the RoutingWarning
 * condition (status True, the warnings in its message) and, when they change, one Warning Event.
 * No warnings: the condition goes, so a healthy Rollout carries none.
 */
export function planWarnings(status: RolloutStatus, previous: RolloutStatus | undefined, warnings: readonly Problem[], generation: number, now: Date): { status: RolloutStatus; events: PlannedEvent[] } {
  // The previous status decides whether this is news (the plan may have rebuilt the conditions).
  const before = findCondition(previous?.conditions, CONDITION_TYPES.routingWarning);
  if (warnings.length === 0) {
    return findCondition(status.conditions, CONDITION_TYPES.routingWarning) ? { status: { ...status, conditions: removeCondition(status.conditions ?? [], CONDITION_TYPES.routingWarning) }, events: [] } : { status, events: [] };
  }
  const message = warnings.map((w) => `${w.path}: ${w.message}`).join('; ');
  const conditions = setCondition(status.conditions ?? (before ? [before] : []), {
    type: CONDITION_TYPES.routingWarning, status: 'True', reason: REASONS.routingWarning, message, observedGeneration: generation,
  }, now);
  return { status: { ...status, conditions }, events: before?.message === message ? [] : [{ type: 'Warning', reason: REASONS.routingWarning, message }] };
}
