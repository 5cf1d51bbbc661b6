/**
 * Adopted objects: a VirtualService (and DestinationRule) the team keeps in git. Fledge changes
 * nothing in them but the `weight` of the stable and canary destinations of the routes it was
 * given, by a JSON patch whose `test` operations make it fail rather than write over a change it
 * has not seen.
 */
import type { JsonPatchOp, KubeObject } from '../../api/object.ts';
import type { ResolvedRollout } from '../../api/resolve.ts';
import type { Labels } from '../../api/schema.ts';
import { sameLabels, type Problem } from '../../api/validate.ts';
import { fmtLabels } from '../../plan/plan.ts';

interface Destination { destination?: { host?: string; subset?: string; port?: { number?: number } }; weight?: number }
interface HttpRoute { name?: string; route?: Destination[] }
interface Subset { name?: string; labels?: Labels }

const VS_PATH = 'spec.trafficRouting.virtualService';

function httpRoutes(vs: KubeObject): HttpRoute[] {
  const http = vs.spec?.http;
  return Array.isArray(http) ? (http as HttpRoute[]) : [];
}

const label = (route: HttpRoute, i: number) => (route.name ? `route "${route.name}"` : `route http[${i}]`);

/** The indexes of the routes Fledge steers: the named ones, or every route that sends to both subsets. */
export function selectRoutes(r: ResolvedRollout, vs: KubeObject): { indexes: number[]; problems: Problem[] } {
  if (r.virtualService.mode !== 'adopted') return { indexes: [], problems: [] };
  const routes = httpRoutes(vs);
  const subsets = [r.stable.subset, r.canary.subset];
  const sendsTo = (route: HttpRoute, subset: string) => (route.route ?? []).some((d) => d.destination?.subset === subset);
  const problems: Problem[] = [];
  let indexes: number[];
  if (r.virtualService.routes) {
    indexes = [];
    r.virtualService.routes.forEach((name, k) => {
      const i = routes.findIndex((route) => route.name === name);
      if (i < 0) problems.push({ path: `${VS_PATH}.routes[${k}]`, message: `VirtualService ${vs.metadata.name} has no http route named "${name}" (it has: ${routes.map((x, j) => x.name ?? `http[${j}]`).join(', ') || 'none'})` });
      else indexes.push(i);
    });
  } else {
    indexes = routes.flatMap((route, i) => (subsets.every((s) => sendsTo(route, s)) ? [i] : []));
    if (indexes.length === 0) {
      const partial = routes.findIndex((route) => subsets.some((s) => sendsTo(route, s)));
      const i = partial < 0 ? 0 : partial;
      const missing = routes[i] ? subsets.find((s) => !sendsTo(routes[i]!, s)) ?? r.canary.subset : r.canary.subset;
      problems.push({ path: VS_PATH, message: `no route of VirtualService ${vs.metadata.name} sends to both subsets ${subsets.join(' and ')}; ${routes[i] ? `add to ${label(routes[i]!, i)}` : 'add to a route'} the destination ${destinationHint(r, routes[i], missing)}` });
    }
  }
  for (const i of indexes) {
    const route = routes[i]!;
    for (const s of subsets) {
      if (!sendsTo(route, s)) problems.push({ path: VS_PATH, message: `${label(route, i)} of VirtualService ${vs.metadata.name} does not send to subset ${s}; add ${destinationHint(r, route, s)}` });
    }
    const others = (route.route ?? []).filter((d) => !subsets.includes(d.destination?.subset ?? ''));
    if (others.length > 0) {
      problems.push({ path: VS_PATH, message: `${label(route, i)} of VirtualService ${vs.metadata.name} also sends to ${others.map((d) => `${d.destination?.host ?? '?'}/${d.destination?.subset ?? '(no subset)'}`).join(', ')}; Fledge splits a route between ${subsets.join(' and ')} only` });
    }
  }
  return { indexes, problems };
}

/** The destination to paste in, shaped like the route's existing ones. */
function destinationHint(r: ResolvedRollout, route: HttpRoute | undefined, subset: string): string {
  const like = route?.route?.[0]?.destination;
  const host = like?.host ?? r.service.name;
  // Host and port as the route's first destination has them (no port if it has none); the
  // Rollout's service only for a route without destinations.
  const port = like ? like.port?.number : r.service.port;
  return `{destination: {host: ${host}, subset: ${subset}${port ? `, port: {number: ${port}}` : ''}}, weight: 0}`;
}

/** An adopted DestinationRule must already define both subsets with the Rollout's labels. */
export function checkAdoptedDestinationRule(r: ResolvedRollout, dr: KubeObject): Problem[] {
  const subsets = Array.isArray(dr.spec?.subsets) ? (dr.spec.subsets as Subset[]) : [];
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
  const routes = httpRoutes(vs);
  const canary = Math.min(100, Math.max(0, Math.round(canaryWeight)));
  const ops: JsonPatchOp[] = [];
  for (const i of indexes) {
    const dests = routes[i]?.route ?? [];
    const want: number[] = dests.map(() => 0);
    // Several destinations for one subset (e.g. two ports) share its share; the first takes the rest.
    const splitShare = (subset: string, total: number) => {
      const idx = dests.flatMap((d, j) => (d.destination?.subset === subset ? [j] : []));
      idx.forEach((j, k) => { want[j] = Math.floor(total / idx.length) + (k === 0 ? total % idx.length : 0); });
    };
    splitShare(r.stable.subset, 100 - canary);
    splitShare(r.canary.subset, canary);
    if (dests.every((d, j) => d.weight === want[j])) continue;
    dests.forEach((d, j) => {
      const base = `/spec/http/${i}/route/${j}`;
      ops.push({ op: 'test', path: `${base}/destination/subset`, value: d.destination?.subset });
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
