/**
 * README's "Rollout reference" table against the defaults the code fills in (resolveRollout on a
 * Rollout that sets nothing, which reads them from src/api/constants.ts, the one place they are
 * stated): the table must never promise one default while the controller runs with another.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROMETHEUS_TIMEOUT } from '../../src/api/constants.ts';
import { DEFAULT_PROVIDER } from '../../src/api/prometheus-policy.ts';
import { parseDuration } from '../../src/api/duration.ts';
import { prometheusConfig } from '../../src/metrics/provider-config.ts';
import { minimalRollout, resolveValid } from './fixtures.ts';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The default column of the reference row whose field column is exactly `field`. */
function defaultOf(field: string): string {
  const row = README.split('\n').find((l) => l.startsWith(`| ${field} |`));
  if (!row) throw new Error(`README has no reference row for ${field}`);
  return row.split('|')[2]!.trim();
}

/** The values in backticks of a default column: "`0.005`, `0.5`" → ['0.005', '0.5']. */
const ticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

const fmtDuration = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);

describe('README reference table: analysis defaults are the code\'s', () => {
  const doc = minimalRollout();
  doc.spec.analysis = {};
  const a = resolveValid(doc).analysis!;
  const c = a.comparison!;

  it.each<[string, string[]]>([
    ['`...comparison.confidence`', [String(c.confidence)]],
    ['`...comparison.passConfidence`', [String(c.passConfidence)]],
    ['`...comparison.tolerance`, `...relativeTolerance`', [String(c.tolerance), String(c.relativeTolerance)]],
    ['`...comparison.baselineWindow`', [fmtDuration(c.baselineWindowMs)]],
    ['`spec.analysis.minRequests`', [String(a.minRequests)]],
    ['`spec.analysis.failureLimit`', [String(a.failureLimit)]],
    ['`spec.analysis.inconclusiveLimit`', [String(a.inconclusiveLimit)]],
    ['`spec.analysis.checkInterval`', [fmtDuration(a.checkIntervalMs)]],
  ])('%s', (field, expected) => {
    expect(ticked(defaultOf(field))).toEqual(expected);
  });

  it('the comparison is on by default', () => {
    expect(defaultOf('`spec.analysis.comparison`')).toBe('on');
    expect(a.comparison).toBeDefined();
  });
});

describe('README reference table: the other defaults are the code\'s', () => {
  const doc = minimalRollout();
  const r = resolveValid(doc);
  const stepWeighted = minimalRollout();
  stepWeighted.spec.strategy = { stepWeight: 30 };
  const weights = resolveValid(stepWeighted).steps.map((s) => s.weight);

  it.each<[string, string[]]>([
    ['`spec.stable.subset`, `spec.canary.subset`', [r.stable.subset, r.canary.subset]],
    ['`spec.strategy.interval`', [fmtDuration(r.intervalMs)]],
    // stepWeight 30 alone climbs to the default maxWeight: 30, 60, 90, then the last step.
    ['`spec.strategy.stepWeight` + `maxWeight`', [`maxWeight: ${weights[weights.length - 1]}`]],
    ['`spec.analysis.prometheus.provider`', [DEFAULT_PROVIDER]],
  ])('%s', (field, expected) => {
    expect(ticked(defaultOf(field))).toEqual(expected);
  });

  it('`...prometheus.timeout`: the provider\'s, as --prometheus-address configures it', () => {
    const config = prometheusConfig({ address: 'http://prometheus.monitoring:9090' });
    const timeoutMs = config.providers.find((p) => p.name === DEFAULT_PROVIDER)!.timeoutMs;
    expect(timeoutMs).toBe(parseDuration(DEFAULT_PROMETHEUS_TIMEOUT));
    expect(ticked(defaultOf('`...prometheus.timeout`'))).toEqual([fmtDuration(timeoutMs)]);
  });
});
