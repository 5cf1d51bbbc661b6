/**
 * The routes and route fields that match and mirror steps add to a generated VirtualService.
 *
 * A match step's HTTPMatchRequests apply only to the requests the Rollout routes: with
 * `virtualService.match` set, each of its conditions is combined with each of the step's (Istio
 * ORs the entries of a match list and ANDs the fields of one entry), so a request reaches the
 * `fledge-match` route only if the weighted route would have taken it and it matches the step.
 */
import { isDeepStrictEqual } from 'node:util';

/** Name of the route a match step adds ahead of the weighted one (recognisable in `kubectl get vs -o yaml`). */
export const MATCH_ROUTE = 'fledge-match';

/** Most conditions a combined match list may have (the weighted route's times the step's). */
export const MAX_COMBINED_MATCHES = 64;

/** HTTPMatchRequest fields that are maps: combined key by key. Every other field is one value. */
const MAP_FIELDS = new Set(['headers', 'withoutHeaders', 'queryParams', 'sourceLabels']);

export interface MatchConflict {
  /** Index of the step's HTTPMatchRequest. */
  index: number;
  /** The field both set (`uri`, or `headers.x-canary`). */
  field: string;
  /** Index of the weighted route's HTTPMatchRequest it conflicts with. */
  baseIndex: number;
}

/**
 * The match list of the `fledge-match` route: the step's conditions, each ANDed with each of the
 * weighted route's. Two conditions on one field (the same header, two `uri`s) cannot be ANDed in
 * one HTTPMatchRequest: those are conflicts, and the Rollout is refused (offline.ts); were one
 * rendered anyway, the weighted route's condition is kept, so the route never widens its scope.
 */
export function combineMatches(base: readonly Record<string, unknown>[] | undefined, step: readonly Record<string, unknown>[]): { match: Record<string, unknown>[]; conflicts: MatchConflict[] } {
  if (!base || base.length === 0) return { match: step.map((m) => ({ ...m })), conflicts: [] };
  const match: Record<string, unknown>[] = [];
  const conflicts: MatchConflict[] = [];
  base.forEach((b, baseIndex) => {
    step.forEach((s, index) => {
      const out: Record<string, unknown> = { ...b };
      for (const [key, value] of Object.entries(s)) {
        const have = out[key];
        if (have === undefined || isDeepStrictEqual(have, value)) {
          out[key] = value;
        } else if (MAP_FIELDS.has(key) && isMap(have) && isMap(value)) {
          const merged: Record<string, unknown> = { ...have };
          for (const [k, v] of Object.entries(value)) {
            if (merged[k] !== undefined && !isDeepStrictEqual(merged[k], v)) conflicts.push({ index, field: `${key}.${k}`, baseIndex });
            else merged[k] = v;
          }
          out[key] = merged;
        } else {
          conflicts.push({ index, field: key, baseIndex });
        }
      }
      match.push(out);
    });
  });
  return { match, conflicts };
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
