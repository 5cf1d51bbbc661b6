/**
 * Adopted Istio objects: which routes of the user's VirtualService Fledge steers, what it refuses
 * (and the fix it prints), the checks on an adopted DestinationRule, and the JSON patch of the
 * weights, applied here by a small RFC 6902 applier so that the result is asserted, not the ops.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { parse } from 'yaml';
import type { JsonPatchOp, KubeObject } from '../../src/api/object.ts';
import type { ResolvedRollout } from '../../src/api/resolve.ts';
import type { Problem } from '../../src/api/validate.ts';
import { checkAdoptedDestinationRule, selectRoutes, weightPatch } from '../../src/router/istio/adopt.ts';
import { istioRouter } from '../../src/router/istio/render.ts';
import { clone, minimalRollout, resolveValid } from './fixtures.ts';

const VS_PATH = 'spec.trafficRouting.virtualService';

// --- the seeds, as the team keeps them in git -------------------------------------------------

const ADOPTED = ['httpping', 'product', 'staff'] as const;
type AdoptedName = (typeof ADOPTED)[number];

function yamlFile(name: AdoptedName, file: string): unknown {
  return parse(readFileSync(new URL(`../../examples/adopted/${name}/${file}`, import.meta.url), 'utf8'));
}

function adopted(name: AdoptedName): { r: ResolvedRollout; vs: KubeObject; dr: KubeObject } {
  return {
    r: resolveValid(yamlFile(name, 'rollout.yaml')),
    vs: yamlFile(name, 'virtual-service.yaml') as KubeObject,
    dr: yamlFile(name, 'destination-rule.yaml') as KubeObject,
  };
}

// --- hand-made inputs ---------------------------------------------------------------------------

interface Dest { destination: { host?: string; subset?: string; port?: { number: number } }; weight?: number }
interface Route { name?: string; route?: Dest[]; [extra: string]: unknown }

/** An adopted Rollout of service `web` with subsets v1 / v2. */
function rollout(opts: { routes?: string[]; port?: number; service?: string } = {}): ResolvedRollout {
  const doc = minimalRollout();
  doc.spec.service = { name: opts.service ?? 'web', ...(opts.port ? { port: opts.port } : {}) };
  doc.spec.stable = { subset: 'v1', labels: { app: 'web', version: 'v1' } };
  doc.spec.canary = { subset: 'v2', labels: { app: 'web', version: 'v2' } };
  doc.spec.trafficRouting = {
    virtualService: { ref: 'web', ...(opts.routes ? { routes: opts.routes } : {}) },
    destinationRule: { ref: 'web' },
  };
  return resolveValid(doc);
}

function virtualService(http: Route[]): KubeObject {
  return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web', namespace: 'default' }, spec: { hosts: ['web'], http } };
}

function destinationRule(subsets: { name: string; labels?: Record<string, string> }[]): KubeObject {
  return { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'web', namespace: 'default' }, spec: { host: 'web', subsets } };
}

const d = (subset: string, weight?: number, extra: { host?: string; port?: number } = {}): Dest => ({
  destination: { host: extra.host ?? 'web', subset, ...(extra.port ? { port: { number: extra.port } } : {}) },
  ...(weight !== undefined ? { weight } : {}),
});

const both = (name?: string): Route => ({ ...(name ? { name } : {}), route: [d('v1', 100), d('v2', 0)] });
const onlyStable = (name?: string): Route => ({ ...(name ? { name } : {}), route: [d('v1')] });
const onlyCanary = (name?: string): Route => ({ ...(name ? { name } : {}), route: [d('v2')] });
const elsewhere = (name?: string): Route => ({ ...(name ? { name } : {}), route: [d('v3', undefined, { host: 'other' })] });

const httpOf = (vs: KubeObject) => vs.spec!.http as Route[];

// --- a small RFC 6902 applier: test, replace, add (and remove), on JSON pointers -----------------

class PatchTestFailed extends Error {}

type Container = Record<string, unknown> | unknown[];
const isContainer = (v: unknown): v is Container => typeof v === 'object' && v !== null;

