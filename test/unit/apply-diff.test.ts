/**
 * applyWouldChange decides whether a reconcile writes a generated object. It must see a change
 * Fledge has to make, and must not take another manager's field for drift: before maps were
 * compared per key, a key someone added to a trafficPolicy the Rollout also sets was "drift",
 * put back on every reconcile with a RoutingRestored Warning each time (conflicts.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/api/object.ts';
import { applyWouldChange, ownedSpecKeys, ownedSpecPaths } from '../../src/kube/apply-diff.ts';

const dr = (spec: Record<string, unknown>, fledgeFields: Record<string, unknown> = {}, extra: { manager: string; fields: Record<string, unknown> }[] = []): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: {
    name: 'web',
    namespace: 'shop',
    labels: { 'fledge.dev/rollout': 'web' },
    managedFields: [
      { manager: 'fledge', operation: 'Apply', fieldsV1: { 'f:spec': fledgeFields } },
      ...extra.map((e) => ({ manager: e.manager, operation: 'Update', fieldsV1: { 'f:spec': e.fields } })),
    ],
  },
  spec,
});
const desired = (spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'web', namespace: 'shop', labels: { 'fledge.dev/rollout': 'web' } }, spec });

const subsets = [{ name: 'stable', labels: { version: 'v1' } }];
const fledgeOwns = { 'f:host': {}, 'f:subsets': {}, 'f:trafficPolicy': { '.': {}, 'f:loadBalancer': { '.': {}, 'f:simple': {} } } };

describe('applyWouldChange', () => {
  it('ignores a key another manager added to a map Fledge also sets', () => {
    const live = dr({ host: 'web', subsets, trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' }, outlierDetection: { consecutive5xxErrors: 7 } } }, fledgeOwns,
      [{ manager: 'kubectl-edit', fields: { 'f:trafficPolicy': { 'f:outlierDetection': { '.': {}, 'f:consecutive5xxErrors': {} } } } }]);
    expect(applyWouldChange(live, desired({ host: 'web', subsets, trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } }), 'fledge')).toBe(false);
  });

  it('ignores top-level fields of other managers (exportTo)', () => {
    const live = dr({ host: 'web', subsets, exportTo: ['.'] }, { 'f:host': {}, 'f:subsets': {} });
    expect(applyWouldChange(live, desired({ host: 'web', subsets }), 'fledge')).toBe(false);
  });

  it('sees a value of its own that changed, inside a map or in an atomic list', () => {
    const live = dr({ host: 'web', subsets, trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } }, fledgeOwns);
    expect(applyWouldChange(live, desired({ host: 'web', subsets, trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } }), 'fledge')).toBe(true);
    expect(applyWouldChange(live, desired({ host: 'web', subsets: [{ name: 'stable', labels: { version: 'v2' } }], trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } }), 'fledge')).toBe(true);
  });

  it('sees a field it owns that the desired object dropped, at any depth', () => {
    const live = dr({ host: 'web', subsets, trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } }, fledgeOwns);
    expect(applyWouldChange(live, desired({ host: 'web', subsets }), 'fledge')).toBe(true);
    expect(applyWouldChange(live, desired({ host: 'web', subsets, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } }), 'fledge')).toBe(true);
  });

  it('reads owned fields down to map leaves; lists are leaves', () => {
    const live = dr({}, fledgeOwns);
    expect(ownedSpecPaths(live, 'fledge')).toEqual([['host'], ['subsets'], ['trafficPolicy', 'loadBalancer', 'simple']]);
    expect(ownedSpecKeys(live, 'fledge')).toEqual(['host', 'subsets', 'trafficPolicy']);
    expect(ownedSpecPaths(live, 'someone-else')).toEqual([]);
  });
});

describe('applyWouldChange with managedFields trimmed to top-level fields', () => {
  it('compares a map Fledge owns whole, so a field it dropped is still seen', () => {
    const live = dr({ host: 'web', subsets, trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' }, tls: { mode: 'ISTIO_MUTUAL' } } }, { 'f:host': {}, 'f:subsets': {}, 'f:trafficPolicy': {} });
    expect(applyWouldChange(live, desired({ host: 'web', subsets, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } }), 'fledge')).toBe(true);
    expect(applyWouldChange(live, desired({ host: 'web', subsets, trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' }, tls: { mode: 'ISTIO_MUTUAL' } } }), 'fledge')).toBe(false);
  });
});
