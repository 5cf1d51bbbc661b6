/**
 * A live Rollout as the CLI shows it. Every view derives from the resolved Rollout (the schedule
 * the controller walks, `stepWeight`/`maxWeight` expanded), never from re-reading spec fields.
 */
import { API_VERSION, KIND } from '../api/constants.ts';
import { releaseId } from '../api/release.ts';
import { resolveRollout, type ResolvedRollout, type ResolvedStep } from '../api/resolve.ts';
import { specLabels, specSubset, type RolloutObject } from '../api/rollout-object.ts';
import { stepDisplay } from '../api/step.ts';
import { parseRollout, type Problem } from '../api/validate.ts';

/** A Rollout as the API server returns it (read through api/rollout-object's lenient readers). */
export type LiveRollout = RolloutObject;

export interface RolloutView {
  rollout: LiveRollout;
  /** Undefined when the spec is invalid (the controller marks it Invalid). */
  resolved?: ResolvedRollout;
  problems: Problem[];
  steps: ResolvedStep[];
  /** The release of the spec as it is now (what the controller works towards). */
  release: string;
  /** "2/4": counted from 1, of the resolved schedule; status.step when the spec cannot be resolved. */
  step: string;
  /**
   * The status describes the spec as it is: the controller has seen this generation and works on
   * this release. A phase read before that (a Promoted left from the last release) says nothing
   * of the new one.
   */
  current: boolean;
  stableSubset: string;
  canarySubset: string;
}

export function viewOf(r: LiveRollout): RolloutView {
  // The spec alone: a status field this CLI does not know (a newer controller's) is no spec problem.
  const parsed = parseRollout({ apiVersion: r.apiVersion ?? API_VERSION, kind: r.kind ?? KIND, metadata: r.metadata, spec: r.spec });
  const resolved = parsed.ok ? resolveRollout(parsed.rollout) : undefined;
  const st = r.status ?? {};
  const steps = resolved?.steps ?? [];
  const release = releaseId(specLabels(r, 'stable'), specLabels(r, 'canary'));
  const seen = st.observedGeneration !== undefined && st.observedGeneration === r.metadata.generation;
  return {
    rollout: r,
    ...(resolved ? { resolved } : {}),
    problems: parsed.ok ? [] : parsed.problems,
    steps,
    release,
    step: resolved ? stepDisplay(st.stepIndex, steps.length) : (st.step ?? ''),
    current: seen && (st.phase === 'Invalid' || st.release === release),
    stableSubset: resolved?.stable.subset ?? specSubset(r, 'stable') ?? 'stable',
    canarySubset: resolved?.canary.subset ?? specSubset(r, 'canary') ?? 'canary',
  };
}

/** The schedule as a person reads it: "10, 25, 50, 100 (manual pause at 50)". */
export function scheduleText(steps: readonly ResolvedStep[]): string {
  const kind = (s: ResolvedStep) => (s.mirror !== undefined ? `mirror ${s.mirror}%` : s.match ? `match (${s.match.length} condition${s.match.length === 1 ? '' : 's'})` : String(s.weight));
  return steps.map((s) => (s.pause === 'manual' ? `${kind(s)} (pause: manual)` : s.pause !== undefined ? `${kind(s)} (pause ${Math.round(s.pause / 1000)}s)` : kind(s))).join(', ');
}
