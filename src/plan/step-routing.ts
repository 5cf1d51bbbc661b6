/**
 * What match and mirror steps add to the routing, and how they are told in status. Pure.
 *
 * A match step's HTTPMatchRequests stay in force from that step until the release ends (a later
 * match step replaces them), as Argo Rollouts' setHeaderRoute does: testers who reach the canary
 * by a header keep reaching it while the weights climb. A mirror step's mirror holds for that
 * step only. Promotion and rollback remove both: they are part of the routing the status implies.
 */
import type { ResolvedRollout, ResolvedStep } from '../api/resolve.ts';
import type { AnalysisResult, RolloutStatus } from '../api/schema.ts';
import { releaseId } from '../api/release.ts';
import { isHeld } from './invalid.ts';
import type { Routing } from './types.ts';

/** The match and mirror in force at step `idx` (none before the first step or past the last). */
export function stepExtras(steps: readonly ResolvedStep[], idx: number): Pick<Routing, 'match' | 'mirrorPercent'> {
  if (idx < 0 || idx >= steps.length) return {};
  let match: Record<string, unknown>[] | undefined;
  for (let i = idx; i >= 0 && !match; i--) match = steps[i]!.match;
  const mirror = steps[idx]!.mirror;
  return { ...(match ? { match } : {}), ...(mirror ? { mirrorPercent: mirror } : {}) };
}

/**
 * The extras the status implies: only while this release is Progressing or Paused (held by an
 * Invalid spec or a missing object: the phase it had), never once it is Promoted or RolledBack.
 */
export function statusExtras(r: ResolvedRollout, status: RolloutStatus): Pick<Routing, 'match' | 'mirrorPercent'> {
  const phase = isHeld(status) ? status.previousPhase : status.phase;
  if (phase !== 'Progressing' && phase !== 'Paused') return {};
  if (status.release !== releaseId(r.stable.labels, r.canary.labels)) return {};
  return stepExtras(r.steps, status.stepIndex ?? -1);
}

/** How a step reads in messages and Events: `stable 90 / canary 10`, plus its match or mirror. */
export function describeStep(r: ResolvedRollout, idx: number): string {
  const step = r.steps[idx]!;
  const split = `${r.stable.subset} ${100 - step.weight} / ${r.canary.subset} ${step.weight}`;
  if (step.mirror !== undefined) return `${split}, ${step.mirror}% of the requests mirrored to ${r.canary.subset} (responses discarded)`;
  const extras = stepExtras(r.steps, idx);
  if (step.match) return `matching requests to ${r.canary.subset}, others ${split}`;
  return extras.match ? `${split}, matching requests to ${r.canary.subset}` : split;
}

/**
 * A mirror step's judgement says what it measured: the canary served only mirrored copies (no
 * user saw its answers), so its errors are real errors of the canary with no user impact yet,
 * never "no impact, so nothing to judge".
 */
export function markMirrored(step: ResolvedStep | undefined, analysis: AnalysisResult): AnalysisResult {
  if (step?.mirror === undefined) return analysis;
  const n = analysis.canary?.requests;
  const note = `judged on ${n === undefined ? 'the' : Math.round(n)} mirrored request(s) against stable's live ones; ` +
    `mirrored responses are discarded, so users saw none of the canary's errors, but they count against it`;
  return { ...analysis, mirrored: true, reason: `${analysis.reason} (${note})` };
}

/**
 * Every shape of routing the schedule can write, for the API server's dry run before the first
 * write: a plain weight step's, then one per match or mirror step whose routes differ (with its
 * index, the field to name if the shape is refused).
 */
export function routingShapes(r: ResolvedRollout): { routing: Routing; step?: number }[] {
  const base: Routing = { stableLabels: r.stable.labels, canaryLabels: r.canary.labels, canaryWeight: 0 };
  const out: { routing: Routing; step?: number }[] = [{ routing: base }];
  const seen = new Set<string>();
  r.steps.forEach((s, i) => {
    if (!s.match && s.mirror === undefined) return;
    const extras = stepExtras(r.steps, i);
    const key = JSON.stringify(extras);
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ routing: { ...base, ...extras }, step: i });
  });
  return out;
}
