/**
 * Reads the counts of the windows the planner's check names from Prometheus and hands them to
 * the pure judge. Everything that can go wrong here (Prometheus down, a broken query, a missing
 * series) becomes an inconclusive judgement with the reason spelt out, never an exception and
 * never a failure.
 */
import type { ResolvedMetric, ResolvedPrometheus, ResolvedRollout } from '../api/resolve.ts';
import type { AnalysisCheck } from '../api/check.ts';
import type { AnalysisResult } from '../api/schema.ts';
import { judgeStep, type CountPair, type MetricObservation, type SignalCounts } from '../analysis/judge.ts';
import type { Logger } from '../kube/log.ts';
import { fileCredentials } from '../metrics/credentials.ts';
import { PrometheusProvider } from '../metrics/prometheus.ts';
import { MetricsError, type MetricsErrorKind, type MetricsProvider } from '../metrics/provider.ts';
import { metricQuery, queryContext, queryWindowSeconds, type QueryContext } from '../metrics/templates.ts';
import { derivedMetric, isDerivedTemplate, trafficCounts, trafficQuery, type SubsetTraffic } from '../metrics/traffic.ts';
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


type Traffic = Record<'canary' | 'stable', SubsetTraffic>;
type Counts = { release: Traffic; step: Traffic } | { error: MetricsErrorKind; message: string };

/** The label telling the release window's series from the step window's in the one traffic query. */
const WINDOW_LABEL = 'fledge_window';

const pair = (t: SubsetTraffic): CountPair => ({ total: t.requests, bad: t.errors });

function derivedObservation(m: ResolvedMetric, counts: Counts): MetricObservation {
  if ('error' in counts) return { name: m.name, error: counts.error, message: counts.message };
  const d = derivedMetric(m.template, counts.step.canary);
  if (d && 'value' in d) return { name: m.name, value: d.value };
  return { name: m.name, error: 'nodata', message: 'no data: the canary has no series in the window' };
}

interface Windows { canary: QueryContext; stable: QueryContext | undefined }

export class PrometheusAnalyzer implements Analyzer {
  private readonly o: PrometheusAnalyzerOptions;
  private readonly providers = new Map<string, MetricsProvider>();

  constructor(opts: PrometheusAnalyzerOptions) {
    this.o = opts;
  }

  async analyze(r: ResolvedRollout, check: AnalysisCheck, now: Date): Promise<AnalysisResult> {
    const a = r.analysis!;
    const cap = (seconds: number) => queryWindowSeconds(Math.min(seconds, 366 * 86_400));
    const stepCtx: QueryContext = queryContext(r, cap(check.step.seconds));
    const releaseCtx: QueryContext = queryContext(r, cap(check.release.seconds));
    const stable = (w: AnalysisCheck['step']) => (a.comparison ? queryContext(r, cap(Math.max(w.seconds, w.stableSeconds))) : undefined);
    const provider = this.providerFor(a.prometheus, r.namespace);
    const needsCounts = a.comparison !== undefined || a.metrics.some((m) => m.template !== undefined) || a.minRequests > 0;
    const countsP = needsCounts
      ? this.counts(provider, { canary: releaseCtx, stable: stable(check.release) }, { canary: stepCtx, stable: stable(check.step) }, now)
      : undefined;
    // Templates that are the canary's share of the counts reuse them: one query per check fewer each.
    const metrics = await Promise.all(a.metrics.map(async (m): Promise<MetricObservation> => {
      if (countsP && isDerivedTemplate(m.template)) return derivedObservation(m, await countsP);
      return this.observe(provider, stepCtx, m, now);
    }));
    const counts = await countsP;
    const signals: SignalCounts[] = counts && 'release' in counts && a.comparison
      ? [{
          name: 'errors',
          release: { canary: pair(counts.release.canary), stable: pair(counts.release.stable) },
          step: { canary: pair(counts.step.canary), stable: pair(counts.step.stable) },
        }]
      : [];
    return judgeStep({
      analysis: a,
      check,
      at: now,
      signals,
      ...(counts && 'error' in counts ? { countsError: counts.message } : {}),
      ...(counts && 'release' in counts ? { canaryRequests: { release: counts.release.canary.requests, step: counts.step.canary.requests } } : {}),
      metrics,
    }, r.steps.length);
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

  /**
   * The traffic counts of both subsets over the release's and the step's windows, from one query
   * at the check's instant: the two windows' series told apart by a label, as the subsets are.
   * When the step's window is the release's (the first step) it is asked once, for the release.
   */
  private async counts(provider: MetricsProvider, release: Windows, step: Windows, now: Date): Promise<Counts> {
    // In the first step the canary's windows are one: the judge reads the release's for both.
    const same = release.canary.windowSeconds === step.canary.windowSeconds;
    const part = (w: Windows, name: string) => `label_replace(${trafficQuery(w.canary, w.stable)}, "${WINDOW_LABEL}", "${name}", "", "")`;
    const query = same ? trafficQuery(release.canary, release.stable) : `${part(release, 'release')} or ${part(step, 'step')}`;
    try {
      const samples = await provider.queryVector(query, { time: now });
      if (same) {
        const t = trafficCounts(samples);
        return { release: t, step: t };
      }
      return {
        release: trafficCounts(samples.filter((x) => x.labels[WINDOW_LABEL] === 'release')),
        step: trafficCounts(samples.filter((x) => x.labels[WINDOW_LABEL] === 'step')),
      };
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
