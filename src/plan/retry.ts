/**
 * `fledge retry`: a RolledBack release starts again from its first step, with fresh evidence
 * (Argo Rollouts' `kubectl argo rollouts retry`). The request is an annotation naming the release
 * (requests.ts); status.handledRetry remembers the last request handled, so each one acts once,
 * and one that cannot act (another release's, or a release that is not RolledBack) is reported
 * once, with an Event, and never acts later.
 */
import { CONDITION_TYPES, findCondition } from '../api/conditions.ts';
import type { OperatorRequests } from '../api/requests.ts';
import type { RolloutStatus } from '../api/schema.ts';

/**
 * How long after a rollback a retry waits before the canary takes traffic again. Every analysis
 * window reaches back at least 10 s (metrics/templates.ts MIN_WINDOW_SECONDS), and Prometheus
 * records a request only at its next scrape (Istio's recommended interval: 15 s): started sooner,
 * the retried release would be judged on the failed attempt's last requests, and rolled back on
 * them. 30 s covers both, with a margin.
 */
export const RETRY_QUIET_MS = 30_000;

export type RetryDecision =
  | { kind: 'act'; value: string }
  | { kind: 'wait'; value: string; waitMs: number }
  | { kind: 'ignore'; value: string; why: string };

/**
 * What to do with the retry request on the object, or undefined when there is none new.
 * @param status the status before this reconcile (after a hold, with its phase carried on).
 * @param release the release of the spec as it is now.
 */
export function retryDecision(status: RolloutStatus, q: OperatorRequests, release: string, now: Date): RetryDecision | undefined {
  const req = q.retry;
  if (!req || req.value === status.handledRetry) return undefined;
  if (req.release !== release) {
    return { kind: 'ignore', value: req.value, why: `\`fledge retry\` was for release ${req.release}; the current release is ${release}, nothing retried` };
  }
  if (status.release !== release || status.phase !== 'RolledBack') {
    const where = status.release !== release ? 'has not started' : `is ${status.phase ?? 'Pending'}`;
    return { kind: 'ignore', value: req.value, why: `\`fledge retry\` ignored: release ${release} ${where}, not RolledBack; only a rolled-back release starts again` };
  }
  const waitMs = rolledBackAt(status) + RETRY_QUIET_MS - now.getTime();
  return waitMs > 0 ? { kind: 'wait', value: req.value, waitMs } : { kind: 'act', value: req.value };
}

/**
 * When the canary last took traffic: the rollback (Ready turned False then), or the failing
 * judgement if later. 0 when neither is known (nothing to wait for).
 */
function rolledBackAt(status: RolloutStatus): number {
  const ready = findCondition(status.conditions, CONDITION_TYPES.ready);
  const times = [ready?.status === 'False' ? ready.lastTransitionTime : undefined, status.lastAnalysis?.at]
    .map((t) => (t ? Date.parse(t) : NaN)).filter((t) => Number.isFinite(t));
  return times.length > 0 ? Math.max(...times) : 0;
}
