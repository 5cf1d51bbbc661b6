/**
 * Adopted objects: a VirtualService (and DestinationRule) the team keeps in git. Fledge changes
 * nothing in them but the `weight` of the stable and canary destinations of the routes it was
 * given, by a JSON patch whose `test` operations make it fail rather than write over a change it
 * has not seen.
 */
import type { JsonPatchOp, KubeObject } from '../../api/object.ts';
import type { ResolvedRollout } from '../../api/resolve.ts';
import { sameLabels, type Problem } from '../../api/validate.ts';
import { fmtLabels } from '../../plan/plan.ts';
import { isServiceHost, serviceOfHost, type ServiceRef } from './hosts.ts';
import { routesOf, subsetsOf, type Destination, type HttpRoute } from './shapes.ts';


const VS_PATH = 'spec.trafficRouting.virtualService';

const label = (route: HttpRoute, i: number) => (route.name ? `route "${route.name}"` : `route http[${i}]`);

/** The Rollout's Service, resolved in its namespace (spec.service.name may be any of Istio's spellings). */
export function rolloutService(r: Pick<ResolvedRollout, 'service' | 'namespace'>): ServiceRef {
  return serviceOfHost(r.service.name, r.namespace) ?? { name: r.service.name, namespace: r.namespace };
}

/**
 * Whether a route destination is the Rollout's `subset`: its host must be the Rollout's Service
 * (short name, name.namespace, name.namespace.svc or FQDN, short names resolved in the
 * VirtualService's namespace) and its subset the one named. Subset names alone say nothing:
 * teams sharing an edge VirtualService all name theirs v1 and v2.
 */
export function isDestination(r: Pick<ResolvedRollout, 'service' | 'namespace'>, vsNamespace: string, d: Destination, subset: string): boolean {
  return d.destination?.subset === subset && isServiceHost(d.destination.host, vsNamespace, rolloutService(r));
}

/** The indexes of the routes Fledge steers: the named ones, or every route that sends to both of the Rollout's subsets. */
export function selectRoutes(r: ResolvedRollout, vs: KubeObject): { indexes: number[]; problems: Problem[] } {
  if (r.virtualService.mode !== 'adopted') return { indexes: [], problems: [] };
  const routes = routesOf(vs);
  const ns = vs.metadata.namespace ?? r.namespace;
  const subsets = [r.stable.subset, r.canary.subset];
  const sendsTo = (route: HttpRoute, subset: string) => (route.route ?? []).some((d) => isDestination(r, ns, d, subset));
  const mine = (d: Destination) => subsets.some((s) => isDestination(r, ns, d, s));
  const problems: Problem[] = [];
  const nonHttp = (['tcp', 'tls'] as const).flatMap((kind) => routesOf(vs, kind).map((route, i) => ({ kind, route, i })));
  const nonHttpNote = nonHttp.length > 0 ? `; Fledge steers http routes only, not ${[...new Set(nonHttp.map((x) => x.kind))].join(' or ')} routes` : '';
  let indexes: number[];
  if (r.virtualService.routes) {
    indexes = [];
    r.virtualService.routes.forEach((name, k) => {
      const i = routes.findIndex((route) => route.name === name);
      const other = nonHttp.find((x) => x.route.name === name);
      if (i >= 0) indexes.push(i);
      else if (other) problems.push({ path: `${VS_PATH}.routes[${k}]`, message: `route "${name}" of VirtualService ${vs.metadata.name} is a ${other.kind} route; Fledge steers http routes only (it splits HTTP, HTTP/2 and gRPC traffic, not ${other.kind})` });
      else problems.push({ path: `${VS_PATH}.routes[${k}]`, message: `VirtualService ${vs.metadata.name} has no http route named "${name}" (it has: ${routes.map((x, j) => x.name ?? `http[${j}]`).join(', ') || 'none'})` });
    });
  } else if (routes.length === 0 && nonHttp.length > 0) {
    indexes = [];
    problems.push({ path: VS_PATH, message: `VirtualService ${vs.metadata.name} has no http routes, only ${[...new Set(nonHttp.map((x) => x.kind))].join(' and ')} routes: Fledge steers http routes only (HTTP, HTTP/2, gRPC), so it cannot run this Service's canary` });
  } else {
    indexes = routes.flatMap((route, i) => (subsets.every((s) => sendsTo(route, s)) ? [i] : []));
    if (indexes.length === 0) {
      // The route to fix: the first that sends to one of the subsets, else to the Service at all.
      const serves = (route: HttpRoute) => (route.route ?? []).some((d) => isServiceHost(d.destination?.host, ns, rolloutService(r)));
      let i = routes.findIndex((route) => subsets.some((s) => sendsTo(route, s)));
      if (i < 0) i = routes.findIndex(serves);
      const route = routes[i];
      const fix = route
        ? `add to ${label(route, i)} the destination ${subsets.filter((s) => !sendsTo(route, s)).map((s) => destinationHint(r, route, s, 0)).join(' and ')}`
        : `add an http route {route: [${destinationHint(r, undefined, r.stable.subset, 100)}, ${destinationHint(r, undefined, r.canary.subset, 0)}]}`;
      problems.push({ path: VS_PATH, message: `no http route of VirtualService ${vs.metadata.name} sends to both subsets ${subsets.join(' and ')} of Service ${r.service.name}; ${fix}${nonHttpNote}` });
    }
  }
  for (const i of indexes) {
    const route = routes[i]!;
    for (const s of subsets) {
      if (!sendsTo(route, s)) problems.push({ path: VS_PATH, message: `${label(route, i)} of VirtualService ${vs.metadata.name} does not send to subset ${s} of Service ${r.service.name}; add ${destinationHint(r, route, s, 0)}` });
    }
    const others = (route.route ?? []).filter((d) => !mine(d));
    if (others.length > 0) {
      problems.push({ path: VS_PATH, message: `${label(route, i)} of VirtualService ${vs.metadata.name} also sends to ${others.map((d) => `${d.destination?.host ?? '?'}/${d.destination?.subset ?? '(no subset)'}`).join(', ')}; Fledge splits a route between subsets ${subsets.join(' and ')} of Service ${r.service.name} only` });
    }
  }
  return { indexes, problems };
}

