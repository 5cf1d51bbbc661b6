/**
 * mulberry32: a tiny seeded PRNG. Math.random cannot be seeded, and simulated traffic (the dev
 * environment's fake mesh, the benchmarks) and sampled checks (the analysis tests) must come out
 * the same for the same seed so that failures can be replayed. Returns floats in [0, 1).
 * Here, in the pure core, so that analysis and its tests can use it as well as src/devenv.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
