import type { PlannedEvent } from '../api/events.ts';
import type { OperatorRequests } from '../api/requests.ts';
import type { ResolvedRollout } from '../api/resolve.ts';
import type { AnalysisResult, Labels, RolloutStatus } from '../api/schema.ts';

/** Where traffic should go: the labels each subset selects and the canary's share. */
export interface Routing {
  stableLabels: Labels;
  canaryLabels: Labels;
  canaryWeight: number;
  /** Requests matching these Istio HTTPMatchRequests go to the canary whatever the weight (a match step's). */
  match?: Record<string, unknown>[];
  /** Percent of the weighted route's requests mirrored to the canary (a mirror step's). */
  mirrorPercent?: number;
}

export interface PlanInput {
  rollout: ResolvedRollout;
  status: RolloutStatus | undefined;
  requests: OperatorRequests;
  /** The judgement of the current step, when `analysisDue` said one was needed. */
  analysis?: AnalysisResult;
  now: Date;
}

export interface PlanResult {
  status: RolloutStatus;
  routing: Routing;
  events: PlannedEvent[];
  /** Reconcile again after this long even if nothing changes (a step's hold ends). */
  requeueAfterMs?: number;
}
