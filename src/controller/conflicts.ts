import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, ROLLOUT_LABEL } from '../api/constants.ts';
import type { KubeObject } from '../api/object.ts';
import type { ResolvedRollout } from '../api/resolve.ts';
import type { Problem } from '../api/validate.ts';

interface RolloutLike {
  metadata: { name: string; namespace?: string; creationTimestamp?: string | Date };
  spec?: { trafficRouting?: { virtualService?: { name?: string; ref?: string } } };
  status?: { release?: string };
}

/** The VirtualService a rollout claims, read leniently: other rollouts may be invalid. */
export function claimedVirtualService(r: RolloutLike): string {
  const vs = r.spec?.trafficRouting?.virtualService;
  return vs?.ref ?? vs?.name ?? r.metadata.name;
}

function created(r: RolloutLike): string {
  const t = r.metadata.creationTimestamp;
  return t instanceof Date ? t.toISOString() : (t ?? '');
}

/**
 * Two Rollouts never manage the same VirtualService. The claim in force wins: the Rollout whose
 * generated VirtualService it is, else one that has already started a release, else the older
 * (then the name, so that every controller's view agrees). A newcomer never takes a live
 * VirtualService from the Rollout steering it, even one created in the same second (creation
 * times have a resolution of one second). A generated object that exists but belongs to someone
 * else is never overwritten.
 */
export function ownershipProblems(
  self: RolloutLike, r: ResolvedRollout, others: readonly RolloutLike[],
  liveVs: KubeObject | undefined, liveDr: KubeObject | undefined,
): Problem[] {
  const problems: Problem[] = [];
  const mine = claimedVirtualService(self);
  const rank = (x: RolloutLike) => `${x.status?.release ? 0 : 1}\0${created(x)}\0${x.metadata.name}`;
  const claimants = others.filter((o) => o.metadata.name !== self.metadata.name && claimedVirtualService(o) === mine);
  const labels = liveVs?.metadata.labels ?? {};
  const holder = labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE ? labels[ROLLOUT_LABEL] : undefined;
  const holderClaims = holder !== undefined && (holder === self.metadata.name || claimants.some((o) => o.metadata.name === holder));
  const rival = holderClaims ? claimants.find((o) => o.metadata.name === holder) : claimants.find((o) => rank(o) < rank(self));
  if (rival) {
    problems.push({ path: 'spec.trafficRouting.virtualService', message: `VirtualService ${mine} is already managed by Rollout ${rival.metadata.name}` });
  }
  if (r.virtualService.mode === 'generated') {
    const owner = foreignOwner(liveVs, r.name);
    if (owner) problems.push({ path: 'spec.trafficRouting.virtualService.name', message: `VirtualService ${r.virtualService.name} exists and ${owner}; adopt it with virtualService.ref, or choose another name` });
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
