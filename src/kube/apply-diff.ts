import { isDeepStrictEqual } from 'node:util';
import type { KubeObject } from '../api/object.ts';

/**
 * Would server-side applying `desired` as `manager` change `live`? Compares the spec fields the
 * desired object sets and those the manager owns now (an owned field the desired object dropped
 * would be removed), plus labels and owner references. Applying only when this is true keeps a
 * converged controller at zero writes.
 */
export function applyWouldChange(live: KubeObject | undefined, desired: KubeObject, manager: string): boolean {
  if (!live) return true;
  for (const [k, v] of Object.entries(desired.metadata.labels ?? {})) if (live.metadata.labels?.[k] !== v) return true;
  for (const [k, v] of Object.entries(desired.metadata.annotations ?? {})) if (live.metadata.annotations?.[k] !== v) return true;
  for (const ref of desired.metadata.ownerReferences ?? []) {
    if (!live.metadata.ownerReferences?.some((r) => r.uid === ref.uid && r.controller === ref.controller)) return true;
  }
  const keys = new Set([...Object.keys(desired.spec ?? {}), ...ownedSpecKeys(live, manager)]);
  for (const k of keys) if (!isDeepStrictEqual(normalize(live.spec?.[k]), normalize(desired.spec?.[k]))) return true;
  return false;
}

/** Top-level spec fields that `manager` owns by apply, read from managedFields. */
export function ownedSpecKeys(obj: KubeObject, manager: string): string[] {
  const keys: string[] = [];
  for (const mf of obj.metadata.managedFields ?? []) {
    if (mf.manager !== manager || mf.operation !== 'Apply') continue;
    const spec = (mf.fieldsV1 as Record<string, unknown> | undefined)?.['f:spec'];
    if (spec && typeof spec === 'object') for (const k of Object.keys(spec)) if (k.startsWith('f:')) keys.push(k.slice(2));
  }
  return keys;
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
