import { describe, expect, it } from 'vitest';
import type { TrafficCounts } from '../api/schema.ts';
import { lnGamma, probabilityWorse, regularizedIncompleteBeta, type Tolerance } from './beta.ts';
import { mulberry32 } from './prng.ts';

function normal(u: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const z = spare;
      spare = undefined;
      return z;
    }
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    const th = 2 * Math.PI * u();
    spare = r * Math.sin(th);
    return r * Math.cos(th);
  };
}

/** Marsaglia–Tsang for shape k >= 1 (all the posteriors here have a, b >= 1). */
function gamma(k: number, u: () => number, z: () => number): number {
  const d = k - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = z();
    const v0 = 1 + c * x;
    if (v0 <= 0) continue;
    const v = v0 * v0 * v0;
    const w = u();
    if (w < 1 - 0.0331 * x ** 4) return d * v;
    if (Math.log(w) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

function betaSample(a: number, b: number, u: () => number, z: () => number): number {
  const x = gamma(a, u, z);
  return x / (x + gamma(b, u, z));
}

function params(c: TrafficCounts): [number, number] {
  const n = Math.max(0, c.requests);
  const e = Math.min(Math.max(c.errors, 0), n);
  return [1 + e, 1 + n - e];
}

function monteCarlo(canary: TrafficCounts, stable: TrafficCounts, tol: Tolerance, samples: number, seed: number): number {
  const u = mulberry32(seed);
  const z = normal(u);
  const [ac, bc] = params(canary);
  const [as, bs] = params(stable);
  let hits = 0;
  for (let i = 0; i < samples; i++) {
    const pc = betaSample(ac, bc, u, z);
    const ps = betaSample(as, bs, u, z);
    if (pc > ps + Math.max(tol.absolute, tol.relative * ps)) hits++;
  }
  return hits / samples;
}

const DEFAULT: Tolerance = { absolute: 0.005, relative: 1 };
const c = (requests: number, errors: number): TrafficCounts => ({ requests, errors });

describe('probabilityWorse against Monte Carlo (200k seeded samples)', () => {
  const SAMPLES = 200_000;
  const cases: { name: string; canary: TrafficCounts; stable: TrafficCounts; tol: Tolerance }[] = [
    { name: 'one error in 100 vs 0.5% of 1000', canary: c(100, 1), stable: c(1000, 5), tol: DEFAULT },
    { name: '2% vs 0.5%, thousands', canary: c(1000, 20), stable: c(9000, 45), tol: DEFAULT },
    { name: 'minRequests with no errors', canary: c(50, 0), stable: c(450, 2), tol: DEFAULT },
    { name: 'no traffic at all (both uniform)', canary: c(0, 0), stable: c(0, 0), tol: DEFAULT },
    { name: 'no canary traffic', canary: c(0, 0), stable: c(1000, 5), tol: DEFAULT },
    { name: 'no stable traffic (canary at 100%)', canary: c(200, 4), stable: c(0, 0), tol: DEFAULT },
    { name: 'all errors vs none, tiny counts', canary: c(5, 5), stable: c(5, 0), tol: DEFAULT },
    { name: 'large counts near the margin', canary: c(100_000, 1_050), stable: c(900_000, 4_500), tol: DEFAULT },
    { name: 'absolute tolerance only', canary: c(3000, 40), stable: c(27_000, 135), tol: { absolute: 0.005, relative: 0 } },
    { name: 'no tolerance', canary: c(500, 10), stable: c(4500, 20), tol: { absolute: 0, relative: 0 } },
    { name: 'fractional counts from increase()', canary: c(20.7, 1.3), stable: c(180.2, 0.9), tol: DEFAULT },
    { name: 'extrapolated errors above requests', canary: c(10, 12.4), stable: c(100, 1), tol: { absolute: 0.05, relative: 0.5 } },
    { name: 'millions, canary 1.0005% vs 0.5%', canary: c(1_000_000, 10_005), stable: c(10_000_000, 50_000), tol: DEFAULT },
  ];
  it.each(cases)('$name', ({ canary, stable, tol }) => {
    const p = probabilityWorse(canary, stable, tol);
    const mc = monteCarlo(canary, stable, tol, SAMPLES, 12345);
    const se = Math.sqrt(Math.max(mc * (1 - mc), 1 / SAMPLES) / SAMPLES);
    expect(p).toBeGreaterThanOrEqual(0);
    expect(p).toBeLessThanOrEqual(1);
    expect(Math.abs(p - mc)).toBeLessThan(5 * se + 2e-4);
  });
});

describe('probabilityWorse properties', () => {
  it('rises with the canary errors', () => {
    for (const [n, stable] of [[60, c(540, 3)], [1000, c(9000, 45)], [100_000, c(900_000, 4500)]] as const) {
      let prev = -1;
      for (let e = 0; e <= Math.min(n, 60); e += n > 1000 ? 0.5 : 1) {
        const scaled = n > 1000 ? e * 50 : e;
        const p = probabilityWorse(c(n, scaled), stable, DEFAULT);
        expect(p).toBeGreaterThanOrEqual(prev - 1e-9);
        prev = p;
      }
      expect(prev).toBeGreaterThan(0.99);
    }
  });

  it('falls as the tolerance grows', () => {
    const canary = c(800, 16);
    const stable = c(7200, 36);
    let prev = 2;
    for (const absolute of [0, 0.002, 0.005, 0.01, 0.02, 0.05]) {
      for (const relative of [0, 0.5, 1, 2]) {
        const p = probabilityWorse(canary, stable, { absolute, relative });
        expect(p).toBeLessThanOrEqual(probabilityWorse(canary, stable, { absolute, relative: Math.max(0, relative - 0.5) }) + 1e-9);
        if (relative === 0) {
          expect(p).toBeLessThanOrEqual(prev + 1e-9);
          prev = p;
        }
      }
    }
  });

  it('is symmetric without tolerance: P(c worse) + P(s worse) = 1, and 1/2 for equal counts', () => {
    const none = { absolute: 0, relative: 0 };
    for (const [a, b] of [[c(100, 3), c(900, 10)], [c(0, 0), c(50, 1)], [c(10_000, 80), c(10_000, 60)], [c(7, 7), c(3, 0)]] as const) {
      expect(probabilityWorse(a, b, none) + probabilityWorse(b, a, none)).toBeCloseTo(1, 3);
    }
    for (const x of [c(0, 0), c(100, 1), c(5000, 25), c(1e7, 5e4)]) expect(probabilityWorse(x, x, none)).toBeCloseTo(0.5, 3);
  });

  it('treats healthy and broken canaries as expected', () => {
    expect(probabilityWorse(c(10_000, 50), c(90_000, 450), DEFAULT)).toBeLessThan(0.001);
    expect(probabilityWorse(c(100, 50), c(900, 4), DEFAULT)).toBeGreaterThan(0.999999);
    expect(probabilityWorse(c(1e7, 5e4), c(1e7, 5e4), DEFAULT)).toBeLessThan(1e-6);
    expect(probabilityWorse(c(1e7, 2e5), c(1e7, 5e4), DEFAULT)).toBeGreaterThan(1 - 1e-6);
  });

  it('never returns NaN on odd input', () => {
    for (const x of [c(-5, 1), c(Number.NaN, 0), c(10, Number.NaN), c(Infinity, 1)]) {
      const p = probabilityWorse(x, c(100, 1), DEFAULT);
      expect(Number.isNaN(p)).toBe(false);
    }
    expect(probabilityWorse(c(100, 100), c(100, 0), { absolute: 1, relative: 0 })).toBe(0);
  });

  it('is fast: typical and 1e7-request inputs well under 1 ms each', () => {
    const inputs = [
      [c(50, 0), c(450, 2)], [c(1000, 20), c(9000, 45)], [c(30_000, 160), c(270_000, 1350)], [c(1e7, 5.1e4), c(1e7, 5e4)],
      [c(1e7, 1e5), c(100, 0)], [c(0, 0), c(1e6, 5e3)],
    ] as const;
    const rounds = 200;
    const t0 = performance.now();
    for (let r = 0; r < rounds; r++) for (const [a, b] of inputs) probabilityWorse(a, b, DEFAULT);
    const perCall = (performance.now() - t0) / (rounds * inputs.length);
    expect(perCall).toBeLessThan(1);
  });
});

/** P(Binomial(n, x) >= k), summed in log space: equal to I_x(k, n - k + 1). */
function binomialTail(n: number, k: number, x: number): number {
  const lnPmf = (j: number) => lnGamma(n + 1) - lnGamma(j + 1) - lnGamma(n - j + 1) + j * Math.log(x) + (n - j) * Math.log1p(-x);
  let sum = 0;
  const mean = n * x;
  const sd = Math.sqrt(n * x * (1 - x));
  const hi = Math.min(n, Math.ceil(mean + 40 * sd + 40));
  for (let j = k; j <= hi; j++) sum += Math.exp(lnPmf(j));
  return sum;
}

describe('regularizedIncompleteBeta', () => {
  it.each([
    { x: 0.5, a: 7, b: 7, want: 0.5 },
    { x: 0.4, a: 2, b: 3, want: 0.5248 },
    { x: 0.3, a: 1, b: 1, want: 0.3 },
    { x: 0.2, a: 3, b: 1, want: 0.2 ** 3 },
    { x: 0.01, a: 1, b: 250, want: 1 - 0.99 ** 250 },
    { x: 0.3, a: 10, b: 20, want: binomialTail(29, 10, 0.3) },
    { x: 0.006, a: 5001, b: 995_000, want: binomialTail(1_000_000, 5001, 0.006) },
    { x: 0.0049, a: 50_001, b: 9_950_000, want: binomialTail(10_000_000, 50_001, 0.0049) },
  ])('I_$x($a, $b)', ({ x, a, b, want }) => {
    expect(regularizedIncompleteBeta(x, a, b)).toBeCloseTo(want, 7);
  });

  it('is 0 and 1 at the ends and NaN for bad shapes', () => {
    expect(regularizedIncompleteBeta(0, 2, 3)).toBe(0);
    expect(regularizedIncompleteBeta(1, 2, 3)).toBe(1);
    expect(regularizedIncompleteBeta(0.5, 0, 3)).toBeNaN();
  });

  it('has an accurate log-gamma', () => {
    expect(lnGamma(1)).toBeCloseTo(0, 12);
    expect(lnGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
    expect(lnGamma(11)).toBeCloseTo(Math.log(3_628_800), 11);
    // Stirling at 1e7 by a different route: ln Γ(n + 1) = ln Γ(n) + ln n.
    expect(lnGamma(1e7 + 1) - lnGamma(1e7)).toBeCloseTo(Math.log(1e7), 6);
  });
});
