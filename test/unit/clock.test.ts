import { describe, expect, it } from 'vitest';
import type { ResolvedRollout } from '../../src/api/resolve.ts';
import type { RolloutStatus } from '../../src/api/schema.ts';
import { elapsedMs, holdMs, msUntilCheck, stepClock, type StepClock } from '../../src/plan/clock.ts';
import { minimalRollout, resolveValid } from './fixtures.ts';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0 + ms);
const iso = (ms: number) => at(ms).toISOString();
const S = 1000;
const M = 60 * S;

/** Interval 1m; step 1 is a timed pause of 5m, step 2 a manual pause. */
function rollout(analysis: Record<string, unknown> | undefined): ResolvedRollout {
  const doc = minimalRollout();
  doc.spec.strategy = { steps: [10, { weight: 20, pause: '5m' }, { weight: 30, pause: 'manual' }, 100], interval: '1m' };
  if (analysis) doc.spec.analysis = { ...analysis };
  return resolveValid(doc);
}

const plain = rollout(undefined);
const every10s = rollout({});
const every25s = rollout({ checkInterval: '25s' });
const every2m = rollout({ checkInterval: '2m' });

/** The status of `step`, started at `start` ms, last judged (if `last`) at `last.at` ms. */
function status(step: number | undefined, start: number | undefined, last?: { step?: number; at: number; final?: boolean }): RolloutStatus {
  return {
    phase: 'Progressing',
    ...(step !== undefined ? { stepIndex: step } : {}),
    ...(start !== undefined ? { stepStartedAt: iso(start) } : {}),
    ...(last ? { lastAnalysis: { verdict: 'pass', reason: 'ok', at: iso(last.at), stepIndex: last.step ?? step ?? 0, metrics: [], ...(last.final !== undefined ? { final: last.final } : {}) } } : {}),
  };
}

describe('holdMs', () => {
  it.each<[string, number, number]>([
    ['a plain step: the interval', 0, M],
    ['a timed pause: the pause', 1, 5 * M],
    ['a manual pause: the interval', 2, M],
    ['the last step', 3, M],
    ['an index past the end: the interval', 9, M],
  ])('%s', (_name, idx, expected) => {
    expect(holdMs(plain, idx)).toBe(expected);
  });
});

describe('elapsedMs', () => {
  it.each<[string, RolloutStatus, number, number]>([
    ['since the step started', status(0, 10 * S), 25 * S, 15 * S],
    ['zero at the start', status(0, 10 * S), 10 * S, 0],
    ['negative when the clock is behind the start', status(0, 10 * S), 5 * S, -5 * S],
    ['infinite without a start', status(0, undefined), 0, Infinity],
    ['infinite with an unreadable start', { ...status(0, undefined), stepStartedAt: 'yesterday' }, 0, Infinity],
  ])('%s', (_name, st, now, expected) => {
    expect(elapsedMs(st, at(now))).toBe(expected);
  });
});

describe('stepClock', () => {
  it.each<[string, ResolvedRollout, RolloutStatus, number, StepClock]>([
    ['at the start of step 0', plain, status(0, 0), 0, { idx: 0, elapsedMs: 0, holdMs: M, final: false }],
    ['just before the interval ends', plain, status(0, 0), M - 1, { idx: 0, elapsedMs: M - 1, holdMs: M, final: false }],
    ['when the interval ends: final', plain, status(0, 0), M, { idx: 0, elapsedMs: M, holdMs: M, final: true }],
    ['long after the interval: final', plain, status(0, 0), 10 * M, { idx: 0, elapsedMs: 10 * M, holdMs: M, final: true }],
    ['a timed pause, after the interval but before the pause ends', plain, status(1, 0), 4 * M, { idx: 1, elapsedMs: 4 * M, holdMs: 5 * M, final: false }],
    ['a timed pause, when it ends', plain, status(1, M), 6 * M, { idx: 1, elapsedMs: 5 * M, holdMs: 5 * M, final: true }],
    ['a manual pause holds the interval', plain, status(2, 0), M, { idx: 2, elapsedMs: M, holdMs: M, final: true }],
    ['no step index: step 0', plain, status(undefined, 0), S, { idx: 0, elapsedMs: S, holdMs: M, final: false }],
    ['step -1 (restarting): step 0', plain, status(-1, 0), S, { idx: 0, elapsedMs: S, holdMs: M, final: false }],
    ['past the last step (promoted): the last step', plain, status(4, 0), S, { idx: 3, elapsedMs: S, holdMs: M, final: false }],
    ['no start time: final at once', plain, status(0, undefined), 0, { idx: 0, elapsedMs: Infinity, holdMs: M, final: true }],
    ['the same with analysis: the checkInterval does not change the hold', every25s, status(1, 0), 5 * M, { idx: 1, elapsedMs: 5 * M, holdMs: 5 * M, final: true }],
  ])('%s', (_name, r, st, now, expected) => {
    expect(stepClock(r, st, at(now))).toEqual(expected);
  });
});

