/**
 * The safety properties of a recorded history of writes (see recorder.ts), checked in the order
 * etcd committed them. Pure: no cluster, no vitest, so the soak CLI and the tests share it.
 *
 * 1. weights: every route of every VirtualService version has integer weights 0..100 summing
 *    to 100.
 * 2. monotonic: a VirtualService's canary weight never goes down, except to 0 after the test
 *    aborted that Rollout or gave it a new canary mid-way (abort, release restart), and to the
 *    first step after it committed the next release of a promoted one.
 * 3. status: within one release, status.canaryWeight never goes down except on RolledBack.
 * 4. exposure: combining the live VirtualService and DestinationRule (what the mesh runs), no
 *    write gives a set of pods more traffic than it had just before, unless the latest status
 *    Fledge recorded plans that much for it. This is what "never worse than doing nothing" means
 *    for the order of writes: between the DestinationRule write and the VirtualService write (or
 *    after a crash in between) the mesh runs a mix of both, and that mix must never send a new
 *    canary the old canary's share, nor the old stable traffic it no longer serves.
 * 5. lost: no generated VirtualService or DestinationRule is ever deleted while its Rollout lives.
 */
import type { RecordedEvent } from './recorder.ts';

export interface Action {
  rollout: string;
  /** abort: to stable; change: a new canary mid-rollout; next: the next release after promotion. */
  what: 'abort' | 'change' | 'next';
  /** resourceVersion of the write that carried it. */
  rv: bigint;
}

export interface HistoryStats {
  vsVersions: number;
  drVersions: number;
  statusVersions: number;
  /** Allowed decreases of a canary weight (abort, rollback, restart). */
  allowedDecreases: number;
}

type Labels = Record<string, string>;
interface Route { route?: { destination?: { subset?: string }; weight?: number }[]; name?: string }
interface Status { phase?: string; release?: string; canaryWeight?: number; stableLabels?: Labels; canaryLabels?: Labels }

const key = (l: Labels | undefined) => JSON.stringify(Object.entries(l ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));

export function routesOf(ev: RecordedEvent): Route[] {
  return ((ev.obj.spec?.http as Route[] | undefined) ?? []);
}

/** Problems with the weights of one VirtualService version; empty when valid. */
export function weightProblems(routes: Route[]): string[] {
  const out: string[] = [];
  routes.forEach((r, i) => {
    const dests = r.route ?? [];
    const lone = dests.length === 1 && dests[0]!.weight === undefined;
    const weights = lone ? [100] : dests.map((d) => d.weight);
    for (const w of weights) if (!(Number.isInteger(w) && w! >= 0 && w! <= 100)) out.push(`route ${r.name ?? i}: weight ${JSON.stringify(w)} is not an integer 0..100`);
    const sum = weights.reduce<number>((a, b) => a + (typeof b === 'number' ? b : NaN), 0);
    if (sum !== 100) out.push(`route ${r.name ?? i}: weights sum to ${sum}`);
  });
  return out;
}

/** Subset name → weight of the first (weighted) route. */
function splitOf(routes: Route[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const d of routes[0]?.route ?? []) m.set(d.destination?.subset ?? '?', (m.get(d.destination?.subset ?? '?') ?? 0) + (d.weight ?? 0));
  return m;
}

