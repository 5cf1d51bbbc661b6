import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { ChangeType } from './informer.ts';
import { FreshCache } from './fresh-cache.ts';

const obj = (rv: string, note = ''): KubernetesObject => ({ metadata: { name: 'web', namespace: 'shop', resourceVersion: rv, annotations: { note } } });

/** A cache whose informer holds `informerRv`, after we wrote (and remembered) `writtenRv`. */
function setup(informerRv: string, writtenRv: string | undefined) {
  let held = obj(informerRv, 'informer');
  const cache = new FreshCache({ get: () => held, list: () => [held] });
  if (writtenRv) cache.remember(obj(writtenRv, 'ours'));
  return { cache, feed: (type: ChangeType, rv: string) => { held = obj(rv, 'informer'); return cache.observe(type, obj(rv, 'event')); } };
}

describe('FreshCache', () => {
  it.each<[string, string, string | undefined, ChangeType, string, boolean, string]>([
    // what, informer rv, our write's rv, event type, event rv, echo?, what get() gives after the event
    ['the echo of our write', '10', '11', 'update', '11', true, 'informer'],
    ['a change by someone else after our write', '10', '11', 'update', '12', false, 'informer'],
    ['an event older than our write (the watch lags)', '10', '12', 'update', '11', false, 'ours'],
    ['nothing written: every event is news', '10', undefined, 'update', '11', false, 'informer'],
    ['a delete is never an echo', '10', '11', 'delete', '11', false, 'informer'],
    ['the watch beat our response: nothing remembered, the event is news', '11', '11', 'update', '11', false, 'informer'],
  ])('%s', (_what, informerRv, writtenRv, type, eventRv, echo, after) => {
    const { cache, feed } = setup(informerRv, writtenRv);
    expect(feed(type, eventRv)).toBe(echo);
    expect(cache.get('web', 'shop')?.metadata?.annotations?.note).toBe(after);
  });

  it('serves our write until the watch catches up, then the informer again', () => {
    const { cache, feed } = setup('10', '11');
    expect(cache.get('web', 'shop')?.metadata?.resourceVersion).toBe('11');
    expect(cache.get('web', 'shop')?.metadata?.annotations?.note).toBe('ours');
    feed('update', '11');
    expect(cache.get('web', 'shop')?.metadata?.annotations?.note).toBe('informer');
  });
});
