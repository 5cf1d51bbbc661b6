/**
 * Reads the counts of the windows the planner's check names from the Prometheus the platform team
 * configured, and hands them to the pure judge. Everything that can go wrong here (Prometheus
 * down, a broken query, a missing series) becomes an inconclusive judgement with the reason spelt
 * out, never an exception and never a failure.
 */
import type { AnalysisCheck } from '../api/check.ts';
import { choosePrometheus, type PrometheusPolicy, type PrometheusProblem } from '../api/prometheus-policy.ts';
import type { ResolvedMetric, ResolvedRollout } from '../api/resolve.ts';
import type { AnalysisResult } from '../api/schema.ts';
import { judgeStep, type CountPair, type MetricObservation, type SignalCounts } from '../analysis/judge.ts';
import { withBindings, type Logger } from '../kube/log.ts';
import { fileCredentials } from '../metrics/credentials.ts';
import { DIAGNOSIS_AFTER_SECONDS, diagnoseMissingSeries } from '../metrics/diagnosis.ts';
import { PrometheusProvider } from '../metrics/prometheus.ts';
import { policyOf, type PrometheusConfig } from '../metrics/provider-config.ts';
import { MetricsError, type MetricsErrorKind, type MetricsProvider } from '../metrics/provider.ts';
import { metricQuery, queryContext, queryWindowSeconds, type QueryContext } from '../metrics/templates.ts';
import {
  derivedMetric, isComparedTemplate, isDerivedTemplate, slowRequests, trafficCounts, trafficQuery,
  type SubsetTraffic, type Traffic, type TrafficQueryOptions,
} from '../metrics/traffic.ts';
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

type Counts = { release: Traffic; step: Traffic } | { error: MetricsErrorKind; message: string };

/** The label telling the release window's series from the step window's in the one traffic query. */
const WINDOW_LABEL = 'fledge_window';

const pair = (t: SubsetTraffic): CountPair => ({ total: t.requests, bad: t.errors });

/**
 * istio-slow-requests: the share of requests slower than `max` ms, canary against stable, over
 * the release's and the step's windows, as one more signal of the judge; or, when the histograms
 * cannot say, an observation of why not (inconclusive, never a failure).
 */
function slowSignal(m: ResolvedMetric, counts: Counts): SignalCounts | MetricObservation {
  if ('error' in counts) return { name: m.name, error: counts.error, message: counts.message };
  const maxMs = m.max ?? Infinity;
  const slow = (t: Traffic) => ({ canary: slowRequests(t.canary, maxMs), stable: slowRequests(t.stable, maxMs) });
  const release = slow(counts.release);
  const step = slow(counts.step);
  if (!release.canary || !release.stable) {
    const t = counts.release;
    const none = t.canary.buckets.size === 0 || t.stable.buckets.size === 0;
    return none
      ? { name: m.name, error: 'nodata', message: 'no data: no istio_request_duration_milliseconds_bucket series in the window' }
      : { name: m.name, error: 'query', message: `the duration histogram has no bucket bound at or above max ${m.max} ms` };
  }
  const boundMs = release.canary.boundMs;
  const bound = boundMs === maxMs ? `${maxMs} ms` : `${boundMs} ms (the first bucket bound at or above max ${maxMs})`;
  // A step window whose histogram says nothing (no request of it yet) adds no evidence either way.
  const asPair = (c: { counts: { requests: number; errors: number } } | undefined): CountPair =>
    (c ? { total: c.counts.requests, bad: c.counts.errors } : { total: 0, bad: 0 });
  return {
    name: m.name,
    what: `slower than ${bound}`,
    release: { canary: asPair(release.canary), stable: asPair(release.stable) },
    step: { canary: asPair(step.canary), stable: asPair(step.stable) },
  };
}

function derivedObservation(m: ResolvedMetric, counts: Counts): MetricObservation {
  if ('error' in counts) return { name: m.name, error: counts.error, message: counts.message };
  const d = derivedMetric(m.template, counts.step.canary);
  if (d && 'value' in d) return { name: m.name, value: d.value };
  return { name: m.name, error: 'nodata', message: 'no data: the canary has no series in the window' };
}

interface Windows { canary: QueryContext; stable: QueryContext | undefined }

export class PrometheusAnalyzer implements Analyzer {
  private readonly o: PrometheusAnalyzerOptions;
  private readonly policy: PrometheusPolicy;
  private readonly providers = new Map<string, MetricsProvider>();

  constructor(opts: PrometheusAnalyzerOptions) {
    this.o = opts;
    this.policy = policyOf(opts.prometheus);
  }

