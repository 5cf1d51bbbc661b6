import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../api/object.ts';
import { applyWouldChange, otherManagers, ownedSpecKeys, ownedSpecPaths } from './apply-diff.ts';
import { dropManagedFields, slimManagedFields } from './prune.ts';

function vs(): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1', kind: 'VirtualService',
    metadata: {
      name: 'a', namespace: 'ns', labels: { x: 'y' },
      managedFields: [
        { manager: 'fledge', operation: 'Apply', time: '2026-01-01T00:00:00Z', fieldsV1: { 'f:metadata': { 'f:labels': { 'f:x': {} } }, 'f:spec': { 'f:hosts': {}, 'f:http': {}, 'f:trafficPolicy': { 'f:loadBalancer': { 'f:simple': {} } } } } },
        { manager: 'kubectl-edit', operation: 'Update', time: '2026-01-02T00:00:00Z', fieldsV1: { 'f:spec': { 'f:gateways': {} } } },
        { manager: 'kube-controller-manager', operation: 'Update', time: '2026-01-03T00:00:00Z', subresource: 'status', fieldsV1: { 'f:status': { 'f:x': {} } } },
      ] as KubeObject['metadata']['managedFields'],
    },
    spec: { hosts: ['a'], http: [{ route: [] }], gateways: ['mesh'], trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } },
  };
}

describe('slimManagedFields', () => {
  it('keeps what drift detection and "changed by" read, and nothing else', () => {
    const full = vs();
    const slim = vs();
    slimManagedFields(slim as never);
    expect(slim.metadata.managedFields).toEqual([
      { manager: 'fledge', operation: 'Apply', time: '2026-01-01T00:00:00Z', fieldsV1: { 'f:spec': { 'f:hosts': {}, 'f:http': {}, 'f:trafficPolicy': { 'f:loadBalancer': { 'f:simple': {} } } } } },
      { manager: 'kubectl-edit', operation: 'Update', time: '2026-01-02T00:00:00Z', fieldsV1: { 'f:spec': { 'f:gateways': {} } } },
      { manager: 'kube-controller-manager', operation: 'Update', time: '2026-01-03T00:00:00Z', subresource: 'status' },
    ]);
    expect(ownedSpecKeys(slim, 'fledge')).toEqual(ownedSpecKeys(full, 'fledge'));
    expect(ownedSpecPaths(slim, 'fledge')).toEqual(ownedSpecPaths(full, 'fledge'));
    expect(otherManagers(slim, 'fledge')).toEqual(otherManagers(full, 'fledge'));
    // A desired object that dropped a field we own: a change, with or without the full tree.
    const desired: KubeObject = { ...full, metadata: { name: 'a', namespace: 'ns', labels: { x: 'y' } }, spec: { hosts: ['a'] } };
    const same = { ...desired, spec: { hosts: ['a'], http: [{ route: [] }], trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } } };
    for (const d of [desired, same, { ...same, spec: { ...same.spec, hosts: ['b'] } }]) {
      expect(applyWouldChange(slim, d, 'fledge')).toBe(applyWouldChange(full, d, 'fledge'));
    }
    expect(applyWouldChange(slim, same, 'fledge')).toBe(false);
  });

  it('leaves objects without managedFields alone', () => {
    const o = { metadata: { name: 'a' } };
    slimManagedFields(o);
    dropManagedFields(o);
    expect(o).toEqual({ metadata: { name: 'a' } });
  });
});

describe('dropManagedFields', () => {
  it('removes them', () => {
    const o = vs();
    dropManagedFields(o as never);
    expect(o.metadata.managedFields).toBeUndefined();
    expect(o.metadata.labels).toEqual({ x: 'y' });
  });
});
