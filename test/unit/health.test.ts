import { describe, expect, it } from 'vitest';
import { REASONS } from '../../src/api/events.ts';
import type { Phase } from '../../src/api/schema.ts';
import { healthConditions, healthOf, withHealth, type Cause, type Health } from '../../src/plan/health.ts';
import { kstatusOf } from '../support/kstatus.ts';
import { standings } from './standings.ts';

const NOW = new Date('2026-01-01T00:00:00Z');

describe('health: what each standing means to kstatus', () => {
  it.each<[Phase, Cause | undefined, Health, string]>([
    ['Progressing', undefined, 'Current', 'a release in progress never blocks a GitOps pipeline'],
    ['Paused', undefined, 'Current', 'nor one paused at a step or by `fledge pause`'],
    ['Promoted', undefined, 'Current', 'done'],
    ['RolledBack', undefined, 'Failed', 'needs a new commit'],
    ['Invalid', REASONS.invalidSpec, 'Failed', 'needs a new commit'],
    ['Pending', REASONS.waiting, 'InProgress', 'the GitOps tool is likely applying the adopted object'],
    ['Progressing', REASONS.unsafeRelease, 'Failed', 'the guard: needs a commit or a person'],
    ['Promoted', REASONS.unsafeRelease, 'Failed', 'the guard after a promotion'],
    ['Progressing', REASONS.routingRefused, 'Failed', 'an admission policy refused the routing'],
    ['Pending', undefined, 'InProgress', 'nothing decided yet'],
  ])('%s (%s) is %s: %s', (phase, cause, health) => {
    expect(healthOf(phase, cause)).toBe(health);
    const c = healthConditions(phase, cause, 'why', 3);
    expect(c.ready).toEqual({ type: 'Ready', status: health === 'Current' ? 'True' : 'False', reason: cause ?? phase, message: 'why', observedGeneration: 3 });
    // The abnormal-true conditions are there only while True, with Ready's reason and message.
    expect(c.stalled).toEqual(health === 'Failed' ? { ...c.ready, type: 'Stalled', status: 'True' } : undefined);
    expect(c.reconciling).toEqual(health === 'InProgress' ? { ...c.ready, type: 'Reconciling', status: 'True' } : undefined);
    const conditions = withHealth([], phase, cause, 'why', 3, NOW);
    expect(kstatusOf({ metadata: { generation: 3 }, status: { observedGeneration: 3, conditions } })).toBe(health);
    // A generation the controller has not observed is InProgress whatever the conditions say.
    expect(kstatusOf({ metadata: { generation: 4 }, status: { observedGeneration: 3, conditions } })).toBe('InProgress');
  });

  it('a recovered Rollout loses Stalled and Reconciling; an unchanged standing keeps its transition times', () => {
    const failed = withHealth([], 'RolledBack', undefined, 'rolled back', 1, NOW);
    expect(failed.map((c) => c.type)).toEqual(['Ready', 'Stalled']);
    const later = new Date(NOW.getTime() + 60_000);
    expect(withHealth(failed, 'RolledBack', undefined, 'rolled back', 1, later)).toEqual(failed);
    const next = withHealth(failed, 'Progressing', undefined, 'step 1/2', 2, later);
    expect(next).toEqual([{ type: 'Ready', status: 'True', reason: 'Progressing', message: 'step 1/2', observedGeneration: 2, lastTransitionTime: later.toISOString() }]);
    const waiting = withHealth(next, 'Pending', REASONS.waiting, 'waiting', 2, later);
    expect(waiting.map((c) => `${c.type}=${c.status}`)).toEqual(['Ready=False', 'Reconciling=True']);
  });

  it('the standings are what their names say', () => {
    const phases = Object.fromEntries(standings().map((s) => [s.name, `${s.object.status?.phase}/${s.object.status?.conditions?.find((c) => c.type === 'Ready')?.reason}`]));
    expect(phases).toEqual({
      'progressing': 'Progressing/Progressing',
      'paused at a manual step': 'Paused/Paused',
      'paused by fledge pause': 'Paused/Paused',
      'promoted': 'Promoted/Promoted',
      'rolled back': 'RolledBack/RolledBack',
      'stable not serving (the guard)': 'Promoted/StableNotServing',
      'invalid': 'Invalid/InvalidSpec',
      'waiting for an adopted object': 'Pending/WaitingForObject',
      'routing write refused': 'Progressing/RoutingRefused',
      'a new generation not yet observed': 'Promoted/Promoted',
      'no status yet': 'undefined/undefined',
    });
  });

  it.each([
    ['progressing', 'Current'],
    ['paused at a manual step', 'Current'],
    ['paused by fledge pause', 'Current'],
    ['promoted', 'Current'],
    ['rolled back', 'Failed'],
    ['stable not serving (the guard)', 'Failed'],
    ['invalid', 'Failed'],
    ['waiting for an adopted object', 'InProgress'],
    ['routing write refused', 'Failed'],
    ['a new generation not yet observed', 'InProgress'],
    // kstatus's own rule for a resource nobody has written status to yet.
    ['no status yet', 'Current'],
  ])('the planner\'s status when %s is kstatus %s', (name, expected) => {
    const s = standings().find((x) => x.name === name);
    expect(s, name).toBeDefined();
    expect(kstatusOf(s!.object)).toBe(expected);
  });
});
