/**
 * A Rollout as the API server returns it, before (or without) validation, and the one lenient
 * reader of its raw fields. The controller's caches, the claim index, the conflict checks and the
 * CLI read raw Rollouts through this, never through casts: another Rollout of the namespace may be
 * invalid and must still be read for what it claims.
 */
import type { KubeObject } from './object.ts';
import type { RolloutStatus } from './schema.ts';

export type RolloutObject = KubeObject & {
  status?: RolloutStatus;
  metadata: KubeObject['metadata'] & { creationTimestamp?: string | Date };
};

/** The parts of a raw Rollout the lenient readers use (an informer's object may lack any of them). */
export interface RawRollout {
  metadata?: { name?: string; namespace?: string; creationTimestamp?: string | Date };
  spec?: unknown;
  status?: { release?: string };
}

interface RawTrafficRouting {
  virtualService?: { name?: string; ref?: string };
  virtualServices?: unknown;
  destinationRule?: { ref?: string };
}

function trafficRouting(r: RawRollout): RawTrafficRouting | undefined {
  const spec = r.spec;
  if (typeof spec !== 'object' || spec === null) return undefined;
  const tr = (spec as { trafficRouting?: unknown }).trafficRouting;
  return typeof tr === 'object' && tr !== null ? (tr as RawTrafficRouting) : undefined;
}

/** The (first) VirtualService a Rollout claims (by ref, by name, else its own name). */
export function claimedVirtualService(r: RawRollout): string {
  return claimedVirtualServices(r)[0]!;
}

/**
 * Every VirtualService a Rollout claims: the `ref`s of `virtualServices` when it lists them
 * (read leniently: entries without a string ref are skipped), else `claimedVirtualService`.
 */
export function claimedVirtualServices(r: RawRollout): string[] {
  const tr = trafficRouting(r);
  if (Array.isArray(tr?.virtualServices) && tr.virtualService === undefined) {
    const refs = tr.virtualServices.flatMap((e: unknown) => {
      const ref = typeof e === 'object' && e !== null ? (e as { ref?: unknown }).ref : undefined;
      return typeof ref === 'string' ? [ref] : [];
    });
    if (refs.length > 0) return [...new Set(refs)];
  }
  const vs = tr?.virtualService;
  return [vs?.ref ?? vs?.name ?? r.metadata?.name ?? ''];
}

/** The VirtualServices a Rollout adopts: its `virtualService.ref`, or the refs of its `virtualServices`. */
export function adoptedVirtualServices(r: RawRollout): string[] {
  const tr = trafficRouting(r);
  if (tr?.virtualService !== undefined) return tr.virtualService.ref !== undefined ? [tr.virtualService.ref] : [];
  return Array.isArray(tr?.virtualServices) ? claimedVirtualServices(r) : [];
}

/** The DestinationRule a Rollout adopts by `ref`, if any. */
export function adoptedDestinationRule(r: RawRollout): string | undefined {
  return trafficRouting(r)?.destinationRule?.ref;
}

/** metadata.creationTimestamp as RFC 3339 text ('' when unknown): compared as text, second resolution. */
export function createdAt(r: RawRollout): string {
  const t = r.metadata?.creationTimestamp;
  return t instanceof Date ? t.toISOString() : (t ?? '');
}

/**
 * The hosts a Rollout's generated VirtualService names, read leniently (the Rollout may be
 * invalid): `virtualService.hosts`, else the Service's name. An adopted VirtualService's hosts
 * are its own, and its changes wake the Rollout through the claim index.
 */
export function generatedHosts(r: RawRollout): string[] {
  const vs = trafficRouting(r)?.virtualService as { ref?: unknown; hosts?: unknown } | undefined;
  if (vs?.ref !== undefined || (vs === undefined && trafficRouting(r)?.virtualServices !== undefined)) return [];
  if (Array.isArray(vs?.hosts)) return vs.hosts.filter((h): h is string => typeof h === 'string');
  const service = typeof r.spec === 'object' && r.spec !== null ? (r.spec as { service?: { name?: unknown } }).service : undefined;
  return typeof service?.name === 'string' ? [service.name] : [];
}

/** `spec.<side>.labels` read leniently: only string values count ({} when absent or malformed). */
export function specLabels(r: RawRollout, side: 'stable' | 'canary'): Record<string, string> {
  const labels = (specSide(r, side) as { labels?: unknown } | undefined)?.labels;
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) return {};
  return Object.fromEntries(Object.entries(labels).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** `spec.<side>.subset` read leniently (undefined when absent or not a string). */
export function specSubset(r: RawRollout, side: 'stable' | 'canary'): string | undefined {
  const subset = (specSide(r, side) as { subset?: unknown } | undefined)?.subset;
  return typeof subset === 'string' ? subset : undefined;
}

function specSide(r: RawRollout, side: 'stable' | 'canary'): unknown {
  const spec = r.spec;
  if (typeof spec !== 'object' || spec === null) return undefined;
  const s = (spec as Record<string, unknown>)[side];
  return typeof s === 'object' && s !== null ? s : undefined;
}

/**
 * An object the API server listed as a Rollout, typed as one: the single place where a raw
 * object becomes a RolloutObject (its spec stays unknown until parsed; its status is the
 * controller's, written only through the schema).
 */
export function asRolloutObject(o: object): RolloutObject {
  return o as RolloutObject;
}
