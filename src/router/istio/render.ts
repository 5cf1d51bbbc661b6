import { isDeepStrictEqual } from 'node:util';
import { API_VERSION, KIND, MANAGED_BY_LABEL, MANAGED_BY_VALUE, ROLLOUT_LABEL } from '../../api/constants.ts';
import type { KubeObject, ObjectMeta } from '../../api/object.ts';
import type { ResolvedRollout } from '../../api/resolve.ts';
import type { Routing } from '../../plan/types.ts';
import type { TrafficRouter } from '../types.ts';
import { checkAdoptedDestinationRule, selectRoutes, steeredWeightPointers, weightPatch } from './adopt.ts';
import { admissionVerdict } from './admission.ts';
import { liveRouting } from './live.ts';
import { adoptedCoverageWarnings } from './offline.ts';
import { hostOverlaps, ownershipProblems, routingVirtualService } from './conflicts.ts';
import { canonicalHost } from './hosts.ts';
import { DESTINATION_RULES, ISTIO_API_VERSION, ISTIO_GROUP, VIRTUAL_SERVICES } from './resources.ts';
import { activeAffinity, cookieMatch, destinationHeaders, routingsToVet, STICKY_CANARY_ROUTE, STICKY_STABLE_ROUTE } from './affinity.ts';
import { routingShapes } from '../../plan/step-routing.ts';
import { combineMatches, MATCH_ROUTE } from './step-routes.ts';

/** Route names Fledge gives the routes it generates; adopted VirtualServices keep their own. */
export const PRIMARY_ROUTE = 'primary';
export const FALLBACK_ROUTE = 'fallback';

function meta(r: ResolvedRollout, name: string): ObjectMeta {
  return {
    name,
    namespace: r.namespace,
    labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [ROLLOUT_LABEL]: r.name },
    // Offline renders have no uid to point at; live ones always do.
    ...(r.uid ? { ownerReferences: [{ apiVersion: API_VERSION, kind: KIND, name: r.name, uid: r.uid, controller: true, blockOwnerDeletion: true }] } : {}),
  };
}

export function renderDestinationRule(r: ResolvedRollout, routing: Routing): KubeObject {
  if (r.destinationRule.mode !== 'generated') throw new Error('renderDestinationRule: the DestinationRule is adopted, not generated');
  return {
    apiVersion: ISTIO_API_VERSION,
    kind: 'DestinationRule',
    metadata: meta(r, r.destinationRule.name),
    spec: {
      host: r.service.name,
      ...(r.destinationRule.trafficPolicy ? { trafficPolicy: r.destinationRule.trafficPolicy } : {}),
      subsets: [
        { name: r.stable.subset, labels: { ...routing.stableLabels } },
        { name: r.canary.subset, labels: { ...routing.canaryLabels } },
      ],
    },
  };
}

function destination(r: ResolvedRollout, subset: string): Record<string, unknown> {
  return { host: r.service.name, subset, ...(r.service.port ? { port: { number: r.service.port } } : {}) };
}

export function renderVirtualService(r: ResolvedRollout, routing: Routing): KubeObject {
  const vs = r.virtualService;
  if (vs.mode !== 'generated') throw new Error('renderVirtualService: the VirtualService is adopted, not generated');
  const canary = clampWeight(routing.canaryWeight);
  const sticky = activeAffinity(r, { ...routing, canaryWeight: canary });
  const weighted = {
    name: PRIMARY_ROUTE,
    ...(vs.match ? { match: vs.match } : {}),
    route: [
      { destination: destination(r, r.stable.subset), weight: 100 - canary, ...(sticky ? destinationHeaders(sticky.stableCookieName, routing, sticky.maxAge) : {}) },
      { destination: destination(r, r.canary.subset), weight: canary, ...(sticky ? destinationHeaders(sticky.cookieName, routing, sticky.maxAge) : {}) },
    ],
    ...(vs.http ?? {}),
    ...mirrorFields(r, routing),
  };
  // Ahead of the weighted route, with its extras (timeout, retries...): the same traffic, pinned.
  const stickyRoutes = sticky
    ? [
        { name: STICKY_CANARY_ROUTE, match: cookieMatch(sticky.cookieName, routing, vs.match), route: [{ destination: destination(r, r.canary.subset), weight: 100 }], ...(vs.http ?? {}) },
        { name: STICKY_STABLE_ROUTE, match: cookieMatch(sticky.stableCookieName, routing, vs.match), route: [{ destination: destination(r, r.stable.subset), weight: 100 }], ...(vs.http ?? {}) },
      ]
    : [];
  // A matched route alone would leave every other request without a destination (Istio answers
  // 404): the fallback keeps them on stable.
  const fallback = { name: FALLBACK_ROUTE, route: [{ destination: destination(r, r.stable.subset), weight: 100 }] };
  return {
    apiVersion: ISTIO_API_VERSION,
    kind: 'VirtualService',
    metadata: meta(r, vs.name),
    spec: {
      hosts: [...vs.hosts],
      ...(vs.gateways ? { gateways: [...vs.gateways] } : {}),
      // A match step's route first: a tester's header reaches the canary whatever their cookie says.
      http: [...matchRoutes(r, routing), ...stickyRoutes, weighted, ...(vs.match ? [fallback] : [])],
    },
  };
}

