import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { KubeObject } from '../../src/api/object.ts';
import type { ResolvedRollout } from '../../src/api/resolve.ts';
import { plan } from '../../src/plan/plan.ts';
import type { Routing } from '../../src/plan/types.ts';
import { istioRouter, renderDestinationRule, renderVirtualService } from '../../src/router/istio/render.ts';
import { EXAMPLES, minimalRollout, resolveValid, resolvedExample } from './fixtures.ts';

interface Destination { host: string; subset: string; port?: { number: number } }
interface Route { name: string; match?: unknown[]; route: { destination: Destination; weight: number }[]; [extra: string]: unknown }
interface VsSpec { hosts: string[]; gateways?: string[]; http: Route[] }

const firstStep = (r: ResolvedRollout): Routing => plan({ rollout: r, status: undefined, requests: { paused: false }, now: new Date(0) }).routing;
const at = (r: ResolvedRollout, canaryWeight: number): Routing => ({ stableLabels: r.stable.labels, canaryLabels: r.canary.labels, canaryWeight });
const vsSpec = (o: KubeObject) => o.spec as unknown as VsSpec;

function rolloutWith(mutate: (doc: ReturnType<typeof minimalRollout>) => void): ResolvedRollout {
  const doc = minimalRollout();
  mutate(doc);
  return resolveValid(doc);
}

const managedLabels = (name: string) => ({ 'app.kubernetes.io/managed-by': 'fledge', 'fledge.dev/rollout': name });

describe('the seed examples, at their first step', () => {
  it('staff: safe 90 / risky 10 on the FQDN host, no gateways, no match, no port', () => {
    const r = resolvedExample('staff-safe-risky.yaml');
    const host = 'fleetman-staff-service.default.svc.cluster.local';
    expect(istioRouter.desiredObjects(r, firstStep(r))).toEqual([
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'DestinationRule',
        metadata: { name: 'fleetman-staff-service', namespace: 'default', labels: managedLabels('fleetman-staff-service') },
        spec: {
          host,
          subsets: [
            { name: 'safe', labels: { version: 'safe' } },
            { name: 'risky', labels: { version: 'risky' } },
          ],
        },
      },
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name: 'fleetman-staff-service', namespace: 'default', labels: managedLabels('fleetman-staff-service') },
        spec: {
          hosts: [host],
          http: [{
            name: 'primary',
            route: [
              { destination: { host, subset: 'safe' }, weight: 90 },
              { destination: { host, subset: 'risky' }, weight: 10 },
            ],
          }],
        },
      },
    ]);
  });

  it('httpping: mesh gateway, uri prefix match, port 8080, consistent hash on header foo, several labels', () => {
    const r = resolvedExample('httpping-mesh.yaml');
    const host = 'httpping-without-sidecar';
    const dest = (subset: string) => ({ host, subset, port: { number: 8080 } });
    const [dr, vs, ...rest] = istioRouter.desiredObjects(r, firstStep(r));
    expect(rest).toEqual([]);
    expect(dr).toEqual({
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'httpping-without-sidecar-destination', namespace: 'infra-lab', labels: managedLabels(host) },
      spec: {
        host,
        trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'foo' } } },
        subsets: [
          { name: 'v1', labels: { app: host, version: 'v1' } },
          { name: 'v2', labels: { app: host, version: 'v2' } },
        ],
      },
    });
    expect(vs).toEqual({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: host, namespace: 'infra-lab', labels: managedLabels(host) },
      spec: {
        hosts: [host],
        gateways: ['mesh'],
        http: [
          { name: 'primary', match: [{ uri: { prefix: '/' } }], route: [{ destination: dest('v1'), weight: 90 }, { destination: dest('v2'), weight: 10 }] },
          { name: 'fallback', route: [{ destination: dest('v1'), weight: 100 }] },
        ],
      },
    });
  });

  it('product-service: header match on the weighted route, a catch-all to stable, default subset names', () => {
    const r = resolvedExample('product-service.yaml');
    const host = 'product-service';
    const [dr, vs] = istioRouter.desiredObjects(r, firstStep(r));
    expect(dr!.spec).toEqual({ host, subsets: [{ name: 'stable', labels: { version: 'v1' } }, { name: 'canary', labels: { version: 'v2' } }] });
    expect(vs!.spec).toEqual({
      hosts: [host],
      http: [
        {
          name: 'primary',
          match: [{ headers: { 'user-agent': { regex: '.*iphone.*' } } }],
          route: [{ destination: { host, subset: 'stable' }, weight: 100 }, { destination: { host, subset: 'canary' }, weight: 0 }],
        },
        { name: 'fallback', route: [{ destination: { host, subset: 'stable' }, weight: 100 }] },
      ],
    });
  });
});