/** The destination to paste in, shaped like the route's existing ones of the Rollout's Service. */
function destinationHint(r: ResolvedRollout, route: HttpRoute | undefined, subset: string, weight: number): string {
  const like = route?.route?.find((d) => isServiceHost(d.destination?.host, r.namespace, rolloutService(r)))?.destination;
  const host = like?.host ?? r.service.name;
  // Host and port as the route's destination of this Service has them (no port if it has none);
  // the Rollout's service only for a route without one.
  const port = like ? like.port?.number : r.service.port;
  return `{destination: {host: ${host}, subset: ${subset}${port ? `, port: {number: ${port}}` : ''}}, weight: ${weight}}`;
}

/**
 * RFC 6901 pointers to the weights Fledge steers in an adopted VirtualService: those of the
 * Rollout's own destinations in the selected routes, for Argo CD's ignoreDifferences.
 */
export function steeredWeightPointers(r: ResolvedRollout, vs: KubeObject): string[] {
  const { indexes, problems } = selectRoutes(r, vs);
  if (problems.length > 0) return [];
  const ns = vs.metadata.namespace ?? r.namespace;
  const routes = routesOf(vs);
  return indexes.flatMap((i) => (routes[i]?.route ?? []).flatMap((d, j) => (
    [r.stable.subset, r.canary.subset].some((s) => isDestination(r, ns, d, s)) ? [`/spec/http/${i}/route/${j}/weight`] : []
  )));
}

/** An adopted DestinationRule must already define both subsets with the Rollout's labels. */
export function checkAdoptedDestinationRule(r: ResolvedRollout, dr: KubeObject): Problem[] {
  const subsets = subsetsOf(dr);
  const problems: Problem[] = [];
  for (const [side, want] of [['stable', r.stable.labels], ['canary', r.canary.labels]] as const) {
    const name = r[side].subset;
    const found = subsets.find((s) => s.name === name);
    const path = `spec.${side}.labels`;
    if (!found) problems.push({ path: `spec.${side}.subset`, message: `DestinationRule ${dr.metadata.name} has no subset "${name}"; add {name: ${name}, labels: ${fmtLabels(want)}}` });
    else if (!sameLabels(found.labels ?? {}, want)) {
      problems.push({ path, message: `subset "${name}" of DestinationRule ${dr.metadata.name} selects ${fmtLabels(found.labels ?? {})}, not ${fmtLabels(want)}; change one of them` });
    }
  }
  return problems;
}

/**
 * JSON patch setting the weights of the selected routes; empty when they already match. Every
 * destination's subset is tested (the route list may have been reordered by a commit) and every
 * present weight is tested at its current value.
 */
export function weightPatch(r: ResolvedRollout, vs: KubeObject, indexes: number[], canaryWeight: number): JsonPatchOp[] {
  const routes = routesOf(vs);
  const ns = vs.metadata.namespace ?? r.namespace;
  const canary = Math.min(100, Math.max(0, Math.round(canaryWeight)));
  const ops: JsonPatchOp[] = [];
  for (const i of indexes) {
    const dests = routes[i]?.route ?? [];
    const want: number[] = dests.map(() => 0);
    // Several destinations for one subset (e.g. two ports) share its share; the first takes the rest.
    const splitShare = (subset: string, total: number) => {
      const idx = dests.flatMap((d, j) => (isDestination(r, ns, d, subset) ? [j] : []));
      idx.forEach((j, k) => { want[j] = Math.floor(total / idx.length) + (k === 0 ? total % idx.length : 0); });
    };
    splitShare(r.stable.subset, 100 - canary);
    splitShare(r.canary.subset, canary);
    if (dests.every((d, j) => d.weight === want[j])) continue;
    dests.forEach((d, j) => {
      const base = `/spec/http/${i}/route/${j}`;
      ops.push({ op: 'test', path: `${base}/destination/subset`, value: d.destination?.subset });
      // The host too: a commit may have swapped in another Service's route with the same subset names.
      if (d.destination?.host !== undefined) ops.push({ op: 'test', path: `${base}/destination/host`, value: d.destination.host });
      if (d.weight !== undefined) {
        ops.push({ op: 'test', path: `${base}/weight`, value: d.weight });
        ops.push({ op: 'replace', path: `${base}/weight`, value: want[j] });
      } else {
        ops.push({ op: 'add', path: `${base}/weight`, value: want[j] });
      }
    });
  }
  return ops;
}