describe('msUntilCheck', () => {
  it.each<[string, ResolvedRollout, RolloutStatus, number, number | undefined]>([
    // no analysis: never a check
    ['without analysis', plain, status(0, 0), 0, undefined],
    ['without analysis, long after the hold', plain, status(0, 0), 10 * M, undefined],
    // the periodic checks of a fresh window
    ['at the start of a step: one checkInterval', every10s, status(0, 0), 0, 10 * S],
    ['inside the first checkInterval', every10s, status(0, 0), 4 * S, 6 * S],
    ['at the first check: due (0)', every10s, status(0, 0), 10 * S, 0],
    ['a first check missed: overdue (negative)', every10s, status(0, 0), 25 * S, -15 * S],
    ['a step started in the past', every10s, status(0, 50 * S), 52 * S, 8 * S],
    // after a check in this window: the next one a checkInterval later
    ['right after a check at 10s', every10s, status(0, 0, { at: 10 * S }), 10 * S, 10 * S],
    ['between checks', every10s, status(0, 0, { at: 30 * S }), 33 * S, 7 * S],
    ['a late check at 17s: the next at 27s', every10s, status(0, 0, { at: 17 * S }), 17 * S, 10 * S],
    ['a check made when the window began counts', every10s, status(0, 20 * S, { at: 20 * S }), 20 * S, 10 * S],
    // the final check, exactly when the hold ends
    ['after a check at 55s: the hold ends before the next check', every10s, status(0, 0, { at: 55 * S }), 55 * S, 5 * S],
    ['checkInterval 25s, after the check at 50s: the hold ends at 60s', every25s, status(0, 0, { at: 50 * S }), 50 * S, 10 * S],
    ['checkInterval 25s, after the check at 25s: the next check at 50s', every25s, status(0, 0, { at: 25 * S }), 25 * S, 25 * S],
    ['a checkInterval longer than the hold: one check, when it ends', every2m, status(0, 0), 0, M],
    ['a checkInterval longer than the hold, after the final check: a checkInterval later', every2m, status(0, 0, { at: M, final: true }), M, 2 * M],
    ['the final check missed: overdue', every10s, status(0, 0, { at: 55 * S }), 70 * S, -10 * S],
    // after the final check (held by an inconclusive): every checkInterval
    ['after the final check at 60s', every10s, status(0, 0, { at: M, final: true }), M, 10 * S],
    ['after a check at 65s, past the hold', every10s, status(0, 0, { at: 65 * S, final: true }), 68 * S, 7 * S],
    // checks that are not of this window are ignored
    ['a check of another step is ignored', every10s, status(0, 0, { step: 1, at: 30 * S }), 30 * S, -20 * S],
    ['a check from before the window restarted is ignored', every10s, status(0, 20 * S, { at: 15 * S }), 20 * S, 10 * S],
    // pauses
    ['a timed pause step: checks every checkInterval', every10s, status(1, 0, { at: 4 * M }), 4 * M, 10 * S],
    ['a timed pause step: the final check when the pause ends', every10s, status(1, 0, { at: 5 * M - 3 * S }), 5 * M - 3 * S, 3 * S],
    ['a manual step: the interval is its hold', every25s, status(2, 0, { at: 50 * S }), 50 * S, 10 * S],
    ['a manual step: after the final check at 60s', every25s, status(2, 0, { at: M, final: true }), M, 25 * S],
    // no window at all
    ['no start time: due at once', every10s, status(0, undefined), 0, 0],
    ['an unreadable start time: due at once', every10s, { ...status(0, undefined), stepStartedAt: 'soon' }, 0, 0],
  ])('%s', (_name, r, st, now, expected) => {
    expect(msUntilCheck(r, st, at(now))).toBe(expected);
  });

  it('is due (<= 0) exactly at each check of a step, and at no instant in between', () => {
    // Walk a step of 60s with checks every 25s, checking at each due instant as the controller does.
    const checks: number[] = [];
    let st = status(0, 0);
    for (let t = 0; t <= 2 * M; t += 500) {
      const left = msUntilCheck(every25s, st, at(t))!;
      if (left > 0) continue;
      expect(left).toBe(0);
      checks.push(t);
      st = status(0, 0, { at: t, final: t >= M });
    }
    expect(checks).toEqual([25 * S, 50 * S, M, 85 * S, 110 * S]);
  });
});