describe('renderVirtualService', () => {
  it.each<[string, (d: ReturnType<typeof minimalRollout>) => void, string[] | undefined]>([
    ['gateways: [mesh] when given', (d) => { d.spec.trafficRouting = { virtualService: { gateways: ['mesh'] } }; }, ['mesh']],
    ['several gateways, in order', (d) => { d.spec.trafficRouting = { virtualService: { gateways: ['istio-system/public', 'mesh'] } }; }, ['istio-system/public', 'mesh']],
    ['no gateways field when not given', () => {}, undefined],
  ])('%s', (_name, mutate, gateways) => {
    const spec = vsSpec(renderVirtualService(rolloutWith(mutate), at(rolloutWith(mutate), 10)));
    if (gateways) expect(spec.gateways).toEqual(gateways);
    else expect(spec).not.toHaveProperty('gateways');
  });

  it.each<[string, string]>([
    ['a short name', 'web'],
    ['name.namespace', 'web.default'],
    ['an FQDN', 'web.default.svc.cluster.local'],
    ['an FQDN with another cluster domain', 'web.default.svc.example.internal'],
  ])('accepts %s as the host and destination', (_name, host) => {
    const r = rolloutWith((d) => { d.spec.service = { name: host }; });
    const spec = vsSpec(renderVirtualService(r, at(r, 25)));
    expect(spec.hosts).toEqual([host]);
    for (const route of spec.http) for (const d of route.route) expect(d.destination.host).toBe(host);
    expect(renderDestinationRule(r, at(r, 25)).spec!.host).toBe(host);
  });

  it('routes to the service while listening on the hosts the user gives', () => {
    const r = rolloutWith((d) => { d.spec.trafficRouting = { virtualService: { name: 'web-route', hosts: ['web.example.com', 'web'] } }; });
    const vs = renderVirtualService(r, at(r, 25));
    expect(vs.metadata.name).toBe('web-route');
    expect(vsSpec(vs).hosts).toEqual(['web.example.com', 'web']);
    expect(vsSpec(vs).http[0]!.route.map((d) => d.destination.host)).toEqual(['web', 'web']);
  });

  it('puts destination port.number on every destination when the port is given, and none otherwise', () => {
    const withPort = rolloutWith((d) => {
      d.spec.service = { name: 'web', port: 9090 };
      d.spec.trafficRouting = { virtualService: { match: [{ uri: { prefix: '/api' } }] } };
    });
    const all = vsSpec(renderVirtualService(withPort, at(withPort, 30))).http.flatMap((h) => h.route);
    expect(all).toHaveLength(3);
    for (const d of all) expect(d.destination.port).toEqual({ number: 9090 });
    const without = rolloutWith(() => {});
    for (const d of vsSpec(renderVirtualService(without, at(without, 30))).http.flatMap((h) => h.route)) expect(d.destination).not.toHaveProperty('port');
  });

  it('passes http extras (timeout, retries...) through on the weighted route only', () => {
    const extras = { timeout: '5s', retries: { attempts: 3, perTryTimeout: '2s', retryOn: '5xx' }, headers: { request: { set: { 'x-canary': 'maybe' } } } };
    const r = rolloutWith((d) => { d.spec.trafficRouting = { virtualService: { match: [{ headers: { 'x-beta': { exact: '1' } } }], http: extras } }; });
    const [primary, fallback] = vsSpec(renderVirtualService(r, at(r, 40))).http;
    expect(primary).toEqual({
      name: 'primary',
      match: [{ headers: { 'x-beta': { exact: '1' } } }],
      route: [{ destination: { host: 'web', subset: 'stable' }, weight: 60 }, { destination: { host: 'web', subset: 'canary' }, weight: 40 }],
      ...extras,
    });
    expect(fallback).toEqual({ name: 'fallback', route: [{ destination: { host: 'web', subset: 'stable' }, weight: 100 }] });
  });

  it('adds the catch-all route only when the weighted route has a match', () => {
    const plain = rolloutWith(() => {});
    expect(vsSpec(renderVirtualService(plain, at(plain, 10))).http.map((h) => h.name)).toEqual(['primary']);
    const matched = rolloutWith((d) => { d.spec.trafficRouting = { virtualService: { match: [{ uri: { prefix: '/' } }, { uri: { exact: '/health' } }] } }; });
    const http = vsSpec(renderVirtualService(matched, at(matched, 10))).http;
    expect(http.map((h) => h.name)).toEqual(['primary', 'fallback']);
    expect(http[0]!.match).toEqual([{ uri: { prefix: '/' } }, { uri: { exact: '/health' } }]);
    expect(http[1]).not.toHaveProperty('match');
  });

  it.each<[number, number, number]>([
    [0, 100, 0],
    [1, 99, 1],
    [35, 65, 35],
    [99, 1, 99],
    [100, 0, 100],
  ])('canary %d: stable %d, canary %d', (w, stable, canary) => {
    const r = resolvedExample('httpping-mesh.yaml');
    const [primary] = vsSpec(renderVirtualService(r, at(r, w))).http;
    expect(primary!.route.map((d) => [d.destination.subset, d.weight])).toEqual([['v1', stable], ['v2', canary]]);
  });

  it.each<[string, number, number]>([
    ['above 100', 150, 100],
    ['below 0', -5, 0],
    ['a fraction', 33.6, 34],
    ['NaN', Number.NaN, 0],
    ['Infinity', Number.POSITIVE_INFINITY, 0],
  ])('keeps a canary weight %s in 0..100 as an integer', (_name, w, expected) => {
    const r = rolloutWith(() => {});
    const [primary] = vsSpec(renderVirtualService(r, at(r, w))).http;
    expect(primary!.route.map((d) => d.weight)).toEqual([100 - expected, expected]);
  });

  it('refuses to render an adopted VirtualService', () => {
    const r = rolloutWith((d) => { d.spec.trafficRouting = { virtualService: { ref: 'reviews-route' } }; });
    expect(() => renderVirtualService(r, at(r, 10))).toThrow(/adopted/);
  });
});

