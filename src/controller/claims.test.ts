import { describe, expect, it } from 'vitest';
import { ClaimIndex } from './claims.ts';
import { claimedVirtualService } from '../api/rollout-object.ts';

const rollout = (name: string, namespace: string, trafficRouting?: Record<string, unknown>) =>
  ({ metadata: { name, namespace }, spec: { ...(trafficRouting ? { trafficRouting } : {}) } });

describe('ClaimIndex', () => {
  it('finds the Rollouts claiming a VirtualService by ref, by name, or by their own name', () => {
    const idx = new ClaimIndex();
    idx.update(rollout('a', 'ns'));
    idx.update(rollout('b', 'ns', { virtualService: { name: 'a' } }));
    idx.update(rollout('c', 'ns', { virtualService: { ref: 'shared' } }));
    idx.update(rollout('d', 'other'));
    expect([...idx.claimingVirtualService('ns', 'a')].sort()).toEqual(['a', 'b']);
    expect(idx.claimingVirtualService('ns', 'shared')).toEqual(['c']);
    expect(idx.claimingVirtualService('ns', 'd')).toEqual([]);
    expect(idx.claimingVirtualService('other', 'd')).toEqual(['d']);
  });

  it('follows spec changes and deletions', () => {
    const idx = new ClaimIndex();
    idx.update(rollout('a', 'ns', { virtualService: { ref: 'x' }, destinationRule: { ref: 'dr' } }));
    expect(idx.adoptingDestinationRule('ns', 'dr')).toEqual(['a']);
    idx.update(rollout('a', 'ns', { virtualService: { ref: 'y' } }));
    expect(idx.claimingVirtualService('ns', 'x')).toEqual([]);
    expect(idx.claimingVirtualService('ns', 'y')).toEqual(['a']);
    expect(idx.adoptingDestinationRule('ns', 'dr')).toEqual([]);
    idx.delete(rollout('a', 'ns'));
    expect(idx.claimingVirtualService('ns', 'y')).toEqual([]);
  });

  it('agrees with claimedVirtualService on any spec, valid or not', () => {
    const idx = new ClaimIndex();
    const specs = [undefined, {}, { virtualService: {} }, { virtualService: { name: 'n' } }, { virtualService: { ref: 'r', name: 'n' } }, { virtualService: 'junk' }];
    specs.forEach((tr, i) => {
      const r = rollout(`r${i}`, 'ns', tr as Record<string, unknown> | undefined);
      idx.update(r);
      expect(idx.claimingVirtualService('ns', claimedVirtualService(r as never))).toContain(`r${i}`);
    });
  });
});
