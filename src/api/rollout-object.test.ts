import { describe, expect, it } from 'vitest';
import { specLabels, specSubset, type RawRollout } from './rollout-object.ts';

// The CLI shows Rollouts the controller marked Invalid: their raw spec may have any shape.
describe('lenient readers of a raw Rollout spec', () => {
  it.each<[string, RawRollout, Record<string, string>, string | undefined]>([
    ['a valid side', { spec: { stable: { labels: { version: 'v1' }, subset: 'primary' } } }, { version: 'v1' }, 'primary'],
    ['no spec', {}, {}, undefined],
    ['spec not an object', { spec: 'x' }, {}, undefined],
    ['side not an object', { spec: { stable: 3 } }, {}, undefined],
    ['labels not an object', { spec: { stable: { labels: ['v1'], subset: 7 } } }, {}, undefined],
    ['non-string label values dropped', { spec: { stable: { labels: { version: 'v1', n: 2, o: null } } } }, { version: 'v1' }, undefined],
  ])('%s', (_what, raw, labels, subset) => {
    expect(specLabels(raw, 'stable')).toEqual(labels);
    expect(specSubset(raw, 'stable')).toBe(subset);
    expect(specLabels(raw, 'canary')).toEqual({});
  });
});
