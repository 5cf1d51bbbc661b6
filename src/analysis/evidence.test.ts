import { describe, expect, it } from 'vitest';
import { evidence, toleratedRate, type CountPair } from './evidence.ts';
import { mulberry32 } from './prng.ts';

const TOL = { absolute: 0.005, relative: 0.5 };
const c = (total: number, bad: number): CountPair => ({ total, bad });

/** Seeded Beta(a, b) sampler: Marsaglia–Tsang gammas, boosted for shapes below 1. */
function betaSampler(seed: number): (a: number, b: number) => number {
  const u = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  const gamma = (k: number): number => {
    if (k < 1) return gamma(k + 1) * u() ** (1 / k);
    const d = k - 1 / 3;
    const cc = 1 / Math.sqrt(9 * d);
    for (;;) {
      const x = normal();
      const v0 = 1 + cc * x;
      if (v0 <= 0) continue;
      const v = v0 * v0 * v0;
      const w = u();
      if (Math.log(w) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  };
  return (a, b) => {
    const x = gamma(a);
    return x / (x + gamma(b));
  };
}

describe('evidence: P(worse) against Monte Carlo (Jeffreys posteriors, 200k seeded samples)', () => {
  it.each<[string, CountPair, CountPair]>([
    ['both small', c(30, 0), c(300, 2)],
    ['canary far better known than stable', c(50_000, 300), c(200, 1)],
    ['stable far better known than the canary', c(40, 1), c(100_000, 500)],
    ['no errors anywhere', c(500, 0), c(5000, 0)],
    ['a canary near the tolerated rate', c(3000, 28), c(20_000, 100)],
    ['no data at all', c(0, 0), c(0, 0)],
  ])('%s', (_name, canary, stable) => {
    const beta = betaSampler(7);
    const N = 200_000;
    let worse = 0;
    for (let i = 0; i < N; i++) {
      const y = beta(stable.bad + 0.5, stable.total - stable.bad + 0.5);
      const p = beta(canary.bad + 0.5, canary.total - canary.bad + 0.5);
      if (p > toleratedRate(y, TOL)) worse++;
    }
    expect(evidence(canary, stable, TOL).probabilityWorse).toBeCloseTo(worse / N, 2);
  });
});

describe('evidence: the Bayes factor', () => {
  it('with stable known exactly, is the mixture likelihood ratio of the module comment (direct quadrature)', () => {
    // Stable's posterior is a spike at 0.5 %: t = 1 %; the factor is ∫_t^1 L(p)/(p ln(1/t)) dp / L(t).
    const stable = c(1e9, 5e6);
    const t = 0.01;
    for (const [n, k] of [[8, 5], [100, 5], [600, 30], [2000, 45]] as const) {
      const lnL = (p: number) => k * Math.log(p) + (n - k) * Math.log1p(-p);
      // Simpson in u = ln p over (ln t, 0), where the integrand is L(p) / ln(1/t).
      const M = 20_000;
      const a = Math.log(t);
      const h = -a / M;
      const f = (u: number) => Math.exp(lnL(Math.exp(u)) - lnL(t));
      let sum = f(a) + f(-1e-12);
      for (let i = 1; i < M; i++) sum += (i % 2 === 1 ? 4 : 2) * f(a + i * h);
      const direct = Math.log((sum * h) / 3 / -a);
      expect(evidence(c(n, k), stable, TOL).logBayesFactor, `${k}/${n}`).toBeCloseTo(Math.max(0, direct), 1);
    }
  });

  it('grows with the canary\'s errors at any stable', () => {
    for (const stable of [c(300, 2), c(3000, 15), c(30, 0), c(100_000, 500), c(300, 60)]) {
      for (const n of [10, 200, 5000]) {
        let last = 0;
        for (let k = 0; k <= n; k += Math.max(1, Math.floor(n / 40))) {
          const now = evidence(c(n, k), stable, TOL).logBayesFactor;
          expect(now, `${k}/${n} against ${stable.bad}/${stable.total}`).toBeGreaterThanOrEqual(last - 1e-6);
          last = now;
        }
      }
    }
  });

  it('is weaker against a stable with less traffic: its uncertainty counts', () => {
    const canary = c(400, 16);
    const known = evidence(canary, c(100_000, 500), TOL).logBayesFactor;
    const some = evidence(canary, c(2000, 10), TOL).logBayesFactor;
    const little = evidence(canary, c(100, 0), TOL).logBayesFactor;
    expect(known).toBeGreaterThan(some);
    expect(some).toBeGreaterThan(little);
  });
});
