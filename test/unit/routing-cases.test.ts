/**
 * Routing that is right for the VirtualServices teams really have (public bug reports of Argo
 * Rollouts, Flagger, Istio and Kiali users, rewritten as fixtures in test/fixtures/routing):
 * destinations matched by host and subset, tcp/tls-only VirtualServices, gateway-only routing,
 * overlapping VirtualServices, and the one offline check that validate, render and the controller
 * share. Each hint a refusal prints is applied here as written, and must then be accepted.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../src/api/object.ts';
import type { ResolvedRollout } from '../../src/api/resolve.ts';
import { checkRollout } from '../../src/check/rollout.ts';
import { hostOverlaps, ownershipProblems, routingVirtualService } from '../../src/router/istio/conflicts.ts';
import { selectRoutes, steeredWeightPointers, weightPatch } from '../../src/router/istio/adopt.ts';
import { canonicalGateway, canonicalHost, isServiceHost, serviceOfHost } from '../../src/router/istio/hosts.ts';
import { adoptedCoverageWarnings } from '../../src/router/istio/offline.ts';
import { istioRouter } from '../../src/router/istio/render.ts';
import { clone, minimalRollout, resolveValid } from './fixtures.ts';

type Obj = KubeObject & { spec: Record<string, unknown> };

function fixture(name: string): Obj[] {
  const text = readFileSync(new URL(`../fixtures/routing/${name}.yaml`, import.meta.url), 'utf8');
  return parseAllDocuments(text).map((d) => d.toJS() as Obj);
}

const kindOf = (docs: Obj[], kind: string) => docs.find((d) => d.kind === kind)!;

interface Route { name?: string; route: { destination: { host: string; subset?: string }; weight?: number }[] }
const http = (vs: KubeObject) => vs.spec!.http as Route[];

/** Applies the replace/add weight ops of a patch (the test ops are asserted elsewhere). */
function applyWeights(vs: Obj, ops: ReturnType<typeof weightPatch>): Obj {
  const out = clone(vs);
  for (const op of ops) {
    const m = /^\/spec\/http\/(\d+)\/route\/(\d+)\/weight$/.exec(op.path);
    if (m && (op.op === 'replace' || op.op === 'add')) http(out)[Number(m[1])]!.route[Number(m[2])]!.weight = op.value as number;
  }
  return out;
}

/** A hint's YAML flow mapping, as a person pastes it. */
const flow = (text: string): unknown => parse(text);

describe('hosts as Istio resolves them', () => {
  it.each<[string, string, { name: string; namespace: string } | undefined]>([
    ['cart', 'shop', { name: 'cart', namespace: 'shop' }],
    ['cart.shop', 'other', { name: 'cart', namespace: 'shop' }],
    ['cart.shop.svc', 'other', { name: 'cart', namespace: 'shop' }],
    ['cart.shop.svc.cluster.local', 'other', { name: 'cart', namespace: 'shop' }],
    ['Cart.Shop.svc.cluster.local.', 'other', { name: 'cart', namespace: 'shop' }],
    ['cart.shop.svc.corp.example', 'other', { name: 'cart', namespace: 'shop' }],
    ['shop.example.com', 'shop', undefined],
    ['*.shop.svc.cluster.local', 'shop', undefined],
    ['10.0.0.1', 'shop', undefined],
  ])('%s in a VirtualService of namespace %s names %o', (host, ns, want) => {
    expect(serviceOfHost(host, ns)).toEqual(want);
  });

  it('a short name resolves in the namespace of the object holding it, not the Service', () => {
    expect(isServiceHost('cart', 'shop', { name: 'cart', namespace: 'shop' })).toBe(true);
    expect(isServiceHost('cart', 'other', { name: 'cart', namespace: 'shop' })).toBe(false);
    expect(isServiceHost('checkout', 'shop', { name: 'cart', namespace: 'shop' })).toBe(false);
    expect(canonicalHost('reviews', 'books')).toBe(canonicalHost('reviews.books.svc.cluster.local', 'default'));
    expect(canonicalHost('shop.example.com', 'a')).toBe(canonicalHost('SHOP.example.com', 'b'));
  });

  it.each<[string, string, string]>([
    ['mesh', 'shop', 'mesh'],
    ['public', 'shop', 'shop/public'],
    ['istio-system/public', 'shop', 'istio-system/public'],
    ['./public', 'shop', 'shop/public'],
    ['public.istio-system.svc.cluster.local', 'shop', 'istio-system/public'],
  ])('gateway %s of a VirtualService in %s is %s', (gateway, ns, want) => {
    expect(canonicalGateway(gateway, ns)).toBe(want);
  });
});

