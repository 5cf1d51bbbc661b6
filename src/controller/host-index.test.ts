import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../api/object.ts';
import { canonicalHost } from '../router/istio/hosts.ts';
import { HostIndex } from './host-index.ts';

const vs = (namespace: string, name: string, hosts: string[]): KubeObject => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace }, spec: { hosts } });

describe('HostIndex', () => {
  it('finds VirtualServices by canonical host, whatever the spelling and namespace', () => {
    const idx = new HostIndex();
    idx.update(vs('books', 'a', ['reviews']));
    idx.update(vs('other', 'b', ['reviews.books.svc.cluster.local', 'shop.example.com']));
    idx.update(vs('other', 'c', ['reviews']));
    expect(idx.naming([canonicalHost('reviews', 'books')]).sort()).toEqual(['books/a', 'other/b']);
    expect(idx.naming([canonicalHost('SHOP.example.com', 'x')])).toEqual(['other/b']);
    expect(idx.naming([canonicalHost('reviews', 'other')])).toEqual(['other/c']);
  });

  it('forgets the old hosts of a changed VirtualService and a deleted one entirely', () => {
    const idx = new HostIndex();
    idx.update(vs('books', 'a', ['reviews']));
    idx.update(vs('books', 'a', ['ratings']));
    expect(idx.naming([canonicalHost('reviews', 'books')])).toEqual([]);
    expect(idx.naming([canonicalHost('ratings', 'books')])).toEqual(['books/a']);
    idx.delete(vs('books', 'a', []));
    expect(idx.naming([canonicalHost('ratings', 'books')])).toEqual([]);
  });
});
