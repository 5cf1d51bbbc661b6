/**
 * The PromQL the derived templates stood for before the single traffic query: one sum per number.
 * Test code only: the controller reads these numbers from the traffic query (src/metrics/traffic.ts),
 * and the provider tests check on a real Prometheus that both agree.
 */
import { FAILED_REQUEST_MATCHERS } from '../../src/metrics/failures.ts';
import { trafficSelector, windowOf, type QueryContext } from '../../src/metrics/templates.ts';

type Subset = 'stable' | 'canary';

/** Requests and failed requests of one subset over the window, as sums (one number each). */
export function referenceTrafficQueries(ctx: QueryContext, subset: Subset): { requests: string; errors: string } {
  const sel = trafficSelector(ctx, subset);
  const w = windowOf(ctx);
  // Istio creates a series only when a code first occurs: a subset that never failed has no
  // failed series, which is 0 errors, not "no data".
  const failed = FAILED_REQUEST_MATCHERS.map((m) => `(sum(increase(istio_requests_total{${sel},${m}}[${w}])) or vector(0))`);
  return { requests: `sum(increase(istio_requests_total{${sel}}[${w}]))`, errors: `(${failed.join(' + ')})` };
}

/** istio-error-rate and istio-request-count of the canary as queries of their own. */
export function referenceTemplateQuery(ctx: QueryContext, template: 'istio-error-rate' | 'istio-request-count'): string {
  const t = referenceTrafficQueries(ctx, 'canary');
  return template === 'istio-error-rate' ? `${t.errors} / ${t.requests}` : t.requests;
}
