/**
 * `fledge render` on an adopted VirtualService, as a user runs it: `node bin/fledge.js` on the
 * built dist/. The JSON patch it prints is applied to the VirtualService file and the result
 * asserted; refusals are asserted by exit code and by the `FILE: path: message` lines on stderr.
 */
import { describe, expect, it } from 'vitest';
import { cliTestFiles, expectNoStackTrace, fledge, lines, type Run } from '../support/cli.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parse, stringify } from 'yaml';
import type { JsonPatchOp } from '../../src/api/object.ts';
import { REPO, clone } from './fixtures.ts';

const scratch = cliTestFiles('fledge-render-patch-');
const file = (name: string, value: unknown) => scratch.file(name, stringify(value));

// --- the seeds and a small RFC 6902 applier -----------------------------------------------------

interface Dest { destination: { host: string; subset: string; port?: { number: number } }; weight?: number }
interface Route { name?: string; route: Dest[]; [extra: string]: unknown }
interface VirtualService { metadata: { name: string }; spec: { http: Route[]; [extra: string]: unknown } }
interface DestinationRule { metadata: { name: string }; spec: { subsets: { name: string; labels: Record<string, string> }[] } }

const seed = (name: string, file: string) => `examples/adopted/${name}/${file}`;
const readSeed = <T>(name: string, file: string): T => parse(readFileSync(join(REPO, seed(name, file)), 'utf8')) as T;

class PatchTestFailed extends Error {}

/** Applies test / replace / add on JSON pointers to a copy; a failing test throws. */
function applyPatch<T>(doc: T, ops: readonly JsonPatchOp[]): T {
  const out = structuredClone(doc) as unknown;
  for (const op of ops) {
    const tokens = op.path.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = tokens.pop()!;
    let parent = out as Record<string, unknown>;
    for (const t of tokens) {
      parent = parent[t] as Record<string, unknown>;
      if (typeof parent !== 'object' || parent === null) throw new Error(`${op.op} ${op.path}: no ${t}`);
    }
    if (op.op === 'test') {
      if (!Object.hasOwn(parent, last) || !isDeepStrictEqual(parent[last], op.value)) throw new PatchTestFailed(`test ${op.path}: not ${JSON.stringify(op.value)}`);
    } else if (op.op === 'replace') {
      if (!Object.hasOwn(parent, last)) throw new Error(`replace ${op.path}: nothing to replace`);
      parent[last] = op.value;
    } else if (op.op === 'add') {
      parent[last] = op.value;
    } else {
      throw new Error(`unexpected op ${JSON.stringify(op)}`);
    }
  }
  return out as T;
}

function withoutWeights(vs: VirtualService): VirtualService {
  const copy = clone(vs);
  for (const route of copy.spec.http) for (const d of route.route) delete d.weight;
  return copy;
}

/** stdout as the JSON patch: an array of RFC 6902 operations. */
function patchOf(run: Run): JsonPatchOp[] {
  const ops = JSON.parse(run.stdout) as unknown;
  expect(Array.isArray(ops)).toBe(true);
  for (const op of ops as JsonPatchOp[]) expect(['test', 'replace', 'add']).toContain(op.op);
  return ops as JsonPatchOp[];
}

const weights = (route: Route) => route.route.map((d) => [d.destination.subset, d.weight]);

// --- the patch --------------------------------------------------------------------------------

