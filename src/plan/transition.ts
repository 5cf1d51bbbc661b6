/**
 * The order of routing writes. The subset labels live in the DestinationRule and the weights in
 * the VirtualService: two objects, written one after the other, and the mesh runs whatever mix of
 * the two is live in between (for milliseconds, or until a new controller runs after a crash).
 * Written in the wrong order, a release change would for that time send the old canary's share
 * to the new, unjudged canary (DestinationRule first), or send the new stable's share to the old
 * stable that may serve nothing any more (VirtualService first).
 *
 * `routingPath` picks the writes so that no intermediate state gives any set of pods more
 * traffic than it has now or will have at the end.
 */
import { sortedEntries } from '../api/release.ts';
import { sameLabels } from '../api/validate.ts';
import type { Labels } from '../api/schema.ts';
import type { Routing } from './types.ts';

/** Percent of the traffic each set of pods gets under `r` (keyed by its labels). */
export function sharesOf(r: Routing): Map<string, number> {
  const out = new Map<string, number>();
  const add = (l: Labels, w: number) => {
    const key = JSON.stringify(sortedEntries(l));
    out.set(key, (out.get(key) ?? 0) + w);
  };
  add(r.stableLabels, 100 - r.canaryWeight);
  add(r.canaryLabels, r.canaryWeight);
  return out;
}

function same(a: Routing, b: Routing): boolean {
  return a.canaryWeight === b.canaryWeight && sameLabels(a.stableLabels, b.stableLabels) && sameLabels(a.canaryLabels, b.canaryLabels);
}

/**
 * The routings to apply, in order, to go from `live` to `desired`; the last one is `desired`.
 * Each differs from the one before in the DestinationRule (labels) or in the VirtualService
 * (weight), never both, so each is one object write. Every state on the way sends each set of
 * pods at most the larger of its share now and its share at the end; when no order can keep to
 * that (only from states the planner never asks to leave that way, such as a hand edit), the one
 * that exceeds it least. Without a live state (the objects do not exist yet), just `[desired]`.
 */
export function routingPath(live: Routing | undefined, desired: Routing): Routing[] {
  if (!live || same(live, desired)) return [desired];
  // A match or mirror step's routes ride along with the weights, but only in states whose subset
  // labels are already the desired ones (never toward pods the end state does not name), so the
  // last state is `desired` itself and no write on the way drops them.
  const { match, mirrorPercent, ...base } = desired;
  const extras = { ...(match ? { match } : {}), ...(mirrorPercent !== undefined ? { mirrorPercent } : {}) };
  const path = weightAndLabelPath(strip(live), base).map((s) => (
    sameLabels(s.stableLabels, desired.stableLabels) && sameLabels(s.canaryLabels, desired.canaryLabels) ? { ...s, ...extras } : s
  ));
  // A live match route or mirror sends to the canary subset whatever the weight (shares count
  // weights only): relabelled under it, the subset would hand its requests to pods it was never
  // meant for. So a path that starts by relabelling first writes the live state without them.
  const first = path[0]!;
  const relabelsFirst = !sameLabels(first.stableLabels, live.stableLabels) || !sameLabels(first.canaryLabels, live.canaryLabels);
  return relabelsFirst && (live.match !== undefined || live.mirrorPercent !== undefined) ? [strip(live), ...path] : path;
}

function strip(r: Routing): Routing {
  return { stableLabels: r.stableLabels, canaryLabels: r.canaryLabels, canaryWeight: r.canaryWeight };
}

function weightAndLabelPath(live: Routing, desired: Routing): Routing[] {
  if (same(live, desired)) return [desired];
  const now = sharesOf(live);
  const end = sharesOf(desired);
  const excess = (r: Routing) => Math.max(0, ...[...sharesOf(r)].map(([k, w]) => w - Math.max(now.get(k) ?? 0, end.get(k) ?? 0)));
  const labelChoices: [Labels, Labels][] = [
    [desired.stableLabels, desired.canaryLabels],
    [desired.stableLabels, live.canaryLabels],
    [live.stableLabels, desired.canaryLabels],
  ];
  let best: { path: Routing[]; excess: number } | undefined;
  // At most 3 writes (labels, weight, labels) are ever needed; shortest among the least harmful.
  const walk = (path: Routing[], worst: number) => {
    const at = path[path.length - 1] ?? live;
    if (same(at, desired)) {
      if (!best || worst < best.excess || (worst === best.excess && path.length < best.path.length)) best = { path, excess: worst };
      return;
    }
    if (path.length >= 3) return;
    const moves: Routing[] = [
      ...(at.canaryWeight !== desired.canaryWeight ? [{ ...at, canaryWeight: desired.canaryWeight }] : []),
      ...labelChoices.map(([stableLabels, canaryLabels]) => ({ ...at, stableLabels, canaryLabels })),
    ];
    for (const m of moves) {
      if (same(m, at) || path.some((p) => same(p, m))) continue;
      walk([...path, m], Math.max(worst, excess(m)));
    }
  };
  walk([], 0);
  return best?.path ?? [desired];
}
