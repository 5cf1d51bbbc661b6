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
  it.each<[string, string, string | undefined, ChangeType, string, 'news' | 'echo', string]>([
    // what, informer rv, our write's rv, event type, event rv, echo?, what get() gives after the event
    ['the echo of our write', '10', '11', 'update', '11', 'echo', 'informer'],
    ['a change by someone else after our write', '10', '11', 'update', '12', 'news', 'informer'],
    ['an event older than our write (the watch lags)', '10', '12', 'update', '11', 'news', 'ours'],
    ['nothing written: every event is news', '10', undefined, 'update', '11', 'news', 'informer'],
    ['a delete is never an echo', '10', '11', 'delete', '11', 'news', 'informer'],
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

  describe('track: events that arrive while a write is in flight', () => {
    function tracked() {
      let held = obj('10', 'informer');
      const cache = new FreshCache({ get: () => held, list: () => [held] });
      const released: [string, boolean][] = [];
      cache.onReleased = (_type, o, echo) => released.push([o.metadata!.resourceVersion!, echo]);
      let finish!: (rv: string | Error) => void;
      const write = cache.track('web', 'shop', () => new Promise((resolve, reject) => {
        finish = (rv) => (rv instanceof Error ? reject(rv) : resolve(obj(rv, 'ours')));
      }));
      // The informer takes the event in before handing it on, as ListWatch does.
      const feed = (type: ChangeType, rv: string) => { held = obj(rv, 'informer'); return cache.observe(type, obj(rv, 'event')); };
      return { cache, released, write, finish: (rv: string | Error) => finish(rv), feed };
    }

    it('holds the echo that beats the response, then drops it as ours', async () => {
      const t = tracked();
      expect(t.feed('update', '11')).toBe('held');
      expect(t.released).toEqual([]);
      t.finish('11');
      await t.write;
      expect(t.released).toEqual([['11', true]]);
      // Afterwards events are judged as before.
      expect(t.feed('update', '12')).toBe('news');
    });

    it('releases a change by someone else as news, beside our own echo', async () => {
      const t = tracked();
      expect(t.feed('update', '11')).toBe('held');
      expect(t.feed('update', '12')).toBe('held');
      t.finish('12');
      await t.write;
      expect(t.released).toEqual([['11', false], ['12', true]]);
    });

    it('releases everything as news when the write fails', async () => {
      const t = tracked();
      expect(t.feed('update', '11')).toBe('held');
      t.finish(new Error('refused'));
      await expect(t.write).rejects.toThrow('refused');
      expect(t.released).toEqual([['11', false]]);
    });

    it('never holds a delete', async () => {
      const t = tracked();
      expect(t.feed('delete', '11')).toBe('news');
      t.finish('11');
      await t.write.catch(() => undefined);
      expect(t.released).toEqual([]);
    });

    it('remembers what it wrote when the response comes first', async () => {
      const t = tracked();
      t.finish('11');
      await t.write;
      expect(t.cache.get('web', 'shop')?.metadata?.annotations?.note).toBe('ours');
      expect(t.feed('update', '11')).toBe('echo');
    });
  });
});