describe('case 1: an edge VirtualService shared with another Service, adopted without routes', () => {
  const docs = fixture('shared-edge');
  const vs = kindOf(docs, 'VirtualService');
  const r = resolveValid(kindOf(docs, 'Rollout'));

  it('selects the cart route only; checkout reuses the subset names v1/v2 but is another host', () => {
    expect(selectRoutes(r, vs)).toEqual({ indexes: [0], problems: [] });
  });

  it.each([10, 50, 100])('the patch at %i moves cart\'s weights and leaves checkout at 100/0', (w) => {
    const patched = applyWeights(vs, istioRouter.adoptedWeightPatch(r, vs, { stableLabels: r.stable.labels, canaryLabels: r.canary.labels, canaryWeight: w }));
    expect(http(patched)[0]!.route.map((d) => d.weight)).toEqual([100 - w, w]);
    expect(http(patched)[1]).toEqual(http(vs)[1]);
  });

  it('the patch tests each destination\'s host, so a route swapped in by a commit fails the patch', () => {
    const ops = weightPatch(r, vs, [0], 10);
    expect(ops).toContainEqual({ op: 'test', path: '/spec/http/0/route/0/destination/host', value: 'cart' });
  });

  it('--argocd-ignore-differences lists cart\'s weights only', () => {
    expect(steeredWeightPointers(r, vs)).toEqual(['/spec/http/0/route/0/weight', '/spec/http/0/route/1/weight']);
  });

  it.each(['cart.shop', 'cart.shop.svc', 'cart.shop.svc.cluster.local'])('the cart route is found by its host spelt %s', (host) => {
    const spelt = clone(vs);
    for (const d of http(spelt)[0]!.route) d.destination.host = host;
    expect(selectRoutes(r, spelt).indexes).toEqual([0]);
  });

  it('a Rollout of another namespace\'s cart matches nothing in it', () => {
    const other = clone(kindOf(docs, 'Rollout'));
    other.metadata.namespace = 'store';
    const elsewhere = clone(vs);
    elsewhere.metadata.namespace = 'store';
    for (const d of http(elsewhere)[0]!.route) d.destination.host = 'cart.shop.svc.cluster.local';
    expect(selectRoutes(resolveValid(other), elsewhere).indexes).toEqual([]);
  });

  it('the edge VirtualService is bound to the gateway only: a warning that in-mesh calls to cart are not steered', () => {
    expect(adoptedCoverageWarnings(r, vs)).toEqual([{
      path: 'spec.trafficRouting.virtualService',
      message: 'in-mesh calls to Service cart are not steered: VirtualService shop-edge is bound to istio-system/public only, not to mesh, so other workloads reach the canary by its share of the pods, not by the step\'s weight; to split them too, set hosts: [shop.example.com, cart] and gateways: [istio-system/public, mesh] in it',
    }]);
    const both = clone(vs);
    both.spec.hosts = ['shop.example.com', 'cart'];
    both.spec.gateways = ['istio-system/public', 'mesh'];
    expect(adoptedCoverageWarnings(r, both)).toEqual([]);
  });

  it('naming the checkout route is refused: it sends to another Service; the fix names cart\'s host', () => {
    const doc = clone(kindOf(docs, 'Rollout'));
    (doc.spec.trafficRouting as { virtualService: Record<string, unknown> }).virtualService = { ref: 'shop-edge', routes: ['checkout'] };
    const problems = selectRoutes(resolveValid(doc), vs).problems.map((p) => p.message);
    expect(problems).toEqual([
      'route "checkout" of VirtualService shop-edge does not send to subset v1 of Service cart; add {destination: {host: cart, subset: v1}, weight: 0}',
      'route "checkout" of VirtualService shop-edge does not send to subset v2 of Service cart; add {destination: {host: cart, subset: v2}, weight: 0}',
      'route "checkout" of VirtualService shop-edge also sends to checkout/v1, checkout/v2; Fledge splits a route between subsets v1 and v2 of Service cart only',
    ]);
  });

  it('a route to cart v1 alone: the hint, pasted into that route, makes the VirtualService adoptable', () => {
    const broken = clone(vs);
    http(broken)[0]!.route = [{ destination: { host: 'cart', subset: 'v1' }, weight: 100 }];
    const [problem] = selectRoutes(r, broken).problems;
    expect(problem!.message).toBe('no http route of VirtualService shop-edge sends to both subsets v1 and v2 of Service cart; add to route "cart" the destination {destination: {host: cart, subset: v2}, weight: 0}');
    http(broken)[0]!.route.push(flow(problem!.message.split(' the destination ')[1]!) as Route['route'][number]);
    expect(selectRoutes(r, broken)).toEqual({ indexes: [0], problems: [] });
  });

  it('no route to cart at all: the hint is a whole http route, which then makes it adoptable', () => {
    const broken = clone(vs);
    http(broken).splice(0, 1);
    const [problem] = selectRoutes(r, broken).problems;
    expect(problem!.message).toBe('no http route of VirtualService shop-edge sends to both subsets v1 and v2 of Service cart; add an http route {route: [{destination: {host: cart, subset: v1}, weight: 100}, {destination: {host: cart, subset: v2}, weight: 0}]}');
    http(broken).push(flow(problem!.message.split('add an http route ')[1]!) as Route);
    expect(selectRoutes(r, broken)).toEqual({ indexes: [1], problems: [] });
  });
});

