/**
 * sessionAffinity: the cookie routes and Set-Cookie headers rendered during a release, gone at 0
 * and 100; where a request carrying each cookie is sent (a small model of Istio's first-match
 * routing, header regexes matched whole as Envoy's RE2 does); Istio's validation and CRD schema
 * of everything rendered; and the Rollout's fields refused with their paths.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import fc from 'fast-check';
import { releaseId } from '../../src/api/release.ts';
import type { ResolvedRollout } from '../../src/api/resolve.ts';
import { parseRollout } from '../../src/api/validate.ts';
import { checkRollout } from '../../src/check/rollout.ts';
import type { Routing } from '../../src/plan/types.ts';
import { cookieRegex, isStickyRoute, STICKY_CANARY_ROUTE, STICKY_STABLE_ROUTE } from '../../src/router/istio/affinity.ts';
import { HTTP_ROUTE_SCHEMA, schemaErrors } from '../../src/router/istio/crd-schema.ts';
import { renderVirtualService } from '../../src/router/istio/render.ts';
import { responseHeaderErrors, virtualServiceFieldErrors } from '../../src/router/istio/validation.ts';
import { weightProblems } from '../soak/invariants.ts';
import { minimalRollout, resolveValid } from './fixtures.ts';

interface Dest { destination: { host: string; subset: string }; weight: number; headers?: { response?: { add?: Record<string, string> } } }
interface Route { name: string; match?: { headers?: Record<string, { regex?: string; exact?: string }>; uri?: { prefix?: string } }[]; route: Dest[]; [k: string]: unknown }

function rollout(affinity: Record<string, unknown> | null = { cookieName: 'canary', maxAge: 3600 }, vs: Record<string, unknown> = {}): ResolvedRollout {
  const doc = minimalRollout();
  doc.spec.trafficRouting = { ...(affinity ? { sessionAffinity: affinity } : {}), ...(Object.keys(vs).length > 0 ? { virtualService: vs } : {}) };
  return resolveValid(doc);
}

const at = (r: ResolvedRollout, canaryWeight: number): Routing => ({ stableLabels: r.stable.labels, canaryLabels: r.canary.labels, canaryWeight });
const routes = (r: ResolvedRollout, w: number) => (renderVirtualService(r, at(r, w)).spec as { http: Route[] }).http;
const REL = releaseId({ version: 'v1' }, { version: 'v2' });

/** Istio's HTTP routing, reduced to what these routes use: the first route whose match (any entry) matches. */
function routeOf(http: Route[], req: { path?: string; cookie?: string }): Route {
  const matches = (m: NonNullable<Route['match']>[number]) =>
    (m.uri?.prefix === undefined || (req.path ?? '/').startsWith(m.uri.prefix)) &&
    Object.entries(m.headers ?? {}).every(([h, s]) => h === 'cookie' && req.cookie !== undefined && (s.regex !== undefined ? new RegExp(s.regex).test(req.cookie) : s.exact === req.cookie));
  const found = http.find((r) => !r.match || r.match.some(matches));
  if (!found) throw new Error('no route: Istio would answer 404');
  return found;
}
const sideOf = (route: Route) => route.route.filter((d) => d.weight > 0).map((d) => `${d.destination.subset} ${d.weight}`).join(', ');

