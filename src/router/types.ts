import type { JsonPatchOp, KubeObject, ResourceRef } from '../api/object.ts';
import type { ResolvedRollout } from '../api/resolve.ts';
import type { RolloutObject } from '../api/rollout-object.ts';
import type { Problem } from '../api/validate.ts';
import type { Routing } from '../plan/types.ts';

/** The live routing objects of one Rollout, by role (absent: not there, or not read). */
export interface RoutingObjects {
  /** The object carrying the weights (Istio: a VirtualService; Gateway API: an HTTPRoute). */
  virtualService?: KubeObject;
  /** The object whose subsets select the pods (Istio: a DestinationRule; Gateway API: the Services). */
  destinationRule?: KubeObject;
}

/** The live objects a Rollout adopts (references it does not generate). */
export type AdoptedObjects = RoutingObjects;

/**
 * What a refused dry run of a generated object says about the Rollout: a Problem naming the
 * Rollout field, or 'lifted' (a policy or RBAC that may change without the Rollout changing).
 */
export type AdmissionVerdict = Problem | 'lifted';

/**
 * One implementation per mesh API (Istio today, Gateway API's HTTPRoute tomorrow). A router owns
 * its mesh's shapes: it renders the objects, reads routing back from live ones, and reads the API
 * server's refusals of them; it never talks to the API server itself, so everything it decides
 * is testable offline. The controller speaks only this interface and `Routing`.
 */
export interface TrafficRouter {
  /** Where the API server serves each role's objects: the controller watches and reads these. */
  readonly resources: { readonly virtualService: ResourceRef; readonly destinationRule: ResourceRef };
  /** The mesh's canonical form of a host named by an object of `namespace` (short names resolved there). */
  canonicalHost(host: string, namespace: string): string;
  /** The hosts a live routing object (of `resources.virtualService`) names, read leniently. */
  objectHosts(live: KubeObject): string[];
  /** The objects Fledge owns for this rollout, complete, to be server-side applied. */
  desiredObjects(rollout: ResolvedRollout, routing: Routing): KubeObject[];
  /**
   * Every shape of the generated objects a release of this rollout can write, each once: what
   * the API server's dry run judges before anything is written (with Istio's sessionAffinity, a
   * step's cookie routes, which the release's start does not have).
   */
  objectsToVet(rollout: ResolvedRollout): KubeObject[];
  /**
   * The routing the live objects run now, or undefined when it cannot be read from them (an
   * object missing, a weight that is not an integer 0..100): then there is no traffic of ours to
   * protect.
   */
  liveRouting(rollout: ResolvedRollout, live: RoutingObjects): Routing | undefined;
  /**
   * The canonical hosts the Rollout's routing object routes (as the spec generates it, or as the
   * adopted live one has them): the controller looks up the other objects that name one of them.
   */
  routedHosts(rollout: ResolvedRollout, live: RoutingObjects): string[];
  /**
   * Why this Rollout may not steer its routing objects: another of `claimants` (the Rollouts of
   * the namespace claiming the same object) holds them, or a live object it would generate exists
   * and belongs to someone else. Each Problem names the field and the fix.
   */
  ownershipProblems(rollout: ResolvedRollout, self: RolloutObject, claimants: readonly RolloutObject[], live: RoutingObjects): Problem[];
  /**
   * Other routing objects for the Rollout's hosts (`others`, as `routedHosts` found them): refused
   * where the mesh would ignore ours, warned where it merges both.
   */
  hostOverlaps(rollout: ResolvedRollout, live: RoutingObjects, others: readonly KubeObject[]): { problems: Problem[]; warnings: Problem[] };
  /** Why the live adopted objects cannot be steered (each naming the fix); empty when they can. */
  checkAdopted(rollout: ResolvedRollout, live: AdoptedObjects): Problem[];
  /** What is true but not fatal about the live adopted objects (traffic they leave unsteered). */
  adoptedWarnings(rollout: ResolvedRollout, live: AdoptedObjects): Problem[];
  /** The JSON patch that sets an adopted VirtualService's weights; empty when they are right. */
  adoptedWeightPatch(rollout: ResolvedRollout, liveVirtualService: KubeObject, routing: Routing): JsonPatchOp[];
  /**
   * Argo CD's `ignoreDifferences` entries for exactly the fields Fledge steers in an adopted
   * routing object, so Argo CD ignores those and still syncs the rest.
   */
  argoCdIgnoreDifferences(rollout: ResolvedRollout, liveVirtualService: KubeObject): Record<string, unknown>[];
  /**
   * What the API server's refusal (HTTP `status`, its `message`) of a dry-run apply of a
   * generated object of `kind` says about the Rollout; undefined when it is no verdict on the
   * object (the caller rethrows).
   */
  admissionVerdict(rollout: ResolvedRollout, kind: string, status: number, message: string): AdmissionVerdict | undefined;
}