describe('case 2: a VirtualService with tcp routes only', () => {
  const docs = fixture('tcp-only');
  const vs = kindOf(docs, 'VirtualService');
  const r = resolveValid(kindOf(docs, 'Rollout'));

  it('is refused saying what is true: only http routes are steered (no destination to add, it has them)', () => {
    expect(selectRoutes(r, vs).problems).toEqual([{
      path: 'spec.trafficRouting.virtualService',
      message: 'VirtualService ledger has no http routes, only tcp routes: Fledge steers http routes only (HTTP, HTTP/2, gRPC), so it cannot run this Service\'s canary',
    }]);
    expect(istioRouter.adoptedWeightPatch(r, vs, { stableLabels: r.stable.labels, canaryLabels: r.canary.labels, canaryWeight: 10 })).toEqual([]);
  });

  it('a named tls route is refused as a tls route, not as missing', () => {
    const doc = clone(kindOf(docs, 'Rollout'));
    (doc.spec.trafficRouting as { virtualService: Record<string, unknown> }).virtualService = { ref: 'ledger', routes: ['sni'] };
    const withTls = clone(vs);
    withTls.spec.tls = [{ name: 'sni', match: [{ sniHosts: ['ledger'] }], route: [{ destination: { host: 'ledger', subset: 'v1' } }] }];
    expect(selectRoutes(resolveValid(doc), withTls).problems.map((p) => p.message)).toEqual([
      'route "sni" of VirtualService ledger is a tls route; Fledge steers http routes only (it splits HTTP, HTTP/2 and gRPC traffic, not tls)',
    ]);
  });

  it('http routes beside tcp ones: the refusal says the tcp routes are not steered', () => {
    const mixed = clone(vs);
    mixed.spec.http = [{ name: 'web', route: [{ destination: { host: 'ledger', subset: 'v1' } }] }];
    expect(selectRoutes(r, mixed).problems[0]!.message).toMatch(/add to route "web" the destination \{destination: \{host: ledger, subset: v2\}, weight: 0\}; Fledge steers http routes only, not tcp routes$/);
  });
});

