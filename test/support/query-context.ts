import type { QueryContext } from '../../src/metrics/templates.ts';

/** The Service `reviews` in `shop`, stable v1 and canary v2: the fixture of the PromQL tests. */
export function reviewsContext(windowSeconds: number): QueryContext {
  return {
    service: 'reviews',
    namespace: 'shop',
    stableLabels: { app: 'reviews', version: 'v1' },
    canaryLabels: { app: 'reviews', version: 'v2' },
    windowSeconds,
  };
}
