/**
 * The evidence one signal gives about the canary: a share of bad requests (5xx; any other signal
 * told as counts, such as "slower than a bound", is judged the same way), from two count pairs, the
 * canary's and stable's over the same window. Pure numerics: no I/O, no clock, no randomness.
 *
 * Model. Canary and stable requests are independent Bernoulli trials, bad with probability p
 * (canary) and y (stable). The canary is within tolerance when p ≤ t(y), where
 * t(y) = min(1, max(y + tolerance, y · (1 + relativeTolerance))). Stable's rate is never known
 * exactly, so both quantities below are averaged over its posterior Beta(bad + ½, good + ½)
 * (Jeffreys prior): a stable with little traffic widens every verdict instead of being trusted.
 *
 * Against the canary: the Bayes factor of "worse than tolerated" (p > t(y), mixed log-uniformly
 * over (t(y), 1)) to "exactly at the tolerated bound" (p = t(y)), with y integrated out of both:
 *
 *   BF = ∫ π(y) [∫_{t(y)}^1 L(p) dp / (p ln(1/t(y)))] dy  /  ∫ π(y) L(t(y)) dy,   L(p) = p^k (1 − p)^(n − k).
 *
 * For a fixed y the bracket over L(t(y)) is a mixture of likelihood ratios of some p1 > t against
 * t; under any canary rate p ≤ t each is a nonnegative supermartingale (the binomial family has a
 * monotone likelihood ratio), so by Ville's inequality P(sup over all looks of BF ≥ 1/α) ≤ α:
 * the mixture sequential probability ratio test (Robbins 1970, "Statistical methods related to
 * the law of the iterated logarithm", Ann. Math. Statist. 41; Johari, Koomen, Pekelis & Walsh 2017,
 * "Peeking at A/B tests", KDD). Averaging numerator and denominator over stable's posterior makes
 * it a Bayes factor with stable's rate as a nuisance parameter (Kass & Raftery 1995, "Bayes
 * factors", JASA 90); that step has no closed-form guarantee, so its per-release false-rollback
 * rate is measured by `npm run bench:judge` (and by a unit test). The log-uniform mixture puts as
 * much weight on "2× the bound" as on "10× the bound", so an overwhelming regression is caught
 * within a handful of requests and a modest one pays only a few nats for not being named in
 * advance; a single bad request can add at most (1 − t) / (t ln(1/t)) (38 at t = 0.005), never
 * enough on its own. When the canary's own rate is not above what stable's estimate tolerates,
 * the factor is not computed and reported as 1: there is nothing to weigh against the canary.
 *
 * For the canary: the posterior probability that it is worse than tolerated, P(p > t(y) | data),
 * under Jeffreys priors Beta(½, ½) on both rates. The pass rule bounds it (see judge.ts).
 */
import { incBeta, lnBeta, lnUpperIncBeta } from './beta.ts';

/** Requests of one subset in one window, and how many of them were bad (5xx, too slow...). */
export interface CountPair {
  total: number;
  bad: number;
}

export interface Tolerance {
  /** Absolute margin over stable's rate (0.005 = half a percentage point). */
  absolute: number;
  /** Relative margin: 0.5 lets the canary reach 1.5× stable's rate. The larger margin applies. */
  relative: number;
}

export interface Evidence {
  /** ln of the Bayes factor against the canary; 0 when the canary's own rate is within tolerance
   *  of every plausible stable rate (the factor is then below 1 and not worth computing). */
  logBayesFactor: number;
  /** P(canary rate > t(stable rate) | data); NaN when not asked for. */
  probabilityWorse: number;
}

/** The largest rate the canary may have when stable's is y. */
export function toleratedRate(y: number, tol: Tolerance): number {
  return Math.min(1, Math.max(y + tol.absolute, y * (1 + tol.relative)));
}

function clean(c: CountPair): { n: number; k: number } {
  const n = Number.isFinite(c.total) && c.total > 0 ? c.total : 0;
  // Prometheus `increase()` extrapolates: counts may be fractional and bad may exceed total.
  const k = Number.isFinite(c.bad) ? Math.min(Math.max(c.bad, 0), n) : 0;
  return { n, k };
}

function cleanTolerance(tol: Tolerance): Tolerance {
  return {
    absolute: Number.isFinite(tol.absolute) ? Math.min(Math.max(tol.absolute, 0), 1) : 0,
    relative: Number.isFinite(tol.relative) ? Math.max(tol.relative, 0) : 0,
  };
}

