import { isDeepStrictEqual } from 'node:util';
import type { KubeObject } from '../api/object.ts';

/**
 * Would server-side applying `desired` as `manager` change `live`? Compares the spec fields the
 * desired object sets and those the manager owns now (an owned field the desired object dropped
 * would be removed), plus labels and owner references. Applying only when this is true keeps a
 * converged controller at zero writes.
 *
 * A map is compared key by key, as server-side apply merges it (a key another manager added to a
 * map Fledge also sets is theirs, not drift), when managedFields say which of its keys the
 * manager owns; without that detail (managedFields trimmed to top-level fields) it is compared
 * whole. Lists are always compared whole: Istio's CRDs declare no list types.
 */
export function applyWouldChange(live: KubeObject | undefined, desired: KubeObject, manager: string): boolean {
  if (!live) return true;
  for (const [k, v] of Object.entries(desired.metadata.labels ?? {})) if (live.metadata.labels?.[k] !== v) return true;
  for (const [k, v] of Object.entries(desired.metadata.annotations ?? {})) if (live.metadata.annotations?.[k] !== v) return true;
  for (const ref of desired.metadata.ownerReferences ?? []) {
    if (!live.metadata.ownerReferences?.some((r) => r.uid === ref.uid && r.controller === ref.controller)) return true;
  }
  const want = normalize(desired.spec ?? {}) as Record<string, unknown>;
  const have = normalize(live.spec ?? {}) as Record<string, unknown>;
  const owned = ownedSpecPaths(live, manager);
  const keys = new Set([...Object.keys(want), ...owned.map((p) => p[0]!)]);
  for (const k of keys) {
    const paths = owned.filter((p) => p[0] === k);
    const detailed = paths.some((p) => p.length > 1);
    if (detailed && isMap(want[k]) && isMap(have[k])) {
      if (!covers(have[k], want[k]) || paths.some((p) => valueAt(want, p) === undefined)) return true;
    } else if (!isDeepStrictEqual(have[k], want[k])) {
      return true;
    }
  }
  return false;
}

/** Top-level spec fields that `manager` owns by apply, read from managedFields. */
export function ownedSpecKeys(obj: KubeObject, manager: string): string[] {
  return [...new Set(ownedSpecPaths(obj, manager).map((p) => p[0]!))];
}

/**
 * The spec fields `manager` owns by apply, as paths, down to the deepest map field that
 * managedFields show: a list, a list item, or a field shown without its children is a leaf.
 */
export function ownedSpecPaths(obj: KubeObject, manager: string): string[][] {
  const out: string[][] = [];
  const walk = (node: Record<string, unknown>, path: string[]) => {
    const fields = Object.keys(node).filter((k) => k.startsWith('f:'));
    if (fields.length === 0 || Object.keys(node).some((k) => !k.startsWith('f:') && k !== '.')) {
      if (path.length > 0) out.push(path);
      return;
    }
    for (const k of fields) walk((node[k] ?? {}) as Record<string, unknown>, [...path, k.slice(2)]);
  };
  for (const mf of obj.metadata.managedFields ?? []) {
    if (mf.manager !== manager || mf.operation !== 'Apply') continue;
    const spec = (mf.fieldsV1 as Record<string, unknown> | undefined)?.['f:spec'];
    if (spec && typeof spec === 'object') walk(spec as Record<string, unknown>, []);
  }
  return out;
}

/** Does `live` hold every field `desired` sets, with the same value (maps compared per key)? */
function covers(live: unknown, desired: unknown): boolean {
  if (isMap(desired) && isMap(live)) return Object.entries(desired).every(([k, v]) => covers(live[k], v));
  return isDeepStrictEqual(live, desired);
}

function valueAt(v: unknown, path: string[]): unknown {
  let at = v;
  for (const k of path) at = isMap(at) ? at[k] : undefined;
  return at;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Managers other than `manager` that last wrote the object, newest first. */
export function otherManagers(obj: KubeObject, manager: string): string[] {
  return (obj.metadata.managedFields ?? [])
    .filter((mf) => mf.manager && mf.manager !== manager)
    .sort((a, b) => (b.time ?? '').localeCompare(a.time ?? ''))
    .map((mf) => mf.manager!);
}

/** JSON round trip: the API server's copy and ours differ only in key order and undefineds. */
function normalize(v: unknown): unknown {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}
