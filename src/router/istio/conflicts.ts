import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, ROLLOUT_LABEL } from '../../api/constants.ts';
import type { KubeObject } from '../../api/object.ts';
import type { ResolvedRollout } from '../../api/resolve.ts';
import type { Problem } from '../../api/validate.ts';
import { claimedVirtualServices, createdAt, type RolloutObject } from '../../api/rollout-object.ts';
import { canonicalHost, gatewaysOf, isServiceHost, MESH_GATEWAY, serviceOfHost } from './hosts.ts';
import { routesOf } from './shapes.ts';


/**
 * Two Rollouts never manage the same VirtualService. The claim in force wins: the Rollout whose
 * generated VirtualService it is, else one that has already started a release, else the older
 * (then the name, so that every controller's view agrees). A newcomer never takes a live
 * VirtualService from the Rollout steering it, even one created in the same second (creation
 * times have a resolution of one second). A generated object that exists but belongs to someone
 * else is never overwritten.
 */
export function ownershipProblems(
  self: RolloutObject, r: ResolvedRollout, others: readonly RolloutObject[],
  liveVs: KubeObject | undefined, liveDr: KubeObject | undefined,
): Problem[] {
  const problems: Problem[] = [];
  // The VirtualService of `r` (a Rollout that lists several is checked once per entry).
  const mine = r.virtualService.name;
  const rank = (x: RolloutObject) => `${x.status?.release ? 0 : 1}\0${createdAt(x)}\0${x.metadata.name}`;
  const claimants = others.filter((o) => o.metadata.name !== self.metadata.name && claimedVirtualServices(o).includes(mine));
  const labels = liveVs?.metadata.labels ?? {};
  const holder = labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE ? labels[ROLLOUT_LABEL] : undefined;
  const holderClaims = holder !== undefined && (holder === self.metadata.name || claimants.some((o) => o.metadata.name === holder));
  const rival = holderClaims ? claimants.find((o) => o.metadata.name === holder) : claimants.find((o) => rank(o) < rank(self));
  if (rival) {
    problems.push({ path: 'spec.trafficRouting.virtualService', message: `VirtualService ${mine} is already managed by Rollout ${rival.metadata.name}` });
  }
  if (r.virtualService.mode === 'generated') {
    const owner = foreignOwner(liveVs, r.name);
    if (owner) {
      // Another name is a fix only if the existing one does not route our hosts on the mesh too:
      // there Istio would apply the older (that one) and ignore ours.
      const vs = r.virtualService;
      const onMesh = gatewaysOf(vs.gateways, r.namespace).includes(MESH_GATEWAY) && gatewaysOf(stringList(liveVs!.spec?.gateways), r.namespace).includes(MESH_GATEWAY);
      const theirs = new Set(stringList(liveVs!.spec?.hosts).map((h) => canonicalHost(h, r.namespace)));
      const shared = vs.hosts.find((h) => theirs.has(canonicalHost(h, r.namespace)));
      const fix = onMesh && shared !== undefined && !liveVs!.metadata.labels?.[ROLLOUT_LABEL]
        ? `it routes host ${shared} on the mesh, where Istio applies only the oldest VirtualService of a host, so another name would steer nothing; adopt it: set spec.trafficRouting.virtualService to {ref: ${vs.name}}${subsetAdvice(r, liveVs!)}`
        : 'adopt it with virtualService.ref, or choose another name';
      problems.push({ path: 'spec.trafficRouting.virtualService.name', message: `VirtualService ${r.virtualService.name} exists and ${owner}; ${fix}` });
    }
  }
  if (r.destinationRule.mode === 'generated') {
    const owner = foreignOwner(liveDr, r.name);
    if (owner) problems.push({ path: 'spec.trafficRouting.destinationRule.name', message: `DestinationRule ${r.destinationRule.name} exists and ${owner}; adopt it with destinationRule.ref, or choose another name` });
  }
  return problems;
}

