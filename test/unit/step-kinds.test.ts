/**
 * Match (A/B) and mirror steps: the offline check (schema, ordering, adopted mode, Istio's
 * HTTPMatchRequest rules), the rendered VirtualService at each step, and the planner walking
 * through them to promotion or rollback.
 */
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/api/object.ts';
import { releaseId } from '../../src/api/release.ts';
import type { ResolvedRollout } from '../../src/api/resolve.ts';
import type { AnalysisResult, RolloutStatus, Verdict } from '../../src/api/schema.ts';
import { checkRollout } from '../../src/check/rollout.ts';
import { scheduleText } from '../../src/cli/live.ts';
import { analysisCheck, plan } from '../../src/plan/plan.ts';
import { markMirrored, routingShapes, stepExtras } from '../../src/plan/step-routing.ts';
import { routingPath } from '../../src/plan/transition.ts';
import type { PlanResult, Routing } from '../../src/plan/types.ts';
import { istioRouter, renderVirtualService } from '../../src/router/istio/render.ts';
import { combineMatches } from '../../src/router/istio/step-routes.ts';
import { virtualServiceFieldErrors } from '../../src/router/istio/validation.ts';
import { HTTP_ROUTE_SCHEMA, schemaErrors } from '../../src/router/istio/crd-schema.ts';
import { minimalRollout, resolveValid } from './fixtures.ts';

type Doc = ReturnType<typeof minimalRollout>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Mutate = (d: any) => void;

const HEADER = { headers: { 'x-canary': { exact: 'true' } } };
const COOKIE = { headers: { cookie: { regex: '^(.*?;)?(user=beta)(;.*)?$' } } };
const T0 = Date.parse('2026-01-01T00:00:00Z');
const S = 1000;

function doc(mutate: Mutate): Doc {
  const d = minimalRollout();
  mutate(d);
  return d;
}

function problems(mutate: Mutate): { path: string; message: string }[] {
  const checked = checkRollout(doc(mutate));
  return checked.ok ? [] : checked.problems;
}

describe('match and mirror steps: the offline check accepts', () => {
  it.each<[string, Mutate]>([
    ['a header step, then weights', (d) => { d.spec.strategy.steps = [{ match: [HEADER] }, 10, 50, 100]; }],
    ['a cookie step with a manual pause', (d) => { d.spec.strategy.steps = [{ match: [COOKIE], pause: 'manual' }, 20, 100]; }],
    ['a match step between weights', (d) => { d.spec.strategy.steps = [10, { match: [HEADER] }, 50]; }],
    ['match steps alone (Flagger\'s A/B: promotion follows)', (d) => { d.spec.strategy.steps = [{ match: [HEADER, COOKIE], pause: '5m' }]; }],
    ['mirror steps first, then a match and weights', (d) => { d.spec.strategy.steps = [{ mirror: 20 }, { mirror: 100, pause: '10m' }, { match: [HEADER] }, 10, 100]; }],
    ['the weighted route\'s own match with a header name in capitals (Istio takes it; only match steps are held to lowercase)', (d) => { d.spec.trafficRouting = { virtualService: { match: [{ headers: { 'X-Beta': { exact: '1' } } }] } }; }],
    ['match regexes with repeat counts RE2 takes (1000; nested 100 x 10; braces escaped or in a class)', (d) => { d.spec.strategy.steps = [{ match: [{ uri: { regex: '/v[0-9]{1000}' } }, { uri: { regex: '(a{100}){10}' } }, { uri: { regex: '\\{5000}[{]x' } }] }, 100]; }],
    ['a mirror step after a weight-0 step', (d) => { d.spec.strategy.steps = [0, { mirror: 50 }, 100]; }],
    ['a step match combined with the weighted route\'s match', (d) => { d.spec.trafficRouting = { virtualService: { match: [{ uri: { prefix: '/api' } }, { headers: { 'x-tenant': { exact: 'a' } } }] } }; d.spec.strategy.steps = [{ match: [HEADER] }, 100]; }],
    ['JWT claims, pseudo-headers and RE2 inline flags', (d) => { d.spec.strategy.steps = [{ match: [{ headers: { '@request.auth.claims.groups': { exact: 'beta' }, ':authority': { regex: '(?i)shop\\.example\\.com' } } }] }, 100]; }],
  ])('%s', (_, mutate) => {
    expect(problems(mutate)).toEqual([]);
  });
});

