import { CONDITION_TYPES, setCondition } from '../api/conditions.ts';
import { REASONS, type PlannedEvent } from '../api/events.ts';
import type { RolloutStatus } from '../api/schema.ts';
import type { Problem } from '../api/validate.ts';

/**
 * An invalid spec changes nothing but the status: the routing fields keep describing what is
 * live, so when the spec is fixed the rollout carries on from there.
 */
export function planInvalid(problems: Problem[], prev: RolloutStatus | undefined, generation: number, now: Date): { status: RolloutStatus; events: PlannedEvent[] } {
  const message = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
  const base = prev ?? {};
  let conditions = setCondition(base.conditions ?? [], { type: CONDITION_TYPES.ready, status: 'False', reason: REASONS.invalidSpec, message, observedGeneration: generation }, now);
  conditions = setCondition(conditions, { type: CONDITION_TYPES.progressing, status: 'False', reason: REASONS.invalidSpec, message, observedGeneration: generation }, now);
  const changed = base.phase !== 'Invalid' || base.message !== message;
  return {
    status: {
      ...base, phase: 'Invalid', message, observedGeneration: generation, conditions,
      ...(base.phase && base.phase !== 'Invalid' ? { phaseBeforeInvalid: base.phase } : {}),
    },
    events: changed ? [{ type: 'Warning', reason: REASONS.invalidSpec, message }] : [],
  };
}
