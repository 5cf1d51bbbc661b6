/**
 * One analysis check, as the planner schedules it: which step, whether its hold is over, and the
 * windows whose counts the analyzer reads. The planner owns this clock; the analyzer only reads
 * counts for the windows it is given and the judge only reads them.
 */

/** A window ending at the check's instant. */
export interface AnalysisWindow {
  /** RFC 3339 start of the canary's window. */
  startedAt: string;
  /** Length of the canary's window in seconds (>= 0). */
  seconds: number;
  /**
   * Length of stable's window in seconds, ending at the same instant: at least the canary's, and
   * reaching further back into stable's history (the comparison's baselineWindow), since stable's
   * requests before the canary started tell its rate as well as those since.
   */
  stableSeconds: number;
}

export interface AnalysisCheck {
  stepIndex: number;
  /** The step's hold is over: a pass now moves the rollout on. */
  final: boolean;
  /** The canary weight a pass moves to: the next step's, or 100 when a pass promotes. */
  nextWeight: number;
  /** A pass now promotes (the current step is the last). */
  promotes: boolean;
  /**
   * The step has waited `inconclusiveLimit` extra holds (or the Rollout is already paused for it):
   * an inconclusive verdict now pauses the Rollout, so the judge says how much more traffic it needs.
   */
  lastChance: boolean;
  /** The release so far: from the canary's first step (or its last tolerated failure) to now. */
  release: AnalysisWindow;
  /** The current step so far; stable's over at least the baselineWindow, so it has data at 100 % canary. */
  step: AnalysisWindow;
}
