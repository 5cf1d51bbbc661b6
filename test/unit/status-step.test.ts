/**
 * status.step: the step as people count it, written by the planner beside the 0-based stepIndex,
 * for the CRD's Step column (kubectl get fro). It counts the resolved schedule, whatever style
 * wrote it.
 */
import { describe, expect, it } from 'vitest';
import { readRequests } from '../../src/api/requests.ts';
import { plan } from '../../src/plan/plan.ts';
import { minimalRollout, resolveValid } from './fixtures.ts';

function firstPlan(strategy: Record<string, unknown>, annotations?: Record<string, string>) {
  const doc = minimalRollout();
  doc.spec.strategy = { ...strategy, interval: '1m' };
  const r = resolveValid(doc);
  return { r, status: plan({ rollout: r, status: undefined, requests: readRequests(annotations), now: new Date(0) }).status };
}

describe('status.step', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['explicit steps', { steps: [10, 50, 100] }, '1/3'],
    ['stepWeight and maxWeight', { stepWeight: 10, maxWeight: 50 }, '1/5'],
    ['stepWeight alone', { stepWeight: 25 }, '1/4'],
  ])('%s: the first step reads %s, stepIndex stays 0', (_name, strategy, step) => {
    const { status } = firstPlan(strategy);
    expect(status).toMatchObject({ stepIndex: 0, step });
  });

  it('reads N/N once promoted (stepIndex is then the number of steps)', () => {
    const first = firstPlan({ steps: [10, 50, 100] });
    const release = first.status.release!;
    const promoted = plan({ rollout: first.r, status: first.status, requests: readRequests({ 'fledge.dev/promote': release }), now: new Date(1000) }).status;
    expect(promoted).toMatchObject({ phase: 'Promoted', stepIndex: 3, step: '3/3' });
  });
});
