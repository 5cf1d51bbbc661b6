import type { JsonPatchOp, KubeObject } from '../api/object.ts';
import type { ResolvedRollout } from '../api/resolve.ts';
import type { Problem } from '../api/validate.ts';
import type { Routing } from '../plan/types.ts';

export interface AdoptedObjects {
  virtualService?: KubeObject;
  destinationRule?: KubeObject;
}

/**
 * One implementation per mesh API (Istio today, Gateway API tomorrow). A router only renders:
 * it never talks to the API server, so everything it decides is testable offline.
 */
export interface TrafficRouter {
  /** The objects Fledge owns for this rollout, complete, to be server-side applied. */
  desiredObjects(rollout: ResolvedRollout, routing: Routing): KubeObject[];
  /** Why the live adopted objects cannot be steered (each naming the fix); empty when they can. */
  checkAdopted(rollout: ResolvedRollout, live: AdoptedObjects): Problem[];
  /** The JSON patch that sets an adopted VirtualService's weights; empty when they are right. */
  adoptedWeightPatch(rollout: ResolvedRollout, liveVirtualService: KubeObject, routing: Routing): JsonPatchOp[];
}