/** Cells a posterior is cut into; its mass in each is exact (incomplete beta). */
const CELLS = 32;
/** Half-width of a posterior's range, in its standard deviations. */
const SPAN_SD = 10;

interface Beta { a: number; b: number; lnB: number; mean: number; sd: number }

function beta(a: number, b: number): Beta {
  const s = a + b;
  return { a, b, lnB: lnBeta(a, b), mean: a / s, sd: Math.sqrt((a * b) / (s * s * (s + 1))) };
}

function lnPdf(d: Beta, x: number): number {
  if (x <= 0 || x >= 1) return -Infinity;
  return (d.a - 1) * Math.log(x) + (d.b - 1) * Math.log1p(-x) - d.lnB;
}

interface Grid { edges: number[]; mass: number[] }

/** A posterior cut into CELLS cells over mean ± SPAN_SD sd (within [lo, hi]), with the exact mass of each. */
function grid(d: Beta, lo = 0, hi = 1): Grid {
  const from = Math.max(lo, d.mean - SPAN_SD * d.sd);
  const to = Math.min(hi, d.mean + SPAN_SD * d.sd);
  const edges: number[] = [];
  const cdf: number[] = [];
  for (let i = 0; i <= CELLS; i++) {
    const x = to > from ? from + ((to - from) * i) / CELLS : from;
    edges.push(x);
    cdf.push(incBeta(x, d.a, d.b, d.lnB));
  }
  const total = cdf[CELLS]! - cdf[0]!;
  const mass: number[] = [];
  for (let i = 0; i < CELLS; i++) mass.push(total > 0 ? (cdf[i + 1]! - cdf[i]!) / total : 1 / CELLS);
  return { edges, mass };
}

/** POINTS evenly spaced points over [from, to]. */
function span(from: number, to: number): number[] {
  if (!(to > from)) return [];
  return Array.from({ length: POINTS }, (_, i) => from + ((to - from) * i) / (POINTS - 1));
}

/** Points per range in the Bayes factor's integrals. */
const POINTS = 48;

function logSumExp(xs: number[]): number {
  let m = -Infinity;
  for (const x of xs) if (x > m) m = x;
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (const x of xs) s += Math.exp(x - m);
  return m + Math.log(s);
}

/**
 * The evidence of the canary's counts against stable's (see the module comment). Counts are
 * clamped into range (bad into [0, total]); a side with no requests has its prior only.
 *
 * Each integral is taken over the variable whose distribution is the narrower one (the other's
 * density or CDF is then smooth across the cells): stable's rate y when stable is the better
 * known, the canary's rate p (through y = t⁻¹(p)) when the canary is.
 */