describe('renderDestinationRule', () => {
  it('selects the subsets by the labels traffic is routed to, not the spec (a held release)', () => {
    const r = rolloutWith(() => {});
    const routing: Routing = { stableLabels: { version: 'v0' }, canaryLabels: { version: 'v1', track: 'canary' }, canaryWeight: 100 };
    expect(renderDestinationRule(r, routing).spec!.subsets).toEqual([
      { name: 'stable', labels: { version: 'v0' } },
      { name: 'canary', labels: { version: 'v1', track: 'canary' } },
    ]);
  });

  it('passes the trafficPolicy through verbatim and omits it when not given', () => {
    const policy = { loadBalancer: { consistentHash: { httpHeaderName: 'foo' } }, connectionPool: { tcp: { maxConnections: 100 } }, tls: { mode: 'ISTIO_MUTUAL' } };
    const r = rolloutWith((d) => { d.spec.trafficRouting = { destinationRule: { name: 'web-dr', trafficPolicy: policy } }; });
    const dr = renderDestinationRule(r, at(r, 0));
    expect(dr.metadata.name).toBe('web-dr');
    expect(dr.spec!.trafficPolicy).toEqual(policy);
    expect(renderDestinationRule(rolloutWith(() => {}), at(r, 0)).spec).not.toHaveProperty('trafficPolicy');
  });

  it('does not share label objects with the routing it was given', () => {
    const r = rolloutWith(() => {});
    const routing = at(r, 10);
    const subsets = renderDestinationRule(r, routing).spec!.subsets as { labels: Record<string, string> }[];
    subsets[0]!.labels.version = 'changed';
    expect(routing.stableLabels).toEqual({ version: 'v1' });
  });

  it('refuses to render an adopted DestinationRule', () => {
    const r = rolloutWith((d) => { d.spec.trafficRouting = { destinationRule: { ref: 'reviews' } }; });
    expect(() => renderDestinationRule(r, at(r, 10))).toThrow(/adopted/);
  });
});