function foreignOwner(live: KubeObject | undefined, rollout: string): string | undefined {
  if (!live) return undefined;
  const labels = live.metadata.labels ?? {};
  if (labels[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) return 'is not managed by Fledge';
  if (labels[ROLLOUT_LABEL] !== rollout) return `belongs to Rollout ${labels[ROLLOUT_LABEL] ?? '(unknown)'}`;
  return undefined;
}

interface VsLike { metadata: { name: string; namespace?: string; labels?: Record<string, string>; creationTimestamp?: string | Date }; spec?: Record<string, unknown> }

/** The hosts and gateways of the VirtualService that carries a Rollout's routing. */
export interface RoutingVirtualService {
  name: string;
  namespace: string;
  hosts: readonly string[];
  gateways?: readonly string[];
  /** The live object, when it exists: its age decides which of two Istio applies. */
  live?: VsLike;
}

/** The Rollout's VirtualService as it is or will be: generated from the spec, or the adopted live one. */
export function routingVirtualService(r: ResolvedRollout, liveVs: KubeObject | undefined): RoutingVirtualService | undefined {
  const vs = r.virtualService;
  if (vs.mode === 'generated') return { name: vs.name, namespace: r.namespace, hosts: vs.hosts, ...(vs.gateways ? { gateways: vs.gateways } : {}), ...(liveVs ? { live: liveVs } : {}) };
  if (!liveVs) return undefined;
  return { name: vs.name, namespace: r.namespace, hosts: stringList(liveVs.spec?.hosts), gateways: stringList(liveVs.spec?.gateways), live: liveVs };
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** Istio's order among VirtualServices for one host: older first, then by name, then namespace (pilot/pkg/model/config.go, configCompareByCreationTime). */
function istioOrder(a: VsLike, b: VsLike): number {
  const ta = createdAt(a);
  const tb = createdAt(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  if (a.metadata.name !== b.metadata.name) return a.metadata.name < b.metadata.name ? -1 : 1;
  const na = a.metadata.namespace ?? '';
  const nb = b.metadata.namespace ?? '';
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/** Whether a VirtualService of `namespace` is visible to `to` (exportTo; none listed means everywhere). */
function exportedTo(vs: VsLike, to: string): boolean {
  const exportTo = stringList(vs.spec?.exportTo);
  const ns = vs.metadata.namespace ?? '';
  return exportTo.length === 0 || exportTo.includes('*') || exportTo.includes(to) || (ns === to && exportTo.includes('.'));
}

/**
 * Another VirtualService for one of this Rollout's hosts on one of its gateways. On the mesh
 * gateway Istio applies only the oldest VirtualService of a host and ignores the rest (istioctl
 * analyze: IST0109), so a newer one steers nothing while the status says it does: refused, with
 * the fix that works (adopt the older one; or, for another Rollout's, keep one Rollout per
 * Service). When ours is the older, the other one is what Istio ignores: a warning. On a
 * gateway Istio merges the routes of every VirtualService of a host (in that same order), which
 * teams use on purpose to split a large edge: a warning, since a catch-all route of the older
 * one shadows ours.
 */
export function hostOverlaps(r: ResolvedRollout, own: RoutingVirtualService, others: readonly VsLike[]): { problems: Problem[]; warnings: Problem[] } {
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const ns = own.namespace;
  const ownHosts = new Map(own.hosts.map((h) => [canonicalHost(h, ns), h]));
  const ownGateways = new Set(gatewaysOf(own.gateways, ns));
  const me: VsLike = own.live ?? { metadata: { name: own.name, namespace: ns, creationTimestamp: '\uffff' } };
  for (const other of others) {
    const ons = other.metadata.namespace ?? '';
    if (other.metadata.name === own.name && ons === ns) continue;
    if (!exportedTo(other, ns)) continue;
    const host = stringList(other.spec?.hosts).map((h) => ownHosts.get(canonicalHost(h, ons))).find((h) => h !== undefined);
    if (host === undefined) continue;
    const shared = gatewaysOf(stringList(other.spec?.gateways), ons).filter((g) => ownGateways.has(g));
    if (shared.length === 0) continue;
    const where = ons === ns ? other.metadata.name : `${ons}/${other.metadata.name}`;
    const labels = other.metadata.labels ?? {};
    const rollout = labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE ? labels[ROLLOUT_LABEL] : undefined;
    const whose = rollout ? `VirtualService ${where} of Rollout ${rollout}` : `VirtualService ${where}`;
    const ours = istioOrder(me, other) < 0;
    if (!shared.includes(MESH_GATEWAY)) {
      warnings.push({ path: 'spec.trafficRouting.virtualService', message: `${whose} also routes host ${host} on gateway ${shared.join(', ')}; Istio merges the routes of both there, ${ours ? 'ours' : 'its'} first, so a route of ${ours ? 'ours' : 'it'} that matches a request takes it from ${ours ? 'it' : 'ours'}` });
      continue;
    }
    if (ours) {
      warnings.push({ path: 'spec.trafficRouting.virtualService', message: `${whose} also routes host ${host} on the mesh; Istio applies only the oldest VirtualService of a host there (ours) and ignores it` });
      continue;
    }
    const fix = rollout
      ? `one Service's mesh traffic is steered by one Rollout: delete this Rollout, or Rollout ${rollout}`
      : ons !== ns
        ? `remove host ${host} from VirtualService ${where} (Fledge adopts only VirtualServices of namespace ${ns})`
        : `adopt it: set spec.trafficRouting.virtualService to {ref: ${other.metadata.name}}${subsetAdvice(r, other)}`;
    problems.push({ path: 'spec.trafficRouting.virtualService', message: `${whose} already routes host ${host} on the mesh, and Istio applies only the oldest VirtualService of a host there: ${own.live ? 'ours' : 'a new one'} would steer nothing; ${fix}` });
  }
  return { problems, warnings };
}

/** When the VirtualService to adopt names the Service's subsets otherwise, the Rollout must name them so too. */
function subsetAdvice(r: ResolvedRollout, vs: VsLike): string {
  const service = serviceOfHost(r.service.name, r.namespace) ?? { name: r.service.name, namespace: r.namespace };
  const ns = vs.metadata.namespace ?? r.namespace;
  const routes = routesOf(vs);
  for (const route of routes) {
    const mine = (route.route ?? []).filter((d) => d.destination?.subset && isServiceHost(d.destination.host, ns, service));
    const names = [...new Set(mine.map((d) => d.destination!.subset!))];
    if (names.length !== 2) continue;
    // Stable is the subset that takes the traffic now.
    const weightOf = (s: string) => mine.filter((d) => d.destination!.subset === s).reduce((a, d) => a + (d.weight ?? 0), 0);
    const [stable, canary] = weightOf(names[0]!) >= weightOf(names[1]!) ? [names[0]!, names[1]!] : [names[1]!, names[0]!];
    if (stable === r.stable.subset && canary === r.canary.subset) return '';
    return `, and name the subsets as its routes do: spec.stable.subset: ${stable}, spec.canary.subset: ${canary}`;
  }
  return '';
}
