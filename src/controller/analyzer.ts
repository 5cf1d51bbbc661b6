import type { AnalysisCheck } from '../api/check.ts';
import type { ResolvedRollout } from '../api/resolve.ts';
import type { AnalysisResult } from '../api/schema.ts';

/**
 * Judges one check the planner scheduled: reads the counts of its windows and hands them to the
 * judge. Never throws: trouble is inconclusive.
 */
export interface Analyzer {
  analyze(rollout: ResolvedRollout, check: AnalysisCheck, now: Date): Promise<AnalysisResult>;
}
