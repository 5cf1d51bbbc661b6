/**
 * The analysis clock. The planner alone decides when a step is judged, whether its hold is over
 * and which windows the judgement covers (`analysisCheck`); the analyzer reads counts for those
 * windows and the judge reads the counts.
 */
import type { AnalysisCheck } from '../api/check.ts';
import { DEFAULT_COMPARISON } from '../api/constants.ts';
import { parseDuration } from '../api/duration.ts';
import type { ResolvedRollout } from '../api/resolve.ts';
import type { RolloutStatus } from '../api/schema.ts';

export interface StepClock {
  idx: number;
  elapsedMs: number;
  holdMs: number;
  /** The hold is over: a judgement now is the one that can advance the step. */
  final: boolean;
}

/** How long a step is held: its own timed pause, else the interval (also for manual pauses). */
export function holdMs(r: ResolvedRollout, idx: number): number {
  const pause = r.steps[idx]?.pause;
  return typeof pause === 'number' ? pause : r.intervalMs;
}

export function elapsedMs(status: RolloutStatus, now: Date): number {
  const started = status.stepStartedAt ? Date.parse(status.stepStartedAt) : NaN;
  return Number.isNaN(started) ? Infinity : now.getTime() - started;
}

export function stepClock(r: ResolvedRollout, status: RolloutStatus, now: Date): StepClock {
  const idx = Math.max(0, Math.min(status.stepIndex ?? 0, r.steps.length - 1));
  const hold = holdMs(r, idx);
  const elapsed = elapsedMs(status, now);
  return { idx, elapsedMs: elapsed, holdMs: hold, final: elapsed >= hold };
}

/**
 * Milliseconds until the current step should be judged again: every check interval while it is
 * held (so a clearly bad canary is caught early), and once more exactly when the hold ends.
 * Undefined without analysis.
 */
export function msUntilCheck(r: ResolvedRollout, status: RolloutStatus, now: Date): number | undefined {
  if (!r.analysis) return undefined;
  const start = status.stepStartedAt ? Date.parse(status.stepStartedAt) : NaN;
  if (Number.isNaN(start)) return 0;
  const { idx, holdMs: hold } = stepClock(r, status, now);
  const la = status.lastAnalysis;
  const lastAt = la && la.stepIndex === idx && Date.parse(la.at) >= start ? Date.parse(la.at) : undefined;
  const periodic = (lastAt ?? start) + r.analysis.checkIntervalMs;
  const finalAt = start + hold;
  const next = lastAt !== undefined && lastAt >= finalAt ? periodic : Math.min(periodic, finalAt);
  return next - now.getTime();
}

/**
 * The step has waited `inconclusiveLimit` extra holds for conclusive evidence. A step that waits
 * for a person (a manual step, `fledge pause`) or is already paused by the analysis never is.
 */
export function pastInconclusiveLimit(r: ResolvedRollout, status: RolloutStatus, now: Date, paused: boolean): boolean {
  if (!r.analysis || paused || status.pausedBy !== undefined) return false;
  const clock = stepClock(r, status, now);
  if (r.steps[clock.idx]?.pause === 'manual') return false;
  return clock.elapsedMs >= clock.holdMs * (1 + r.analysis.inconclusiveLimit);
}

/**
 * How far back stable's window reaches beyond the canary's: the comparison's baselineWindow, or
 * its default for a compared template (istio-slow-requests) when the comparison is disabled;
 * 0 when stable is not read at all.
 */
function baselineSeconds(r: ResolvedRollout): number {
  const a = r.analysis;
  if (!a) return 0;
  if (a.comparison) return a.comparison.baselineWindowMs / 1000;
  return a.metrics.some((m) => m.template === 'istio-slow-requests') ? (parseDuration(DEFAULT_COMPARISON.baselineWindow) ?? 600_000) / 1000 : 0;
}

/**
 * The check to run now: the step, whether its hold is over, what a pass would do, and the windows
 * (the release since `analysisStartedAt`, the step since `stepStartedAt`, both ending now; stable's
 * reaching back the comparison's baselineWindow before the release, and over at least that for a step).
 * A status written before `analysisStartedAt` existed has its release window start with the step.
 */
export function analysisCheckAt(r: ResolvedRollout, status: RolloutStatus, now: Date, paused = false): AnalysisCheck {
  const clock = stepClock(r, status, now);
  const last = r.steps.length - 1;
  const stepStart = status.stepStartedAt ? Date.parse(status.stepStartedAt) : NaN;
  const releaseParsed = status.analysisStartedAt ? Date.parse(status.analysisStartedAt) : NaN;
  const stepFrom = Number.isNaN(stepStart) ? now.getTime() : Math.min(stepStart, now.getTime());
  const releaseFrom = Number.isNaN(releaseParsed) ? stepFrom : Math.min(releaseParsed, stepFrom);
  const baseline = baselineSeconds(r);
  const window = (from: number, stableSeconds: (seconds: number) => number) => {
    const seconds = (now.getTime() - from) / 1000;
    return { startedAt: new Date(from).toISOString(), seconds, stableSeconds: stableSeconds(seconds) };
  };
  return {
    stepIndex: clock.idx,
    final: clock.final,
    nextWeight: clock.idx >= last ? 100 : r.steps[clock.idx + 1]!.weight,
    promotes: clock.idx >= last,
    lastChance: status.pausedBy === 'analysis' || pastInconclusiveLimit(r, status, now, paused),
    // Stable's history before the release counts for the release; a step is judged on its own
    // time, stable's reaching back only as far as its baseline needs.
    release: window(releaseFrom, (s) => s + baseline),
    step: window(stepFrom, (s) => Math.max(s, baseline)),
  };
}