describe('match and mirror steps: the offline check refuses, naming the field', () => {
  it.each<[string, Mutate, string, RegExp]>([
    ['a match that is not a list', (d) => { d.spec.strategy.steps = [{ match: HEADER }, 100]; }, 'spec.strategy.steps[0].match', /list of Istio HTTPMatchRequest/],
    ['an empty match list', (d) => { d.spec.strategy.steps = [{ match: [] }, 100]; }, 'spec.strategy.steps[0].match', /at least one/],
    ['a field Istio does not know', (d) => { d.spec.strategy.steps = [{ match: [{ header: { 'x-canary': { exact: 'true' } } }] }, 100]; }, 'spec.strategy.steps[0].match[0].header', /not a field of Istio's schema/],
    ['two kinds of string match on one header', (d) => { d.spec.strategy.steps = [{ match: [{ headers: { 'x-canary': { exact: 'a', prefix: 'b' } } }] }, 100]; }, 'spec.strategy.steps[0].match[0].headers["x-canary"]', /at most one of exact, prefix, regex/],
    ['an upper-case header name', (d) => { d.spec.strategy.steps = [{ match: [{ headers: { 'X-Canary': { exact: 'true' } } }] }, 100]; }, 'spec.strategy.steps[0].match[0].headers["X-Canary"]', /lowercase \(x-canary\)/],
    ['a header name with a space', (d) => { d.spec.strategy.steps = [{ match: [{ headers: { 'x canary': { exact: 'true' } } }] }, 100]; }, 'spec.strategy.steps[0].match[0].headers["x canary"]', /not a valid header name/],
    ['a regex RE2 cannot compile (lookahead)', (d) => { d.spec.strategy.steps = [{ match: [{ headers: { cookie: { regex: '(?=user=beta)' } } }] }, 100]; }, 'spec.strategy.steps[0].match[0].headers.cookie.regex', /lookarounds/],
    // JavaScript compiles both; RE2 and Go's regexp/syntax refuse a count above 1000, nested counts multiplied.
    ['a repeat count RE2 refuses (above 1000)', (d) => { d.spec.strategy.steps = [{ match: [{ uri: { regex: '/v[0-9]{1001}' } }] }, 100]; }, 'spec.strategy.steps[0].match[0].uri.regex', /invalid repeat count: \{1001\}/],
    ['the weighted route\'s own match with a regex RE2 refuses (it was passed to Istio unjudged)', (d) => { d.spec.trafficRouting = { virtualService: { match: [{ uri: { prefix: '/' } }, { headers: { 'x-user': { regex: '^(?!bot)' } } }] } }; }, 'spec.trafficRouting.virtualService.match[1].headers["x-user"].regex', /lookarounds/],
    ['the weighted route\'s own match with a repeat count RE2 refuses', (d) => { d.spec.trafficRouting = { virtualService: { match: [{ uri: { regex: '/[a-z]{2000}' } }] } }; }, 'spec.trafficRouting.virtualService.match[0].uri.regex', /invalid repeat count/],
    ['nested repeat counts RE2 refuses (100 x 11)', (d) => { d.spec.strategy.steps = [{ match: [{ headers: { 'x-id': { regex: '(ab{100}){11}' } } }] }, 100]; }, 'spec.strategy.steps[0].match[0].headers["x-id"].regex', /invalid repeat count: \{11\}/],
    ['an unbalanced regex', (d) => { d.spec.strategy.steps = [{ match: [{ uri: { regex: '/api/(v1' } }] }, 100]; }, 'spec.strategy.steps[0].match[0].uri.regex', /not a valid RE2 regex/],
    ['a mirror of 0', (d) => { d.spec.strategy.steps = [{ mirror: 0 }, 100]; }, 'spec.strategy.steps[0].mirror', /between 1 and 100/],
    ['a mirror of 12.5', (d) => { d.spec.strategy.steps = [{ mirror: 12.5 }, 100]; }, 'spec.strategy.steps[0].mirror', /integer/],
    ['a mirror step after a weight', (d) => { d.spec.strategy.steps = [10, { mirror: 20 }, 100]; }, 'spec.strategy.steps[1].mirror', /must come before step 1, the first that sends the canary live requests/],
    ['a mirror step after a match step', (d) => { d.spec.strategy.steps = [{ match: [HEADER] }, { mirror: 20 }, 100]; }, 'spec.strategy.steps[1].mirror', /must come before step 1/],
    ['a mirror step beside the weighted route\'s own mirror', (d) => { d.spec.trafficRouting = { virtualService: { http: { mirror: { host: 'audit' } } } }; d.spec.strategy.steps = [{ mirror: 20 }, 100]; }, 'spec.strategy.steps[0].mirror', /virtualService.http.mirror/],
    ['a match step on an adopted VirtualService', (d) => { d.spec.trafficRouting = { virtualService: { ref: 'web-routes' } }; d.spec.strategy.steps = [{ match: [HEADER] }, 100]; }, 'spec.strategy.steps[0]', /need a generated VirtualService.*ignore rules/],
    ['a mirror step on an adopted VirtualService', (d) => { d.spec.trafficRouting = { virtualService: { ref: 'web-routes' } }; d.spec.strategy.steps = [{ mirror: 10 }, 100]; }, 'spec.strategy.steps[0]', /need a generated VirtualService/],
    ['a step condition on a field the weighted route\'s match sets', (d) => { d.spec.trafficRouting = { virtualService: { match: [{ uri: { prefix: '/api' } }] } }; d.spec.strategy.steps = [{ match: [{ uri: { prefix: '/beta' } }] }, 100]; }, 'spec.strategy.steps[0].match[0].uri', /conflicts with spec.trafficRouting.virtualService.match\[0\]/],
    ['the same header with another value in the weighted route\'s match', (d) => { d.spec.trafficRouting = { virtualService: { match: [{ headers: { 'x-canary': { exact: 'no' } } }] } }; d.spec.strategy.steps = [{ match: [HEADER] }, 100]; }, 'spec.strategy.steps[0].match[0].headers.x-canary', /conflicts with/],
    ['a step with both weight and match', (d) => { d.spec.strategy.steps = [{ weight: 10, match: [HEADER] }, 100]; }, 'spec.strategy.steps[0]', /must be a weight \(0..100\), \{weight, pause\}, \{match: \[...\], pause\} or \{mirror: percent, pause\}/],
    ['a match step with a bad pause', (d) => { d.spec.strategy.steps = [{ match: [HEADER], pause: 'soon' }, 100]; }, 'spec.strategy.steps[0].pause', /manual/],
  ])('%s', (_, mutate, path, message) => {
    const found = problems(mutate);
    expect(found.map((p) => p.path)).toContain(path);
    expect(found.find((p) => p.path === path)!.message).toMatch(message);
  });
});

interface Route { name: string; match?: Record<string, unknown>[]; route: { destination: { host: string; subset: string }; weight: number }[]; mirror?: unknown; mirrorPercentage?: unknown; [k: string]: unknown }
const http = (o: KubeObject) => (o.spec as { http: Route[] }).http;
const routing = (r: ResolvedRollout, canaryWeight: number, extras: Partial<Routing> = {}): Routing => ({ stableLabels: r.stable.labels, canaryLabels: r.canary.labels, canaryWeight, ...extras });

/** What istiod's webhook and the CRD schema would say of the rendered VirtualService's routes. */
function istioProblems(vs: KubeObject): string[] {
  const spec = vs.spec as { hosts: string[]; gateways?: string[]; http: Route[] };
  return [
    ...virtualServiceFieldErrors(spec).map((e) => e.message),
    ...spec.http.flatMap((route, i) => schemaErrors(HTTP_ROUTE_SCHEMA, route, `spec.http[${i}]`).map((e) => `${e.path}: ${e.message}`)),
  ];
}

describe('rendering match and mirror steps (generated VirtualService)', () => {
  const r = resolveValid(doc((d) => { d.spec.service.port = 8080; d.spec.strategy.steps = [{ mirror: 30 }, { match: [HEADER, COOKIE] }, 10, 100]; }));
  const canary = { host: 'web', subset: 'canary', port: { number: 8080 } };
  const stable = { host: 'web', subset: 'stable', port: { number: 8080 } };

  it.each<[string, number, Route[]]>([
    ['the mirror step: the weighted route mirrors 30 % to the canary', 0, [
      { name: 'primary', route: [{ destination: stable, weight: 100 }, { destination: canary, weight: 0 }], mirror: canary, mirrorPercentage: { value: 30 } },
    ]],
    ['the match step: fledge-match ahead, others all on stable', 1, [
      { name: 'fledge-match', match: [HEADER, COOKIE], route: [{ destination: canary, weight: 100 }] },
      { name: 'primary', route: [{ destination: stable, weight: 100 }, { destination: canary, weight: 0 }] },
    ]],
    ['the weight step after it: the match route stays', 2, [
      { name: 'fledge-match', match: [HEADER, COOKIE], route: [{ destination: canary, weight: 100 }] },
      { name: 'primary', route: [{ destination: stable, weight: 90 }, { destination: canary, weight: 10 }] },
    ]],
  ])('%s', (_, idx, routes) => {
    const vs = renderVirtualService(r, routing(r, r.steps[idx]!.weight, stepExtras(r.steps, idx)));
    expect(http(vs)).toEqual(routes);
    expect(istioProblems(vs)).toEqual([]);
  });

  it('promotion and rollback routings carry no extra route', () => {
    for (const w of [0, 100]) {
      const routes = http(renderVirtualService(r, routing(r, w)));
      expect(routes.map((x) => x.name)).toEqual(['primary']);
      expect(routes[0]!.mirror).toBeUndefined();
    }
  });

  it('combines the step match with the weighted route\'s match and keeps its extras and the fallback', () => {
    const r2 = resolveValid(doc((d) => {
      d.spec.trafficRouting = { virtualService: { match: [{ uri: { prefix: '/api' } }, { headers: { 'x-tenant': { exact: 'a' } } }], http: { timeout: '5s' } } };
      d.spec.strategy.steps = [{ match: [HEADER] }, 100];
    }));
    const vs = renderVirtualService(r2, routing(r2, 0, stepExtras(r2.steps, 0)));
    expect(http(vs).map((x) => x.name)).toEqual(['fledge-match', 'primary', 'fallback']);
    expect(http(vs)[0]).toMatchObject({
      match: [{ uri: { prefix: '/api' }, ...HEADER }, { headers: { 'x-tenant': { exact: 'a' }, 'x-canary': { exact: 'true' } } }],
      timeout: '5s',
    });
    expect(istioProblems(vs)).toEqual([]);
  });

  it('every step of the schedule renders integer weights summing to 100 in every route', () => {
    r.steps.forEach((s, idx) => {
      for (const route of http(renderVirtualService(r, routing(r, s.weight, stepExtras(r.steps, idx))))) {
        expect(route.route.reduce((a, d) => a + d.weight, 0)).toBe(100);
        expect(route.route.every((d) => Number.isInteger(d.weight))).toBe(true);
      }
    });
  });

  it('the router\'s desired objects include the match route', () => {
    const objs = istioRouter.desiredObjects(r, routing(r, 0, stepExtras(r.steps, 1)));
    expect(http(objs.find((o) => o.kind === 'VirtualService')!)[0]!.name).toBe('fledge-match');
  });
});

describe('combineMatches', () => {
  it.each<[string, Record<string, unknown>[] | undefined, Record<string, unknown>[], Record<string, unknown>[], string[]]>([
    ['no base: the step\'s own', undefined, [HEADER], [HEADER], []],
    ['a base field and a step field', [{ uri: { prefix: '/' } }], [HEADER], [{ uri: { prefix: '/' }, ...HEADER }], []],
    ['headers merged by name', [{ headers: { a: { exact: '1' } } }], [HEADER], [{ headers: { a: { exact: '1' }, 'x-canary': { exact: 'true' } } }], []],
    ['equal values are no conflict', [HEADER], [HEADER], [HEADER], []],
    ['two uris conflict (the weighted route\'s is kept)', [{ uri: { prefix: '/a' } }], [{ uri: { prefix: '/b' } }], [{ uri: { prefix: '/a' } }], ['uri']],
    ['one header twice conflicts', [{ headers: { 'x-canary': { exact: 'no' } } }], [HEADER], [{ headers: { 'x-canary': { exact: 'no' } } }], ['headers.x-canary']],
  ])('%s', (_, base, step, match, conflicts) => {
    const out = combineMatches(base, step);
    expect(out.match).toEqual(match);
    expect(out.conflicts.map((c) => c.field)).toEqual(conflicts);
  });
});

describe('stepExtras: what is in force at each step', () => {
  const r = resolveValid(doc((d) => { d.spec.strategy.steps = [{ mirror: 10 }, { match: [HEADER] }, 20, { match: [COOKIE] }, 50]; }));
  it.each<[number, Partial<Routing>]>([
    [-1, {}],
    [0, { mirrorPercent: 10 }],
    [1, { match: [HEADER] }],
    [2, { match: [HEADER] }],
    [3, { match: [COOKIE] }],
    [4, { match: [COOKIE] }],
    [5, {}],
  ])('step %i', (idx, extras) => {
    expect(stepExtras(r.steps, idx)).toEqual(extras);
  });

  it('resolves a match step to the weight before it (0 at first), a mirror step to 0', () => {
    expect(r.steps.map((s) => s.weight)).toEqual([0, 0, 20, 20, 50]);
  });
});

function verdict(v: Verdict, status: RolloutStatus | undefined, now: number, canaryRequests = 200): AnalysisResult {
  return { verdict: v, reason: `${v}`, at: new Date(T0 + now).toISOString(), stepIndex: status?.stepIndex ?? 0, metrics: [], canary: { requests: canaryRequests, errors: v === 'fail' ? 50 : 0 }, ...(v === 'fail' ? { decisive: true } : {}) };
}

/** The planner driven as the controller drives it: status through JSON, routing read from the result. */
class Walk {
  status: RolloutStatus | undefined;
  now = 0;
  last!: PlanResult;
  readonly r: ResolvedRollout;
  constructor(r: ResolvedRollout) {
    this.r = r;
  }
  step(after: number, v?: Verdict, requests: { paused: boolean; resume?: { release: string; stepIndex: number } } = { paused: false }): PlanResult {
    this.now += after;
    const analysis = v ? verdict(v, this.status, this.now) : undefined;
    this.last = plan({ rollout: this.r, status: this.status, requests, now: new Date(T0 + this.now), ...(analysis ? { analysis } : {}) });
    this.status = JSON.parse(JSON.stringify(this.last.status)) as RolloutStatus;
    return this.last;
  }
}

describe('the planner through match and mirror steps', () => {
  it('a header step, then weights, then promotion: the match route holds until promotion removes it', () => {
    const r = resolveValid(doc((d) => { d.spec.strategy = { steps: [{ match: [HEADER] }, 10, 50], interval: '30s' }; }));
    const w = new Walk(r);
    const seen: [number | undefined, string | undefined, number, boolean][] = [];
    const record = (res: PlanResult) => seen.push([res.status.stepIndex, res.status.phase, res.routing.canaryWeight, res.routing.match !== undefined]);
    record(w.step(0));
    expect(w.last.status.message).toBe('step 1/3: matching requests to canary, others stable 100 / canary 0');
    for (let i = 0; i < 3; i++) record(w.step(30 * S));
    expect(seen).toEqual([
      [0, 'Progressing', 0, true],
      [1, 'Progressing', 10, true],
      [2, 'Progressing', 50, true],
      [3, 'Promoted', 100, false],
    ]);
    expect(w.last.routing).toEqual({ stableLabels: r.stable.labels, canaryLabels: r.canary.labels, canaryWeight: 100 });
  });

  it('a manual match step waits for `fledge resume` with its route in place', () => {
    const r = resolveValid(doc((d) => { d.spec.strategy = { steps: [{ match: [COOKIE], pause: 'manual' }, 100], interval: '30s' }; }));
    const w = new Walk(r);
    expect(w.step(0).status).toMatchObject({ phase: 'Paused', pausedBy: 'step', stepIndex: 0 });
    expect(w.last.routing.match).toEqual([COOKIE]);
    expect(w.step(60 * S).status.phase).toBe('Paused');
    const res = w.step(1 * S, undefined, { paused: false, resume: { release: releaseId(r.stable.labels, r.canary.labels), stepIndex: 0 } });
    expect(res.status).toMatchObject({ phase: 'Progressing', stepIndex: 1, canaryWeight: 100 });
    expect(res.routing.match).toEqual([COOKIE]);
  });

  it('a mirror step judged on mirrored requests and failed: rolled back, the mirror removed, the reason says so', () => {
    const r = resolveValid(doc((d) => {
      d.spec.strategy = { steps: [{ mirror: 50 }, 10, 100], interval: '1m' };
      d.spec.analysis = { checkInterval: '10s' };
    }));
    const w = new Walk(r);
    expect(w.step(0).routing).toMatchObject({ canaryWeight: 0, mirrorPercent: 50 });
    expect(w.last.status.message).toBe('step 1/3: stable 100 / canary 0, 50% of the requests mirrored to canary (responses discarded)');
    w.now += 10 * S;
    expect(analysisCheck(r, w.status, new Date(T0 + w.now))).toBeDefined();
    const res = w.step(0, 'fail');
    expect(res.status.phase).toBe('RolledBack');
    expect(res.routing).toEqual({ stableLabels: r.stable.labels, canaryLabels: r.canary.labels, canaryWeight: 0 });
    expect(res.status.lastAnalysis).toMatchObject({ verdict: 'fail', mirrored: true });
    expect(res.status.lastAnalysis!.reason).toMatch(/judged on 200 mirrored request\(s\) against stable's live ones; mirrored responses are discarded, so users saw none of the canary's errors, but they count against it/);
    expect(res.events.find((e) => e.reason === 'RolledBack')!.message).toMatch(/mirrored request/);
  });

  it('a passing mirror step moves on to live weights without the mirror', () => {
    const r = resolveValid(doc((d) => { d.spec.strategy = { steps: [{ mirror: 20 }, 10, 100], interval: '30s' }; }));
    const w = new Walk(r);
    w.step(0);
    const res = w.step(30 * S);
    expect(res.status).toMatchObject({ phase: 'Progressing', stepIndex: 1, canaryWeight: 10 });
    expect(res.routing.mirrorPercent).toBeUndefined();
  });

  it('markMirrored leaves the judgement of any other step as it is', () => {
    const a = verdict('pass', { stepIndex: 0 }, 0);
    expect(markMirrored({ weight: 10 }, a)).toBe(a);
    expect(markMirrored({ weight: 0, match: [HEADER] }, a)).toBe(a);
    expect(markMirrored({ weight: 0, mirror: 5 }, a)).toMatchObject({ mirrored: true });
  });
});

describe('routingPath keeps a step\'s routes on every write whose labels are final', () => {
  const V = (v: string) => ({ version: v });
  it.each<[string, Routing, Routing, Routing[]]>([
    ['weights move, the match route rides along (no write drops it)',
      { stableLabels: V('v1'), canaryLabels: V('v2'), canaryWeight: 0 },
      { stableLabels: V('v1'), canaryLabels: V('v2'), canaryWeight: 10, match: [HEADER] },
      [{ stableLabels: V('v1'), canaryLabels: V('v2'), canaryWeight: 10, match: [HEADER] }]],
    ['only the match route changes', 
      { stableLabels: V('v1'), canaryLabels: V('v2'), canaryWeight: 10, match: [HEADER] },
      { stableLabels: V('v1'), canaryLabels: V('v2'), canaryWeight: 10, match: [COOKIE] },
      [{ stableLabels: V('v1'), canaryLabels: V('v2'), canaryWeight: 10, match: [COOKIE] }]],
    ['a mirror step ends: the next weight without the mirror',
      { stableLabels: V('v1'), canaryLabels: V('v2'), canaryWeight: 0, mirrorPercent: 20 },
      { stableLabels: V('v1'), canaryLabels: V('v2'), canaryWeight: 10 },
      [{ stableLabels: V('v1'), canaryLabels: V('v2'), canaryWeight: 10 }]],
    ['after a promotion, a new release starting on a match step: labels first, the match route with the final labels only',
      { stableLabels: V('v1'), canaryLabels: V('v2'), canaryWeight: 100 },
      { stableLabels: V('v2'), canaryLabels: V('v3'), canaryWeight: 0, match: [HEADER] },
      [{ stableLabels: V('v2'), canaryLabels: V('v2'), canaryWeight: 100 }, { stableLabels: V('v2'), canaryLabels: V('v2'), canaryWeight: 0 }, { stableLabels: V('v2'), canaryLabels: V('v3'), canaryWeight: 0, match: [HEADER] }]],
  ])('%s', (_, live, desired, path) => {
    expect(routingPath(live, desired)).toEqual(path);
  });
});

it('fledge status names the kind of each step in the schedule', () => {
  const r = resolveValid(doc((d) => { d.spec.strategy.steps = [{ mirror: 20, pause: '10m' }, { match: [HEADER, COOKIE], pause: 'manual' }, 10, 100]; }));
  expect(scheduleText(r.steps)).toBe('mirror 20% (pause 600s), match (2 conditions) (pause: manual), 10, 100');
});

describe('what the controller dry-runs and reads back', () => {
  const r = resolveValid(doc((d) => { d.spec.strategy.steps = [{ mirror: 10 }, { match: [HEADER] }, 20, { match: [COOKIE] }, { match: [COOKIE] }, 50]; }));

  it('routingShapes: the plain shape, then one per distinct match or mirror shape, with its step', () => {
    expect(routingShapes(r).map((x) => [x.step, x.routing.match, x.routing.mirrorPercent])).toEqual([
      [undefined, undefined, undefined],
      [0, undefined, 10],
      [1, [HEADER], undefined],
      [3, [COOKIE], undefined],
    ]);
  });

  it.each([0, 10, 50])('the Istio router reads the split at weight %i back past the fledge-match route, and the route as live', (w) => {
    const routing = { ...routingOf(r, w), match: [HEADER] };
    const objs = istioRouter.desiredObjects(r, routing);
    const live = istioRouter.liveRouting(r, { virtualService: objs.find((o) => o.kind === 'VirtualService')!, destinationRule: objs.find((o) => o.kind === 'DestinationRule')! });
    expect(live).toEqual({ stableLabels: r.stable.labels, canaryLabels: r.canary.labels, canaryWeight: w, match: [HEADER] });
  });

  it('the Istio router reads a live mirror back, and nothing without match route or mirror', () => {
    const read = (routing: Routing) => {
      const objs = istioRouter.desiredObjects(r, routing);
      return istioRouter.liveRouting(r, { virtualService: objs.find((o) => o.kind === 'VirtualService')!, destinationRule: objs.find((o) => o.kind === 'DestinationRule')! });
    };
    expect(read({ ...routingOf(r, 0), mirrorPercent: 10 })).toEqual({ ...routingOf(r, 0), mirrorPercent: 10 });
    expect(read(routingOf(r, 20))).toEqual(routingOf(r, 20));
  });
});

function routingOf(r: ResolvedRollout, canaryWeight: number): Routing {
  return { stableLabels: r.stable.labels, canaryLabels: r.canary.labels, canaryWeight };
}

describe('match and mirror steps beside sessionAffinity', () => {
  const r = resolveValid(doc((d) => {
    d.spec.trafficRouting = { sessionAffinity: { cookieName: 'canary-session' } };
    d.spec.strategy.steps = [{ mirror: 10 }, { match: [HEADER] }, 20, 100];
  }));

  it.each([[0], [1], [2]])('step %i: the match route first (a tester reaches the canary whatever their cookie), Istio\'s schema satisfied, the split read back', (idx) => {
    const routing = { ...routingOf(r, r.steps[idx]!.weight), ...stepExtras(r.steps, idx) };
    const objs = istioRouter.desiredObjects(r, routing);
    const vs = objs.find((o) => o.kind === 'VirtualService')!;
    const order = http(vs).map((x) => x.name);
    if (routing.match) expect(order[0]).toBe('fledge-match');
    expect(order[order.length - 1]).toBe('primary');
    expect(istioProblems(vs)).toEqual([]);
    expect(istioRouter.liveRouting(r, { virtualService: vs, destinationRule: objs.find((o) => o.kind === 'DestinationRule')! })?.canaryWeight).toBe(routing.canaryWeight);
  });

  it('the objects the controller dry-runs include each step shape', () => {
    const vets = istioRouter.objectsToVet(r).filter((o) => o.kind === 'VirtualService').map((o) => http(o));
    expect(vets.some((routes) => routes.some((x) => x.name === 'fledge-match'))).toBe(true);
    expect(vets.some((routes) => routes.some((x) => x.mirror !== undefined))).toBe(true);
  });
});