export function evidence(canary: CountPair, stable: CountPair, tolerance: Tolerance, what: { probabilityWorse: boolean } = { probabilityWorse: true }): Evidence {
  const tol = cleanTolerance(tolerance);
  const { n, k } = clean(canary);
  const st = clean(stable);
  const t = (y: number) => toleratedRate(y, tol);
  // t⁻¹(p) = min(p − absolute, p / (1 + relative)), and its slope there.
  const tInv = (p: number) => Math.min(p - tol.absolute, p / (1 + tol.relative));
  const tInvSlope = (p: number) => (p - tol.absolute <= p / (1 + tol.relative) ? 1 : 1 / (1 + tol.relative));
  const s = beta(st.k + 0.5, st.n - st.k + 0.5);
  const c = beta(k + 0.5, n - k + 0.5);
  const slope = s.mean * tol.relative > tol.absolute ? 1 + tol.relative : 1;
  const overCanary = c.sd < s.sd * slope;

  // P(worse) = ∫ π_s(y) P(p > t(y)) dy = ∫ f_c(p) P(y < t⁻¹(p)) dp: trapezoids over the cells of the narrower.
  let pWorse = 0;
  if (!what.probabilityWorse) pWorse = Number.NaN;
  else if (overCanary) {
    const g = grid(c);
    const below = g.edges.map((p) => {
      const y = tInv(p);
      return y <= 0 ? 0 : incBeta(Math.min(y, 1), s.a, s.b, s.lnB);
    });
    for (let i = 0; i < CELLS; i++) pWorse += (g.mass[i]! * (below[i]! + below[i + 1]!)) / 2;
  } else {
    const g = grid(s);
    const upper = g.edges.map((y) => {
      const ty = t(y);
      return ty >= 1 ? 0 : 1 - incBeta(ty, c.a, c.b, c.lnB);
    });
    for (let i = 0; i < CELLS; i++) pWorse += (g.mass[i]! * (upper[i]! + upper[i + 1]!)) / 2;
  }
  if (what.probabilityWorse) pWorse = Math.min(1, Math.max(0, pWorse));

  // The Bayes factor. With no bad canary request, or the canary's own rate within what stable's
  // estimate tolerates, there is nothing to weigh against it (the factor is near or below 1).
  if (k <= 0 || k / n <= t(s.mean)) return { logBayesFactor: 0, probabilityWorse: pWorse };
  const a1 = k;
  const b1 = n - k + 1;
  const lnB1 = lnBeta(a1, b1);
  const lnL = (p: number) => k * Math.log(p) + (n - k) * Math.log1p(-p);
  // Both integrals over y, on points that resolve stable's posterior and, through y = t⁻¹(p), the
  // canary's likelihood: either can be the narrow one, and their product peaks in between.
  const like = beta(k + 1, n - k + 1);
  const yStar = Math.max(0, tInv(like.mean));
  const yWidth = like.sd * tInvSlope(like.mean);
  const points = [
    ...span(Math.max(0, s.mean - SPAN_SD * s.sd), Math.min(1, s.mean + SPAN_SD * s.sd)),
    ...span(Math.max(0, yStar - SPAN_SD * yWidth), Math.min(1, yStar + SPAN_SD * yWidth)),
    ...span(Math.min(s.mean, yStar), Math.max(s.mean, yStar)),
  ].filter((y) => y > 0 && t(y) < 1).sort((x, y) => x - y);
  const num: number[] = [];
  const den: number[] = [];
  for (const y of points) {
    const ty = t(y);
    const lnPi = lnPdf(s, y);
    // L1(y) = ∫_{t(y)}^1 L(p) dp / (p ln(1/t(y))) = B(k, n−k+1) (1 − I_t(k, n−k+1)) / ln(1/t).
    num.push(lnPi + lnB1 + lnUpperIncBeta(ty, a1, b1, lnB1) - Math.log(-Math.log(ty)));
    den.push(lnPi + lnL(ty));
  }
  const trapezoid = (f: number[]) => {
    const parts: number[] = [];
    for (let i = 0; i + 1 < points.length; i++) {
      const h = points[i + 1]! - points[i]!;
      if (h > 0) parts.push(Math.log(h / 2) + logSumExp([f[i]!, f[i + 1]!]));
    }
    return logSumExp(parts);
  };
  const lnBF = trapezoid(num) - trapezoid(den);
  return { logBayesFactor: Number.isFinite(lnBF) ? Math.max(0, lnBF) : lnBF > 0 ? Number.MAX_VALUE : 0, probabilityWorse: pWorse };
}

/**
 * About how many more canary requests it would take, at the rate the canary has shown so far
 * (or stable's, when the canary's is lower), for P(worse) to fall to `maxProbabilityWorse` (stable's counts as they are). Infinity when the
 * canary's rate so far is not below what stable's tolerates (more of the same will not pass it),
 * or when it would take more than a billion.
 */
export function requestsToPass(canary: CountPair, stable: CountPair, tolerance: Tolerance, maxProbabilityWorse: number): number {
  const tol = cleanTolerance(tolerance);
  const { n, k } = clean(canary);
  const s = clean(stable);
  const stableRate = (s.k + 0.5) / (s.n + 1);
  // Going on as it has, or as well as stable, whichever is worse.
  const rate = Math.max(n > 0 ? k / n : 0, stableRate);
  if (rate >= toleratedRate(stableRate, tol)) return Infinity;
  const passes = (m: number) => evidence({ total: n + m, bad: k + m * rate }, stable, tol).probabilityWorse <= maxProbabilityWorse;
  if (passes(0)) return 0;
  let lo = 0;
  let hi = Math.max(16, n);
  while (!passes(hi)) {
    lo = hi;
    hi *= 2;
    if (hi > 1e9) return Infinity;
  }
  for (let i = 0; i < 12 && hi - lo > Math.max(1, hi * 0.02); i++) {
    const mid = (lo + hi) / 2;
    if (passes(mid)) hi = mid;
    else lo = mid;
  }
  return Math.ceil(hi);
}
