import { describe, expect, it } from 'vitest';
import { planWarnings } from './warnings.ts';

const now = new Date('2026-01-01T00:00:00Z');
const later = new Date('2026-01-01T00:05:00Z');
const w = [{ path: 'spec.trafficRouting.virtualService', message: 'in-mesh calls are not steered' }];

describe('planWarnings', () => {
  it('sets RoutingWarning True with the warnings and one Warning Event, once', () => {
    const first = planWarnings({ phase: 'Progressing', conditions: [] }, undefined, w, 3, now);
    expect(first.status.conditions).toEqual([{ type: 'RoutingWarning', status: 'True', reason: 'RoutingWarning', message: 'spec.trafficRouting.virtualService: in-mesh calls are not steered', observedGeneration: 3, lastTransitionTime: now.toISOString() }]);
    expect(first.events).toEqual([{ type: 'Warning', reason: 'RoutingWarning', message: 'spec.trafficRouting.virtualService: in-mesh calls are not steered' }]);
    const again = planWarnings(first.status, first.status, w, 3, later);
    expect(again.status).toEqual(first.status);
    expect(again.events).toEqual([]);
  });

  it('drops the condition when the warnings are gone, without an Event', () => {
    const warned = planWarnings({ phase: 'Progressing', conditions: [] }, undefined, w, 3, now).status;
    const cleared = planWarnings(warned, warned, [], 4, later);
    expect(cleared.status.conditions).toEqual([]);
    expect(cleared.events).toEqual([]);
  });

  it('leaves a status without warnings as it is', () => {
    const status = { phase: 'Promoted' as const, conditions: [] };
    expect(planWarnings(status, status, [], 1, now)).toEqual({ status, events: [] });
  });
});
