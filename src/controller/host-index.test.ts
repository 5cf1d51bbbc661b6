import { describe, expect, it } from 'vitest';
import { canonicalHost } from '../router/istio/hosts.ts';
import { generatedHosts } from '../api/rollout-object.ts';
import { HostIndex } from './host-index.ts';

describe('HostIndex', () => {
  it('finds objects by canonical host, whatever the spelling and namespace', () => {
    const idx = new HostIndex(canonicalHost);
    idx.update('books/a', 'books', ['reviews']);
    idx.update('other/b', 'other', ['reviews.books.svc.cluster.local', 'shop.example.com']);
    idx.update('other/c', 'other', ['reviews']);
    expect(idx.naming([canonicalHost('reviews', 'books')]).sort()).toEqual(['books/a', 'other/b']);
    expect(idx.naming([canonicalHost('SHOP.example.com', 'x')])).toEqual(['other/b']);
    expect(idx.naming([canonicalHost('reviews', 'other')])).toEqual(['other/c']);
  });

  it('forgets the old hosts of a changed object, returning them, and a deleted one entirely', () => {
    const idx = new HostIndex(canonicalHost);
    idx.update('books/a', 'books', ['reviews']);
    expect(idx.update('books/a', 'books', ['ratings'])).toEqual([canonicalHost('reviews', 'books')]);
    expect(idx.naming([canonicalHost('reviews', 'books')])).toEqual([]);
    expect(idx.naming([canonicalHost('ratings', 'books')])).toEqual(['books/a']);
    expect(idx.delete('books/a')).toEqual([canonicalHost('ratings', 'books')]);
    expect(idx.naming([canonicalHost('ratings', 'books')])).toEqual([]);
  });
});

describe('generatedHosts', () => {
  it.each<[string, unknown, string[]]>([
    ['the Service by default', { service: { name: 'reviews' } }, ['reviews']],
    ['the hosts listed', { service: { name: 'reviews' }, trafficRouting: { virtualService: { hosts: ['a.example.com', 'reviews'] } } }, ['a.example.com', 'reviews']],
    ['none for an adopted VirtualService', { service: { name: 'reviews' }, trafficRouting: { virtualService: { ref: 'x' } } }, []],
    ['none for junk', { service: { name: 42 } }, []],
  ])('%s', (_what, spec, want) => {
    expect(generatedHosts({ spec })).toEqual(want);
  });
});