describe('istioRouter.desiredObjects', () => {
  it.each(EXAMPLES.map((e) => [e] as const))('%s: networking.istio.io/v1 objects labelled managed-by fledge, in the rollout namespace', (name) => {
    const r = resolvedExample(name);
    const objects = istioRouter.desiredObjects(r, firstStep(r));
    expect(objects.map((o) => o.kind)).toEqual(['DestinationRule', 'VirtualService']);
    for (const o of objects) {
      expect(o.apiVersion).toBe('networking.istio.io/v1');
      expect(o.metadata.namespace).toBe(r.namespace);
      expect(o.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('fledge');
      expect(o.metadata.labels?.['fledge.dev/rollout']).toBe(r.name);
      expect(o.metadata).not.toHaveProperty('ownerReferences');
    }
  });

  it('sets an ownerReference to the Rollout only when it has a uid', () => {
    const r = rolloutWith((d) => { d.metadata.uid = '6f1c-uid'; });
    for (const o of istioRouter.desiredObjects(r, at(r, 10))) {
      expect(o.metadata.ownerReferences).toEqual([{ apiVersion: 'fledge.dev/v1alpha1', kind: 'Rollout', name: 'web', uid: '6f1c-uid', controller: true, blockOwnerDeletion: true }]);
    }
    const offline = rolloutWith(() => {});
    for (const o of istioRouter.desiredObjects(offline, at(offline, 10))) expect(o.metadata).not.toHaveProperty('ownerReferences');
  });

  it.each<[string, Record<string, unknown>, string[]]>([
    ['an adopted VirtualService', { virtualService: { ref: 'reviews-route' } }, ['DestinationRule']],
    ['an adopted DestinationRule', { destinationRule: { ref: 'reviews' } }, ['VirtualService']],
    ['both adopted', { virtualService: { ref: 'reviews-route' }, destinationRule: { ref: 'reviews' } }, []],
  ])('leaves out %s', (_name, trafficRouting, kinds) => {
    const r = rolloutWith((d) => { d.spec.trafficRouting = trafficRouting; });
    expect(istioRouter.desiredObjects(r, at(r, 10)).map((o) => o.kind)).toEqual(kinds);
  });

  it('for any canary weight, every route of every example has integer weights 0..100 summing to exactly 100', () => {
    const rollouts = EXAMPLES.map(resolvedExample);
    fc.assert(fc.property(fc.constantFrom(...rollouts), fc.integer({ min: 0, max: 100 }), (r, w) => {
      const vs = istioRouter.desiredObjects(r, at(r, w)).find((o) => o.kind === 'VirtualService')!;
      const http = vsSpec(vs).http;
      expect(http[0]!.route.find((d) => d.destination.subset === r.canary.subset)!.weight).toBe(w);
      for (const route of http) {
        const weights = route.route.map((d) => d.weight);
        expect(weights.every((x) => Number.isInteger(x) && x >= 0 && x <= 100)).toBe(true);
        expect(weights.reduce((a, b) => a + b, 0)).toBe(100);
      }
    }));
  });

  it('keeps weights integral and summing to 100 even for weights no planner produces', () => {
    const r = resolvedExample('product-service.yaml');
    fc.assert(fc.property(fc.double(), (w) => {
      for (const route of vsSpec(renderVirtualService(r, at(r, w))).http) {
        const weights = route.route.map((d) => d.weight);
        expect(weights.every((x) => Number.isInteger(x) && x >= 0 && x <= 100)).toBe(true);
        expect(weights.reduce((a, b) => a + b, 0)).toBe(100);
      }
    }));
  });
});
