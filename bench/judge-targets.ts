/**
 * The targets of issue #15 for `npm run bench:judge`, each checked against the grid's results
 * with a verdict line (met / missed, with the figure), and for a missed one the limit any rule
 * faces there: the canary requests Fledge's rule had, and the best a fixed-sample test could do
 * with as many (binomial, stable's rate known exactly: a bound no sequential rule can beat).
 */
import { regularizedIncompleteBeta } from '../src/analysis/beta.ts';
import type { CellStats } from './judge-sim.ts';

export type Lookup = (judge: string, rps: number, scenario: string) => CellStats;

export interface Verdict {
  met: boolean;
  line: string;
}

export interface TargetContext {
  cell: Lookup;
  fledge: string;
  anchors: [string, string];
  rates: readonly number[];
  /** Scenarios the targets name, by their bench names. */
  healthy: string;
  broken: string;
  tenX: string;
  fiveX: string;
  bad: readonly string[];
  /** Error rates: stable's, the rate Fledge tolerates, and each scenario's canary rate. */
  stableRate: number;
  toleratedRate: number;
  canaryRate: (scenario: string) => number;
  /** 1 − confidence (false rollbacks per release) and 1 − passConfidence. */
  alpha: number;
  passBudget: number;
}

const share = (n: number, runs: number) => n / runs;
const pct = (x: number) => (x > 0 && x < 0.01 ? '<1 %' : x > 0.99 && x < 1 ? '>99 %' : `${Math.round(100 * x)} %`);
const secs = (s: number | undefined) => (s === undefined ? 'none' : `${Math.round(s)} s`);

/** P(X <= c) for X ~ Binomial(n, p). */
function binomCdf(c: number, n: number, p: number): number {
  if (c < 0) return 0;
  if (c >= n) return 1;
  return regularizedIncompleteBeta(1 - p, n - c, c + 1);
}

/**
 * The most powerful fixed-sample test on n canary requests that rolls back a canary at the
 * tolerated rate with probability at most alpha: its chance of rolling back one at `bad`.
 */
export function fixedSampleCatch(n: number, tolerated: number, bad: number, alpha: number): number {
  let c = 0;
  while (c <= n && 1 - binomCdf(c - 1, n, tolerated) > alpha) c++;
  return c > n ? 0 : 1 - binomCdf(c - 1, n, bad);
}

/**
 * The most powerful fixed-sample test on n canary requests that passes a canary at the tolerated
 * rate with probability at most beta: its chance of passing one at `good`.
 */
export function fixedSamplePass(n: number, tolerated: number, good: number, beta: number): number {
  let c = -1;
  while (c + 1 <= n && binomCdf(c + 1, n, tolerated) <= beta) c++;
  return c < 0 ? 0 : binomCdf(c, n, good);
}