describe('rendered during a release (0 < canary weight < 100)', () => {
  const r = rollout();
  const http = routes(r, 10);

  it('puts the canary and stable cookie routes ahead of the weighted one, each sending all its traffic to one side', () => {
    expect(http.map((h) => h.name)).toEqual([STICKY_CANARY_ROUTE, STICKY_STABLE_ROUTE, 'primary']);
    expect(http[0]).toEqual({ name: STICKY_CANARY_ROUTE, match: [{ headers: { cookie: { regex: cookieRegex('canary', REL) } } }], route: [{ destination: { host: 'web', subset: 'canary' }, weight: 100 }] });
    expect(http[1]).toEqual({ name: STICKY_STABLE_ROUTE, match: [{ headers: { cookie: { regex: cookieRegex('canary-stable', REL) } } }], route: [{ destination: { host: 'web', subset: 'stable' }, weight: 100 }] });
    expect(weightProblems(http)).toEqual([]);
  });

  it('sets each side\'s cookie on its responses, valued with the release, for maxAge seconds, on the whole site', () => {
    const [stable, canary] = http[2]!.route;
    expect(stable).toMatchObject({ weight: 90, headers: { response: { add: { 'Set-Cookie': `canary-stable=${REL}; Max-Age=3600; Path=/` } } } });
    expect(canary).toMatchObject({ weight: 10, headers: { response: { add: { 'Set-Cookie': `canary=${REL}; Max-Age=3600; Path=/` } } } });
  });

  it.each<[string, string | undefined, string]>([
    ['no cookie: split by the step\'s weights', undefined, 'primary'],
    ['the canary cookie alone', `canary=${REL}`, STICKY_CANARY_ROUTE],
    ['the canary cookie among others', `a=1; canary=${REL}; b=2`, STICKY_CANARY_ROUTE],
    ['the canary cookie last', `session=x;canary=${REL}`, STICKY_CANARY_ROUTE],
    ['the stable cookie', `canary-stable=${REL}`, STICKY_STABLE_ROUTE],
    ['an earlier release\'s canary cookie: split again', 'canary=0123456789', 'primary'],
    ['a cookie whose name ends like ours: not ours', `xcanary=${REL}`, 'primary'],
    ['our value as a prefix of another: not ours', `canary=${REL}0`, 'primary'],
    ['our cookie name as another cookie\'s value: not ours', `other=canary=${REL}`, 'primary'],
  ])('%s → %s', (_name, cookie, expected) => {
    expect(routeOf(http, { ...(cookie !== undefined ? { cookie } : {}) }).name).toBe(expected);
  });
});

describe('gone when the release is not splitting new sessions', () => {
  it.each([[0, 'rolled back (or not started)'], [100, 'promoted (or a last step of 100)']])('at canary %d (%s): one weighted route, no cookies set', (w) => {
    const http = routes(rollout(), w);
    expect(http.map((h) => h.name)).toEqual(['primary']);
    expect(JSON.stringify(http)).not.toContain('Set-Cookie');
  });

  it('after a rollback, users holding the canary cookie go to stable; after a promotion, users holding the stable cookie go to the canary', () => {
    expect(sideOf(routeOf(routes(rollout(), 0), { cookie: `canary=${REL}` }))).toBe('stable 100');
    expect(sideOf(routeOf(routes(rollout(), 100), { cookie: `canary-stable=${REL}` }))).toBe('canary 100');
  });

  it('without sessionAffinity nothing changes: one weighted route, no headers', () => {
    expect(routes(rollout(null), 10)).toEqual([{ name: 'primary', route: [{ destination: { host: 'web', subset: 'stable' }, weight: 90 }, { destination: { host: 'web', subset: 'canary' }, weight: 10 }] }]);
  });
});

describe('with the Rollout\'s own match and route extras', () => {
  const r = rollout({ cookieName: 'c' }, { match: [{ uri: { prefix: '/app' } }, { uri: { prefix: '/api' }, headers: { 'x-team': { exact: 'a' } } }], http: { timeout: '5s' } });
  const http = routes(r, 30);

  it('narrows each match entry to the cookie, keeps the extras on the cookie routes, and the fallback last', () => {
    expect(http.map((h) => h.name)).toEqual([STICKY_CANARY_ROUTE, STICKY_STABLE_ROUTE, 'primary', 'fallback']);
    expect(http[0]!.match).toEqual([
      { uri: { prefix: '/app' }, headers: { cookie: { regex: cookieRegex('c', REL) } } },
      { uri: { prefix: '/api' }, headers: { 'x-team': { exact: 'a' }, cookie: { regex: cookieRegex('c', REL) } } },
    ]);
    expect(http[0]!.timeout).toBe('5s');
    expect(http[1]!.timeout).toBe('5s');
  });

  it('a cookie outside the weighted route\'s match routes as before: the fallback, on stable', () => {
    expect(routeOf(http, { path: '/other', cookie: `c=${REL}` }).name).toBe('fallback');
    expect(routeOf(http, { path: '/app/x', cookie: `c=${REL}` }).name).toBe(STICKY_CANARY_ROUTE);
  });
});

