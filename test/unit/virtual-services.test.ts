/**
 * Several VirtualServices for one release (`trafficRouting.virtualServices`): validation with
 * field paths, the resolved list (the singular form is a list of one), the lenient raw readers
 * and the claim index, the admission checks applied to each entry, the decision's actions, and
 * each entry's weight patch (applied here, so the result is asserted, not the ops).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { MAX_VIRTUAL_SERVICES } from '../../src/api/schema.ts';
import type { JsonPatchOp, KubeObject } from '../../src/api/object.ts';
import { readRequests } from '../../src/api/requests.ts';
import { atVirtualService, withVirtualService } from '../../src/api/resolve.ts';
import { adoptedVirtualServices, claimedVirtualService, claimedVirtualServices, generatedHosts, type RolloutObject } from '../../src/api/rollout-object.ts';
import { parseRollout, type Problem } from '../../src/api/validate.ts';
import { checkRollout } from '../../src/check/rollout.ts';
import { ClaimIndex } from '../../src/controller/claims.ts';
import { admission, decide, type Action, type Snapshot } from '../../src/controller/decide.ts';
import { istioRouter } from '../../src/router/istio/render.ts';
import { minimalRollout, resolveValid } from './fixtures.ts';

const DIR = '../../examples/adopted/gateway-and-mesh';
const load = <T>(file: string): T => parse(readFileSync(new URL(`${DIR}/${file}.yaml`, import.meta.url), 'utf8')) as T;
const INGRESS = load<KubeObject>('virtual-service-ingress');
const MESH = load<KubeObject>('virtual-service-mesh');
const DR = load<KubeObject>('destination-rule');
const example = (): RolloutObject => {
  const o = load<RolloutObject>('rollout');
  o.metadata = { ...o.metadata, uid: 'u1', generation: 1, resourceVersion: '1', creationTimestamp: '2025-01-01T00:00:00Z' };
  return o;
};

type Doc = ReturnType<typeof minimalRollout>;
function problemsOf(trafficRouting: unknown, more?: (d: Doc) => void): Problem[] {
  const doc = minimalRollout();
  doc.spec.trafficRouting = trafficRouting;
  more?.(doc);
  const r = parseRollout(doc);
  return r.ok ? [] : r.problems;
}

describe('validation of virtualServices', () => {
  const list = (n: number) => Array.from({ length: n }, (_, i) => ({ ref: `vs-${i}` }));
  it.each([
    ['both forms', { virtualService: { ref: 'a' }, virtualServices: [{ ref: 'b' }] }, 'spec.trafficRouting.virtualServices', /cannot be set with virtualService/],
    ['an empty list', { virtualServices: [] }, 'spec.trafficRouting.virtualServices', /at least one/],
    ['too many', { virtualServices: list(MAX_VIRTUAL_SERVICES + 1) }, 'spec.trafficRouting.virtualServices', /at most 8/],
    ['a repeated VirtualService', { virtualServices: [{ ref: 'a' }, { ref: 'b' }, { ref: 'a' }] }, 'spec.trafficRouting.virtualServices[2].ref', /repeats VirtualService a/],
    ['a repeated route', { virtualServices: [{ ref: 'a', routes: ['x', 'x'] }] }, 'spec.trafficRouting.virtualServices[0].routes', /must not repeat/],
    ['an entry without ref', { virtualServices: [{ routes: ['x'] }] }, 'spec.trafficRouting.virtualServices[0].ref', /./],
    ['a generated field in an entry', { virtualServices: [{ ref: 'a', hosts: ['web'] }] }, 'spec.trafficRouting.virtualServices[0].hosts', /not a known field/],
    ['a bad name', { virtualServices: [{ ref: 'Not_A_Name' }] }, 'spec.trafficRouting.virtualServices[0].ref', /lowercase/],
  ])('refuses %s, naming the field', (_, tr, path, message) => {
    const problems = problemsOf(tr);
    expect(problems.find((p) => p.path === path)?.message).toMatch(message);
  });

  it('refuses sessionAffinity with the list: its VirtualServices are adopted', () => {
    const problems = problemsOf({ virtualServices: [{ ref: 'a' }], sessionAffinity: { cookieName: 'canary' } });
    expect(problems.map((p) => p.path)).toContain('spec.trafficRouting.sessionAffinity');
  });

  it('accepts up to the limit, and the example', () => {
    expect(problemsOf({ virtualServices: list(MAX_VIRTUAL_SERVICES) })).toEqual([]);
    const r = parseRollout(load('rollout'));
    expect(r.ok ? [] : r.problems).toEqual([]);
  });
});

describe('the resolved list', () => {
  it('keeps the singular form as a list of one, and the list in its order, entry 0 read back', () => {
    const single = resolveValid(minimalRollout());
    expect(single.virtualServices).toEqual([single.virtualService]);
    expect(single.virtualServicesListed).toBeUndefined();
    const r = resolveValid(load('rollout'));
    expect(r.virtualServices).toEqual([
      { mode: 'adopted', name: 'reviews-ingress', routes: ['primary'] },
      { mode: 'adopted', name: 'reviews-mesh' },
    ]);
    expect(r.virtualService).toBe(r.virtualServices[0]);
    expect(withVirtualService(r, 1).virtualService).toEqual({ mode: 'adopted', name: 'reviews-mesh' });
    expect(() => withVirtualService(r, 2)).toThrow(RangeError);
  });

  it('names problems by the entry in the list form, and leaves the singular form and other fields alone', () => {
    const r = resolveValid(load('rollout'));
    const problems = [
      { path: 'spec.trafficRouting.virtualService', message: 'a' },
      { path: 'spec.trafficRouting.virtualService.routes[0]', message: 'b' },
      { path: 'spec.trafficRouting.virtualServiceX', message: 'c' },
      { path: 'spec.trafficRouting.destinationRule', message: 'd' },
    ];
    expect(atVirtualService(r, 1, problems).map((p) => p.path)).toEqual([
      'spec.trafficRouting.virtualServices[1]', 'spec.trafficRouting.virtualServices[1].routes[0]',
      'spec.trafficRouting.virtualServiceX', 'spec.trafficRouting.destinationRule',
    ]);
    expect(atVirtualService(resolveValid(minimalRollout()), 0, problems)).toEqual(problems);
  });
});

describe('raw readers and the claim index', () => {
  it.each([
    ['a list', { virtualServices: [{ ref: 'a' }, { ref: 'b' }] }, ['a', 'b'], ['a', 'b'], []],
    ['a list with junk entries', { virtualServices: [{ ref: 'a' }, 7, { routes: [] }, { ref: 'a' }] }, ['a'], ['a'], []],
    ['a list of nothing usable', { virtualServices: [null] }, ['web'], ['web'], []],
    ['the singular ref', { virtualService: { ref: 'x' } }, ['x'], ['x'], []],
    ['a generated one', { virtualService: { name: 'g' } }, ['g'], [], ['web']],
    ['both (invalid): the singular wins', { virtualService: { name: 'g' }, virtualServices: [{ ref: 'a' }] }, ['g'], [], ['web']],
  ])('%s', (_, tr, claimed, adopted, hosts) => {
    const raw = { metadata: { name: 'web', namespace: 'ns' }, spec: { service: { name: 'web' }, trafficRouting: tr } };
    expect(claimedVirtualServices(raw)).toEqual(claimed);
    expect(claimedVirtualService(raw)).toBe(claimed[0]);
    expect(adoptedVirtualServices(raw)).toEqual(adopted);
    expect(generatedHosts(raw)).toEqual(hosts);
  });

  it('indexes a Rollout under each VirtualService it lists, and forgets them all', () => {
    const idx = new ClaimIndex();
    const r = { metadata: { name: 'reviews', namespace: 'ns' }, spec: { trafficRouting: { virtualServices: [{ ref: 'a' }, { ref: 'b' }] } } };
    idx.update(r);
    expect(idx.claimingVirtualService('ns', 'a')).toEqual(['reviews']);
    expect(idx.claimingVirtualService('ns', 'b')).toEqual(['reviews']);
    idx.update({ ...r, spec: { trafficRouting: { virtualServices: [{ ref: 'b' }] } } });
    expect(idx.claimingVirtualService('ns', 'a')).toEqual([]);
    idx.delete(r);
    expect(idx.claimingVirtualService('ns', 'b')).toEqual([]);
  });
});

function snapshot(rollout: RolloutObject, lives: (KubeObject | undefined)[], claimants: RolloutObject[] = []): Snapshot {
  return {
    rollout,
    checked: checkRollout(rollout, 'bookinfo'),
    live: { ...(lives[0] ? { virtualService: lives[0] } : {}), destinationRule: DR },
    liveVirtualServices: lives,
    claimants,
    overlapping: [INGRESS, MESH],
    refusals: [],
    requests: readRequests(rollout.metadata.annotations),
  };
}

function verb(a: Action): string {
  switch (a.type) {
    case 'status': return `status ${a.status.phase} ${a.status.canaryWeight ?? '-'}`;
    case 'routing': return `routing ${100 - a.routing.canaryWeight}/${a.routing.canaryWeight}${a.restore ? ' restore' : ''}`;
    case 'event': return `event ${a.event.reason}`;
    case 'requeue': return `requeue ${a.afterMs}`;
  }
}

describe('admission and decide with two VirtualServices', () => {
  const now = new Date('2025-01-01T00:01:00Z');

  it('admits both (each other is no overlap), with no dry run: nothing is generated', () => {
    const a = admission(snapshot(example(), [INGRESS, MESH]), istioRouter);
    expect(a).toMatchObject({ kind: 'admitted', dryRun: false });
    const d = decide(snapshot(example(), [INGRESS, MESH]), now, istioRouter);
    expect(d.actions.map(verb)).toEqual(['status Progressing 10', 'routing 90/10', 'event RolloutStarted', 'requeue 120000']);
  });

  it('warns of in-mesh calls left unsteered only when no VirtualService of the list steers them', () => {
    const warned = (lives: KubeObject[]) => {
      const a = admission(snapshot(example(), lives), istioRouter);
      return a.kind === 'admitted' ? a.warnings.map((w) => w.path) : ['not admitted'];
    };
    expect(warned([INGRESS, MESH])).toEqual([]);
    const meshAtGateway = { ...MESH, spec: { ...MESH.spec, hosts: ['reviews.example.org'], gateways: ['istio-system/public-gateway'] } };
    expect(warned([INGRESS, meshAtGateway])).toEqual(['spec.trafficRouting.virtualServices[0]', 'spec.trafficRouting.virtualServices[1]']);
  });

  it('waits for the second one when only the first exists', () => {
    expect(admission(snapshot(example(), [INGRESS, undefined]), istioRouter)).toEqual({ kind: 'waiting', objectKind: 'VirtualService', name: 'reviews-mesh' });
  });

  it('checks each one\'s routes, naming the entry', () => {
    const r = example();
    (r.spec as { trafficRouting: { virtualServices: { ref: string; routes?: string[] }[] } }).trafficRouting.virtualServices[1]!.routes = ['nope'];
    const a = admission(snapshot(r, [INGRESS, MESH]), istioRouter);
    expect(a.kind).toBe('invalid');
    const problems = a.kind === 'invalid' ? a.problems : [];
    expect(problems.map((p) => p.path)).toEqual(['spec.trafficRouting.virtualServices[1].routes[0]']);
  });

  it('refuses an entry another Rollout already steers, naming that entry only', () => {
    const older = example();
    older.metadata = { ...older.metadata, name: 'older', creationTimestamp: '2024-01-01T00:00:00Z' };
    older.spec = { ...(older.spec as object), trafficRouting: { virtualService: { ref: 'reviews-mesh' } } };
    older.status = { release: 'r1' };
    const a = admission(snapshot(example(), [INGRESS, MESH], [older]), istioRouter);
    expect(a.kind === 'invalid' ? a.problems : []).toEqual([
      { path: 'spec.trafficRouting.virtualServices[1]', message: 'VirtualService reviews-mesh is already managed by Rollout older' },
    ]);
  });

  it('sets each entry\'s weights by its own patch, the rest of each untouched', () => {
    const r = resolveValid(load('rollout'));
    const routing = { stableLabels: { version: 'v1' }, canaryLabels: { version: 'v2' }, canaryWeight: 30 };
    for (const [i, vs] of [[0, INGRESS], [1, MESH]] as const) {
      const patched = applyPatch(vs, istioRouter.adoptedWeightPatch(withVirtualService(r, i), vs, routing));
      const http = (patched.spec as { http: { route: { weight: number }[] }[] }).http;
      expect(http[0]!.route.map((d) => d.weight)).toEqual([70, 30]);
      const strip = (o: unknown) => JSON.stringify(o, (k, v: unknown) => (k === 'weight' ? undefined : v));
      expect(strip(patched)).toBe(strip(vs));
      expect(istioRouter.adoptedWeightPatch(withVirtualService(r, i), patched, routing)).toEqual([]);
    }
  });
});

/** A small RFC 6902 applier (test, replace, add on object paths): enough for the weight patches. */
function applyPatch(obj: KubeObject, ops: readonly JsonPatchOp[]): KubeObject {
  const out = structuredClone(obj) as unknown as Record<string, unknown>;
  for (const op of ops) {
    const keys = op.path.split('/').slice(1).map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = keys.pop()!;
    const parent = keys.reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, out);
    if (op.op === 'test') expect(parent[last]).toEqual(op.value);
    else if (op.op === 'replace' || op.op === 'add') parent[last] = op.value;
    else throw new Error(`unexpected op ${op.op}`);
  }
  return out as unknown as KubeObject;
}
