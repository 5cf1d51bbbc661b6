import type { Condition } from './schema.ts';

export const CONDITION_TYPES = {
  ready: 'Ready', progressing: 'Progressing', analysis: 'Analysis',
  /** kstatus's abnormal-true conditions (src/plan/health.ts): present only while True. */
  stalled: 'Stalled', reconciling: 'Reconciling',
  /** True while the routing works but leaves traffic unsteered (e.g. in-mesh callers of a gateway-only VirtualService); absent otherwise. */
  routingWarning: 'RoutingWarning',
} as const;

/**
 * Upsert a condition the way apimachinery's meta.SetStatusCondition does: the transition time
 * moves only when the status flips, so an unchanged condition never causes a status write.
 */
export function setCondition(conditions: readonly Condition[], next: Omit<Condition, 'lastTransitionTime'>, now: Date): Condition[] {
  const existing = conditions.find((c) => c.type === next.type);
  const lastTransitionTime = existing && existing.status === next.status ? existing.lastTransitionTime : now.toISOString();
  const merged: Condition = { ...next, lastTransitionTime };
  return existing ? conditions.map((c) => (c.type === next.type ? merged : c)) : [...conditions, merged];
}

export function removeCondition(conditions: readonly Condition[], type: string): Condition[] {
  return conditions.filter((c) => c.type !== type);
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
