/**
 * The Grafana dashboard shipped in deploy/grafana (and the chart's copy): every PromQL expression
 * in it, panels and variables alike, names only metrics the controller exports, read from the
 * controller's own registry (the text /metrics serves), so a renamed metric breaks this test
 * rather than a user's dashboard.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ControllerMetrics, METRIC_NAMES } from '../../src/controller/metrics.ts';

const DASHBOARD = new URL('../../deploy/grafana/fledge-dashboard.json', import.meta.url);
const CHART_COPY = new URL('../../deploy/helm/fledge/dashboards/fledge-dashboard.json', import.meta.url);

interface Panel { type: string; title: string; targets?: { expr: string }[]; panels?: Panel[] }
interface Dashboard { panels: Panel[]; templating: { list: { type: string; query?: string | { query: string } }[] } }

/** Every PromQL expression: panel targets and query variables. */
function expressions(d: Dashboard): string[] {
  const panels = d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  for (const v of d.templating.list) {
    if (v.type !== 'query' || v.query === undefined) continue;
    const q = typeof v.query === 'string' ? v.query : v.query.query;
    const m = /^label_values\(([^,)]+)/.exec(q);
    exprs.push(m ? m[1]!.trim() : q);
  }
  return exprs;
}

const PROMQL_WORDS = new Set([
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan',
]);

/**
 * The metric names an expression selects: identifiers that are not functions (followed by "("),
 * not keywords, not inside label matchers, ranges, strings or by/without label lists.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const out: string[] = [];
  for (const m of stripped.matchAll(/(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?/g)) {
    if (m[2] || PROMQL_WORDS.has(m[1]!)) continue;
    out.push(m[1]!);
  }
  return out;
}

/** The series names /metrics serves: each # TYPE, a histogram as its _bucket, _sum and _count. */
async function exported(): Promise<Set<string>> {
  const text = await new ControllerMetrics().registry.metrics();
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name! + s);
    else if (type === 'summary') for (const s of ['', '_sum', '_count']) names.add(name! + s);
    else names.add(name!);
  }
  return names;
}

describe('the Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

  it.each([
    ['sum by (le) (rate(fledge_reconcile_duration_seconds_bucket{name="x"}[5m]))', ['fledge_reconcile_duration_seconds_bucket']],
    ['max by (namespace, name) (fledge_rollout_phase{phase="RolledBack"}) == 1', ['fledge_rollout_phase']],
    ['rate(process_cpu_seconds_total{job=~"$job"}[$__rate_interval]) / on (pod) group_left up', ['process_cpu_seconds_total', 'up']],
    ['histogram_quantile(0.99, x_bucket) > bool 0.5 or vector(1)', ['x_bucket']],
  ])('metricNames(%s)', (expr, expected) => {
    expect(metricNames(expr)).toEqual(expected);
  });

  it('queries only metrics the controller exports, and shows each thing the issue asks for', async () => {
    const names = await exported();
    const exprs = expressions(dashboard);
    expect(exprs.length).toBeGreaterThan(15);
    const used = new Set(exprs.flatMap(metricNames));
    expect([...used].filter((n) => !names.has(n)), 'metrics the controller does not export').toEqual([]);
    // Weights per Rollout over time, verdicts, rollbacks, reconcile latency, API and Prometheus errors.
    for (const m of ['fledge_rollout_canary_weight', 'fledge_analysis_total', 'fledge_rollout_phase', 'fledge_reconcile_duration_seconds_bucket',
      'fledge_kube_throttled_total', 'fledge_prometheus_queries_total', 'workqueue_depth', 'leader_election_master_status', 'process_cpu_seconds_total']) {
      expect(used, m).toContain(m);
    }
  });

  it('exports the standard names: process_* and nodejs_* unprefixed, client-go\'s work queue and leader election', async () => {
    const names = await exported();
    for (const n of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', ...Object.values(METRIC_NAMES)]) {
      expect([...names].some((x) => x === n || x === `${n}_bucket`), n).toBe(true);
    }
    expect([...names].filter((n) => n.startsWith('fledge_process_'))).toEqual([]);
  });

  it('the chart\'s copy equals deploy/grafana/fledge-dashboard.json (npm run gen)', () => {
    expect(readFileSync(CHART_COPY, 'utf8') === readFileSync(DASHBOARD, 'utf8'), 'deploy/helm/fledge/dashboards is stale: run npm run gen').toBe(true);
  });
});
