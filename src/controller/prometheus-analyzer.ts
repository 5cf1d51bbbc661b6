/**
 * Reads a step's evidence from Prometheus and hands it to the pure judge. Everything that can go
 * wrong here (Prometheus down, a broken query, a missing series) becomes an inconclusive judgement
 * with the reason spelt out, never an exception and never a failure.
 */
import type { ResolvedMetric, ResolvedPrometheus, ResolvedRollout } from '../api/resolve.ts';
import type { AnalysisResult, RolloutStatus, TrafficCounts } from '../api/schema.ts';
import { judgeStep, type MetricObservation } from '../analysis/judge.ts';
import type { Logger } from '../kube/log.ts';
import { fileCredentials } from '../metrics/credentials.ts';
import { PrometheusProvider } from '../metrics/prometheus.ts';
import { MetricsError, NoDataError, type MetricsProvider } from '../metrics/provider.ts';
import { metricQuery, queryContext, queryWindowSeconds, trafficQueries, type QueryContext } from '../metrics/templates.ts';
import { stepClock } from '../plan/clock.ts';
import type { Analyzer } from './analyzer.ts';

/** Reads one key of a Secret in the Rollout's namespace (Prometheus credentials). */
export type SecretReader = (namespace: string, name: string, key: string) => Promise<string>;

export interface PrometheusAnalyzerOptions {
  log: Logger;
  readSecret?: SecretReader;
  /** Seam for tests and benchmarks: how a provider is made for a Rollout's Prometheus settings. */
  makeProvider?: (p: ResolvedPrometheus, credentials?: () => Promise<string>) => MetricsProvider;
  onQuery?: (promql: string, ms: number, outcome: string) => void;
}


export class PrometheusAnalyzer implements Analyzer {
  private readonly o: PrometheusAnalyzerOptions;
  private readonly providers = new Map<string, MetricsProvider>();

  constructor(opts: PrometheusAnalyzerOptions) {
    this.o = opts;
  }

  async analyze(r: ResolvedRollout, status: RolloutStatus, now: Date): Promise<AnalysisResult> {
    const a = r.analysis!;
    const clock = stepClock(r, status, now);
    // The window is the whole step so far: slow traffic accumulates instead of being judged in slices.
    const windowSeconds = queryWindowSeconds(Math.min(clock.elapsedMs, 366 * 86_400_000) / 1000);
    const ctx: QueryContext = queryContext(r, windowSeconds);
    const provider = this.providerFor(a.prometheus, r.namespace);
    const needsCounts = a.comparison !== undefined || a.metrics.some((m) => m.template !== undefined) || a.minRequests > 0;
    const [counts, metrics] = await Promise.all([
      needsCounts ? this.counts(provider, ctx, a.comparison ? queryContext(r, queryWindowSeconds(Math.max(windowSeconds, a.comparison.baselineWindowMs / 1000))) : undefined, now) : Promise.resolve(undefined),
      Promise.all(a.metrics.map((m) => this.observe(provider, ctx, m, now))),
    ]);
    return judgeStep({
      analysis: a,
      stepIndex: clock.idx,
      at: now,
      windowSeconds,
      final: clock.final,
      ...(counts && 'error' in counts ? { countsError: counts.error } : {}),
      ...(counts && 'canary' in counts ? { canary: counts.canary, ...(counts.stable ? { stable: counts.stable } : {}) } : {}),
      metrics,
    });
  }

  private providerFor(p: ResolvedPrometheus, namespace: string): MetricsProvider {
    const key = JSON.stringify([p, p.auth?.secretRef ? namespace : '']);
    let provider = this.providers.get(key);
    if (!provider) {
      const credentials = this.credentials(p, namespace);
      provider = this.o.makeProvider
        ? this.o.makeProvider(p, credentials)
        : new PrometheusProvider({
            address: p.address,
            timeoutMs: p.timeoutMs,
            ...(p.auth && credentials ? { auth: { type: p.auth.type, credentials } } : {}),
            ...(this.o.onQuery ? { onQuery: this.o.onQuery } : {}),
          });
      this.providers.set(key, provider);
    }
    return provider;
  }

  private credentials(p: ResolvedPrometheus, namespace: string): (() => Promise<string>) | undefined {
    const auth = p.auth;
    if (!auth) return undefined;
    if (auth.file) return fileCredentials(auth.file);
    const ref = auth.secretRef!;
    const read = this.o.readSecret;
    return async () => {
      if (!read) throw new Error('reading Secrets is not enabled in this controller');
      return read(namespace, ref.name, ref.key);
    };
  }

  private async counts(provider: MetricsProvider, ctx: QueryContext, stableCtx: QueryContext | undefined, now: Date): Promise<{ canary: TrafficCounts; stable?: TrafficCounts } | { error: string }> {
    try {
      const [canary, stable] = await Promise.all([
        this.subsetCounts(provider, ctx, 'canary', now),
        stableCtx ? this.subsetCounts(provider, stableCtx, 'stable', now) : Promise.resolve(undefined),
      ]);
      return { canary, ...(stable ? { stable } : {}) };
    } catch (err) {
      return { error: err instanceof Error ? err.message : String(err) };
    }
  }

  /** No series means no requests (or no 5xx) in the window: zero, not a failure. */
  private async subsetCounts(provider: MetricsProvider, ctx: QueryContext, subset: 'canary' | 'stable', now: Date): Promise<TrafficCounts> {
    const q = trafficQueries(ctx, subset);
    const zeroIfNone = (p: Promise<number>) => p.then((v) => (Number.isFinite(v) ? v : 0), (err) => {
      if (err instanceof NoDataError) return 0;
      throw err;
    });
    // One evaluation instant for every query, so the counts describe the same window.
    const [requests, errors] = await Promise.all([zeroIfNone(provider.query(q.requests, { time: now })), zeroIfNone(provider.query(q.errors, { time: now }))]);
    return { requests, errors: Math.min(errors, requests) };
  }

  private async observe(provider: MetricsProvider, ctx: QueryContext, m: ResolvedMetric, now: Date): Promise<MetricObservation> {
    try {
      return { name: m.name, value: await provider.query(metricQuery(ctx, m), { time: now }) };
    } catch (err) {
      if (err instanceof MetricsError) return { name: m.name, error: err.kind, message: err.message };
      const message = err instanceof Error ? err.message : String(err);
      this.o.log.warn({ metric: m.name, err: message }, 'metric query failed');
      return { name: m.name, error: 'query', message };
    }
  }
}