function unescape(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Applies the ops to a copy, as the API server would: all or nothing, a failing `test` throws. */
function applyPatch<T>(doc: T, ops: readonly JsonPatchOp[]): T {
  // What goes over the wire is JSON: an op whose value is undefined loses it.
  const wire = JSON.parse(JSON.stringify(ops)) as { op: string; path: string; value?: unknown }[];
  const out = structuredClone(doc) as unknown;
  for (const op of wire) {
    if (!op.path.startsWith('/')) throw new Error(`${op.op} ${op.path}: not a JSON pointer`);
    const tokens = op.path.split('/').slice(1).map(unescape);
    const last = tokens.pop()!;
    let parent: unknown = out;
    for (const t of tokens) {
      if (!isContainer(parent)) throw new Error(`${op.op} ${op.path}: no ${t}`);
      parent = Array.isArray(parent) ? parent[Number(t)] : parent[t];
    }
    if (!isContainer(parent)) throw new Error(`${op.op} ${op.path}: the parent does not exist`);
    const has = Array.isArray(parent) ? /^\d+$/.test(last) && Number(last) < parent.length : Object.hasOwn(parent, last);
    const get = () => (Array.isArray(parent) ? parent[Number(last)] : (parent as Record<string, unknown>)[last]);
    switch (op.op) {
      case 'test':
        if (!('value' in op)) throw new Error(`test ${op.path}: no value`);
        if (!has || !isDeepStrictEqual(get(), op.value)) throw new PatchTestFailed(`test ${op.path}: is ${JSON.stringify(get())}, not ${JSON.stringify(op.value)}`);
        break;
      case 'replace':
        if (!has) throw new Error(`replace ${op.path}: nothing to replace`);
        if (Array.isArray(parent)) parent[Number(last)] = op.value;
        else parent[last] = op.value;
        break;
      case 'add':
        if (Array.isArray(parent)) {
          const at = last === '-' ? parent.length : Number(last);
          if (!Number.isInteger(at) || at > parent.length) throw new Error(`add ${op.path}: index out of range`);
          parent.splice(at, 0, op.value);
        } else parent[last] = op.value;
        break;
      case 'remove':
        if (!has) throw new Error(`remove ${op.path}: nothing to remove`);
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else delete parent[last];
        break;
      default:
        throw new Error(`unknown op ${JSON.stringify(op)}`);
    }
  }
  return out as T;
}

describe('the test applier itself', () => {
  it('replaces, adds, and throws on a failing test', () => {
    const doc = { a: [{ w: 1 }, { x: 2 }] };
    expect(applyPatch(doc, [{ op: 'test', path: '/a/0/w', value: 1 }, { op: 'replace', path: '/a/0/w', value: 5 }, { op: 'add', path: '/a/1/w', value: 7 }]))
      .toEqual({ a: [{ w: 5 }, { x: 2, w: 7 }] });
    expect(doc).toEqual({ a: [{ w: 1 }, { x: 2 }] });
    expect(() => applyPatch(doc, [{ op: 'test', path: '/a/0/w', value: 2 }])).toThrow(PatchTestFailed);
    expect(() => applyPatch(doc, [{ op: 'test', path: '/a/1/w', value: 0 }])).toThrow(PatchTestFailed);
    expect(() => applyPatch(doc, [{ op: 'replace', path: '/a/1/w', value: 0 }])).toThrow(/nothing to replace/);
  });
});

// --- invariants of a patched VirtualService ---------------------------------------------------------

/** The VirtualService with every `weight` of every destination removed. */
function withoutWeights(vs: KubeObject): KubeObject {
  const copy = clone(vs);
  for (const route of httpOf(copy)) for (const dest of route.route ?? []) delete dest.weight;
  return copy;
}

const subsetTotal = (route: Route, subset: string) => (route.route ?? []).filter((x) => x.destination.subset === subset).reduce((a, x) => a + (x.weight ?? 0), 0);

/** Everything the patch promises, for one VirtualService, its selected routes and a canary weight. */
function expectPatchedCorrectly(r: ResolvedRollout, vs: KubeObject, indexes: number[], w: number): void {
  const ops = weightPatch(r, vs, indexes, w);
  const patched = applyPatch(vs, ops);

  // Only weights change, and only those of the selected routes.
  expect(withoutWeights(patched)).toEqual(withoutWeights(vs));
  httpOf(vs).forEach((route, i) => {
    if (!indexes.includes(i)) expect(httpOf(patched)[i]).toEqual(route);
  });
  for (const op of ops) {
    if (op.op === 'test') expect(op.path).toMatch(/^\/spec\/http\/\d+\/route\/\d+\/(destination\/subset|destination\/host|weight)$/);
    else expect(op.path).toMatch(/^\/spec\/http\/\d+\/route\/\d+\/weight$/);
    expect(indexes).toContain(Number(op.path.split('/')[3]));
  }

  for (const i of indexes) {
    const route = httpOf(patched)[i]!;
    const weights = route.route!.map((x) => x.weight);
    for (const x of weights) expect(Number.isInteger(x) && x! >= 0 && x! <= 100, `weight ${x}`).toBe(true);
    expect(weights.reduce((a, x) => a! + x!, 0)).toBe(100);
    expect(subsetTotal(route, r.stable.subset)).toBe(100 - w);
    expect(subsetTotal(route, r.canary.subset)).toBe(w);
    // Several destinations of one subset share it: none gets less than an even share, rounded down.
    for (const [s, total] of [[r.stable.subset, 100 - w], [r.canary.subset, w]] as const) {
      const shares = route.route!.filter((x) => x.destination.subset === s).map((x) => x.weight!);
      expect(Math.min(...shares)).toBe(Math.floor(total / shares.length));
    }
  }

  // Guarded: every destination of a route that changes is tested by subset, and by weight where
  // it has one; an absent weight is added, a present one replaced.
  for (const i of new Set(ops.map((op) => Number(op.path.split('/')[3])))) {
    httpOf(vs)[i]!.route!.forEach((dest, j) => {
      const base = `/spec/http/${i}/route/${j}`;
      expect(ops).toContainEqual({ op: 'test', path: `${base}/destination/subset`, value: dest.destination.subset });
      if (dest.weight !== undefined) {
        expect(ops).toContainEqual({ op: 'test', path: `${base}/weight`, value: dest.weight });
        expect(ops.filter((op) => op.path === `${base}/weight` && op.op !== 'test').map((op) => op.op)).toEqual(['replace']);
      } else {
        expect(ops.filter((op) => op.path === `${base}/weight`).map((op) => op.op)).toEqual(['add']);
      }
    });
  }

  // Idempotent: nothing left to do once applied.
  expect(weightPatch(r, patched, indexes, w)).toEqual([]);
}

// --- route selection -------------------------------------------------------------------------

describe('selectRoutes', () => {
  it.each<[string, { routes?: string[] }, Route[], number[]]>([
    ['a named route', { routes: ['b'] }, [both('a'), both('b')], [1]],
    ['named routes, in the order the Rollout lists them', { routes: ['c', 'a'] }, [both('a'), onlyStable('b'), both('c')], [2, 0]],
    ['a named route among routes Fledge does not touch', { routes: ['iphone'] }, [onlyStable('default'), both('iphone'), elsewhere('x')], [1]],
    ['by default, every route that sends to both subsets', {}, [both('a'), onlyStable('b'), both(), onlyCanary('c'), elsewhere(), both('d')], [0, 2, 5]],
    ['by default, an unnamed route by its index', {}, [onlyStable(), both()], [1]],
  ])('selects %s', (_what, opts, http, indexes) => {
    expect(selectRoutes(rollout(opts), virtualService(http))).toEqual({ indexes, problems: [] });
  });

  it('steers only its own Service: web of another namespace, in every spelling and case, with the same subset names, is left alone', () => {
    const to = (name: string, host: string): Route => ({ name, route: [d('v1', 100, { host }), d('v2', 0, { host })] });
    const theirs = ['web.other', 'web.other.svc', 'web.other.svc.cluster.local', 'WEB.Other.svc.cluster.local', 'web.other.svc.cluster.local.'];
    const vs = virtualService([...theirs.map((h, i) => to(`theirs-${i}`, h)), to('mine', 'Web.Default.svc.cluster.local.')]);
    expect(selectRoutes(rollout(), vs)).toEqual({ indexes: [theirs.length], problems: [] });
    const after = applyPatch(vs, weightPatch(rollout(), vs, [theirs.length], 50));
    expect(httpOf(after).map((route) => route.route!.map((x) => x.weight))).toEqual([...theirs.map(() => [100, 0]), [50, 50]]);
    // Named, another namespace's route is refused: it sends to another Service.
    const named = selectRoutes(rollout({ routes: ['theirs-0'] }), vs);
    expect(named.indexes).toEqual([0]);
    expect(named.problems.map((x) => x.message)).toEqual([
      'route "theirs-0" of VirtualService web does not send to subset v1 of Service web; add {destination: {host: web, subset: v1}, weight: 0}',
      'route "theirs-0" of VirtualService web does not send to subset v2 of Service web; add {destination: {host: web, subset: v2}, weight: 0}',
      'route "theirs-0" of VirtualService web also sends to web.other/v1, web.other/v2; Fledge splits a route between subsets v1 and v2 of Service web only',
    ]);
  });

  it.each(ADOPTED.map((n) => [n] as const))('selects the weighted route of the %s seed, with no problem', (name) => {
    const { r, vs } = adopted(name);
    expect(selectRoutes(r, vs)).toEqual({ indexes: [0], problems: [] });
  });

  it('selects nothing from a generated VirtualService', () => {
    const doc = minimalRollout();
    expect(selectRoutes(resolveValid(doc), virtualService([both('a')]))).toEqual({ indexes: [], problems: [] });
  });

  it.each<[string, string[], Route[], Problem[]]>([
    ['a missing named route, listing the routes it has', ['primary', 'nope'], [both('primary'), onlyStable('default')], [
      { path: `${VS_PATH}.routes[1]`, message: 'VirtualService web has no http route named "nope" (it has: primary, default)' },
    ]],
    ['unnamed routes by their index in the list', ['primary'], [both(), onlyStable('default')], [
      { path: `${VS_PATH}.routes[0]`, message: 'VirtualService web has no http route named "primary" (it has: http[0], default)' },
    ]],
    ['a VirtualService with no routes', ['primary'], [], [
      { path: `${VS_PATH}.routes[0]`, message: 'VirtualService web has no http route named "primary" (it has: none)' },
    ]],
    ['each missing route at its own index', ['x', 'a', 'y'], [both('a')], [
      { path: `${VS_PATH}.routes[0]`, message: 'VirtualService web has no http route named "x" (it has: a)' },
      { path: `${VS_PATH}.routes[2]`, message: 'VirtualService web has no http route named "y" (it has: a)' },
    ]],
  ])('names %s', (_what, routes, http, problems) => {
    expect(selectRoutes(rollout({ routes }), virtualService(http)).problems).toEqual(problems);
  });

  // The destination printed must paste in as is: the host and port of the route's own destinations.
  it.each<[string, { port?: number; service?: string }, Route[], string]>([
    ['a route that sends only to v1', {}, [{ name: 'primary', route: [d('v1', 100)] }],
      'no http route of VirtualService web sends to both subsets v1 and v2 of Service web; add to route "primary" the destination {destination: {host: web, subset: v2}, weight: 0}'],
    ['the port of the route\'s destination', { port: 8080 }, [{ name: 'primary', route: [d('v1', 100, { port: 8080 })] }],
      'no http route of VirtualService web sends to both subsets v1 and v2 of Service web; add to route "primary" the destination {destination: {host: web, subset: v2, port: {number: 8080}}, weight: 0}'],
    ['the route\'s own host and port over the Rollout\'s', { port: 80 }, [{ name: 'primary', route: [d('v1', 100, { host: 'web.default.svc.cluster.local', port: 9090 })] }],
      'no http route of VirtualService web sends to both subsets v1 and v2 of Service web; add to route "primary" the destination {destination: {host: web.default.svc.cluster.local, subset: v2, port: {number: 9090}}, weight: 0}'],
    ['no port when the route\'s destinations have none', { port: 8080 }, [{ name: 'primary', route: [d('v1', 100, { host: 'web.default.svc.cluster.local' })] }],
      'no http route of VirtualService web sends to both subsets v1 and v2 of Service web; add to route "primary" the destination {destination: {host: web.default.svc.cluster.local, subset: v2}, weight: 0}'],
    ['an unnamed route by its index', {}, [elsewhere('x'), { route: [d('v1')] }],
      'no http route of VirtualService web sends to both subsets v1 and v2 of Service web; add to route http[1] the destination {destination: {host: web, subset: v2}, weight: 0}'],
    ['a route that sends only to the canary, missing the stable subset', {}, [{ name: 'c', route: [d('v2', 100)] }],
      'no http route of VirtualService web sends to both subsets v1 and v2 of Service web; add to route "c" the destination {destination: {host: web, subset: v1}, weight: 0}'],
    ['the first route that sends to one of them', {}, [elsewhere('x'), onlyStable('a'), onlyStable('b')],
      'no http route of VirtualService web sends to both subsets v1 and v2 of Service web; add to route "a" the destination {destination: {host: web, subset: v2}, weight: 0}'],
    ['the Rollout\'s service when there is no route at all', { port: 8080 }, [],
      'no http route of VirtualService web sends to both subsets v1 and v2 of Service web; add an http route {route: [{destination: {host: web, subset: v1, port: {number: 8080}}, weight: 100}, {destination: {host: web, subset: v2, port: {number: 8080}}, weight: 0}]}'],
  ])('refuses, by default, a VirtualService with no route to both subsets: %s', (_what, opts, http, message) => {
    expect(selectRoutes(rollout(opts), virtualService(http))).toEqual({ indexes: [], problems: [{ path: VS_PATH, message }] });
  });

  it('refuses the seed\'s named route that sends only to v1, printing the v2 destination to add', () => {
    const { r, vs } = adopted('httpping');
    httpOf(vs)[0]!.route = [d('v1', 100, { host: 'httpping-without-sidecar', port: 8080 })];
    const { problems } = selectRoutes(r, vs);
    expect(problems).toEqual([{
      path: VS_PATH,
      message: 'route "primary" of VirtualService httpping-without-sidecar does not send to subset v2 of Service httpping-without-sidecar; add {destination: {host: httpping-without-sidecar, subset: v2, port: {number: 8080}}, weight: 0}',
    }]);
    expect(istioRouter.adoptedWeightPatch(r, vs, { stableLabels: r.stable.labels, canaryLabels: r.canary.labels, canaryWeight: 10 })).toEqual([]);
  });

  it.each<[string, { routes?: string[] }, Route[], string]>([
    ['a named route', { routes: ['primary'] }, [{ name: 'primary', route: [d('v1', 80), d('v2', 10), d('v3', 10, { host: 'other' })] }],
      'route "primary" of VirtualService web also sends to other/v3; Fledge splits a route between subsets v1 and v2 of Service web only'],
    ['a route selected by default, by its index', {}, [onlyStable('a'), { route: [d('v1', 80), d('v2', 10), { destination: { host: 'legacy' }, weight: 10 }] }],
      'route http[1] of VirtualService web also sends to legacy/(no subset); Fledge splits a route between subsets v1 and v2 of Service web only'],
  ])('refuses %s that also sends to a third destination', (_what, opts, http, message) => {
    const r = rollout(opts);
    const vs = virtualService(http);
    expect(selectRoutes(r, vs).problems).toEqual([{ path: VS_PATH, message }]);
    expect(istioRouter.checkAdopted(r, { virtualService: vs })).toEqual([{ path: VS_PATH, message }]);
    expect(istioRouter.adoptedWeightPatch(r, vs, { stableLabels: r.stable.labels, canaryLabels: r.canary.labels, canaryWeight: 50 })).toEqual([]);
  });

  it('names every subset a named route lacks', () => {
    const { problems } = selectRoutes(rollout({ routes: ['x'] }), virtualService([elsewhere('x')]));
    expect(problems.map((p) => p.message)).toEqual([
      'route "x" of VirtualService web does not send to subset v1 of Service web; add {destination: {host: web, subset: v1}, weight: 0}',
      'route "x" of VirtualService web does not send to subset v2 of Service web; add {destination: {host: web, subset: v2}, weight: 0}',
      'route "x" of VirtualService web also sends to other/v3; Fledge splits a route between subsets v1 and v2 of Service web only',
    ]);
  });
});

// --- the adopted DestinationRule ---------------------------------------------------------------

describe('checkAdoptedDestinationRule', () => {
  it.each(ADOPTED.map((n) => [n] as const))('accepts the %s seed', (name) => {
    const { r, dr } = adopted(name);
    expect(checkAdoptedDestinationRule(r, dr)).toEqual([]);
    expect(istioRouter.checkAdopted(r, { destinationRule: dr })).toEqual([]);
  });

  const v1 = { name: 'v1', labels: { app: 'web', version: 'v1' } };
  const v2 = { name: 'v2', labels: { app: 'web', version: 'v2' } };
  it.each<[string, { name: string; labels?: Record<string, string> }[], Problem[]]>([
    ['matching subsets, in either order, among others', [{ name: 'v0', labels: { version: 'v0' } }, v2, v1], []],
    ['labels in another key order', [v1, { name: 'v2', labels: { version: 'v2', app: 'web' } }], []],
    ['a missing canary subset', [v1], [
      { path: 'spec.canary.subset', message: 'DestinationRule web has no subset "v2"; add {name: v2, labels: {app: web, version: v2}}' },
    ]],
    ['no subsets at all', [], [
      { path: 'spec.stable.subset', message: 'DestinationRule web has no subset "v1"; add {name: v1, labels: {app: web, version: v1}}' },
      { path: 'spec.canary.subset', message: 'DestinationRule web has no subset "v2"; add {name: v2, labels: {app: web, version: v2}}' },
    ]],
    ['a stable subset with other labels', [{ name: 'v1', labels: { version: 'v1' } }, v2], [
      { path: 'spec.stable.labels', message: 'subset "v1" of DestinationRule web selects {version: v1}, not {app: web, version: v1}; change one of them' },
    ]],
    ['a canary subset with an extra label', [v1, { name: 'v2', labels: { app: 'web', version: 'v2', track: 'x' } }], [
      { path: 'spec.canary.labels', message: 'subset "v2" of DestinationRule web selects {app: web, version: v2, track: x}, not {app: web, version: v2}; change one of them' },
    ]],
    ['a canary subset with another value', [v1, { name: 'v2', labels: { app: 'web', version: 'v1' } }], [
      { path: 'spec.canary.labels', message: 'subset "v2" of DestinationRule web selects {app: web, version: v1}, not {app: web, version: v2}; change one of them' },
    ]],
    ['a subset with no labels', [v1, { name: 'v2' }], [
      { path: 'spec.canary.labels', message: 'subset "v2" of DestinationRule web selects {}, not {app: web, version: v2}; change one of them' },
    ]],
  ])('%s', (_what, subsets, problems) => {
    expect(checkAdoptedDestinationRule(rollout(), destinationRule(subsets))).toEqual(problems);
  });

  it('checkAdopted reports the VirtualService and the DestinationRule together', () => {
    const r = rollout({ routes: ['nope'] });
    const problems = istioRouter.checkAdopted(r, { virtualService: virtualService([both('a')]), destinationRule: destinationRule([v1]) });
    expect(problems.map((p) => p.path)).toEqual([`${VS_PATH}.routes[0]`, 'spec.canary.subset']);
  });
});

// --- the weight patch ------------------------------------------------------------------------

const WEIGHTS = [0, 10, 33, 50, 99, 100];

describe('weightPatch on the seeds', () => {
  const cases = ADOPTED.flatMap((name) => WEIGHTS.map((w) => [name, w] as const));
  it.each(cases)('%s at canary %i: the selected route splits 100-w / w, nothing else changes', (name, w) => {
    const { r, vs } = adopted(name);
    const { indexes } = selectRoutes(r, vs);
    expectPatchedCorrectly(r, vs, indexes, w);
    const patched = applyPatch(vs, weightPatch(r, vs, indexes, w));
    expect(httpOf(patched)[0]!.route!.map((x) => [x.destination.subset, x.weight])).toEqual([[r.stable.subset, 100 - w], [r.canary.subset, w]]);
  });

  it.each(ADOPTED.map((n) => [n] as const))('%s: no ops at canary 0, where the seed already is', (name) => {
    const { r, vs } = adopted(name);
    expect(weightPatch(r, vs, selectRoutes(r, vs).indexes, 0)).toEqual([]);
  });

  it('product at 40: the exact guarded patch, the default route untouched', () => {
    const { r, vs } = adopted('product');
    const ops = istioRouter.adoptedWeightPatch(r, vs, { stableLabels: r.stable.labels, canaryLabels: r.canary.labels, canaryWeight: 40 });
    expect(ops).toEqual([
      { op: 'test', path: '/spec/http/0/route/0/destination/subset', value: 'v1' },
      { op: 'test', path: '/spec/http/0/route/0/destination/host', value: 'product-service' },
      { op: 'test', path: '/spec/http/0/route/0/weight', value: 100 },
      { op: 'replace', path: '/spec/http/0/route/0/weight', value: 60 },
      { op: 'test', path: '/spec/http/0/route/1/destination/subset', value: 'v2' },
      { op: 'test', path: '/spec/http/0/route/1/destination/host', value: 'product-service' },
      { op: 'test', path: '/spec/http/0/route/1/weight', value: 0 },
      { op: 'replace', path: '/spec/http/0/route/1/weight', value: 40 },
    ]);
    const patched = applyPatch(vs, ops);
    expect(httpOf(patched)[1]).toEqual(httpOf(vs)[1]);
    expect(httpOf(patched)[1]!.route![0]).not.toHaveProperty('weight');
  });

  it.each(ADOPTED.map((n) => [n] as const))('%s: a patch made before someone changed the weights fails at a test op', (name) => {
    const { r, vs } = adopted(name);
    const { indexes } = selectRoutes(r, vs);
    const ops = weightPatch(r, vs, indexes, 50);
    const stale = clone(vs);
    httpOf(stale)[0]!.route![0]!.weight = 90;
    httpOf(stale)[0]!.route![1]!.weight = 10;
    expect(() => applyPatch(stale, ops)).toThrow(PatchTestFailed);
  });

  it.each(ADOPTED.map((n) => [n] as const))('%s: a patch made before someone reordered the destinations fails at a test op', (name) => {
    const { r, vs } = adopted(name);
    const ops = weightPatch(r, vs, selectRoutes(r, vs).indexes, 50);
    const reordered = clone(vs);
    const route = httpOf(reordered)[0]!.route!;
    route.reverse();
    for (const x of route) x.weight = 50; // even with the same weights, the subsets no longer line up
    expect(() => applyPatch(reordered, ops)).toThrow(/destination\/subset/);
  });
});

describe('weightPatch on hand-made routes', () => {
  it.each(WEIGHTS)('adds the weights a route leaves out (canary %i)', (w) => {
    const r = rollout();
    const vs = virtualService([{ name: 'a', route: [d('v1'), d('v2')] }]);
    const ops = weightPatch(r, vs, [0], w);
    expect(ops).toEqual([
      { op: 'test', path: '/spec/http/0/route/0/destination/subset', value: 'v1' },
      { op: 'test', path: '/spec/http/0/route/0/destination/host', value: 'web' },
      { op: 'add', path: '/spec/http/0/route/0/weight', value: 100 - w },
      { op: 'test', path: '/spec/http/0/route/1/destination/subset', value: 'v2' },
      { op: 'test', path: '/spec/http/0/route/1/destination/host', value: 'web' },
      { op: 'add', path: '/spec/http/0/route/1/weight', value: w },
    ]);
    expectPatchedCorrectly(r, vs, [0], w);
  });

  it('mixes add and replace within one route', () => {
    const r = rollout();
    const vs = virtualService([{ name: 'a', route: [d('v2', 0), d('v1')] }]);
    expect(weightPatch(r, vs, [0], 25)).toEqual([
      { op: 'test', path: '/spec/http/0/route/0/destination/subset', value: 'v2' },
      { op: 'test', path: '/spec/http/0/route/0/destination/host', value: 'web' },
      { op: 'test', path: '/spec/http/0/route/0/weight', value: 0 },
      { op: 'replace', path: '/spec/http/0/route/0/weight', value: 25 },
      { op: 'test', path: '/spec/http/0/route/1/destination/subset', value: 'v1' },
      { op: 'test', path: '/spec/http/0/route/1/destination/host', value: 'web' },
      { op: 'add', path: '/spec/http/0/route/1/weight', value: 75 },
    ]);
  });

  it.each(WEIGHTS)('splits a subset\'s share between two ports with integer weights (canary %i)', (w) => {
    const r = rollout({ port: 8080 });
    const vs = virtualService([{
      name: 'a',
      route: [d('v1', 50, { port: 8080 }), d('v1', 50, { port: 9090 }), d('v2', 0, { port: 8080 }), d('v2', 0, { port: 9090 })],
    }]);
    expectPatchedCorrectly(r, vs, [0], w);
    const weights = httpOf(applyPatch(vs, weightPatch(r, vs, [0], w)))[0]!.route!.map((x) => x.weight!);
    expect(weights[0]! + weights[1]!).toBe(100 - w);
    expect(weights[2]! + weights[3]!).toBe(w);
  });

  it('splits 33 three ways as 11/11/11 and 67 as 23/22/22', () => {
    const r = rollout();
    const vs = virtualService([{ name: 'a', route: [d('v1', 100, { port: 1 }), d('v1', 0, { port: 2 }), d('v1', 0, { port: 3 }), d('v2', 0, { port: 1 }), d('v2', 0, { port: 2 }), d('v2', 0, { port: 3 })] }]);
    const patched = applyPatch(vs, weightPatch(r, vs, [0], 33));
    expect(httpOf(patched)[0]!.route!.map((x) => x.weight)).toEqual([23, 22, 22, 11, 11, 11]);
  });

  it('touches only the routes it is given, leaving the others as they were', () => {
    const r = rollout();
    const vs = virtualService([both('a'), both('b'), { name: 'c', route: [d('v1', 70), d('v2', 30)] }]);
    expectPatchedCorrectly(r, vs, [0, 2], 30);
    // c is already at 70/30: only a changes.
    expect(new Set(weightPatch(r, vs, [0, 2], 30).map((op) => op.path.split('/')[3]))).toEqual(new Set(['0']));
  });

  it('rounds and clamps a canary weight out of range', () => {
    const r = rollout();
    const vs = virtualService([both('a')]);
    const weightsAt = (w: number) => httpOf(applyPatch(vs, weightPatch(r, vs, [0], w)))[0]!.route!.map((x) => x.weight);
    expect(weightsAt(12.4)).toEqual([88, 12]);
    expect(weightsAt(150)).toEqual([0, 100]);
    expect(weightsAt(-5)).toEqual([100, 0]);
  });

  it('a patch that adds a weight still fails when the destinations were reordered since', () => {
    const r = rollout();
    const vs = virtualService([{ name: 'a', route: [d('v1'), d('v2')] }]);
    const ops = weightPatch(r, vs, [0], 20);
    const reordered = virtualService([{ name: 'a', route: [d('v2'), d('v1')] }]);
    expect(() => applyPatch(reordered, ops)).toThrow(PatchTestFailed);
  });

  it('a patch made before the route list was reordered fails at a test op', () => {
    const r = rollout();
    const vs = virtualService([both('a'), { name: 'b', route: [d('v3', 100, { host: 'other' })] }]);
    const ops = weightPatch(r, vs, [0], 20);
    const reordered = virtualService([{ name: 'b', route: [d('v3', 100, { host: 'other' })] }, both('a')]);
    expect(() => applyPatch(reordered, ops)).toThrow(PatchTestFailed);
  });
});

describe('weightPatch, property', () => {
  const SUBSETS = ['v1', 'v2'] as const;
  const destArb = (subset: string) => fc.record({
    port: fc.option(fc.constantFrom(80, 8080, 9090), { nil: undefined }),
    weight: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
  }).map(({ port, weight }) => d(subset, weight, port ? { port } : {}));
  // A route Fledge steers: one or more destinations of each subset, in any order.
  const steered = fc.tuple(
    fc.array(destArb(SUBSETS[0]), { minLength: 1, maxLength: 3 }),
    fc.array(destArb(SUBSETS[1]), { minLength: 1, maxLength: 3 }),
  ).chain(([a, b]) => fc.shuffledSubarray([...a, ...b], { minLength: a.length + b.length }));
  // A route it must leave alone: to one subset only, or elsewhere.
  const other = fc.oneof(
    fc.array(destArb(SUBSETS[0]), { minLength: 1, maxLength: 2 }),
    fc.array(destArb(SUBSETS[1]), { minLength: 1, maxLength: 2 }),
    fc.array(destArb('v3'), { minLength: 1, maxLength: 2 }),
  );
  const routeArb = fc.record({
    steer: fc.boolean(),
    extra: fc.record({ timeout: fc.constantFrom('5s', '1m'), match: fc.constant([{ uri: { prefix: '/' } }]) }, { requiredKeys: [] }),
  }).chain(({ steer, extra }) => (steer ? steered : other).map((route) => ({ ...extra, route } as Route)));

  it('by default: selected routes split 100-w / w in integers, everything else unchanged, idempotent, guarded', () => {
    fc.assert(fc.property(fc.array(routeArb, { minLength: 1, maxLength: 5 }), fc.integer({ min: 0, max: 100 }), (http, w) => {
      const r = rollout();
      const vs = virtualService(http);
      const { indexes, problems } = selectRoutes(r, vs);
      fc.pre(problems.length === 0);
      const steeredIdx = http.flatMap((route, i) => (SUBSETS.every((s) => route.route!.some((x) => x.destination.subset === s)) ? [i] : []));
      expect(indexes).toEqual(steeredIdx);
      expectPatchedCorrectly(r, vs, indexes, w);
    }), { numRuns: 300 });
  });

  it('named routes: the same invariant, whatever their names\' order', () => {
    fc.assert(fc.property(fc.array(steered, { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 1000 }), (routes, w, seed) => {
      const http = routes.map((route, i) => ({ name: `r${i}`, route }));
      const names = http.map((x) => x.name).filter((_, i) => (seed >> i) & 1);
      fc.pre(names.length > 0);
      const r = rollout({ routes: names.reverse() });
      const vs = virtualService(http);
      const { indexes, problems } = selectRoutes(r, vs);
      expect(problems).toEqual([]);
      expectPatchedCorrectly(r, vs, indexes, w);
    }), { numRuns: 200 });
  });

  it('a patch made against weights that changed since always fails at a test op', () => {
    fc.assert(fc.property(steered, fc.integer({ min: 0, max: 100 }), fc.nat(), fc.integer({ min: 0, max: 100 }), (route, w, pick, newWeight) => {
      const r = rollout();
      const vs = virtualService([{ name: 'a', route }]);
      const ops = weightPatch(r, vs, [0], w);
      fc.pre(ops.length > 0);
      const stale = clone(vs);
      const dest = httpOf(stale)[0]!.route![pick % route.length]!;
      fc.pre(dest.weight !== undefined && dest.weight !== newWeight);
      dest.weight = newWeight;
      expect(() => applyPatch(stale, ops)).toThrow(PatchTestFailed);
    }), { numRuns: 200 });
  });
});