/**
 * A match step's route, ahead of the weighted one: its requests go to the canary alone. It takes
 * the weighted route's extras (timeouts, retries...) so that a tester's request is treated as
 * any other. Conflicting conditions were refused offline; any left are dropped by combineMatches.
 */
function matchRoutes(r: ResolvedRollout, routing: Routing): Record<string, unknown>[] {
  const vs = r.virtualService;
  if (vs.mode !== 'generated' || !routing.match || routing.match.length === 0) return [];
  return [{
    name: MATCH_ROUTE,
    match: combineMatches(vs.match, routing.match).match,
    route: [{ destination: destination(r, r.canary.subset), weight: 100 }],
    ...(vs.http ?? {}),
  }];
}

/** A mirror step: Istio copies this share of the weighted route's requests to the canary subset. */
function mirrorFields(r: ResolvedRollout, routing: Routing): Record<string, unknown> {
  const p = routing.mirrorPercent;
  if (p === undefined || !(p > 0)) return {};
  return { mirror: destination(r, r.canary.subset), mirrorPercentage: { value: Math.min(100, p) } };
}

/** Weights must be integers 0..100 whatever reaches here; the stable share is the remainder. */
function clampWeight(w: number): number {
  if (!Number.isFinite(w)) return 0;
  return Math.min(100, Math.max(0, Math.round(w)));
}

export const istioRouter: TrafficRouter = {
  resources: { virtualService: VIRTUAL_SERVICES, destinationRule: DESTINATION_RULES },
  liveRouting,
  admissionVerdict,
  desiredObjects(r, routing) {
    const out: KubeObject[] = [];
    if (r.destinationRule.mode === 'generated') out.push(renderDestinationRule(r, routing));
    if (r.virtualService.mode === 'generated') out.push(renderVirtualService(r, routing));
    return out;
  },
  objectsToVet(r) {
    // Each of the schedule's shapes too: a match step adds a route, a mirror step route fields.
    const shapes = routingShapes(r).map((s) => ({ ...(s.routing.match ? { match: s.routing.match } : {}), ...(s.routing.mirrorPercent !== undefined ? { mirrorPercent: s.routing.mirrorPercent } : {}) }));
    const objects = routingsToVet(r).flatMap((base) => shapes.flatMap((extras) => this.desiredObjects(r, { ...base, ...extras })));
    return objects.filter((o, i) => objects.findIndex((x) => isDeepStrictEqual(x, o)) === i);
  },
  checkAdopted(r, live) {
    return [
      ...(live.virtualService ? selectRoutes(r, live.virtualService).problems : []),
      ...(live.destinationRule ? checkAdoptedDestinationRule(r, live.destinationRule) : []),
    ];
  },
  canonicalHost,
  objectHosts(vs) {
    const hosts = vs.spec?.hosts;
    return Array.isArray(hosts) ? hosts.filter((h): h is string => typeof h === 'string') : [];
  },
  routedHosts(r, live) {
    return routingVirtualService(r, live.virtualService)?.hosts.map((h) => canonicalHost(h, r.namespace)) ?? [];
  },
  ownershipProblems(r, self, claimants, live) {
    return ownershipProblems(self, r, claimants, live.virtualService, live.destinationRule);
  },
  hostOverlaps(r, live, others) {
    const own = routingVirtualService(r, live.virtualService);
    return own ? hostOverlaps(r, own, others) : { problems: [], warnings: [] };
  },
  argoCdIgnoreDifferences(r, vs) {
    return [{ group: ISTIO_GROUP, kind: 'VirtualService', name: vs.metadata.name, namespace: r.namespace, jsonPointers: steeredWeightPointers(r, vs) }];
  },
  adoptedWarnings(r, live) {
    return live.virtualService ? adoptedCoverageWarnings(r, live.virtualService) : [];
  },
  adoptedWeightPatch(r, vs, routing) {
    const { indexes, problems } = selectRoutes(r, vs);
    return problems.length > 0 ? [] : weightPatch(r, vs, indexes, routing.canaryWeight);
  },
};
