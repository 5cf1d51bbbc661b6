/**
 * Reads a step's evidence from Prometheus and hands it to the pure judge. Everything that can go
 * wrong here (Prometheus down, a broken query, a missing series) becomes an inconclusive judgement
 * with the reason spelt out, never an exception and never a failure.
 */
import { DEFAULT_COMPARISON } from '../api/constants.ts';
import { parseDuration } from '../api/duration.ts';
import { choosePrometheus, type PrometheusPolicy, type PrometheusProblem } from '../api/prometheus-policy.ts';
import type { ResolvedMetric, ResolvedRollout } from '../api/resolve.ts';
import type { AnalysisResult, RolloutStatus, TrafficCounts } from '../api/schema.ts';
import { judgeStep, type CountComparison, type MetricObservation } from '../analysis/judge.ts';
import type { Logger } from '../kube/log.ts';
import { fileCredentials } from '../metrics/credentials.ts';
import { PrometheusProvider } from '../metrics/prometheus.ts';
import { policyOf, type PrometheusConfig } from '../metrics/provider-config.ts';
import { MetricsError, type MetricsErrorKind, type MetricsProvider } from '../metrics/provider.ts';
import { metricQuery, queryContext, queryWindowSeconds, type QueryContext } from '../metrics/templates.ts';
import { DIAGNOSIS_AFTER_SECONDS, diagnoseMissingSeries } from '../metrics/diagnosis.ts';
import {
  derivedMetric, isComparedTemplate, isDerivedTemplate, slowRequests, trafficCounts, trafficQuery, type SubsetTraffic, type Traffic,
} from '../metrics/traffic.ts';
import { stepClock } from '../plan/clock.ts';
import type { Analyzer } from './analyzer.ts';

export interface PrometheusAnalyzerOptions {
  log: Logger;
  /** The providers the platform team configured; the only Prometheus servers ever queried. */
  prometheus: PrometheusConfig;
  onQuery?: (promql: string, ms: number, outcome: string) => void;
  /**
   * Builds the client for a chosen endpoint; default: the HTTP PrometheusProvider. A seam for
   * table tests of the judgement on scripted answers: the choice of endpoint is made before it.
   */
  makeProvider?: (endpoint: { address: string; timeoutMs: number }) => MetricsProvider;
}

type Counts = { traffic: Traffic } | { error: MetricsErrorKind; message: string };

function plainCounts(t: SubsetTraffic): TrafficCounts {
  return { requests: t.requests, errors: t.errors };
}

const DEFAULT_BASELINE_MS = parseDuration(DEFAULT_COMPARISON.baselineWindow)!;

/**
 * istio-slow-requests: the share of requests slower than `max` ms, canary against stable, as a
 * comparison for the judge; or, when the histograms cannot say, an observation of why not.
 */
function slowComparison(m: ResolvedMetric, counts: Counts): CountComparison | MetricObservation {
  if ('error' in counts) return { name: m.name, error: counts.error, message: counts.message };
  const maxMs = m.max ?? Infinity;
  const canary = slowRequests(counts.traffic.canary, maxMs);
  const stable = slowRequests(counts.traffic.stable, maxMs);
  if (!canary || !stable) {
    const none = counts.traffic.canary.buckets.size === 0 || counts.traffic.stable.buckets.size === 0;
    return none
      ? { name: m.name, error: 'nodata', message: 'no data: no istio_request_duration_milliseconds_bucket series in the window' }
      : { name: m.name, error: 'query', message: `the duration histogram has no bucket bound at or above max ${m.max} ms` };
  }
  const bound = canary.boundMs === maxMs ? `${maxMs} ms` : `${canary.boundMs} ms (the first bucket bound at or above max ${maxMs})`;
  return { name: m.name, what: `slower than ${bound}`, canary: canary.counts, stable: stable.counts };
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
    const compared = a.metrics.filter((m) => isComparedTemplate(m.template));
    const needsCounts = a.comparison !== undefined || a.metrics.some((m) => m.template !== undefined) || a.minRequests > 0;
    // Stable is read over at least its baseline window: for the comparison and compared templates.
    const baselineMs = a.comparison?.baselineWindowMs ?? (compared.length > 0 ? DEFAULT_BASELINE_MS : undefined);
    const stableCtx = baselineMs !== undefined ? queryContext(r, queryWindowSeconds(Math.max(windowSeconds, baselineMs / 1000))) : undefined;
    const countsP = needsCounts ? this.counts(provider, ctx, stableCtx, compared.length > 0, now) : undefined;
    // Templates that are the canary's share of the counts reuse them: one query per check fewer each.
    const observed = await Promise.all(a.metrics.map(async (m): Promise<MetricObservation | CountComparison> => {
      if (countsP && isComparedTemplate(m.template)) return slowComparison(m, await countsP);
      if (countsP && isDerivedTemplate(m.template)) return derivedObservation(m, await countsP);
      return this.observe(provider, ctx, m, now);
    }));
    const counts = await countsP;
    const comparisons = observed.filter((o): o is CountComparison => 'what' in o);
    const result = judgeStep({
      analysis: a,
      stepIndex: clock.idx,
      at: now,
      windowSeconds,
      final: clock.final,
      ...(counts && 'error' in counts ? { countsError: counts.message } : {}),
      ...(counts && 'traffic' in counts
        ? { canary: plainCounts(counts.traffic.canary), ...(a.comparison ? { stable: plainCounts(counts.traffic.stable) } : {}) }
        : {}),
      metrics: observed.filter((o): o is MetricObservation => !('what' in o)),
      ...(comparisons.length > 0 ? { comparisons } : {}),
    });
    // A canary without series for long enough: say why, in the reason a person reads first.
    const diagnosis = counts && 'traffic' in counts && (clock.final || windowSeconds >= DIAGNOSIS_AFTER_SECONDS)
      ? diagnoseMissingSeries(counts.traffic, ctx)
      : undefined;
    return diagnosis ? { ...result, reason: `${result.reason}; ${diagnosis}`, diagnosis } : result;
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
      provider = this.o.makeProvider ? this.o.makeProvider({ address, timeoutMs }) : new PrometheusProvider({
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
  private async counts(provider: MetricsProvider, ctx: QueryContext, stableCtx: QueryContext | undefined, durations: boolean, now: Date): Promise<Counts> {
    try {
      const parts = { durations, diagnosis: true };
      return { traffic: trafficCounts(await provider.queryVector(trafficQuery(ctx, stableCtx, parts), { time: now }), parts) };
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
