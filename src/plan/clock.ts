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
