/**
 * Beta posteriors of error rates, and the probability that the canary's rate is worse than the
 * stable's by more than a tolerance. Pure numerics: no I/O, no clock, no randomness.
 */
import type { TrafficCounts } from '../api/schema.ts';

export interface Tolerance { absolute: number; relative: number }

const LN_SQRT_2PI = 0.9189385332046728;

/** ln Γ(x) for x > 0: Stirling's series after shifting x to at least 10 (absolute error ~1e-14). */
export function lnGamma(x: number): number {
  if (!(x > 0)) return x === 0 ? Infinity : NaN;
  let z = x;
  let prod = 1;
  while (z < 10) {
    prod *= z;
    z += 1;
  }
  const z2 = 1 / (z * z);
  const series = (1 / 12 - z2 * (1 / 360 - z2 * (1 / 1260 - z2 * (1 / 1680 - z2 / 1188)))) / z;
  return (z - 0.5) * Math.log(z) - z + LN_SQRT_2PI + series - Math.log(prod);
}

/** ln B(a, b). */
export function lnBeta(a: number, b: number): number {
  return lnGamma(a) + lnGamma(b) - lnGamma(a + b);
}

const FPMIN = 1e-300;
const CF_EPS = 1e-13;
const CF_MAXIT = 100_000;

/** Continued fraction for I_x(a, b) (Numerical Recipes `betacf`, modified Lentz). */
function betacf(x: number, a: number, b: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < FPMIN) d = FPMIN;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= CF_MAXIT; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < CF_EPS) break;
  }
  return h;
}

/** I_x(a, b) with ln B(a, b) given, so a caller evaluating many x pays for the log-gammas once. */
export function incBeta(x: number, a: number, b: number, lnB: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = a * Math.log(x) + b * Math.log1p(-x) - lnB;
  if (x < (a + 1) / (a + b + 2)) return Math.exp(lnFront - Math.log(a)) * betacf(x, a, b);
  return 1 - Math.exp(lnFront - Math.log(b)) * betacf(1 - x, b, a);
}

/**
 * ln(1 - I_x(a, b)), the log of Beta(a, b)'s upper tail above x, accurate where the tail is far
 * below 1e-300 (a likelihood of thousands of requests): the continued fraction is taken in log space.
 */
export function lnUpperIncBeta(x: number, a: number, b: number, lnB: number = lnBeta(a, b)): number {
  if (x <= 0) return 0;
  if (x >= 1) return -Infinity;
  const lnFront = a * Math.log(x) + b * Math.log1p(-x) - lnB;
  if (x < (a + 1) / (a + b + 2)) return Math.log1p(-Math.min(1, Math.exp(lnFront - Math.log(a)) * betacf(x, a, b)));
  return lnFront - Math.log(b) + Math.log(betacf(1 - x, b, a));
}

/** The regularized incomplete beta function I_x(a, b), a, b > 0: the CDF of Beta(a, b) at x. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0) || !(b > 0) || Number.isNaN(x)) return NaN;
  return incBeta(x, a, b, lnBeta(a, b));
}

interface Posterior { a: number; b: number; lnB: number; mean: number; sd: number }

/** Beta(1 + errors, 1 + successes): the posterior of an error rate under a uniform prior. */
function posterior(c: TrafficCounts): Posterior {
  const n = Number.isFinite(c.requests) && c.requests > 0 ? c.requests : 0;
  // Prometheus `increase()` extrapolates: counts may be fractional and errors may exceed requests.
  const e = Number.isFinite(c.errors) ? Math.min(Math.max(c.errors, 0), n) : 0;
  const a = 1 + e;
  const b = 1 + n - e;
  const s = a + b;
  return { a, b, lnB: lnBeta(a, b), mean: a / s, sd: Math.sqrt((a * b) / (s * s * (s + 1))) };
}

function logPdf(p: Posterior, x: number): number {
  if (x <= 0 || x >= 1) {
    // a, b >= 1: the density is finite at the ends; it is 0 there unless the exponent is 0.
    if (x <= 0) return p.a === 1 ? -p.lnB : -Infinity;
    return p.b === 1 ? -p.lnB : -Infinity;
  }
  const la = p.a === 1 ? 0 : (p.a - 1) * Math.log(x);
  const lb = p.b === 1 ? 0 : (p.b - 1) * Math.log1p(-x);
  return la + lb - p.lnB;
}

