/**
 * Every failure Istio reports counts (issue #16): the six situations from public bug reports,
 * replayed through the real analyzer, judge and planner, with Prometheus's answers scripted
 * (test/integration/signals.test.ts asks a real Prometheus the same questions).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { PlannedEvent } from '../../src/api/events.ts';
import type { ResolvedRollout } from '../../src/api/resolve.ts';
import type { AnalysisResult, RolloutStatus } from '../../src/api/schema.ts';
import { parseRollout } from '../../src/api/validate.ts';
import type { AnalysisCheck } from '../../src/api/check.ts';
import { judgeStep, type MetricObservation } from '../../src/analysis/judge.ts';
import { PrometheusAnalyzer } from '../../src/controller/prometheus-analyzer.ts';
import { silentLogger } from '../../src/kube/log.ts';
import { diagnoseMissingSeries, SIDECAR_MISSING } from '../../src/metrics/diagnosis.ts';
import { isFailedRequest } from '../../src/metrics/failures.ts';
import type { MetricsProvider, Sample } from '../../src/metrics/provider.ts';
import { queryContext } from '../../src/metrics/templates.ts';
import { SIGNAL_LABEL, SUBSET_LABEL, VERSION_LABEL, trafficCounts } from '../../src/metrics/traffic.ts';
import { analysisCheckAt } from '../../src/plan/clock.ts';
import { analysisCheck, plan } from '../../src/plan/plan.ts';
import { resolveValid } from './fixtures.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');

const req = (subset: 'canary' | 'stable', code: string, value: number, grpc?: string): Sample =>
  ({ labels: { [SUBSET_LABEL]: subset, response_code: code, ...(grpc !== undefined ? { grpc_response_status: grpc } : {}) }, value });
const bucket = (subset: 'canary' | 'stable', le: string, value: number): Sample =>
  ({ labels: { [SUBSET_LABEL]: subset, [SIGNAL_LABEL]: 'duration', le }, value });
const series = (reporter: string, version: string, value = 1): Sample =>
  ({ labels: { [SIGNAL_LABEL]: 'service', reporter, [VERSION_LABEL]: version }, value });

/** Prometheus's answers: the traffic query's samples, and each user query's number. */
class ScriptedProvider implements MetricsProvider {
  readonly vectors: string[] = [];
  readonly queries: string[] = [];
  private readonly samples: Sample[];
  private readonly value: (q: string) => number;
  constructor(samples: Sample[], value: (q: string) => number = () => Number.NaN) {
    this.samples = samples;
    this.value = value;
  }
  query(q: string): Promise<number> {
    this.queries.push(q);
    return Promise.resolve(this.value(q));
  }
  /**
   * The same counts for every window: a query asking for the release's and the step's windows
   * (told apart by fledge_window) gets each sample once per window.
   */
  queryVector(q: string): Promise<Sample[]> {
    this.vectors.push(q);
    if (!q.includes('fledge_window')) return Promise.resolve(this.samples);
    return Promise.resolve(['release', 'step'].flatMap((w) => this.samples.map((x) => ({ ...x, labels: { ...x.labels, fledge_window: w } }))));
  }
}

/** The controller configured with a default provider only (--prometheus-address). */
const DEFAULT_ONLY = { providers: [{ name: 'default', address: 'http://prometheus.test:9090', timeoutMs: 5000 }], allowedAddresses: [] };

interface Run { status: RolloutStatus; events: PlannedEvent[]; analyses: AnalysisResult[] }

/** The controller's loop on a fake clock: judge when due, plan, wait as told; until settled or `forMs`. */
async function release(r: ResolvedRollout, provider: MetricsProvider, forMs = 30 * 60_000): Promise<Run> {
  const analyzer = new PrometheusAnalyzer({ log: silentLogger, prometheus: DEFAULT_ONLY, makeProvider: () => provider });
  let status: RolloutStatus | undefined;
  const events: PlannedEvent[] = [];
  const analyses: AnalysisResult[] = [];
  let now = T0;
  while (now - T0 <= forMs) {
    const at = new Date(now);
    const check = analysisCheck(r, status, at);
    const analysis = check ? await analyzer.analyze(r, check, at) : undefined;
    if (analysis) analyses.push(analysis);
    const out = plan({ rollout: r, status, requests: { paused: false }, ...(analysis ? { analysis } : {}), now: at });
    status = out.status;
    events.push(...out.events);
    if (status.phase === 'Promoted' || status.phase === 'RolledBack') break;
    now += Math.max(1000, out.requeueAfterMs ?? 10_000);
  }
  return { status: status!, events, analyses };
}

