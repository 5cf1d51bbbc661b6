/**
 * README's "Rollout reference" table, for the analysis settings, against the defaults the code
 * fills in (resolveRollout on a Rollout that sets nothing): the table must never promise one
 * default while the controller runs with another.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
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