export function checkHistory(ordered: RecordedEvent[], actions: Action[]): { violations: string[]; stats: HistoryStats } {
  const violations: string[] = [];
  const stats: HistoryStats = { vsVersions: 0, drVersions: 0, statusVersions: 0, allowedDecreases: 0 };
  const lastCanary = new Map<string, number>();
  const lastStatus = new Map<string, Status>();
  const planned = new Map<string, Map<string, number>>();
  const liveVs = new Map<string, RecordedEvent>();
  const liveDr = new Map<string, RecordedEvent>();
  const deletedRollouts = new Set<string>();
  const say = (ev: RecordedEvent, what: string) => violations.push(`${ev.kind} ${ev.name} @rv ${ev.rv}: ${what}`);

  const combined = (rollout: string): Map<string, number> | undefined => {
    const vs = liveVs.get(rollout);
    const dr = liveDr.get(rollout);
    if (!vs || !dr) return undefined;
    const subsets = new Map(((dr.obj.spec?.subsets as { name: string; labels?: Labels }[] | undefined) ?? []).map((s) => [s.name, key(s.labels)]));
    const share = new Map<string, number>();
    for (const [subset, w] of splitOf(routesOf(vs))) {
      const labels = subsets.get(subset);
      if (labels !== undefined) share.set(labels, (share.get(labels) ?? 0) + w);
    }
    return share;
  };
  const exposure = (ev: RecordedEvent, rollout: string, before: Map<string, number> | undefined) => {
    const share = combined(rollout);
    if (!share) return;
    const plan = planned.get(rollout) ?? new Map<string, number>();
    for (const [labels, w] of share) {
      const allowed = Math.max(before?.get(labels) ?? 0, plan.get(labels) ?? 0);
      if (w > allowed) {
        say(ev, `pods ${labels} get ${w}% of the traffic: ${before?.get(labels) ?? 0}% before this write, and the latest status plans ${plan.get(labels) ?? 0}% ` +
          `(VirtualService @rv ${liveVs.get(rollout)!.rv} with DestinationRule @rv ${liveDr.get(rollout)!.rv})`);
      }
    }
  };

  for (const ev of ordered) {
    if (ev.kind === 'Rollout') {
      if (ev.type === 'DELETED') {
        deletedRollouts.add(ev.name);
        continue;
      }
      const st = (ev.obj.status ?? {}) as Status;
      const prev = lastStatus.get(ev.name);
      if (st.release !== undefined && prev?.release !== undefined && JSON.stringify(prev) !== JSON.stringify(st)) stats.statusVersions++;
      if (st.release && st.stableLabels && st.canaryLabels && st.canaryWeight !== undefined) {
        if (prev?.release === st.release && (prev.canaryWeight ?? 0) > st.canaryWeight && st.phase !== 'RolledBack') {
          say(ev, `status canaryWeight went from ${prev.canaryWeight} to ${st.canaryWeight} within release ${st.release} (phase ${st.phase})`);
        }
        // What the latest status plans: each set of pods' share.
        const plan = new Map<string, number>();
        const add = (labels: Labels, w: number) => plan.set(key(labels), (plan.get(key(labels)) ?? 0) + w);
        add(st.stableLabels, 100 - st.canaryWeight);
        add(st.canaryLabels, st.canaryWeight);
        planned.set(ev.name, plan);
      }
      lastStatus.set(ev.name, st);
      continue;
    }
    // A generated VirtualService and DestinationRule have their Rollout's name.
    const rollout = ev.name;
    if (ev.type === 'DELETED') {
      if (!deletedRollouts.has(rollout)) say(ev, 'deleted while its Rollout lives');
      (ev.kind === 'VirtualService' ? liveVs : liveDr).delete(rollout);
      continue;
    }
    const before = combined(rollout);
    if (ev.kind === 'DestinationRule') {
      stats.drVersions++;
      liveDr.set(rollout, ev);
      exposure(ev, rollout, before);
      continue;
    }
    stats.vsVersions++;
    liveVs.set(rollout, ev);
    for (const p of weightProblems(routesOf(ev))) say(ev, p);
    const w = splitOf(routesOf(ev)).get('canary');
    if (w !== undefined) {
      const before = lastCanary.get(ev.name);
      if (before !== undefined && w < before) {
        const excused = actions.some((a) => a.rollout === rollout && a.rv < ev.rv && (w === 0 || a.what === 'next'));
        if (excused) stats.allowedDecreases++;
        else say(ev, `canary weight went backwards from ${before} to ${w}`);
      }
      lastCanary.set(ev.name, w);
    }
    exposure(ev, rollout, before);
  }
  return { violations, stats };
}

/** One line per recorded write, for a failure message: what the checker saw, in order. */
export function describeHistory(ordered: RecordedEvent[]): string {
  return ordered.map((e) => {
    const what = e.kind === 'VirtualService' ? JSON.stringify(Object.fromEntries(splitOf(routesOf(e))))
      : e.kind === 'DestinationRule' ? JSON.stringify(((e.obj.spec?.subsets as { name: string; labels?: Labels }[] | undefined) ?? []).map((s) => [s.name, s.labels]))
        : JSON.stringify(((s) => [s.phase, s.canaryWeight, s.release])((e.obj.status ?? {}) as Status));
    return `${e.rv} ${e.type.padEnd(8)} ${e.kind} ${e.name} ${what} (+${e.at % 100_000} ms)`;
  }).join('\n');
}