describe('case 3: generated routing bound to a gateway alone', () => {
  const doc = fixture('gateway-only')[0]!;

  it('is valid, with a warning that in-mesh callers are not steered and how to cover both', () => {
    const checked = checkRollout(doc);
    expect(checked.ok).toBe(true);
    expect(checked.warnings).toEqual([{
      path: 'spec.trafficRouting.virtualService',
      message: 'in-mesh calls to Service catalog are not steered: the VirtualService is bound to istio-system/public only, not to mesh, so other workloads reach the canary by its share of the pods, not by the step\'s weight; to split them too, set hosts: [catalog.example.com, catalog] and gateways: [istio-system/public, mesh]',
    }]);
  });

  it('the warning\'s fix, applied as written, leaves no warning and renders both hosts on both gateways', () => {
    const fixed = clone(doc);
    const vs = (fixed.spec.trafficRouting as { virtualService: Record<string, unknown> }).virtualService;
    const hint = checkRollout(doc).warnings[0]!.message;
    vs.hosts = flow(/hosts: (\[[^\]]*\])/.exec(hint)![1]!);
    vs.gateways = flow(/gateways: (\[[^\]]*\])/.exec(hint)![1]!);
    const checked = checkRollout(fixed);
    expect(checked).toMatchObject({ ok: true, warnings: [] });
    const [, rendered] = istioRouter.desiredObjects((checked as { resolved: ResolvedRollout }).resolved, { stableLabels: { v: '1' }, canaryLabels: { v: '2' }, canaryWeight: 10 });
    expect(rendered!.spec).toMatchObject({ hosts: ['catalog.example.com', 'catalog'], gateways: ['istio-system/public', 'mesh'] });
  });

  it('mesh without the Service\'s own host warns too', () => {
    const d = clone(doc);
    (d.spec.trafficRouting as { virtualService: Record<string, unknown> }).virtualService = { hosts: ['catalog.example.com'], gateways: ['mesh'] };
    expect(checkRollout(d).warnings[0]!.message).toMatch(/^in-mesh calls to Service catalog are not steered: the VirtualService's hosts \(catalog.example.com\) do not include the Service's host catalog/);
  });

  it.each([[undefined], [['mesh']], [['mesh', 'istio-system/public']]])('gateways %o with the Service host: no warning', (gateways) => {
    const d = clone(doc);
    (d.spec.trafficRouting as { virtualService: Record<string, unknown> }).virtualService = { hosts: ['catalog.shop.svc.cluster.local', 'catalog.example.com'], ...(gateways ? { gateways } : {}) };
    expect(checkRollout(d).warnings).toEqual([]);
  });
});

describe('case 5: one offline check for validate, render and the controller', () => {
  it('an unknown label placeholder in a custom query is a problem of the shared check, at its field', () => {
    const doc = minimalRollout();
    doc.spec.analysis = {
      comparison: { enabled: false },
      metrics: [{ name: 'custom', query: 'sum(rate(x{v="{{canary.labels.track}}"}[{{interval}}]))', max: 1 }],
    };
    expect(checkRollout(doc)).toEqual({
      ok: false,
      warnings: [],
      problems: [{ path: 'spec.analysis.metrics[0].query', message: 'metric "custom": {{canary.labels.track}}: the canary labels have no key "track" (they have version)' }],
    });
  });
});