/** Half-width of the integration range, in posterior standard deviations. */
const SPAN_SD = 12;
/** Simpson intervals over the whole range (split between the pieces at kinks and ends). */
const INTERVALS = 160;

/** Composite Simpson's rule of f over [lo, hi] split at the given interior points. */
function simpson(f: (x: number) => number, lo: number, hi: number, cuts: number[]): number {
  if (!(hi > lo)) return 0;
  const points = [lo, ...cuts.filter((c) => c > lo && c < hi).sort((x, y) => x - y), hi];
  let total = 0;
  for (let i = 0; i + 1 < points.length; i++) {
    const a = points[i]!;
    const b = points[i + 1]!;
    let n = Math.max(8, Math.ceil((INTERVALS * (b - a)) / (hi - lo)));
    if (n % 2 === 1) n += 1;
    const h = (b - a) / n;
    let sum = f(a) + f(b);
    for (let k = 1; k < n; k++) sum += (k % 2 === 1 ? 4 : 2) * f(a + k * h);
    total += (sum * h) / 3;
  }
  return total;
}

/**
 * P(p_canary > p_stable + max(absolute, relative * p_stable)) for independent posteriors
 * Beta(1 + errors, 1 + requests - errors) (uniform priors). Errors are clamped into [0, requests];
 * zero requests on a side leave its posterior uniform.
 *
 * One posterior is integrated over a grid of ±12 sd around its mean (Simpson's rule), against the
 * CDF of the other (regularized incomplete beta). The narrower posterior is the one integrated, so
 * that the other's CDF is smooth on the grid however lopsided the counts are.
 */
export function probabilityWorse(canary: TrafficCounts, stable: TrafficCounts, tol: Tolerance): number {
  const c = posterior(canary);
  const s = posterior(stable);
  const abs = Number.isFinite(tol.absolute) ? Math.min(Math.max(tol.absolute, 0), 1) : 0;
  const rel = Number.isFinite(tol.relative) ? Math.max(tol.relative, 0) : 0;
  // The margin is t(y) = max(y + abs, y (1 + rel)); its kink is where abs = rel * y.
  const kinkY = rel > 0 ? abs / rel : Infinity;
  const slope = s.mean > kinkY ? 1 + rel : 1;

  let p: number;
  if (c.sd <= s.sd * slope) {
    // Over the canary's rate x: P = ∫ f_c(x) P(p_s < t⁻¹(x)) dx, t⁻¹(x) = min(x - abs, x / (1 + rel)).
    const lo = Math.max(c.mean - SPAN_SD * c.sd, abs, 0);
    const hi = Math.min(c.mean + SPAN_SD * c.sd, 1);
    const f = (x: number) => {
      const y = Math.min(x - abs, x / (1 + rel));
      if (y <= 0) return 0;
      return Math.exp(logPdf(c, x)) * incBeta(y, s.a, s.b, s.lnB);
    };
    p = simpson(f, lo, hi, Number.isFinite(kinkY) ? [kinkY * (1 + rel)] : []);
  } else {
    // Over the stable's rate y: P = ∫ f_s(y) P(p_c > t(y)) dy, where t(y) < 1 iff y < yMax.
    const yMax = Math.min(1 - abs, 1 / (1 + rel));
    const lo = Math.max(s.mean - SPAN_SD * s.sd, 0);
    const hi = Math.min(s.mean + SPAN_SD * s.sd, yMax);
    const f = (y: number) => {
      const t = Math.max(y + abs, y * (1 + rel));
      if (t >= 1) return 0;
      return Math.exp(logPdf(s, y)) * (1 - incBeta(t, c.a, c.b, c.lnB));
    };
    p = simpson(f, lo, hi, Number.isFinite(kinkY) ? [kinkY] : []);
  }
  if (!Number.isFinite(p)) return 0;
  return Math.min(1, Math.max(0, p));
}