export function verdicts(x: TargetContext): Verdict[] {
  const out: Verdict[] = [];
  const f = (rps: number, sc: string) => x.cell(x.fledge, rps, sc);
  const anchorText = (rps: number, sc: string, what: (c: CellStats) => string) =>
    `(${x.anchors.map((a) => `${a} ${what(x.cell(a, rps, sc))}`).join(', ')})`;
  const rb = (c: CellStats) => share(c.rolledBack, c.runs);
  const pr = (c: CellStats) => share(c.promoted, c.runs);
  const low = x.rates[0]!;
  const high = x.rates.filter((r) => r >= 5);
  const add = (met: boolean, what: string, figure: string, limit?: string) =>
    out.push({ met, line: `${met ? 'met' : 'MISSED'}: ${what}: ${figure}${!met && limit ? `. ${limit}` : ''}` });

  // Healthy canaries.
  add(x.rates.every((r) => rb(f(r, x.healthy)) <= 0.01), `healthy false rollbacks <= 1 % at ${x.rates.join(', ')} rps`,
    x.rates.map((r) => `${pct(rb(f(r, x.healthy)))} at ${r} ${anchorText(r, x.healthy, (c) => pct(rb(c)))}`).join('; '));
  add(high.every((r) => (f(r, x.healthy).medianPromoteS ?? Infinity) <= 300), `healthy median time to promote <= 300 s at >= 5 rps`,
    high.map((r) => `${secs(f(r, x.healthy).medianPromoteS)} at ${r}`).join(', '));
  {
    const c = f(low, x.healthy);
    const n = c.medianCanaryRequests ?? 0;
    add(pr(c) >= 0.9, `healthy >= 90 % promoted within 30 min at ${low} rps`, `${pct(pr(c))} ${anchorText(low, x.healthy, (a) => pct(pr(a)))}`,
      `With the median ${Math.round(n)} canary requests of those runs, the best fixed-sample test that passes a canary at the tolerated ${pct2(x.toleratedRate)} with probability <= ${x.passBudget.toFixed(2)} passes a healthy one with probability ${pct(fixedSamplePass(Math.round(n), x.toleratedRate, x.stableRate, x.passBudget))}`);
  }

  // Broken.
  add(x.rates.every((r) => rb(f(r, x.broken)) >= 0.99), `broken (50 %) >= 99 % rolled back at every rate`, x.rates.map((r) => `${pct(rb(f(r, x.broken)))} at ${r}`).join(', '));
  add((f(low, x.broken).medianRollbackS ?? Infinity) <= 180, `broken median time to rollback <= 180 s at ${low} rps`,
    `${secs(f(low, x.broken).medianRollbackS)} ${anchorText(low, x.broken, (c) => secs(c.medianRollbackS))}`);
  add(high.every((r) => (f(r, x.broken).medianRollbackS ?? Infinity) <= 30), `broken median time to rollback <= 30 s at >= 5 rps`,
    high.map((r) => `${secs(f(r, x.broken).medianRollbackS)} at ${r}`).join(', '));

  // 10x and 5x.
  const caught = (sc: string, atLeast: number, what: string) => {
    const ok = high.every((r) => rb(f(r, sc)) >= atLeast && pr(f(r, sc)) <= 0.01);
    const worst = high.reduce((w, r) => (rb(f(r, sc)) < rb(f(w, sc)) ? r : w), high[0]!);
    const c = f(worst, sc);
    add(ok, `${what} >= ${Math.round(atLeast * 100)} % rolled back and <= 1 % promoted at >= 5 rps`,
      high.map((r) => `${pct(rb(f(r, sc)))} / ${pct(pr(f(r, sc)))} promoted at ${r}`).join(', '),
      `At ${worst} rps the runs had a median ${Math.round(c.medianCanaryRequests ?? 0)} canary requests by their decision or 30 min; the best fixed-sample test on that many with false rollbacks <= ${x.alpha} of a canary at the tolerated rate catches ${pct(fixedSampleCatch(Math.round(c.medianCanaryRequests ?? 0), x.toleratedRate, x.canaryRate(sc), x.alpha))}`);
  };
  caught(x.tenX, 0.99, '10x');
  {
    const c = f(5, x.tenX);
    add((c.medianRollbackS ?? Infinity) <= 180, `10x median time to rollback <= 180 s at 5 rps`, `${secs(c.medianRollbackS)} ${anchorText(5, x.tenX, (a) => secs(a.medianRollbackS))}`);
  }
  add(pr(f(low, x.tenX)) <= 0.1, `10x <= 10 % promoted at ${low} rps`, `${pct(pr(f(low, x.tenX)))} ${anchorText(low, x.tenX, (c) => pct(pr(c)))}`);
  caught(x.fiveX, 0.95, '5x');
  add(pr(f(low, x.fiveX)) <= 0.5, `5x <= 50 % promoted at ${low} rps`, `${pct(pr(f(low, x.fiveX)))} ${anchorText(low, x.fiveX, (c) => pct(pr(c)))}`);

  // No cell where both anchors beat Fledge on both counts.
  const beaten: string[] = [];
  for (const r of x.rates) {
    const fr = rb(f(r, x.healthy));
    for (const sc of x.bad) {
      const fc = rb(f(r, sc));
      if (x.anchors.every((a) => rb(x.cell(a, r, x.healthy)) < fr && rb(x.cell(a, r, sc)) > fc)) beaten.push(`${sc} at ${r} rps`);
    }
  }
  add(beaten.length === 0, 'no cell where both Flagger and Argo have fewer false rollbacks and catch more bad canaries',
    beaten.length === 0 ? `none of ${x.rates.length * x.bad.length} (rate, bad canary) cells` : beaten.join(', '));
  return out;
}

const pct2 = (x: number) => `${Number((x * 100).toPrecision(3))} %`;
