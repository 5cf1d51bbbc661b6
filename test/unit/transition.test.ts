/**
 * The order of routing writes (src/plan/transition.ts): what the mesh runs between the
 * DestinationRule write and the VirtualService write must never send a set of pods more traffic
 * than it has before or after. The crash soak found the old order (DestinationRule first) sent a
 * new canary the old canary's share on every mid-rollout change, and all of the traffic on the
 * next release after a promotion.
 */
import { describe, expect, it } from 'vitest';
import type { Routing } from '../../src/plan/types.ts';
import { routingPath, sharesOf } from '../../src/plan/transition.ts';

const v = (version: string) => ({ version });
const r = (stable: string, canary: string, canaryWeight: number): Routing => ({ stableLabels: v(stable), canaryLabels: v(canary), canaryWeight });

/** The largest excess of any state on the path over max(share before, share after). */
function worstExcess(live: Routing, path: Routing[]): number {
  const now = sharesOf(live);
  const end = sharesOf(path[path.length - 1]!);
  let worst = 0;
  for (const st of path) for (const [k, w] of sharesOf(st)) worst = Math.max(worst, w - Math.max(now.get(k) ?? 0, end.get(k) ?? 0));
  return worst;
}

function objectsChanged(a: Routing, b: Routing): string[] {
  const out: string[] = [];
  if (JSON.stringify([a.stableLabels, a.canaryLabels]) !== JSON.stringify([b.stableLabels, b.canaryLabels])) out.push('DestinationRule');
  if (a.canaryWeight !== b.canaryWeight) out.push('VirtualService');
  return out;
}

describe('routingPath', () => {
  it('writes straight to the goal when nothing is live yet, or only one object changes', () => {
    expect(routingPath(undefined, r('v1', 'v2', 10))).toEqual([r('v1', 'v2', 10)]);
    expect(routingPath(r('v1', 'v2', 10), r('v1', 'v2', 50))).toEqual([r('v1', 'v2', 50)]);
    expect(routingPath(r('v1', 'v2', 50), r('v1', 'v2', 0))).toEqual([r('v1', 'v2', 0)]);
    expect(routingPath(r('v1', 'v2', 0), r('v1', 'v3', 0))).toEqual([r('v1', 'v3', 0)]);
  });

  // A live match route or mirror sends to the canary subset whatever the weight: relabelling the
  // subset under it would hand the new, unjudged pods the matched requests (or mirrored copies).
  const H = [{ headers: { 'x-canary': { exact: 'true' } } }];
  it.each<[string, Routing, Routing, Routing[]]>([
    ['a new release after a match step at 0 %: the match route goes before the relabelling',
      { ...r('v1', 'v2', 0), match: H }, r('v1', 'v3', 10), [r('v1', 'v2', 0), r('v1', 'v3', 0), r('v1', 'v3', 10)]],
    ['a new release starting on a match step: the old one goes first, the new one with the new labels',
      { ...r('v1', 'v2', 0), match: H }, { ...r('v1', 'v3', 0), match: H }, [r('v1', 'v2', 0), { ...r('v1', 'v3', 0), match: H }]],
    ['a new release after a mirror step: the mirror goes before the relabelling',
      { ...r('v1', 'v2', 0), mirrorPercent: 20 }, r('v1', 'v3', 0), [r('v1', 'v2', 0), r('v1', 'v3', 0)]],
    ['the weight goes to 0 first anyway: that write drops the match route, nothing added',
      { ...r('v1', 'v2', 50), match: H }, r('v1', 'v3', 0), [r('v1', 'v2', 0), r('v1', 'v3', 0)]],
    ['no relabelling: the match route just rides along',
      { ...r('v1', 'v2', 10), match: H }, { ...r('v1', 'v2', 20), match: H }, [{ ...r('v1', 'v2', 20), match: H }]],
  ])('%s', (_, live, desired, path) => {
    expect(routingPath(live, desired)).toEqual(path);
  });

  it('a new canary mid-rollout: the weight to 0 first, then the new labels', () => {
    expect(routingPath(r('v1', 'v2', 50), r('v1', 'v3', 0))).toEqual([r('v1', 'v2', 0), r('v1', 'v3', 0)]);
  });

  it('the next release after a promotion: stable onto the promoted pods, the weights, then the new canary', () => {
    // Either two-write order is wrong: DestinationRule first sends 100 % to v3, unjudged;
    // VirtualService first sends 90 % to v1, which served nothing any more.
    expect(routingPath(r('v1', 'v2', 100), r('v2', 'v3', 10))).toEqual([r('v2', 'v2', 100), r('v2', 'v2', 10), r('v2', 'v3', 10)]);
  });

  it('stable moved onto the canary mid-rollout', () => {
    const path = routingPath(r('v1', 'v2', 50), r('v2', 'v3', 0));
    expect(worstExcess(r('v1', 'v2', 50), path)).toBe(0);
    expect(path[path.length - 1]).toEqual(r('v2', 'v3', 0));
  });

  it('every transition the planner makes is safe, one object per write, ending at the goal', () => {
    const versions = ['v1', 'v2', 'v3', 'v4'];
    const weights = [0, 1, 10, 33, 50, 99, 100];
    let checked = 0;
    for (const s of versions) for (const c of versions) for (const w of weights) for (const s2 of versions) for (const c2 of versions) for (const w2 of weights) {
      if (s === c || s2 === c2) continue;
      const live = r(s, c, w);
      const goal = r(s2, c2, w2);
      const path = routingPath(live, goal);
      expect(path[path.length - 1]).toEqual(goal);
      expect(path.length).toBeLessThanOrEqual(3);
      let at = live;
      for (const st of path) {
        expect(objectsChanged(at, st).length, `${JSON.stringify(at)} -> ${JSON.stringify(st)}`).toBeLessThanOrEqual(1);
        at = st;
      }
      // What the planner asks for: a step or an abort (same labels), a restart at 0 on stable's
      // side, or the next release from a promotion (stable takes the promoted labels).
      const planned = (s === s2 && c === c2) || w2 === 0 || (w === 100 && s2 === c);
      if (planned) {
        expect(worstExcess(live, path), `${JSON.stringify(live)} -> ${JSON.stringify(goal)}: ${JSON.stringify(path)}`).toBe(0);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });
});