describe('fledge render --virtual-service', () => {
  it('product at --weight 40: iphone route 60/40, the default route left alone', () => {
    const run = fledge(['render', '-f', seed('product', 'rollout.yaml'), '--virtual-service', seed('product', 'virtual-service.yaml'), '--weight', '40']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const vs = readSeed<VirtualService>('product', 'virtual-service.yaml');
    const patched = applyPatch(vs, patchOf(run));
    expect(patched.spec.http.map((r) => r.name)).toEqual(['iphone', 'default']);
    expect(weights(patched.spec.http[0]!)).toEqual([['v1', 60], ['v2', 40]]);
    expect(patched.spec.http[1]).toEqual(vs.spec.http[1]);
    expect(withoutWeights(patched)).toEqual(withoutWeights(vs));
    // And the patch is guarded: the same ops on a VirtualService someone changed since fail.
    const stale = clone(vs);
    stale.spec.http[0]!.route[0]!.weight = 90;
    stale.spec.http[0]!.route[1]!.weight = 10;
    expect(() => applyPatch(stale, patchOf(run))).toThrow(PatchTestFailed);
  });

  // [seed, the stable and canary subsets]
  const seeds: [string, string, string][] = [['httpping', 'v1', 'v2'], ['product', 'v1', 'v2'], ['staff', 'safe', 'risky']];
  it.each(seeds.flatMap(([name, stable, canary]) => [0, 10, 33, 100].map((w) => [name, w, stable, canary] as const)))(
    '%s at --weight %i, with its DestinationRule: the weighted route splits 100-w / w and nothing else changes',
    (name, w, stable, canary) => {
      const run = fledge(['render', '-f', seed(name, 'rollout.yaml'), '--virtual-service', seed(name, 'virtual-service.yaml'),
        '--destination-rule', seed(name, 'destination-rule.yaml'), `--weight=${w}`]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const vs = readSeed<VirtualService>(name, 'virtual-service.yaml');
      const ops = patchOf(run);
      // The seeds sit at 100/0: nothing to do at 0.
      if (w === 0) expect(ops).toEqual([]);
      const patched = applyPatch(vs, ops);
      expect(weights(patched.spec.http[0]!)).toEqual([[stable, 100 - w], [canary, w]]);
      expect(withoutWeights(patched)).toEqual(withoutWeights(vs));
    },
  );

  it('at its first step when no --weight is given (staff: 10)', () => {
    const run = fledge(['render', '-f', seed('staff', 'rollout.yaml'), '--virtual-service', seed('staff', 'virtual-service.yaml')]);
    expect(run.code).toBe(0);
    const patched = applyPatch(readSeed<VirtualService>('staff', 'virtual-service.yaml'), patchOf(run));
    expect(weights(patched.spec.http[0]!)).toEqual([['safe', 90], ['risky', 10]]);
  });

  it('reads the VirtualService from standard input with --virtual-service -', () => {
    const text = readFileSync(join(REPO, seed('product', 'virtual-service.yaml')), 'utf8');
    const run = fledge(['render', '-f', seed('product', 'rollout.yaml'), '--virtual-service', '-', '--weight', '20'], { input: text });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const patched = applyPatch(readSeed<VirtualService>('product', 'virtual-service.yaml'), patchOf(run));
    expect(weights(patched.spec.http[0]!)).toEqual([['v1', 80], ['v2', 20]]);
  });

  it.each([['httpping', 'httpping-without-sidecar'], ['product', 'product-service'], ['staff', 'fleetman-staff-service']])(
    'without --virtual-service, says on stderr that %s\'s VirtualService is adopted and exits 0',
    (name, vsName) => {
      const rollout = seed(name, 'rollout.yaml');
      const run = fledge(['render', '-f', rollout]);
      expect(run.code).toBe(0);
      expect(lines(run.stderr)).toEqual([
        `${rollout}: VirtualService ${vsName} is adopted: Fledge changes only its weights; pass --virtual-service FILE to see the patch`,
      ]);
      // Both objects are adopted: there is nothing to render either.
      expect(run.stdout.trim()).toBe('');
      expectNoStackTrace(run);
    },
  );
});

// --- refusals -----------------------------------------------------------------------------------

describe('fledge render refuses an adopted object that does not fit', () => {
  it('a named route that lacks the canary: exit 1, the problem at its field path with the destination to add', () => {
    const vs = readSeed<VirtualService>('product', 'virtual-service.yaml');
    vs.spec.http[0]!.route = [{ destination: { host: 'product-service', subset: 'v1' }, weight: 100 }];
    const rollout = seed('product', 'rollout.yaml');
    const run = fledge(['render', '-f', rollout, '--virtual-service', file('product-no-canary.yaml', vs), '--weight', '40']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(lines(run.stderr)).toEqual([
      `${rollout}: spec.trafficRouting.virtualService: route "iphone" of VirtualService product-service does not send to subset v2 of Service product-service; add {destination: {host: product-service, subset: v2}, weight: 0}`,
    ]);
    expectNoStackTrace(run);
  });

  it('a VirtualService with no route to both subsets (staff, routes by default): names route http[0] and the destination to add', () => {
    const vs = readSeed<VirtualService>('staff', 'virtual-service.yaml');
    vs.spec.http[0]!.route.pop();
    const rollout = seed('staff', 'rollout.yaml');
    const run = fledge(['render', '-f', rollout, '--virtual-service', file('staff-no-canary.yaml', vs)]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(lines(run.stderr)).toEqual([
      `${rollout}: spec.trafficRouting.virtualService: no http route of VirtualService fleetman-staff-service sends to both subsets safe and risky of Service fleetman-staff-service.default.svc.cluster.local; add to route http[0] the destination {destination: {host: fleetman-staff-service.default.svc.cluster.local, subset: risky}, weight: 0}`,
    ]);
  });

  it('a missing named route: exit 1 at spec.trafficRouting.virtualService.routes[0], listing the routes there are', () => {
    const vs = readSeed<VirtualService>('httpping', 'virtual-service.yaml');
    vs.spec.http[0]!.name = 'main';
    const rollout = seed('httpping', 'rollout.yaml');
    const run = fledge(['render', '-f', rollout, '--virtual-service', file('httpping-renamed.yaml', vs)]);
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toEqual([
      `${rollout}: spec.trafficRouting.virtualService.routes[0]: VirtualService httpping-without-sidecar has no http route named "primary" (it has: main)`,
    ]);
  });

  it('--destination-rule whose canary subset selects other labels: exit 1 naming the subset', () => {
    const dr = readSeed<DestinationRule>('product', 'destination-rule.yaml');
    dr.spec.subsets[1]!.labels = { version: 'v3' };
    const rollout = seed('product', 'rollout.yaml');
    const run = fledge(['render', '-f', rollout, '--virtual-service', seed('product', 'virtual-service.yaml'),
      '--destination-rule', file('product-dr-mismatch.yaml', dr), '--weight', '40']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(lines(run.stderr)).toEqual([
      `${rollout}: spec.canary.labels: subset "v2" of DestinationRule product-service selects {version: v3}, not {version: v2}; change one of them`,
    ]);
    expectNoStackTrace(run);
  });

  it('--destination-rule without the canary subset: exit 1 naming the subset to add', () => {
    const dr = readSeed<DestinationRule>('httpping', 'destination-rule.yaml');
    dr.spec.subsets.pop();
    const rollout = seed('httpping', 'rollout.yaml');
    const run = fledge(['render', '-f', rollout, '--virtual-service', seed('httpping', 'virtual-service.yaml'),
      '--destination-rule', file('httpping-dr-no-v2.yaml', dr)]);
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toEqual([
      `${rollout}: spec.canary.subset: DestinationRule httpping-without-sidecar-destination has no subset "v2"; add {name: v2, labels: {app: httpping-without-sidecar, version: v2}}`,
    ]);
  });
});

describe('fledge render with several adopted VirtualServices (virtualServices)', () => {
  const dir = 'gateway-and-mesh';
  const both = () => scratch.file('gateway-and-mesh-vs.yaml', [seed(dir, 'virtual-service-ingress.yaml'), seed(dir, 'virtual-service-mesh.yaml')]
    .map((f) => readFileSync(join(REPO, f), 'utf8')).join('\n---\n'));

  it('prints each one\'s weight patch, named, from one file holding both', () => {
    const run = fledge(['render', '-f', seed(dir, 'rollout.yaml'), '--virtual-service', both(), '--weight', '40']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const parts = run.stdout.split(/^# VirtualService (\S+)\n/m).slice(1);
    expect([parts[0], parts[2]]).toEqual(['reviews-ingress', 'reviews-mesh']);
    for (const [file, text] of [['ingress', parts[1]], ['mesh', parts[3]]] as const) {
      const vs = readSeed<VirtualService>(dir, `virtual-service-${file}.yaml`);
      const patched = applyPatch(vs, JSON.parse(text ?? '[]') as JsonPatchOp[]);
      expect(patched.spec.http[0]!.route.map((d) => d.weight)).toEqual([60, 40]);
    }
  });

  it('the Argo CD ignoreDifferences of both, in one list', () => {
    const run = fledge(['render', '-f', seed(dir, 'rollout.yaml'), '--virtual-service', both(), '--argocd-ignore-differences']);
    expect(run.code).toBe(0);
    const doc = parse(run.stdout) as { ignoreDifferences: { name?: string }[] };
    expect(doc.ignoreDifferences.map((e) => e.name)).toEqual(['reviews-ingress', 'reviews-mesh']);
  });

  it('reads them from one file each, as the example keeps them: --virtual-service repeated', () => {
    const run = fledge(['render', '-f', seed(dir, 'rollout.yaml'), '--weight', '40',
      '--virtual-service', seed(dir, 'virtual-service-ingress.yaml'), '--virtual-service', seed(dir, 'virtual-service-mesh.yaml')]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const fromOneFile = fledge(['render', '-f', seed(dir, 'rollout.yaml'), '--virtual-service', both(), '--weight', '40']);
    expect(run.stdout).toBe(fromOneFile.stdout);
    const ignore = fledge(['render', '-f', seed(dir, 'rollout.yaml'), '--argocd-ignore-differences',
      '--virtual-service', seed(dir, 'virtual-service-mesh.yaml'), '--virtual-service', seed(dir, 'virtual-service-ingress.yaml')]);
    expect(ignore.code).toBe(0);
    // The Rollout's list order, whatever the order of the files.
    expect((parse(ignore.stdout) as { ignoreDifferences: { name?: string }[] }).ignoreDifferences.map((e) => e.name))
      .toEqual(['reviews-ingress', 'reviews-mesh']);
  });

  it('several files without one of them: a usage error naming the files and the missing one', () => {
    const ingress = seed(dir, 'virtual-service-ingress.yaml');
    const run = fledge(['render', '-f', seed(dir, 'rollout.yaml'), '--virtual-service', ingress, '--virtual-service', ingress]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${ingress}, ${ingress}: no VirtualService reviews-mesh in these files`);
    expectNoStackTrace(run);
  });

  it('a file without one of them: a usage error (exit 2) naming the missing one', () => {
    const run = fledge(['render', '-f', seed(dir, 'rollout.yaml'), '--virtual-service', seed(dir, 'virtual-service-ingress.yaml')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no VirtualService reviews-mesh in the file/);
    expectNoStackTrace(run);
  });
});
