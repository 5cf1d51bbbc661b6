import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_AFTER, headerValue, parseRetryAfter, throttleDelayMs } from './retry-after.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');

describe('parseRetryAfter', () => {
  it.each<[string, string | undefined, number | undefined]>([
    ['delay-seconds', '1', 1_000],
    ['zero', '0', 0],
    ['several seconds', '7', 7_000],
    ['leading zeros', '007', 7_000],
    ['surrounding blanks', ' 3 ', 3_000],
    ['huge', '9'.repeat(400), Infinity],
    ['missing', undefined, undefined],
    ['empty', '', undefined],
    ['garbage', 'soon', undefined],
    ['negative', '-5', undefined],
    ['fraction', '1.5', undefined],
    ['with a unit', '2s', undefined],
    ['hex', '0x10', undefined],
    ['exponent', '1e3', undefined],
    ['IMF-fixdate 30 s ahead', 'Sun, 01 Mar 2026 12:00:30 GMT', 30_000],
    ['IMF-fixdate in the past', 'Sun, 01 Mar 2026 11:59:00 GMT', 0],
    ['IMF-fixdate that is no date', 'Sun, 99 Mar 2026 12:00:30 GMT', undefined],
    ['obsolete RFC 850 date', 'Sunday, 01-Mar-26 12:00:30 GMT', undefined],
    ['obsolete asctime date', 'Sun Mar  1 12:00:30 2026', undefined],
    ['ISO date', '2026-03-01T12:00:30Z', undefined],
  ])('%s: %j → %s ms', (_what, value, ms) => {
    expect(parseRetryAfter(value, NOW)).toBe(ms);
  });
});

describe('throttleDelayMs', () => {
  const h = (v: string) => ({ 'retry-after': v });
  it.each<[string, number, unknown, number | undefined]>([
    ['429 with Retry-After: 1', 429, h('1'), 1_000],
    ['429 with Retry-After: 4', 429, h('4'), 4_000],
    ['429 without Retry-After: the default', 429, {}, DEFAULT_RETRY_AFTER.defaultMs],
    ['429 without headers at all', 429, undefined, DEFAULT_RETRY_AFTER.defaultMs],
    ['429 with garbage: the default', 429, h('later'), DEFAULT_RETRY_AFTER.defaultMs],
    ['429 with a negative value: the default', 429, h('-3'), DEFAULT_RETRY_AFTER.defaultMs],
    ['429 with 0: the floor', 429, h('0'), DEFAULT_RETRY_AFTER.minMs],
    ['429 with a huge value: the cap', 429, h('86400'), DEFAULT_RETRY_AFTER.maxMs],
    ['429 with an absurd value: the cap', 429, h('9'.repeat(400)), DEFAULT_RETRY_AFTER.maxMs],
    ['429 with a date 3 s ahead', 429, h('Sun, 01 Mar 2026 12:00:03 GMT'), 3_000],
    ['429 with a date an hour ahead: the cap', 429, h('Sun, 01 Mar 2026 13:00:00 GMT'), DEFAULT_RETRY_AFTER.maxMs],
    ['429 with a past date: the floor', 429, h('Sun, 01 Mar 2026 11:00:00 GMT'), DEFAULT_RETRY_AFTER.minMs],
    ['503 with Retry-After: 2', 503, h('2'), 2_000],
    ['503 without Retry-After: no retry', 503, {}, undefined],
    ['503 with garbage: no retry', 503, h('soon'), undefined],
    ['500 with Retry-After: no retry', 500, h('1'), undefined],
    ['504 with Retry-After (may still be processing): no retry', 504, h('1'), undefined],
    ['409: no retry', 409, h('1'), undefined],
    ['422: no retry', 422, {}, undefined],
    ['404: no retry', 404, {}, undefined],
  ])('%s', (_what, status, headers, ms) => {
    expect(throttleDelayMs(status, headers, NOW)).toBe(ms);
  });

  it('takes its bounds from the policy', () => {
    const policy = { defaultMs: 200, minMs: 50, maxMs: 300 };
    expect(throttleDelayMs(429, {}, NOW, policy)).toBe(200);
    expect(throttleDelayMs(429, h('0'), NOW, policy)).toBe(50);
    expect(throttleDelayMs(429, h('1'), NOW, policy)).toBe(300);
  });
});

describe('headerValue', () => {
  it.each<[string, unknown, string | undefined]>([
    ['a plain object with a lower-case name (client-node 2.x)', { 'retry-after': '3' }, '3'],
    ['a plain object with another case', { 'Retry-After': '3' }, '3'],
    ['a Node header array', { 'retry-after': ['3', '9'] }, '3'],
    ['a Fetch Headers', new Headers({ 'Retry-After': '3' }), '3'],
    ['a Fetch Headers without it', new Headers(), undefined],
    ['no such header', { 'content-type': 'application/json' }, undefined],
    ['a number, not a string', { 'retry-after': 3 }, undefined],
    ['no headers', undefined, undefined],
    ['not an object', 'retry-after: 3', undefined],
  ])('%s', (_what, headers, value) => {
    expect(headerValue(headers, 'retry-after')).toBe(value);
  });
});