describe('case 8: the fields Fledge writes itself pass Istio\'s validation (pkg/config/validation)', () => {
  const long = 'a'.repeat(64);
  const withVs = (vs: Record<string, unknown>, service = 'reviews') => {
    const doc = minimalRollout();
    doc.spec.service = { name: service };
    doc.spec.trafficRouting = { virtualService: vs };
    return doc;
  };
  it.each<[string, Record<string, unknown>, string, string, string?]>([
    ['a gateway name with a dot', withVs({ gateways: ['istio-system/public.gw'] }), 'spec.trafficRouting.virtualService.gateways[0]', 'Istio refuses it: invalid value for gateway name: "public.gw"'],
    ['a gateway name over 63 characters', withVs({ gateways: [`istio-system/${long}`] }), 'spec.trafficRouting.virtualService.gateways[0]', `Istio refuses it: invalid value for gateway name: "${long}"`],
    ['duplicate hosts', withVs({ hosts: ['reviews', 'reviews'] }), 'spec.trafficRouting.virtualService.hosts[1]', 'Istio refuses it: duplicate hosts in virtual service: reviews & reviews'],
    ['a host with a wildcard covering another', withVs({ hosts: ['*.example.com', 'a.example.com'], gateways: ['istio-system/public'] }), 'spec.trafficRouting.virtualService.hosts[1]', 'Istio refuses it: duplicate hosts in virtual service: *.example.com & a.example.com'],
    ['a DNS label over 63 characters in a host', withVs({ hosts: [`${long}.example.com`], gateways: ['istio-system/public'] }), 'spec.trafficRouting.virtualService.hosts[0]', `Istio refuses it: domain name "${long}.example.com" invalid (label "${long}" invalid)`],
    ['an all-numeric top-level domain', withVs({ hosts: ['reviews.123'], gateways: ['istio-system/public'] }), 'spec.trafficRouting.virtualService.hosts[0]', 'Istio refuses it: domain name "123" invalid (top level domain "123" cannot be all-numeric)'],
    ['a Service name with a 64-character label', withVs({}, `${long}.default`), 'spec.service.name', `Istio refuses it: domain name "${long}.default" invalid (label "${long}" invalid)`],
  ])('%s is refused at its field, as Invalid, never written', (_what, doc, path, message) => {
    const checked = checkRollout(doc);
    expect(checked.ok).toBe(false);
    expect((checked as { problems: unknown[] }).problems).toContainEqual({ path, message });
  });

  it.each<[string, Record<string, unknown>]>([
    ['mesh, a gateway by name, namespace/name and the legacy FQDN', withVs({ gateways: ['mesh', 'public', 'istio-system/public', 'public.istio-system.svc.cluster.local'], hosts: ['reviews', 'reviews.example.com'] })],
    ['a wildcard host on a gateway, a numeric label before the top-level domain', withVs({ hosts: ['reviews.example.com', '*.example.org', 'api.v2.example.net'], gateways: ['istio-system/public'] })],
  ])('%s: accepted, as Istio accepts it', (_what, doc) => {
    expect(checkRollout(doc)).toMatchObject({ ok: true });
  });
});

describe('case 9: passthrough fields against Istio\'s CRD schema, offline', () => {
  const withRouting = (trafficRouting: Record<string, unknown>) => {
    const doc = minimalRollout();
    doc.spec.trafficRouting = trafficRouting;
    return doc;
  };
  const refusedAt = (doc: Record<string, unknown>) => {
    const c = checkRollout(doc);
    return c.ok ? [] : c.problems.map((p) => p.path);
  };
  it.each<[string, Record<string, unknown>, string]>([
    ['a match field Istio does not have', { virtualService: { match: [{ url: { prefix: '/' } }] } }, 'spec.trafficRouting.virtualService.match[0].url'],
    ['two kinds of string match at once', { virtualService: { match: [{ uri: { prefix: '/', exact: '/a' } }] } }, 'spec.trafficRouting.virtualService.match[0].uri'],
    ['a header match of the wrong type', { virtualService: { match: [{ headers: { 'x-test': 'yes' } }] } }, 'spec.trafficRouting.virtualService.match[0].headers["x-test"]'],
    ['a negative port', { virtualService: { match: [{ port: -1 }] } }, 'spec.trafficRouting.virtualService.match[0].port'],
    ['a port as a string', { virtualService: { match: [{ port: '80' }] } }, 'spec.trafficRouting.virtualService.match[0].port'],
    ['a timeout that is not a duration', { virtualService: { http: { timeout: 'soon' } } }, 'spec.trafficRouting.virtualService.http.timeout'],
    ['a timeout below 1ms', { virtualService: { http: { timeout: '0.5ms' } } }, 'spec.trafficRouting.virtualService.http.timeout'],
    ['retries as a number', { virtualService: { http: { retries: 3 } } }, 'spec.trafficRouting.virtualService.http.retries'],
    ['a misspelt retry field', { virtualService: { http: { retries: { attempt: 3 } } } }, 'spec.trafficRouting.virtualService.http.retries.attempt'],
    ['a fault percentage as text', { virtualService: { http: { fault: { abort: { httpStatus: 503, percentage: { value: 'ten' } } } } } }, 'spec.trafficRouting.virtualService.http.fault.abort.percentage.value'],
    ['a fault with two kinds of abort', { virtualService: { http: { fault: { abort: { httpStatus: 503, grpcStatus: 'UNAVAILABLE' } } } } }, 'spec.trafficRouting.virtualService.http.fault.abort'],
    ['an unknown load balancer', { destinationRule: { trafficPolicy: { loadBalancer: { simple: 'FASTEST' } } } }, 'spec.trafficRouting.destinationRule.trafficPolicy.loadBalancer.simple'],
    ['a misspelt traffic policy field', { destinationRule: { trafficPolicy: { conectionPool: {} } } }, 'spec.trafficRouting.destinationRule.trafficPolicy.conectionPool'],
    ['an outlier interval that is not a duration', { destinationRule: { trafficPolicy: { outlierDetection: { interval: '10' } } } }, 'spec.trafficRouting.destinationRule.trafficPolicy.outlierDetection.interval'],
  ])('%s is refused at its field', (_what, trafficRouting, path) => {
    expect(refusedAt(withRouting(trafficRouting))).toContain(path);
  });

  it.each<[string, Record<string, unknown>]>([
    ['the seeds\' header match and uri prefix', { virtualService: { match: [{ uri: { prefix: '/' }, headers: { 'user-agent': { regex: '.*iphone.*' } } }] } }],
    ['retries, timeout, fault, corsPolicy, headers', { virtualService: { http: { timeout: '2s', retries: { attempts: 3, perTryTimeout: '500ms', retryOn: '5xx' }, fault: { delay: { fixedDelay: '1s', percentage: { value: 10 } } }, corsPolicy: { allowOrigins: [{ exact: 'https://a.example' }], maxAge: '24h' }, headers: { request: { set: { 'x-canary': 'yes' } } } } } }],
    ['consistent hash by header', { destinationRule: { trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'foo' } } } } }],
    ['connection pool and outlier detection', { destinationRule: { trafficPolicy: { connectionPool: { tcp: { maxConnections: 100, connectTimeout: '30ms' } }, outlierDetection: { consecutive5xxErrors: 7, interval: '5m', baseEjectionTime: '15m' } } } }],
  ])('%s: accepted', (_what, trafficRouting) => {
    expect(checkRollout(withRouting(trafficRouting))).toMatchObject({ ok: true });
  });
});

