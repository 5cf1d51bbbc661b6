/**
 * What can be known about a Rollout's Istio objects without a cluster: whether the fields Fledge
 * writes pass Istio's own validation (validation.ts), whether the passthrough fields fit Istio's
 * CRD schema (crd-schema.ts), and whether the routing covers the Service's in-mesh callers.
 * Part of the one offline check that `fledge validate`, `fledge render` and the controller share.
 */
import type { KubeObject } from '../../api/object.ts';
import type { ResolvedRollout } from '../../api/resolve.ts';
import { dedupe, type Problem } from '../../api/validate.ts';
import { HTTP_MATCH_SCHEMA, HTTP_ROUTE_SCHEMA, ISTIO_SCHEMA_VERSION, schemaErrors, TRAFFIC_POLICY_SCHEMA } from './crd-schema.ts';
import { isServiceHost, MESH_GATEWAY } from './hosts.ts';
import { rolloutService } from './adopt.ts';
import { isStickyRoute } from './affinity.ts';
import { PRIMARY_ROUTE, renderVirtualService } from './render.ts';
import { combineMatches, MATCH_ROUTE, MAX_COMBINED_MATCHES } from './step-routes.ts';
import { destinationRuleFieldErrors, headerMatchErrors, matchRequestProblems, responseHeaderErrors, virtualServiceFieldErrors, type IstioFieldError } from './validation.ts';

const VS = 'spec.trafficRouting.virtualService';
const DR = 'spec.trafficRouting.destinationRule';

/**
 * Istio's validation of the VirtualService and DestinationRule Fledge would generate, with each
 * refusal at the Rollout field that produced the value. Adopted objects are the user's: only
 * the passthrough-free fields Fledge itself renders are judged.
 */
export function generatedFieldProblems(r: ResolvedRollout): Problem[] {
  const problems: Problem[] = [];
  const say = (path: string, e: IstioFieldError) => problems.push({ path, message: `Istio refuses it: ${e.message}` });
  const destination = (subset: string) => ({ host: r.service.name, subset, ...(r.service.port ? { port: { number: r.service.port } } : {}) });
  const vs = r.virtualService;
  if (vs.mode === 'generated') {
    // Hosts left to their default are the Service's name: the fix goes there.
    const defaulted = vs.hosts.length === 1 && vs.hosts[0] === r.service.name;
    const hostsPath = (i?: number) => (defaulted ? 'spec.service.name' : `${VS}.hosts${i === undefined ? '' : `[${i}]`}`);
    for (const e of virtualServiceFieldErrors({ hosts: vs.hosts, ...(vs.gateways ? { gateways: vs.gateways } : {}), http: [{ route: [{ destination: destination(r.stable.subset) }, { destination: destination(r.canary.subset) }] }] })) {
      if (e.field === 'hosts') say(hostsPath(e.index), e);
      else if (e.field === 'gateways') say(`${VS}.gateways${e.index === undefined ? '' : `[${e.index}]`}`, e);
      else if (e.field === 'destination.host') say('spec.service.name', e);
      else if (e.field === 'port') say('spec.service.port', e);
      else say(subsetPath(r, e.message), e);
    }
  }
  if (r.destinationRule.mode === 'generated') {
    for (const e of destinationRuleFieldErrors({ host: r.service.name, subsets: [{ name: r.stable.subset }, { name: r.canary.subset }] })) {
      say(e.field === 'host' ? 'spec.service.name' : subsetPath(r, e.message), e);
    }
  }
  return dedupe(problems);
}

function subsetPath(r: ResolvedRollout, message: string): string {
  return message.endsWith(`: ${r.canary.subset}`) && !message.endsWith(`: ${r.stable.subset}`) ? 'spec.canary.subset' : 'spec.stable.subset';
}

/**
 * sessionAffinity's routes and cookies, rendered at a step where both versions take new sessions,
 * through Istio's validation of what they add (response headers, cookie header matches) and the
 * CRD schema of an HTTPRoute: a cookie name Istio or Envoy would refuse is refused here, at the field.
 */
export function sessionAffinityProblems(r: ResolvedRollout): Problem[] {
  if (!r.sessionAffinity || r.virtualService.mode !== 'generated') return [];
  const at = 'spec.trafficRouting.sessionAffinity';
  const problems: Problem[] = [];
  const say = (message: string) => problems.push({ path: at, message: `Istio refuses it: ${message}` });
  const vs = renderVirtualService(r, { stableLabels: r.stable.labels, canaryLabels: r.canary.labels, canaryWeight: 50 });
  const routes = (vs.spec?.http ?? []) as Record<string, unknown>[];
  routes.forEach((route, i) => {
    if (route.name !== PRIMARY_ROUTE && !isStickyRoute(route.name)) return;
    for (const e of schemaErrors(HTTP_ROUTE_SCHEMA, route, `http[${i}]`)) problems.push({ path: at, message: `${e.path}: ${e.message} (Istio ${ISTIO_SCHEMA_VERSION} CRD schema)` });
    // Only the cookie condition is Fledge's; the Rollout's own conditions are Istio's to judge (RE2, pseudo-headers).
    for (const m of (route.match ?? []) as { headers?: Record<string, { regex?: string }> }[]) {
      if (m.headers?.cookie) headerMatchErrors('cookie', m.headers.cookie).forEach(say);
    }
    for (const d of (route.route ?? []) as { headers?: { response?: { add?: Record<string, string> } } }[]) {
      for (const [name, value] of Object.entries(d.headers?.response?.add ?? {})) responseHeaderErrors(name, value).forEach(say);
    }
  });
  return dedupe(problems);
}

/**
 * The passthrough fields against Istio's CRD schema (the version vendored with Fledge): each
 * `match` entry as an HTTPMatchRequest, each `http` extra as the HTTPRoute field of that name,
 * `trafficPolicy` as a DestinationRule TrafficPolicy.
 */
