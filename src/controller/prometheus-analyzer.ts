/**
 * Reads a step's evidence from Prometheus and hands it to the pure judge. Everything that can go
 * wrong here (Prometheus down, a broken query, a missing series) becomes an inconclusive judgement
 * with the reason spelt out, never an exception and never a failure.
 */
import { choosePrometheus, type PrometheusPolicy, type PrometheusProblem } from '../api/prometheus-policy.ts';
import type { ResolvedMetric, ResolvedRollout } from '../api/resolve.ts';
import type { AnalysisResult, RolloutStatus, TrafficCounts } from '../api/schema.ts';
import { judgeStep, type MetricObservation } from '../analysis/judge.ts';
import type { Logger } from '../kube/log.ts';
import { fileCredentials } from '../metrics/credentials.ts';
import { PrometheusProvider } from '../metrics/prometheus.ts';
import { policyOf, type PrometheusConfig } from '../metrics/provider-config.ts';
import { MetricsError, type MetricsErrorKind, type MetricsProvider } from '../metrics/provider.ts';
import { metricQuery, queryContext, queryWindowSeconds, type QueryContext } from '../metrics/templates.ts';
import { derivedMetric, isDerivedTemplate, trafficCounts, trafficQuery, type SubsetTraffic } from '../metrics/traffic.ts';
import { stepClock } from '../plan/clock.ts';
import type { Analyzer } from './analyzer.ts';

export interface PrometheusAnalyzerOptions {
  log: Logger;
  /** The providers the platform team configured; the only Prometheus servers ever queried. */
  prometheus: PrometheusConfig;
  onQuery?: (promql: string, ms: number, outcome: string) => void;
}

type Counts = { traffic: Record<'canary' | 'stable', SubsetTraffic> } | { error: MetricsErrorKind; message: string };

function plainCounts(t: SubsetTraffic): TrafficCounts {
  return { requests: t.requests, errors: t.errors };
}

function derivedObservation(m: ResolvedMetric, counts: Counts): MetricObservation {
  if ('error' in counts) return { name: m.name, error: counts.error, message: counts.message };
  const d = derivedMetric(m.template, counts.traffic.canary);
  if (d && 'value' in d) return { name: m.name, value: d.value };
  return { name: m.name, error: 'nodata', message: 'no data: the canary has no series in the window' };
}

export class PrometheusAnalyzer implements Analyzer {
  private readonly o: PrometheusAnalyzerOptions;
  private readonly policy: PrometheusPolicy;
  private readonly providers = new Map<string, MetricsProvider>();

  constructor(opts: PrometheusAnalyzerOptions) {
    this.o = opts;
    this.policy = policyOf(opts.prometheus);
  }

  async analyze(r: ResolvedRollout, status: RolloutStatus, now: Date): Promise<AnalysisResult> {
    const a = r.analysis!;
    const clock = stepClock(r, status, now);
    // The window is the whole step so far: slow traffic accumulates instead of being judged in slices.
    const windowSeconds = queryWindowSeconds(Math.min(clock.elapsedMs, 366 * 86_400_000) / 1000);
    const ctx: QueryContext = queryContext(r, windowSeconds);
    const provider = this.providerFor(r);
    if ('problem' in provider) {
      // The reconciler refuses such a Rollout before it is analysed; this is the second lock.
      return { verdict: 'inconclusive', reason: `${provider.problem.path}: ${provider.problem.message}`, at: now.toISOString(), stepIndex: clock.idx, metrics: [] };
    }
    const needsCounts = a.comparison !== undefined || a.metrics.some((m) => m.template !== undefined) || a.minRequests > 0;
    const stableCtx = a.comparison ? queryContext(r, queryWindowSeconds(Math.max(windowSeconds, a.comparison.baselineWindowMs / 1000))) : undefined;
    const countsP = needsCounts ? this.counts(provider, ctx, stableCtx, now) : undefined;
    // Templates that are the canary's share of the counts reuse them: one query per check fewer each.
    const metrics = await Promise.all(a.metrics.map(async (m): Promise<MetricObservation> => {
      if (countsP && isDerivedTemplate(m.template)) return derivedObservation(m, await countsP);
      return this.observe(provider, ctx, m, now);
    }));
    const counts = await countsP;
    return judgeStep({
      analysis: a,
      stepIndex: clock.idx,
      at: now,
      windowSeconds,
      final: clock.final,
      ...(counts && 'error' in counts ? { countsError: counts.message } : {}),
      ...(counts && 'traffic' in counts
        ? { canary: plainCounts(counts.traffic.canary), ...(stableCtx ? { stable: plainCounts(counts.traffic.stable) } : {}) }
        : {}),
      metrics,
    });
  }

  /**
   * The configured provider (with its own credentials, sent only to its own address) or the
   * allowed address (without any) this Rollout resolves to. Nothing of the Rollout's reaches
   * the request but the choice among those and the timeout.
   */
  private providerFor(r: ResolvedRollout): MetricsProvider | { problem: PrometheusProblem } {
    const p = r.analysis!.prometheus;
    const choice = choosePrometheus(p, r.namespace, this.policy);
    if ('problem' in choice) return choice;
    const settings = 'provider' in choice ? this.o.prometheus.providers.find((x) => x.name === choice.provider)! : undefined;
    const address = settings ? settings.address : (choice as { address: string }).address;
    const timeoutMs = p.timeoutMs ?? settings?.timeoutMs ?? 5000;
    const key = JSON.stringify([settings?.name ?? '', address, timeoutMs]);
    let provider = this.providers.get(key);
    if (!provider) {
      const auth = settings?.auth;
      provider = new PrometheusProvider({
        address,
        timeoutMs,
        ...(auth ? { auth: { type: auth.type, credentials: fileCredentials(auth.file) } } : {}),
        ...(this.o.onQuery ? { onQuery: this.o.onQuery } : {}),
      });
      this.providers.set(key, provider);
    }
    return provider;
  }

  /** The traffic counts of both subsets, from one query at the check's instant. */
  private async counts(provider: MetricsProvider, ctx: QueryContext, stableCtx: QueryContext | undefined, now: Date): Promise<Counts> {
    try {
      return { traffic: trafficCounts(await provider.queryVector(trafficQuery(ctx, stableCtx), { time: now })) };
    } catch (err) {
      if (err instanceof MetricsError) return { error: err.kind, message: err.message };
      const message = err instanceof Error ? err.message : String(err);
      this.o.log.warn({ err: message }, 'traffic query failed');
      return { error: 'query', message };
    }
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
