/**
 * One Rollout object per standing a release can be in, with the status the real planner writes
 * for it (plan, planInvalid, planWaiting, planRoutingRefused), round-tripped through JSON as the
 * API server would: the inputs of the kstatus and Argo CD health tests.
 */
import type { OperatorRequests } from '../../src/api/requests.ts';
import { releaseId } from '../../src/api/release.ts';
import type { RolloutStatus } from '../../src/api/schema.ts';
import { plan } from '../../src/plan/plan.ts';
import { planInvalid, planRoutingRefused, planWaiting } from '../../src/plan/invalid.ts';
import { minimalRollout, resolveValid } from './fixtures.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const M = 60_000;
const NO: OperatorRequests = { paused: false };

export interface Standing {
  name: string;
  /** The Rollout as a GitOps tool reads it: metadata.generation and status. */
  object: { apiVersion: string; kind: string; metadata: { name: string; namespace: string; generation: number }; status?: RolloutStatus };
}

function spec(strategy: Record<string, unknown>, stable = 'v1', canary = 'v2') {
  const doc = minimalRollout();
  doc.metadata.generation = 1;
  doc.spec.strategy = strategy;
  doc.spec.stable = { labels: { version: stable } };
  doc.spec.canary = { labels: { version: canary } };
  return resolveValid(doc);
}

const json = (s: RolloutStatus): RolloutStatus => JSON.parse(JSON.stringify(s)) as RolloutStatus;

function object(status: RolloutStatus | undefined, generation = 1): Standing['object'] {
  return { apiVersion: 'fledge.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'web', namespace: 'default', generation }, ...(status ? { status: json(status) } : {}) };
}

export function standings(): Standing[] {
  const r = spec({ steps: [50, 100], interval: '1m' });
  const rel = releaseId(r.stable.labels, r.canary.labels);
  const step = (status: RolloutStatus | undefined, ms: number, requests = NO) => json(plan({ rollout: r, status, requests, now: new Date(T0 + ms) }).status);

  const progressing = step(undefined, 0);
  const atFull = step(progressing, M);
  const promoted = step(atFull, 2 * M);
  const manual = json(plan({ rollout: spec({ steps: [{ weight: 20, pause: 'manual' }, 100] }), status: undefined, requests: NO, now: new Date(T0) }).status);
  const pausedByUser = step(progressing, 1000, { paused: true });
  const rolledBack = step(progressing, 1000, { paused: false, abort: rel });
  // After v2 was promoted, a commit that keeps stable on v1 and sets canary to v3: the guard holds it.
  const unsafe = spec({ steps: [50, 100], interval: '1m' }, 'v1', 'v3');
  const blocked = json(plan({ rollout: unsafe, status: promoted, requests: NO, now: new Date(T0 + 3 * M) }).status);
  const invalid = planInvalid([{ path: 'spec.strategy.steps[2]', message: 'must not be below the step before it (60)' }], progressing, 2, new Date(T0 + 1000)).status;
  const waiting = planWaiting('VirtualService', 'reviews-route', undefined, 1, new Date(T0)).status;
  const refused = planRoutingRefused(progressing, 'the API server refused a routing write: ValidatingAdmissionPolicy denied request', new Date(T0 + 1000)).status;

  return [
    { name: 'progressing', object: object(progressing) },
    { name: 'paused at a manual step', object: object(manual) },
    { name: 'paused by fledge pause', object: object(pausedByUser) },
    { name: 'promoted', object: object(promoted) },
    { name: 'rolled back', object: object(rolledBack) },
    { name: 'stable not serving (the guard)', object: object(blocked) },
    { name: 'invalid', object: object(invalid, 2) },
    { name: 'waiting for an adopted object', object: object(waiting) },
    { name: 'routing write refused', object: object(refused) },
    { name: 'a new generation not yet observed', object: object(promoted, 2) },
    { name: 'no status yet', object: object(undefined) },
  ];
}