describe('what is rendered passes Istio\'s validation and CRD schema', () => {
  const names = ['canary', 'a%b', "x!#$&'*+-.^_`|~9", 'UPPER.case'];
  it.each(names)('cookie name %j', (cookieName) => {
    const r = rollout({ cookieName, maxAge: 34_560_000 });
    expect(checkRollout({ ...minimalRollout(), spec: { ...minimalRollout().spec, trafficRouting: { sessionAffinity: { cookieName, maxAge: 34_560_000 } } } })).toMatchObject({ ok: true });
    for (const w of [1, 50, 99]) {
      const spec = renderVirtualService(r, at(r, w)).spec as { hosts: string[]; http: Route[] };
      expect(virtualServiceFieldErrors(spec)).toEqual([]);
      spec.http.forEach((h, i) => expect(schemaErrors(HTTP_ROUTE_SCHEMA, h, `http[${i}]`)).toEqual([]));
      for (const d of spec.http.flatMap((h) => h.route)) {
        for (const [k, v] of Object.entries(d.headers?.response?.add ?? {})) expect(responseHeaderErrors(k, v)).toEqual([]);
      }
      // The regex finds exactly our pair, whatever the name's characters.
      expect(routeOf(spec.http, { cookie: `z=1; ${cookieName}=${REL}` }).name).toBe(STICKY_CANARY_ROUTE);
    }
  });

  it('leaves the Rollout\'s own match conditions to Istio: a pseudo-header and an RE2-only regex are not refused', () => {
    const doc = minimalRollout();
    doc.spec.trafficRouting = {
      sessionAffinity: { cookieName: 'c' },
      virtualService: { match: [{ headers: { ':authority': { exact: 'shop' }, 'x-user': { regex: '(?i)beta.*' } } }] },
    };
    expect(checkRollout(doc)).toMatchObject({ ok: true });
  });

  it('doubles a % in the cookie name for Envoy (a lone % would be a variable, which Istio refuses)', () => {
    const r = rollout({ cookieName: 'a%b' });
    const add = routes(r, 10)[2]!.route[1]!.headers!.response!.add!;
    expect(add['Set-Cookie']).toBe(`a%%b=${REL}; Max-Age=86400; Path=/`);
    expect(responseHeaderErrors('Set-Cookie', 'a%b=1')).not.toEqual([]);
  });

  it('every rendered VirtualService keeps integer weights summing to 100 on every route, at any weight', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 100 }), (w) => {
      expect(weightProblems(routes(rollout(), w))).toEqual([]);
      expect(routes(rollout(), w).filter((h) => !isStickyRoute(h.name))[0]!.route.map((d) => d.weight)).toEqual([100 - w, w]);
    }));
  });
});

describe('examples/session-affinity.yaml', () => {
  it('is valid, and its first step carries both cookie routes and cookies of an hour', () => {
    const doc = parse(readFileSync(new URL('../../examples/session-affinity.yaml', import.meta.url), 'utf8')) as unknown;
    const checked = checkRollout(doc);
    expect(checked).toMatchObject({ ok: true, warnings: [] });
    if (!checked.ok) return;
    const http = routes(checked.resolved, checked.resolved.steps[0]!.weight);
    expect(http.map((h) => h.name)).toEqual([STICKY_CANARY_ROUTE, STICKY_STABLE_ROUTE, 'primary']);
    expect(http[2]!.route[1]!.headers!.response!.add!['Set-Cookie']).toMatch(/^shop-canary=[0-9a-f]{10}; Max-Age=3600; Path=\/$/);
  });
});

