import type { ResolvedRollout } from '../../api/resolve.ts';
import type { Routing } from '../../plan/types.ts';
import type { RoutingObjects } from '../types.ts';
import { isDestination } from './adopt.ts';

interface Subset { name?: string; labels?: Record<string, string> }
interface HttpRoute { route?: { destination?: { host?: string; subset?: string }; weight?: number }[] }

/**
 * What the mesh runs now, read from the live objects: the generated DestinationRule's subset
 * labels (an adopted one is never written, so its labels count as already right) and the canary
 * weight of the first route sending to the canary subset. Undefined when either object is missing
 * or unreadable: then there is no traffic of ours to protect.
 */
export function liveRouting(r: ResolvedRollout, live: RoutingObjects): Routing | undefined {
  const vs = live.virtualService;
  if (!vs || r.destinationRule.mode !== 'generated') return undefined;
  const subsets = arrayOf<Subset>(live.destinationRule?.spec?.subsets);
  const stableLabels = subsets.find((s) => s.name === r.stable.subset)?.labels;
  const canaryLabels = subsets.find((s) => s.name === r.canary.subset)?.labels;
  const ns = vs.metadata.namespace ?? r.namespace;
  const canaryWeight = arrayOf<HttpRoute>(vs.spec?.http).map((h) => h.route?.find((d) => isDestination(r, ns, d, r.canary.subset))?.weight).find((w) => w !== undefined);
  if (!stableLabels || !canaryLabels || typeof canaryWeight !== 'number' || !Number.isInteger(canaryWeight) || canaryWeight < 0 || canaryWeight > 100) return undefined;
  return { stableLabels, canaryLabels, canaryWeight };
}

function arrayOf<T>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}

