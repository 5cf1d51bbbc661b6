/**
 * The rules on match (A/B) and mirror steps that span fields, and so live outside the schema.
 * Istio's own checks of a step's HTTPMatchRequests are in router/istio/offline.ts.
 *
 * Ordering: a mirror step comes before any step that sends the canary live requests (a weight
 * above 0, or a match step). Istio mirrors every request of a route, whichever destination its
 * weights pick (pilot's route translation sets Envoy's request_mirror_policies on the route, not
 * per destination), so with live canary traffic the canary's own requests would be mirrored to
 * it again, and its metrics could no longer tell the mirrored requests from the live ones. Match
 * steps and weight steps mix freely: a match step keeps the weight of the step before it.
 */
import type { RolloutSpec } from './schema.ts';
import type { Problem } from './validate.ts';

/** The passthrough route fields a mirror step sets itself; the weighted route may not set them too. */
export const MIRROR_FIELDS = ['mirror', 'mirrors', 'mirrorPercentage'] as const;

/** Why an adopted VirtualService takes no match or mirror step (also README and docs/gitops.md). */
export const ADOPTED_STEP_REASON = 'match and mirror steps need a generated VirtualService: in an adopted one Fledge changes only weights, ' +
  'because an added route would shift the route indexes your GitOps tool\'s ignore rules name (/spec/http/N/route/M/weight), ' +
  'and Argo CD or Flux would report the VirtualService out of sync or remove the route; add the route to your VirtualService in git instead';

export function stepKindProblems(spec: RolloutSpec): Problem[] {
  const problems: Problem[] = [];
  const steps = spec.strategy.steps ?? [];
  const vs = spec.trafficRouting?.virtualService;
  let live: number | undefined;
  steps.forEach((step, i) => {
    const at = `spec.strategy.steps[${i}]`;
    if (typeof step === 'number' || 'weight' in step) {
      const w = typeof step === 'number' ? step : step.weight;
      if (w > 0) live ??= i;
      return;
    }
    if (vs?.ref !== undefined) problems.push({ path: at, message: ADOPTED_STEP_REASON });
    if ('match' in step) {
      live ??= i;
      return;
    }
    if (live !== undefined) {
      problems.push({ path: `${at}.mirror`, message: `must come before step ${live + 1}, the first that sends the canary live requests: Istio mirrors every request of the route, the canary's own too, and its metrics could not tell mirrored requests from live ones` });
    }
    for (const f of MIRROR_FIELDS) {
      if (vs?.http?.[f] !== undefined) problems.push({ path: `${at}.mirror`, message: `cannot be combined with spec.trafficRouting.virtualService.http.${f}: a mirror step sets the weighted route's mirror itself` });
    }
  });
  return problems;
}
