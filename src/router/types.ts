import type { KubeObject } from '../api/object.ts';
import type { ResolvedRollout } from '../api/resolve.ts';
import type { Routing } from '../plan/types.ts';

/**
 * One implementation per mesh API (Istio today, Gateway API tomorrow). A router only renders:
 * it never talks to the API server, so everything it decides is testable offline.
 */
export interface TrafficRouter {
  /** The objects Fledge owns for this rollout, complete, to be server-side applied. */
  desiredObjects(rollout: ResolvedRollout, routing: Routing): KubeObject[];
}
