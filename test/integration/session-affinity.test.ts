/**
 * sessionAffinity on a real API server with Istio's CRDs and the controller running: during a
 * release the generated VirtualService carries the cookie routes ahead of the weighted one and a
 * Set-Cookie on each weighted destination (accepted by Istio's CRD schema: the controller's dry
 * run and its write); an abort and a promotion take the cookie routes away. Every shape the
 * renderer makes (weights 1..99, cookie names with Envoy's and RE2's special characters, the
 * Rollout's own match and route extras) passes the server's dry run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANNOTATIONS } from '../../src/api/constants.ts';
import { releaseId } from '../../src/api/release.ts';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { STICKY_CANARY_ROUTE, STICKY_STABLE_ROUTE } from '../../src/router/istio/affinity.ts';
import { renderVirtualService } from '../../src/router/istio/render.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import {
  ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, expectValidWeights, getObject, gitopsApply, mergePatch, rolloutManifest, testKube,
  waitForPhase, type TestKube, type VirtualServiceLike,
} from '../support/kube.ts';
import { minimalRollout, resolveValid } from '../unit/fixtures.ts';

let cluster: LocalCluster;
let k: TestKube;
let controller: ControllerProcess;
const NS = 'sticky';
const REL = releaseId({ version: 'v1' }, { version: 'v2' });

type Dest = { destination?: { subset?: string }; weight?: number; headers?: { response?: { add?: Record<string, string> } } };
type StickyVs = VirtualServiceLike & { spec: { http?: { name?: string; match?: { headers?: Record<string, { regex?: string }> }[]; route?: Dest[] }[] } };
const headersOf = (d: Dest | undefined) => d?.headers?.response?.add ?? {};

const spec = (service: string, affinity: Record<string, unknown>) => ({
  service: { name: service, port: 8080 },
  stable: { labels: { version: 'v1' } },
  canary: { labels: { version: 'v2' } },
  strategy: { steps: [{ weight: 20, pause: 'manual' }, 100] },
  trafficRouting: { sessionAffinity: affinity },
});
const vsOf = (name: string) => getObject<StickyVs>(k, VIRTUAL_SERVICES, NS, name);
const names = (vs: StickyVs | undefined) => (vs?.spec.http ?? []).map((h) => h.name);
const primary = (vs: StickyVs) => vs.spec.http!.find((h) => h.name === 'primary')!;

beforeAll(async () => {
  cluster = await startTestCluster();
  k = testKube(cluster.kubeconfigPath);
  await createNamespace(k, NS);
  controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ['--namespace', NS] });
});

afterAll(async () => {
  await controller?.stop();
  await cluster?.stop();
});

describe('sessionAffinity through the controller', () => {
  it('during the release: the cookie routes ahead of the weighted one, a cookie set by each side, all accepted by the API server', async () => {
    await gitopsApply(k, rolloutManifest(NS, 'shop', spec('shop', { cookieName: 'shop-canary', maxAge: 600 })));
    const r = await waitForPhase(k, NS, 'shop', 'Paused');
    expect(r.status?.canaryWeight).toBe(20);
    const vs = await eventually(async () => {
      const v = await vsOf('shop');
      return v && names(v).length === 3 ? v : undefined;
    }, 'the cookie routes');
    expectValidWeights(vs);
    expect(names(vs)).toEqual([STICKY_CANARY_ROUTE, STICKY_STABLE_ROUTE, 'primary']);
    expect(vs.spec.http![0]!.route).toEqual([{ destination: { host: 'shop', subset: 'canary', port: { number: 8080 } }, weight: 100 }]);
    expect(vs.spec.http![0]!.match![0]!.headers!.cookie!.regex).toContain(`shop-canary=${REL}`);
    expect(vs.spec.http![1]!.match![0]!.headers!.cookie!.regex).toContain(`shop-canary-stable=${REL}`);
    const [stable, canary] = primary(vs).route!;
    expect(stable).toMatchObject({ weight: 80, headers: { response: { add: { 'Set-Cookie': `shop-canary-stable=${REL}; Max-Age=600; Path=/` } } } });
    expect(canary).toMatchObject({ weight: 20, headers: { response: { add: { 'Set-Cookie': `shop-canary=${REL}; Max-Age=600; Path=/` } } } });
  });

  it('an abort takes the cookie routes away: a user holding the canary cookie is routed by the weighted route, all to stable', async () => {
    await mergePatch(k, ROLLOUTS, NS, 'shop', { metadata: { annotations: { [ANNOTATIONS.abort]: REL } } });
    await waitForPhase(k, NS, 'shop', 'RolledBack');
    const vs = await eventually(async () => {
      const v = await vsOf('shop');
      return v && names(v).length === 1 ? v : undefined;
    }, 'the cookie routes to go');
    expect(vs.spec.http).toEqual([{ name: 'primary', route: [{ destination: { host: 'shop', subset: 'stable', port: { number: 8080 } }, weight: 100 }, { destination: { host: 'shop', subset: 'canary', port: { number: 8080 } }, weight: 0 }] }]);
  });

  it('a promotion takes them away too; cookie names with %, regex and token characters are written as Istio accepts them', async () => {
    const cookieName = "a%b.c+d*e|f^g$h'i";
    await gitopsApply(k, rolloutManifest(NS, 'odd', spec('odd', { cookieName, stableCookieName: 'odd~stable' })));
    await waitForPhase(k, NS, 'odd', 'Paused');
    const during = await eventually(async () => {
      const v = await vsOf('odd');
      return v && names(v).length === 3 ? v : undefined;
    }, 'the cookie routes');
    expect(headersOf(primary(during).route![1] as Dest)['Set-Cookie']).toBe(`a%%b.c+d*e|f^g$h'i=${REL}; Max-Age=86400; Path=/`);
    await mergePatch(k, ROLLOUTS, NS, 'odd', { metadata: { annotations: { [ANNOTATIONS.promote]: REL } } });
    await waitForPhase(k, NS, 'odd', 'Promoted');
    const after = await eventually(async () => {
      const v = await vsOf('odd');
      return v && names(v).length === 1 ? v : undefined;
    }, 'the cookie routes to go');
    expect(primary(after).route!.map((d) => d.weight)).toEqual([0, 100]);
    expect(JSON.stringify(after)).not.toContain('Set-Cookie');
  });
});

describe('every shape the renderer makes passes the API server\'s dry run (Istio\'s CRD schema)', () => {
  const cases: [string, Record<string, unknown>, Record<string, unknown>][] = [
    ['plain', { cookieName: 'c' }, {}],
    ['special characters, 400 days', { cookieName: "x!#$%&'*+-.^_`|~9", stableCookieName: 'S.t', maxAge: 34_560_000 }, {}],
    ['with match, gateways and route extras', { cookieName: 'c' }, {
      hosts: ['dry', 'shop.example.com'], gateways: ['mesh', 'edge/public'],
      match: [{ uri: { prefix: '/app' } }, { headers: { 'x-team': { exact: 'a' } } }],
      http: { timeout: '5s', retries: { attempts: 2 }, headers: { response: { set: { 'x-served-by': 'fledge' } } } },
    }],
  ];
  it.each(cases)('%s', async (_name, affinity, vs) => {
    const client = new KubeClient(cluster.adminKubeConfig(), { fieldManager: 'fledge-test' });
    const doc = minimalRollout();
    doc.metadata.namespace = NS;
    doc.metadata.name = 'dry';
    doc.spec.service = { name: 'dry', port: 8080 };
    doc.spec.trafficRouting = { sessionAffinity: affinity, ...(Object.keys(vs).length > 0 ? { virtualService: vs } : {}) };
    const r = resolveValid(doc);
    for (const w of [1, 20, 50, 99]) {
      const obj = renderVirtualService(r, { stableLabels: r.stable.labels, canaryLabels: r.canary.labels, canaryWeight: w });
      expect((obj.spec as { http: unknown[] }).http.length).toBeGreaterThanOrEqual(3);
      await expect(client.applyDryRun(obj)).resolves.toMatchObject({ kind: 'VirtualService' });
    }
  });
});