export function passthroughProblems(r: ResolvedRollout): Problem[] {
  const problems: Problem[] = [];
  const say = (path: string, message: string) => problems.push({ path, message: `${message} (Istio ${ISTIO_SCHEMA_VERSION} CRD schema)` });
  const vs = r.virtualService;
  if (vs.mode === 'generated') {
    (vs.match ?? []).forEach((m, i) => {
      for (const e of schemaErrors(HTTP_MATCH_SCHEMA, m, `${VS}.match[${i}]`)) say(e.path, e.message);
      // istiod's webhook judges them as it judges a match step's (RE2 regexes, header names); only
      // its refusals, not Fledge's stricter advice to match steps (lowercase names), which would
      // turn Rollouts stored before match steps existed Invalid.
      problems.push(...matchRequestProblems(m, `${VS}.match[${i}]`).filter((p) => p.message.startsWith('Istio refuses it:')));
    });
    for (const [key, value] of Object.entries(vs.http ?? {})) {
      const node = HTTP_ROUTE_SCHEMA.properties?.[key];
      if (!node) continue; // validate.ts names fields that are not passed through
      for (const e of schemaErrors(node, value, `${VS}.http.${key}`)) say(e.path, e.message);
    }
  }
  const dr = r.destinationRule;
  if (dr.mode === 'generated' && dr.trafficPolicy) {
    for (const e of schemaErrors(TRAFFIC_POLICY_SCHEMA, dr.trafficPolicy, `${DR}.trafficPolicy`)) say(e.path, e.message);
  }
  return problems;
}

/**
 * A generated VirtualService bound only to gateways (no `mesh`) steers the gateways' traffic
 * alone: every in-mesh caller of the Service reaches the canary pods by their share of the pods,
 * not by the step's weight. So does one that lists `mesh` but not the Service's own host. Not an
 * error (an edge-only canary can be what was meant), so a warning: `fledge validate` prints it,
 * the controller sets the RoutingWarning condition and emits an Event.
 */
export function coverageWarnings(r: ResolvedRollout): Problem[] {
  const vs = r.virtualService;
  return vs.mode === 'generated' ? routingCoverage(r, vs.hosts, vs.gateways, true) : [];
}

/** The same warning for an adopted VirtualService, read from the live object (the controller's part). */
export function adoptedCoverageWarnings(r: ResolvedRollout, live: KubeObject): Problem[] {
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const gateways = strings(live.spec?.gateways);
  return r.virtualService.mode === 'adopted' ? routingCoverage(r, strings(live.spec?.hosts), gateways.length > 0 ? gateways : undefined, false) : [];
}

function routingCoverage(r: ResolvedRollout, hosts: readonly string[], gateways: readonly string[] | undefined, generated: boolean): Problem[] {
  const onMesh = !gateways || gateways.length === 0 || gateways.includes(MESH_GATEWAY);
  const service = rolloutService(r);
  const ns = r.namespace;
  const hasServiceHost = hosts.some((h) => isServiceHost(h, ns, service));
  if (onMesh && hasServiceHost) return [];
  const which = generated ? 'the VirtualService' : `VirtualService ${r.virtualService.name}`;
  const why = !onMesh
    ? `${which} is bound to ${gateways!.join(', ')} only, not to mesh`
    : `${which}'s hosts (${hosts.join(', ')}) do not include the Service's host ${r.service.name}`;
  const fix = `to split them too, set hosts: [${[...new Set([...hosts, service.name])].join(', ')}] and gateways: [${[...new Set([...(gateways ?? []), MESH_GATEWAY])].join(', ')}]${generated ? '' : ' in it'}`;
  return [{ path: VS, message: `in-mesh calls to Service ${r.service.name} are not steered: ${why}, so other workloads reach the canary by its share of the pods, not by the step's weight; ${fix}` }];
}

/**
 * Match steps against Istio: each HTTPMatchRequest by Istio's CRD schema and by the checks of
 * istiod's webhook (validation.ts matchRequestProblems), and its combination with the weighted
 * route's `virtualService.match` (step-routes.ts): two conditions on one field cannot be ANDed.
 * Adopted VirtualServices take no match step (api/step-kinds.ts says why).
 */
export function stepMatchProblems(r: ResolvedRollout): Problem[] {
  const problems: Problem[] = [];
  const vs = r.virtualService;
  r.steps.forEach((step, i) => {
    if (!step.match) return;
    const base = `spec.strategy.steps[${i}].match`;
    step.match.forEach((m, j) => {
      for (const e of schemaErrors(HTTP_MATCH_SCHEMA, m, `${base}[${j}]`)) problems.push({ path: e.path, message: `${e.message} (Istio ${ISTIO_SCHEMA_VERSION} CRD schema)` });
      problems.push(...matchRequestProblems(m, `${base}[${j}]`));
    });
    if (vs.mode !== 'generated') return;
    const { match, conflicts } = combineMatches(vs.match, step.match);
    for (const c of conflicts) {
      problems.push({ path: `${base}[${c.index}].${c.field}`, message: `conflicts with ${VS}.match[${c.baseIndex}], which sets ${c.field} too: a request reaches the ${MATCH_ROUTE} route only if it meets both, and one HTTPMatchRequest holds one condition per field; drop one, or make them equal` });
    }
    if (match.length > MAX_COMBINED_MATCHES) {
      problems.push({ path: base, message: `${step.match.length} conditions times the ${vs.match?.length ?? 0} of ${VS}.match make ${match.length}, more than ${MAX_COMBINED_MATCHES} in the ${MATCH_ROUTE} route` });
    }
  });
  return dedupe(problems);
}
