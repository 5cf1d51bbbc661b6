/**
 * applyWouldChange decides whether a reconcile writes a generated object. It must see a change
 * Fledge has to make, and must not take another manager's field for drift: before maps were
 * compared per key, a key someone added to a trafficPolicy the Rollout also sets was "drift",
 * put back on every reconcile with a RoutingRestored Warning each time (conflicts.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/api/object.ts';
import { applyWouldChange, ownedSpecKeys, ownedSpecPaths } from '../../src/kube/apply-diff.ts';
import { slimManagedFields } from '../../src/kube/prune.ts';

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

/**
 * managedFields exactly as kube-apiserver 1.36 with Istio's CRDs reports them (captured from
 * test/cluster) after Fledge applied a DestinationRule with nested trafficPolicy passthrough and a
 * GitOps tool then applied keys beside Fledge's at every depth, one of them (outlierDetection.interval)
 * with the same value Fledge sets. Together with test/integration/writes-at-rest.test.ts: the
 * converged object must read as unchanged, whichever copy (full or slimmed for the cache).
 */
describe('applyWouldChange on managedFields as the API server writes them', () => {
  const live = (): KubeObject => ({
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: {
      name: 'web', namespace: 'shop', labels: { 'fledge.dev/rollout': 'web' },
      managedFields: [
        { manager: 'argocd-controller', operation: 'Apply', fieldsV1: { 'f:metadata': { 'f:labels': { 'f:team': {} } }, 'f:spec': { 'f:host': {}, 'f:trafficPolicy': { 'f:connectionPool': { 'f:http': { 'f:maxConcurrentStreams': {} }, 'f:tcp': { 'f:maxConnections': {} } }, 'f:outlierDetection': { 'f:interval': {} }, 'f:tls': { 'f:mode': {} } } } } },
        { manager: 'fledge', operation: 'Apply', fieldsV1: { 'f:metadata': { 'f:labels': { 'f:fledge.dev/rollout': {} } }, 'f:spec': { 'f:host': {}, 'f:subsets': {}, 'f:trafficPolicy': { 'f:connectionPool': { 'f:http': { 'f:http1MaxPendingRequests': {}, 'f:maxRetries': {} }, 'f:tcp': {} }, 'f:outlierDetection': { 'f:consecutive5xxErrors': {}, 'f:interval': {} }, 'f:portLevelSettings': {} } } } },
      ],
    },
    spec: {
      host: 'web',
      subsets: [{ labels: { version: 'v1' }, name: 'stable' }],
      trafficPolicy: {
        connectionPool: { http: { http1MaxPendingRequests: 10, maxConcurrentStreams: 100, maxRetries: 0 }, tcp: { maxConnections: 5 } },
        outlierDetection: { consecutive5xxErrors: null, interval: '10s' },
        portLevelSettings: [{ loadBalancer: { simple: 'RANDOM' }, port: { number: 80 } }],
        tls: { mode: 'ISTIO_MUTUAL' },
      },
    },
  });
  interface Policy {
    connectionPool: { http: Record<string, unknown>; tcp?: Record<string, unknown> };
    outlierDetection: Record<string, unknown>;
    portLevelSettings: { port: { number: number }; loadBalancer: { simple: string } }[];
    tls?: { mode: string };
  }
  const policy = (): Policy => ({
    connectionPool: { http: { http1MaxPendingRequests: 10, maxRetries: 0 }, tcp: {} },
    outlierDetection: { consecutive5xxErrors: null, interval: '10s' },
    portLevelSettings: [{ port: { number: 80 }, loadBalancer: { simple: 'RANDOM' } }],
  });
  const want = (edit: (tp: Policy) => void = () => {}): KubeObject => {
    const tp = policy();
    edit(tp);
    return desired({ host: 'web', trafficPolicy: { ...tp }, subsets: [{ name: 'stable', labels: { version: 'v1' } }] });
  };

  it.each([
    ['converged (key order, null, 0, an empty map of its own, others\' keys at every depth)', want(), false],
    ['a nested value of its own changed', want((tp) => { tp.connectionPool.http.http1MaxPendingRequests = 20; }), true],
    ['a zero of its own changed', want((tp) => { tp.connectionPool.http.maxRetries = 1; }), true],
    ['a nested key of its own dropped', want((tp) => { delete tp.connectionPool.http.maxRetries; }), true],
    ['an empty map of its own dropped', want((tp) => { delete tp.connectionPool.tcp; }), true],
    ['a key it shares with another manager dropped (it stays theirs, but Fledge must let go)', want((tp) => { delete tp.outlierDetection.interval; }), true],
    // Live already holds it: co-owning it would change managedFields only, not the routing.
    ['a key another manager owns, wanted with their value', want((tp) => { tp.tls = { mode: 'ISTIO_MUTUAL' }; }), false],
    ['a key another manager owns, wanted with another value', want((tp) => { tp.tls = { mode: 'DISABLE' }; }), true],
    ['a new nested key', want((tp) => { tp.connectionPool.http.idleTimeout = '30s'; }), true],
    ['an atomic list changed', want((tp) => { tp.portLevelSettings[0]!.loadBalancer.simple = 'LEAST_REQUEST'; }), true],
    ['the whole trafficPolicy dropped', desired({ host: 'web', subsets: [{ name: 'stable', labels: { version: 'v1' } }] }), true],
  ] as const)('%s → %s', (_name, d, changes) => {
    expect(applyWouldChange(live(), d, 'fledge')).toBe(changes);
    const slim = live();
    slimManagedFields(slim as never);
    expect(applyWouldChange(slim, d, 'fledge')).toBe(changes);
  });

  it('a value another manager changed in a key only they own is not drift', () => {
    const l = live();
    (l.spec!.trafficPolicy as Policy).connectionPool.http.maxConcurrentStreams = 7;
    expect(applyWouldChange(l, want(), 'fledge')).toBe(false);
  });
});