  async analyze(r: ResolvedRollout, check: AnalysisCheck, now: Date): Promise<AnalysisResult> {
    const a = r.analysis!;
    const log = withBindings(this.o.log, { rollout: `${r.namespace}/${r.name}` });
    const provider = this.providerFor(r);
    if ('problem' in provider) {
      // The reconciler refuses such a Rollout before it is analysed; this is the second lock.
      return { verdict: 'inconclusive', reason: `${provider.problem.path}: ${provider.problem.message}`, at: now.toISOString(), stepIndex: check.stepIndex, final: check.final, metrics: [] };
    }
    const cap = (seconds: number) => queryWindowSeconds(Math.min(seconds, 366 * 86_400));
    const stepCtx: QueryContext = queryContext(r, cap(check.step.seconds));
    const releaseCtx: QueryContext = queryContext(r, cap(check.release.seconds));
    const compared = a.metrics.some((m) => isComparedTemplate(m.template));
    // Stable is read (over the windows the planner gave it) for the comparison and compared templates.
    const readStable = a.comparison !== undefined || compared;
    const stable = (w: AnalysisCheck['step']) => (readStable ? queryContext(r, cap(Math.max(w.seconds, w.stableSeconds))) : undefined);
    const needsCounts = a.comparison !== undefined || a.metrics.some((m) => m.template !== undefined) || a.minRequests > 0;
    const countsP = needsCounts
      ? this.counts(provider, { canary: releaseCtx, stable: stable(check.release) }, { canary: stepCtx, stable: stable(check.step) }, compared, now, log)
      : undefined;
    // Templates that are the canary's share of the counts reuse them: one query per check fewer each.
    const observed = await Promise.all(a.metrics.map(async (m): Promise<MetricObservation | SignalCounts> => {
      if (countsP && isComparedTemplate(m.template)) return slowSignal(m, await countsP);
      if (countsP && isDerivedTemplate(m.template)) return derivedObservation(m, await countsP);
      return this.observe(provider, stepCtx, m, now, log);
    }));
    const counts = await countsP;
    const errors: SignalCounts[] = counts && 'release' in counts && a.comparison
      ? [{
          name: 'errors',
          release: { canary: pair(counts.release.canary), stable: pair(counts.release.stable) },
          step: { canary: pair(counts.step.canary), stable: pair(counts.step.stable) },
        }]
      : [];
    const isSignal = (o: MetricObservation | SignalCounts): o is SignalCounts => 'release' in o;
    const result = judgeStep({
      analysis: a,
      check,
      at: now,
      // The error comparison first: its counts are the ones status reports.
      signals: [...errors, ...observed.filter(isSignal)],
      ...(counts && 'error' in counts ? { countsError: counts.message } : {}),
      ...(counts && 'release' in counts ? { canaryRequests: { release: counts.release.canary.requests, step: counts.step.canary.requests } } : {}),
      metrics: observed.filter((o): o is MetricObservation => !isSignal(o)),
    }, r.steps.length);
    // A canary without series for long enough: say why, in the reason a person reads first.
    const diagnosis = counts && 'release' in counts && (check.final || check.release.seconds >= DIAGNOSIS_AFTER_SECONDS)
      ? diagnoseMissingSeries(counts.release, releaseCtx)
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

  /**
   * The traffic counts of both subsets over the release's and the step's windows, from one query
   * at the check's instant: the two windows' series told apart by a label, as the subsets are.
   * Each window carries the duration histograms when a compared template needs them; the
   * diagnosis part (an instant selector, the same for every window) rides on the release's only.
   * When the step's window is the release's (the first step) it is asked once, for the release.
   */
  private async counts(provider: MetricsProvider, release: Windows, step: Windows, durations: boolean, now: Date, log: Logger): Promise<Counts> {
    const releaseParts: TrafficQueryOptions = { durations, diagnosis: true };
    const stepParts: TrafficQueryOptions = { durations };
    // In the first step the canary's windows are one: the judge reads the release's for both.
    const same = release.canary.windowSeconds === step.canary.windowSeconds;
    const part = (w: Windows, parts: TrafficQueryOptions, name: string) =>
      `label_replace(${trafficQuery(w.canary, w.stable, parts)}, "${WINDOW_LABEL}", "${name}", "", "")`;
    const query = same
      ? trafficQuery(release.canary, release.stable, releaseParts)
      : `${part(release, releaseParts, 'release')} or ${part(step, stepParts, 'step')}`;
    try {
      const samples = await provider.queryVector(query, { time: now });
      if (same) {
        const t = trafficCounts(samples, releaseParts);
        return { release: t, step: t };
      }
      return {
        release: trafficCounts(samples.filter((x) => x.labels[WINDOW_LABEL] === 'release'), releaseParts),
        step: trafficCounts(samples.filter((x) => x.labels[WINDOW_LABEL] === 'step'), stepParts),
      };
    } catch (err) {
      if (err instanceof MetricsError) return { error: err.kind, message: err.message };
      const message = err instanceof Error ? err.message : String(err);
      log.warn({ err: message }, 'traffic query failed');
      return { error: 'query', message };
    }
  }

  private async observe(provider: MetricsProvider, ctx: QueryContext, m: ResolvedMetric, now: Date, log: Logger): Promise<MetricObservation> {
    try {
      return { name: m.name, value: await provider.query(metricQuery(ctx, m), { time: now }) };
    } catch (err) {
      if (err instanceof MetricsError) return { name: m.name, error: err.kind, message: err.message };
      const message = err instanceof Error ? err.message : String(err);
      log.warn({ metric: m.name, err: message }, 'metric query failed');
      return { name: m.name, error: 'query', message };
    }
  }
}