const fixture = (name: string) => parse(readFileSync(new URL(`../fixtures/signals/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;

describe('what counts as a failed request', () => {
  it.each([
    ['200', undefined, false], ['404', undefined, false], ['429', undefined, false], ['499', undefined, false],
    ['500', undefined, true], ['503', undefined, true], ['599', undefined, true], ['0', undefined, true],
    ['200', '0', false], ['200', '1', false], ['200', '3', false], ['200', '5', false], ['200', '8', false], ['200', '16', false],
    ['200', '2', true], ['200', '4', true], ['200', '12', true], ['200', '13', true], ['200', '14', true], ['200', '15', true],
    [undefined, undefined, false], ['', '', false],
  ] as const)('response_code %s, grpc_response_status %s: %s', (code, grpc, failed) => {
    expect(isFailedRequest(code, grpc)).toBe(failed);
  });
});

describe('1. a gRPC canary failing with UNAVAILABLE over HTTP 200', () => {
  const samples = [req('canary', '200', 60, '0'), req('canary', '200', 540, '14'), req('stable', '200', 5000, '0')];

  it('is rolled back: the comparison and istio-error-rate count grpc_response_status 14', async () => {
    const provider = new ScriptedProvider(samples);
    const run = await release(resolveValid(fixture('grpc-unavailable.yaml')), provider);
    expect(run.status.phase).toBe('RolledBack');
    expect(run.status.canaryWeight).toBe(0);
    const last = run.status.lastAnalysis!;
    expect(last.verdict).toBe('fail');
    expect(last.canary).toEqual({ requests: 600, errors: 540 });
    expect(last.stable).toEqual({ requests: 5000, errors: 0 });
    expect(last.probabilityWorse).toBe(1);
    expect(last.decisive).toBe(true);
    expect(last.metrics.find((m) => m.name === 'error-rate')?.value).toBe(0.9);
    // One query per check: the traffic query carries the counts, istio-error-rate reuses them.
    expect(provider.queries).toEqual([]);
    expect(provider.vectors.length).toBe(run.analyses.length);
  });
});

describe('2. requests that got no answer (response_code 0)', () => {
  it('30 % unanswered on the canary against 0.1 % on stable is rolled back', async () => {
    const provider = new ScriptedProvider([req('canary', '200', 700), req('canary', '0', 300), req('stable', '200', 9990), req('stable', '0', 10)]);
    const run = await release(resolveValid(fixture('caller-timeouts.yaml')), provider);
    expect(run.status.phase).toBe('RolledBack');
    expect(run.status.lastAnalysis?.canary).toEqual({ requests: 1000, errors: 300 });
    expect(run.status.lastAnalysis?.stable).toEqual({ requests: 10000, errors: 10 });
    expect(run.status.lastAnalysis?.reason).toMatch(/^errors: release so far: canary 30\.00% \(300\/1000\) vs stable 0\.10% \(10\/10000\)/);
  });

  it('the same 0.1 % of cancellations on both sides promotes', async () => {
    const provider = new ScriptedProvider([req('canary', '200', 999), req('canary', '0', 1), req('stable', '200', 9990), req('stable', '0', 10)]);
    expect((await release(resolveValid(fixture('caller-timeouts.yaml')), provider)).status.phase).toBe('Promoted');
  });
});

describe('3. ±Inf from a query', () => {
  const judge = (value: number, bounds: { max?: number; min?: number }, final = true) => {
    const a = resolveValid(fixture('plus-inf.yaml')).analysis!;
    const analysis = { ...a, metrics: [{ name: 'ratio', query: 'x', ...bounds }] };
    const obs: MetricObservation = { name: 'ratio', value };
    const window = { startedAt: new Date(T0 - 60_000).toISOString(), seconds: 60, stableSeconds: 60 };
    const check: AnalysisCheck = { stepIndex: 0, final, nextWeight: 50, promotes: false, lastChance: false, release: window, step: window };
    return judgeStep({ analysis, check, at: new Date(T0), signals: [], metrics: [obs] }, 3);
  };

  it.each([
    ['+Inf above max fails', Infinity, { max: 0.05 }, 'fail', '+Inf is above max 0.05'],
    ['-Inf below min fails', -Infinity, { min: 0.99 }, 'fail', '-Inf is below min 0.99'],
    ['+Inf with only a min passes', Infinity, { min: 0.99 }, 'pass', '+Inf within >= 0.99'],
    ['-Inf with only a max passes', -Infinity, { max: 0.05 }, 'pass', '-Inf within <= 0.05'],
    ['NaN is no value', Number.NaN, { max: 0.05 }, 'inconclusive', 'no value (NaN: no requests in the window)'],
  ] as const)('%s', (_what, value, bounds, verdict, reason) => {
    const out = judge(value, bounds);
    expect(out.verdict).toBe(verdict);
    expect(out.metrics[0]!.reason).toBe(reason);
    // JSON has no Infinity: the status must survive a round trip through the API server.
    if (!Number.isNaN(value)) expect(out.metrics[0]).not.toHaveProperty('value');
    expect(JSON.parse(JSON.stringify(out))).toEqual(out);
  });

  it('a canary whose ratio is +Inf is rolled back; one with NaN is held, never promoted', async () => {
    const r = resolveValid(fixture('plus-inf.yaml'));
    const inf = await release(r, new ScriptedProvider([], () => Infinity));
    expect(inf.status.phase).toBe('RolledBack');
    expect(inf.status.message).toContain('+Inf is above max 0.05');
    const nan = await release(r, new ScriptedProvider([], () => Number.NaN), 10 * 60_000);
    expect(nan.status.phase).toBe('Progressing');
    expect(nan.status.canaryWeight).toBe(10);
    expect(nan.status.lastAnalysis?.verdict).toBe('inconclusive');
  });
});

describe('4. subsets without a version label', () => {
  const firstTry = fixture('no-version-label-first-try.yaml');

  it('validate refuses the first try, and its advice, followed literally, gives a Rollout that promotes', async () => {
    const refused = parseRollout(firstTry);
    expect(refused.ok).toBe(false);
    const advice = !refused.ok ? refused.problems.find((p) => p.path === 'spec.canary.labels')?.message : undefined;
    expect(advice).toContain('comparison.enabled: false');
    expect(advice).toContain('metrics with query (no template)');
    // Following it: the metrics are already queries; turn the comparison off, nothing else.
    const advised = structuredClone(firstTry) as { spec: { analysis: Record<string, unknown> } };
    advised.spec.analysis.comparison = { enabled: false };
    const r = resolveValid(advised);
    expect(r.analysis?.minRequests).toBe(0);
    const provider = new ScriptedProvider([], () => 0.999);
    const run = await release(r, provider);
    expect(run.status.phase).toBe('Promoted');
    expect(run.status.lastAnalysis?.verdict).toBe('pass');
    // Nothing asked of Istio's request counts: they cannot be told apart by subset here.
    expect(provider.vectors).toEqual([]);
    expect(provider.queries[0]).toContain('destination_workload="billing-green"');
  });

  it('the fixture written that way promotes, and an unhealthy one is rolled back', async () => {
    const r = resolveValid(fixture('no-version-label.yaml'));
    expect((await release(r, new ScriptedProvider([], () => 0.999))).status.phase).toBe('Promoted');
    expect((await release(r, new ScriptedProvider([], () => 0.9))).status.phase).toBe('RolledBack');
  });

  it('an explicit minRequests above 0 is refused, naming the field', () => {
    const doc = structuredClone(fixture('no-version-label.yaml')) as { spec: { analysis: Record<string, unknown> } };
    doc.spec.analysis.minRequests = 50;
    const out = parseRollout(doc);
    expect(out.ok).toBe(false);
    expect(!out.ok && out.problems).toEqual([{ path: 'spec.analysis.minRequests', message: expect.stringContaining('must be 0') }]);
  });

  it('with version labels the default stays 50', () => {
    expect(resolveValid(fixture('grpc-unavailable.yaml')).analysis?.minRequests).toBe(50);
  });
});

describe('5. missing signals diagnosed', () => {
  const r = resolveValid(fixture('without-sidecar.yaml'));
  const ctx = queryContext(r, 60);
  const diagnose = (samples: Sample[]) => diagnoseMissingSeries(trafficCounts(samples, { diagnosis: true }), ctx);

  it.each([
    ['the canary has series', [req('canary', '200', 0), series('destination', 'v4')]],
    ['the canary exports series, none in the window yet', [series('destination', 'v4'), series('destination', 'v3')]],
  ])('nothing to diagnose when %s', (_what, samples) => {
    expect(diagnose(samples)).toBeUndefined();
  });

  it('nothing to diagnose when the Service\'s series were not asked for', () => {
    expect(diagnoseMissingSeries(trafficCounts([]), ctx)).toBeUndefined();
  });

  it('only source-side series (a gateway in front of pods without sidecars): is the sidecar injected?', () => {
    const d = diagnose([series('source', 'unknown', 2)]);
    expect(d).toBe(`${SIDECAR_MISSING} (destination_service_name="landing",destination_service_namespace="marketing" has series only from callers and gateways, none with reporter="destination")`);
  });

  it('a Service series at 0 counts as absent', () => {
    expect(diagnose([series('destination', 'v4', 0)])).toContain('no Istio series for the Service at all');
  });

  it('no series at all: says which labels were looked for', () => {
    const d = diagnose([]);
    expect(d).toContain('no Istio series for the Service at all');
    expect(d).toContain('istio_requests_total{destination_service_name="landing",destination_service_namespace="marketing"}');
    expect(d).toContain('reporter="destination",destination_service_name="landing",destination_service_namespace="marketing",destination_version="v4"');
  });

  it('other versions report, the canary\'s does not: names the label to check, without echoing Prometheus\'s values', () => {
    const d = diagnose([series('destination', 'v3'), series('destination', 'secret-ish'), series('source', 'v4')]);
    expect(d).toContain('for 2 other versions');
    expect(d).toContain('version: v4');
    expect(d).not.toContain('secret-ish');
  });

  it('reaches status.lastAnalysis.reason, and one Event per step however many checks', async () => {
    const provider = new ScriptedProvider([series('source', 'unknown', 2)]);
    const run = await release(r, provider, 10 * 60_000);
    expect(run.status.phase).toBe('Progressing');
    expect(run.status.lastAnalysis?.verdict).toBe('inconclusive');
    expect(run.status.lastAnalysis?.reason).toContain('error-rate: no data');
    expect(run.status.lastAnalysis?.reason).toContain(SIDECAR_MISSING);
    expect(run.status.lastAnalysis?.diagnosis).toContain(SIDECAR_MISSING);
    expect(run.analyses.length).toBeGreaterThan(20);
    const missing = run.events.filter((e) => e.reason === 'MetricsMissing');
    expect(missing).toEqual([{ type: 'Warning', reason: 'MetricsMissing', message: expect.stringMatching(/^step 1: the canary's pods report no Istio metrics/) }]);
    // Early checks stay quiet: a canary's first requests take a scrape or two to appear.
    expect(run.analyses[0]?.diagnosis).toBeUndefined();
  });
});

describe('6. latency by comparison (istio-slow-requests)', () => {
  const histogram = (subset: 'canary' | 'stable', total: number, slow: number): Sample[] => [
    bucket(subset, '100', (total - slow) * 0.5), bucket(subset, '250', total - slow), bucket(subset, '500', total - slow),
    bucket(subset, '1000', total - slow / 2), bucket(subset, '+Inf', total),
  ];
  const traffic = [req('canary', '200', 1000), req('stable', '200', 10000)];

  it('a canary with 30 % of requests slower than 500 ms against stable\'s 1 % is rolled back', async () => {
    const provider = new ScriptedProvider([...traffic, ...histogram('canary', 1000, 300), ...histogram('stable', 10000, 100)]);
    const run = await release(resolveValid(fixture('slow-requests.yaml')), provider);
    expect(run.status.phase).toBe('RolledBack');
    const m = run.status.lastAnalysis?.metrics.find((x) => x.name === 'latency');
    expect(m?.verdict).toBe('fail');
    expect(m?.value).toBe(1);
    // One more signal of the sequential judge: a failure on its evidence is decisive.
    expect(run.status.lastAnalysis?.decisive).toBe(true);
    // max 400 is judged at Istio's next bucket bound, and the reason says so.
    expect(m?.reason).toMatch(/^release so far: canary 30\.00% slower than 500 ms \(the first bucket bound at or above max 400\) \(300\/1000\) vs stable 1\.00% \(100\/10000\): P\(worse\) 1\.000, evidence against /);
    expect(provider.queries).toEqual([]);
    expect(provider.vectors.every((q) => q.includes('istio_request_duration_milliseconds_bucket'))).toBe(true);
  });

  it('with the comparison off, slow requests are still judged against stable, by the comparison\'s defaults', async () => {
    const doc = structuredClone(fixture('slow-requests.yaml')) as { spec: { analysis: Record<string, unknown> } };
    doc.spec.analysis.comparison = { enabled: false };
    const r = resolveValid(doc);
    expect(r.analysis?.comparison).toBeUndefined();
    // Stable's windows reach back the default baselineWindow (10m), as with the comparison on.
    const check = analysisCheckAt(r, { stepIndex: 0, stepStartedAt: new Date(T0).toISOString() }, new Date(T0 + 60_000));
    expect(check.step.stableSeconds).toBe(600);
    expect(check.release.stableSeconds).toBe(660);
    const bad = new ScriptedProvider([...traffic, ...histogram('canary', 1000, 300), ...histogram('stable', 10000, 100)]);
    const run = await release(r, bad);
    expect(run.status.phase).toBe('RolledBack');
    // The only signal: its counts are not reported as the canary's requests and errors.
    expect(run.status.lastAnalysis?.metrics.map((m) => m.name)).toEqual(['latency']);
    expect(run.status.lastAnalysis?.canary).toBeUndefined();
    const same = new ScriptedProvider([...traffic, ...histogram('canary', 1000, 10), ...histogram('stable', 10000, 100)]);
    expect((await release(r, same)).status.phase).toBe('Promoted');
  });

  it('the same share of slow requests on both sides promotes', async () => {
    const provider = new ScriptedProvider([...traffic, ...histogram('canary', 1000, 10), ...histogram('stable', 10000, 100)]);
    expect((await release(resolveValid(fixture('slow-requests.yaml')), provider)).status.phase).toBe('Promoted');
  });

  it('without the canary\'s histogram the metric is inconclusive (no data), never a pass', async () => {
    const r = resolveValid(fixture('slow-requests.yaml'));
    const out = await new PrometheusAnalyzer({ log: silentLogger, prometheus: DEFAULT_ONLY, makeProvider: () => new ScriptedProvider([...traffic, ...histogram('stable', 10, 1)]) })
      .analyze(r, analysisCheckAt(r, { stepIndex: 0, stepStartedAt: new Date(T0).toISOString() }, new Date(T0 + 10 * 60_000)), new Date(T0 + 10 * 60_000));
    expect(out.metrics.find((x) => x.name === 'latency')).toMatchObject({ verdict: 'inconclusive', reason: 'no data' });
    expect(out.verdict).toBe('inconclusive');
  });

  it('validate wants max as the bound in ms and no min', () => {
    const doc = structuredClone(fixture('slow-requests.yaml')) as { spec: { analysis: { metrics: Record<string, unknown>[] } } };
    doc.spec.analysis.metrics[0] = { name: 'latency', template: 'istio-slow-requests', min: 5 };
    const out = parseRollout(doc);
    expect(!out.ok && out.problems.map((p) => p.path)).toEqual(['spec.analysis.metrics[0].min', 'spec.analysis.metrics[0].max']);
  });
});