describe('the Rollout\'s fields', () => {
  const problems = (affinity: unknown, vs?: Record<string, unknown>) => {
    const doc = minimalRollout();
    doc.spec.trafficRouting = { sessionAffinity: affinity, ...(vs ? { virtualService: vs } : {}) };
    const res = parseRollout(doc);
    return res.ok ? [] : res.problems;
  };
  const A = 'spec.trafficRouting.sessionAffinity';

  it('defaults: the stable cookie is cookieName-stable, a day long', () => {
    expect(rollout({ cookieName: 'c' }).sessionAffinity).toEqual({ cookieName: 'c', stableCookieName: 'c-stable', maxAge: 86_400 });
    expect(rollout({ cookieName: 'c', stableCookieName: 's', maxAge: 60 }).sessionAffinity).toEqual({ cookieName: 'c', stableCookieName: 's', maxAge: 60 });
  });

  it.each<[string, unknown, Record<string, unknown> | undefined, { path: string; message: RegExp }]>([
    ['no cookieName', {}, undefined, { path: `${A}.cookieName`, message: /required/ }],
    ['a space in the name', { cookieName: 'my cookie' }, undefined, { path: `${A}.cookieName`, message: /RFC 6265 token/ }],
    ['a separator in the name', { cookieName: 'a;b' }, undefined, { path: `${A}.cookieName`, message: /RFC 6265 token/ }],
    ['an = in the name', { cookieName: 'a=b' }, undefined, { path: `${A}.cookieName`, message: /RFC 6265 token/ }],
    ['a non-ASCII name', { cookieName: 'café' }, undefined, { path: `${A}.cookieName`, message: /RFC 6265 token/ }],
    ['an empty stable name', { cookieName: 'c', stableCookieName: '' }, undefined, { path: `${A}.stableCookieName`, message: /empty/ }],
    ['the same name twice', { cookieName: 'c', stableCookieName: 'c' }, undefined, { path: `${A}.stableCookieName`, message: /must differ from cookieName/ }],
    ['a __Secure- prefix', { cookieName: '__Secure-c' }, undefined, { path: `${A}.cookieName`, message: /__Secure-/ }],
    ['a __Host- prefix on the stable cookie', { cookieName: 'c', stableCookieName: '__host-s' }, undefined, { path: `${A}.stableCookieName`, message: /__Host-/ }],
    ['maxAge 0', { cookieName: 'c', maxAge: 0 }, undefined, { path: `${A}.maxAge`, message: /between 1 and/ }],
    ['maxAge above 400 days', { cookieName: 'c', maxAge: 34_560_001 }, undefined, { path: `${A}.maxAge`, message: /400 days/ }],
    ['maxAge not whole', { cookieName: 'c', maxAge: 1.5 }, undefined, { path: `${A}.maxAge`, message: /whole number/ }],
    ['maxAge as a duration', { cookieName: 'c', maxAge: '1h' }, undefined, { path: `${A}.maxAge`, message: /seconds/ }],
    ['an unknown field', { cookieName: 'c', path: '/' }, undefined, { path: `${A}.path`, message: /not a known field/ }],
    ['an adopted VirtualService', { cookieName: 'c' }, { ref: 'mine' }, { path: A, message: /needs a generated VirtualService/ }],
    ['route headers that set Set-Cookie', { cookieName: 'c' }, { http: { headers: { response: { set: { 'Set-Cookie': 'x=1' } } } } }, { path: 'spec.trafficRouting.virtualService.http.headers.response.set.Set-Cookie', message: /replace or drop/ }],
    ['route headers that remove set-cookie', { cookieName: 'c' }, { http: { headers: { response: { remove: ['x-a', 'set-cookie'] } } } }, { path: 'spec.trafficRouting.virtualService.http.headers.response.remove[1]', message: /replace or drop/ }],
    ['a match on the cookie header already', { cookieName: 'c' }, { match: [{ headers: { Cookie: { regex: '.*x.*' } } }] }, { path: 'spec.trafficRouting.virtualService.match[0].headers.cookie', message: /Cookie header/ }],
  ])('%s', (_name, affinity, vs, expected) => {
    expect(problems(affinity, vs)).toContainEqual({ path: expected.path, message: expect.stringMatching(expected.message) });
  });

  it('route headers that add a Set-Cookie, or set other headers, keep the sticky cookies: accepted', () => {
    expect(problems({ cookieName: 'c' }, { http: { headers: { response: { add: { 'Set-Cookie': 'x=1' }, set: { 'x-a': '1' }, remove: ['x-b'] } } } })).toEqual([]);
  });
});