describe('cases 4, 10: another VirtualService for the same host on the mesh', () => {
  const docs = fixture('existing-mesh-vs');
  const existing = { ...kindOf(docs, 'VirtualService'), metadata: { ...kindOf(docs, 'VirtualService').metadata, creationTimestamp: '2026-01-10T09:00:00Z' } };
  const rolloutDoc = kindOf(docs, 'Rollout');
  const overlaps = (doc: unknown, others: KubeObject[], live?: KubeObject) => {
    const r = resolveValid(doc);
    return hostOverlaps(r, routingVirtualService(r, live)!, others);
  };

  it('case 4: a newer generated one under another name is refused, offering only adopt (with the subset names its routes use)', () => {
    expect(overlaps(rolloutDoc, [existing])).toEqual({
      warnings: [],
      problems: [{
        path: 'spec.trafficRouting.virtualService',
        message: 'VirtualService reviews already routes host reviews on the mesh, and Istio applies only the oldest VirtualService of a host there: a new one would steer nothing; adopt it: set spec.trafficRouting.virtualService to {ref: reviews}, and name the subsets as its routes do: spec.stable.subset: v1, spec.canary.subset: v2',
      }],
    });
  });

  it('case 4: the same name is refused by ownership with the same single fix, no "choose another name"', () => {
    const doc = clone(rolloutDoc);
    delete (doc.spec.trafficRouting as Record<string, unknown>).virtualService;
    const r = resolveValid(doc);
    expect(ownershipProblems(doc as never, r, [], existing, undefined)).toEqual([{
      path: 'spec.trafficRouting.virtualService.name',
      message: 'VirtualService reviews exists and is not managed by Fledge; it routes host reviews on the mesh, where Istio applies only the oldest VirtualService of a host, so another name would steer nothing; adopt it: set spec.trafficRouting.virtualService to {ref: reviews}, and name the subsets as its routes do: spec.stable.subset: v1, spec.canary.subset: v2',
    }]);
  });

  it('case 4: the fix, applied as written, is accepted: no overlap, the adopted routes fit', () => {
    const doc = clone(rolloutDoc);
    const hint = overlaps(rolloutDoc, [existing]).problems[0]!.message;
    (doc.spec.trafficRouting as Record<string, unknown>).virtualService = flow(/set spec\.trafficRouting\.virtualService to (\{[^}]*\})/.exec(hint)![1]!);
    (doc.spec.stable as Record<string, unknown>).subset = /spec\.stable\.subset: (\S+),/.exec(hint)![1];
    (doc.spec.canary as Record<string, unknown>).subset = /spec\.canary\.subset: (\S+)$/.exec(hint)![1];
    const checked = checkRollout(doc);
    expect(checked.ok).toBe(true);
    const r = (checked as { resolved: ResolvedRollout }).resolved;
    expect(overlaps(doc, [existing], existing)).toEqual({ problems: [], warnings: [] });
    expect(istioRouter.checkAdopted(r, { virtualService: existing })).toEqual([]);
    expect(ownershipProblems(doc as never, r, [], existing, undefined)).toEqual([]);
  });

  it('case 10: a second Rollout\'s generated VirtualService for the same mesh host is refused, naming the Rollout in force', () => {
    const a = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews', namespace: 'books', creationTimestamp: '2026-01-10T09:00:00Z', labels: { 'app.kubernetes.io/managed-by': 'fledge', 'fledge.dev/rollout': 'reviews' } }, spec: { hosts: ['reviews'], http: [] } };
    const b = clone(rolloutDoc);
    b.metadata.name = 'reviews-b';
    delete (b.spec.trafficRouting as Record<string, unknown>).virtualService;
    expect(overlaps(b, [a]).problems.map((p) => p.message)).toEqual([
      'VirtualService reviews of Rollout reviews already routes host reviews on the mesh, and Istio applies only the oldest VirtualService of a host there: a new one would steer nothing; one Service\'s mesh traffic is steered by one Rollout: delete this Rollout, or Rollout reviews',
    ]);
    // And the older one keeps going, warned that the newer is ignored.
    const liveB = { ...a, metadata: { ...a.metadata, name: 'reviews-b', creationTimestamp: '2026-01-11T09:00:00Z', labels: { ...a.metadata.labels, 'fledge.dev/rollout': 'reviews-b' } } };
    const ra = clone(b);
    ra.metadata.name = 'reviews';
    const w = overlaps(ra, [liveB], a);
    expect(w.problems).toEqual([]);
    expect(w.warnings.map((p) => p.message)).toEqual(['VirtualService reviews-b of Rollout reviews-b also routes host reviews on the mesh; Istio applies only the oldest VirtualService of a host there (ours) and ignores it']);
  });

  it.each<[string, Record<string, unknown>, boolean]>([
    ['another namespace\'s VirtualService for this Service\'s FQDN', { namespace: 'other', hosts: ['reviews.books.svc.cluster.local'] }, true],
    ['one exported only to its own namespace', { namespace: 'other', hosts: ['reviews.books.svc.cluster.local'], exportTo: ['.'] }, false],
    ['another namespace\'s short name (its own Service)', { namespace: 'other', hosts: ['reviews'] }, false],
    ['another host', { namespace: 'books', hosts: ['ratings'] }, false],
    ['the same host on a gateway only', { namespace: 'books', hosts: ['reviews'], gateways: ['istio-system/public'] }, false],
  ])('%s: refused %s', (_what, o, refused) => {
    const other = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'x', namespace: o.namespace as string, creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { hosts: o.hosts, ...(o.gateways ? { gateways: o.gateways } : {}), ...(o.exportTo ? { exportTo: o.exportTo } : {}) } };
    expect(overlaps(rolloutDoc, [other as KubeObject]).problems.length > 0).toBe(refused);
  });

  it('on a shared gateway Istio merges routes: a warning, not a refusal', () => {
    const doc = clone(rolloutDoc);
    (doc.spec.trafficRouting as Record<string, unknown>).virtualService = { hosts: ['reviews.example.com'], gateways: ['istio-system/public'] };
    const other = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'edge', namespace: 'books', creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { hosts: ['reviews.example.com'], gateways: ['istio-system/public'] } };
    const out = overlaps(doc, [other]);
    expect(out.problems).toEqual([]);
    expect(out.warnings.map((w) => w.message)).toEqual(['VirtualService edge also routes host reviews.example.com on gateway istio-system/public; Istio merges the routes of both there, its first, so a route of it that matches a request takes it from ours']);
  });
});
