import type { ResolvedRollout } from '../api/resolve.ts';
import type { AnalysisResult, RolloutStatus } from '../api/schema.ts';

/** Judges the current step of a rollout from its metrics. Never throws: trouble is inconclusive. */
export interface Analyzer {
  analyze(rollout: ResolvedRollout, status: RolloutStatus, now: Date): Promise<AnalysisResult>;
}
