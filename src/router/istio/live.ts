import type { KubeObject } from '../../api/object.ts';
import type { ResolvedRollout } from '../../api/resolve.ts';
import type { Routing } from '../../plan/types.ts';
import type { RoutingObjects } from '../types.ts';
import { isDestination } from './adopt.ts';
import { isStickyRoute } from './affinity.ts';
import { routesOf, subsetsOf } from './shapes.ts';
import { MATCH_ROUTE } from './step-routes.ts';


/**
 * What the mesh runs now, read from the live objects: the generated DestinationRule's subset
 * labels (an adopted one is never written, so its labels count as already right) and the canary
 * weight of the first route sending to the canary subset. Undefined when either object is missing
 * or unreadable: then there is no traffic of ours to protect.
 */
export function liveRouting(r: ResolvedRollout, live: RoutingObjects): Routing | undefined {
  const vs = live.virtualService;
  if (!vs || r.destinationRule.mode !== 'generated') return undefined;
  const subsets = subsetsOf(live.destinationRule);
  const stableLabels = subsets.find((s) => s.name === r.stable.subset)?.labels;
  const canaryLabels = subsets.find((s) => s.name === r.canary.subset)?.labels;
  const ns = vs.metadata.namespace ?? r.namespace;
  // sessionAffinity's cookie routes send all of a session to one side, and a match step's route its
  // requests to the canary, whatever the weight: neither is the step's split.
  const canaryWeight = routesOf(vs).filter((h) => !isStickyRoute(h.name) && h.name !== MATCH_ROUTE).map((h) => h.route?.find((d) => isDestination(r, ns, d, r.canary.subset))?.weight).find((w) => w !== undefined);
  if (!stableLabels || !canaryLabels || typeof canaryWeight !== 'number' || !Number.isInteger(canaryWeight) || canaryWeight < 0 || canaryWeight > 100) return undefined;
  return { stableLabels, canaryLabels, canaryWeight, ...liveExtras(r, vs) };
}

/**
 * A match step's route and a mirror step's mirror, as live: they send requests (or copies) to the
 * canary subset whatever the weight, so a relabelling of that subset must wait until they are gone
 * (plan/transition.ts). The match is the live route's own (the step's combined with the weighted
 * route's): what matters is that the route is there.
 */
function liveExtras(r: ResolvedRollout, vs: KubeObject): Pick<Routing, 'match' | 'mirrorPercent'> {
  const http = (vs.spec?.http ?? []) as { name?: unknown; match?: unknown; mirror?: { subset?: unknown }; mirrorPercentage?: { value?: unknown } }[];
  if (!Array.isArray(http)) return {};
  const matchRoute = http.find((h) => h.name === MATCH_ROUTE);
  const mirrored = http.find((h) => h.mirror?.subset === r.canary.subset);
  const percent = mirrored?.mirrorPercentage?.value;
  return {
    ...(matchRoute ? { match: Array.isArray(matchRoute.match) ? (matchRoute.match as Record<string, unknown>[]) : [] } : {}),
    ...(mirrored ? { mirrorPercent: typeof percent === 'number' ? percent : 100 } : {}),
  };
}

