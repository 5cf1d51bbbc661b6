/** The seeded PRNG of the fake mesh's traffic; it lives with the pure core (src/analysis may not import src/devenv). */
export { mulberry32 } from '../analysis/prng.ts';
