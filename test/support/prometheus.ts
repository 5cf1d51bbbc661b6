import { NoDataError, type MetricsProvider } from '../../src/metrics/provider.ts';

/**
 * Waits until Prometheus holds at least `samples` scrapes of the canary's (destination_version
 * "v2") istio_requests_total within the last `windowSeconds`, so that rates and increases over
 * that window rest on full data. Polls every `everyMs`; throws after `timeoutMs`.
 */
export async function waitForFullWindow(provider: MetricsProvider, windowSeconds: number, samples: number, timeoutMs: number, everyMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await provider.query(`min(count_over_time(istio_requests_total{destination_version="v2"}[${windowSeconds}s]))`)) >= samples) return;
    } catch (err) {
      if (!(err instanceof NoDataError)) throw err;
    }
    if (Date.now() > deadline) throw new Error(`no full [${windowSeconds}s] window within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
