import { NoDataError, type MetricsProvider } from '../../src/metrics/provider.ts';
import { eventually } from './kube.ts';

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

/**
 * Waits until the Prometheus at `url` holds at least `min` series of `metric` (its first scrapes of
 * the test's mesh: new targets are seen only after a discovery cycle, ~5 s). Throws after 30 s.
 */
export async function waitForSeries(url: string, metric: string, min: number, what: string): Promise<void> {
  await eventually(async () => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(`count(${metric})`)}`);
    const body = (await res.json()) as { data?: { result?: { value?: [number, string] }[] } };
    return Number(body.data?.result?.[0]?.value?.[1] ?? 0) >= min;
  }, what, 30_000, 500);
}
