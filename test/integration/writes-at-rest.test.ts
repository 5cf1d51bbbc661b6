/**
 * Zero API requests at rest: once a Rollout has converged, a resync (the periodic re-reconcile of
 * every Rollout) must send nothing to the API server. Not a write that changes nothing (a no-op
 * server-side apply still costs the API server a full admission and merge, and says "drift" in
 * our metrics), not a read.
 *
 * Each case adds the shapes most likely to make `applyWouldChange` see drift that is not there,
 * waits for them to converge, then lets the controller resync every Rollout so far a few times
 * (`--resync 1s`) and requires that it made no request at all and changed no object. The cases
 * run in order, so the first shape that writes at rest is the one whose case fails.
 */
import { PatchStrategy, setHeaderOptions, type KubernetesObject } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { requestDelta, scrape, sleep, total, waitQuiet, writesOf } from '../../bench/scale/kit.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import {
  DESTINATION_RULES, ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, getObject, gitopsApply, rolloutManifest,
  testKube, weightsOf, type RolloutLike, type TestKube, type VirtualServiceLike,
} from '../support/kube.ts';

const NS = 'rest';
const RESYNC_MS = 1000;
let cluster: LocalCluster;
let k: TestKube;
let controller: ControllerProcess;

type Obj = KubernetesObject & { spec: Record<string, unknown> };
interface Live { metadata: { name: string; resourceVersion?: string; labels?: Record<string, string>; managedFields?: { manager?: string; operation?: string }[] }; spec: Record<string, unknown>; status?: RolloutLike['status'] & { release?: string } }

/** Every Rollout so far, with the VirtualService/DestinationRule it steers: what must stay put. */
const watched: { rollouts: string[]; vs: string[]; dr: string[] } = { rollouts: [], vs: [], dr: [] };

const rolloutOf = (name: string) => getObject<Live>(k, ROLLOUTS, NS, name);
const vsOf = (name: string) => getObject<Live & VirtualServiceLike>(k, VIRTUAL_SERVICES, NS, name);
const drOf = (name: string) => getObject<Live>(k, DESTINATION_RULES, NS, name);

function spec(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    service: { name: 'web', port: 8080 },
    stable: { labels: { app: 'web', version: 'v1' } },
    canary: { labels: { app: 'web', version: 'v2' } },
    strategy: { steps: [10, 50, 100], interval: '1h' },
    ...extra,
  };
}

async function rollout(name: string, s: Record<string, unknown>, opts: { vs?: string | null; dr?: string | null; annotations?: Record<string, string>; labels?: Record<string, string> } = {}): Promise<void> {
  const obj = rolloutManifest(NS, name, s, opts.annotations);
  if (opts.labels) obj.metadata!.labels = opts.labels;
  await gitopsApply(k, obj);
  watched.rollouts.push(name);
  if (opts.vs !== null) watched.vs.push(opts.vs ?? name);
  if (opts.dr !== null) watched.dr.push(opts.dr ?? name);
}

async function waitPhase(name: string, phase: string, pred: (r: Live) => boolean = () => true): Promise<Live> {
  return eventually(async () => {
    const r = await rolloutOf(name);
    return r?.status?.phase === phase && r.status.observedGeneration === (r.metadata as { generation?: number }).generation && pred(r) ? r : undefined;
  }, `${name} to be ${phase}`, 30_000);
}

async function resourceVersions(): Promise<Record<string, string | undefined>> {
  const out: Record<string, string | undefined> = {};
  for (const n of watched.rollouts) out[`Rollout/${n}`] = (await rolloutOf(n))?.metadata.resourceVersion;
  for (const n of watched.vs) out[`VirtualService/${n}`] = (await vsOf(n))?.metadata.resourceVersion;
  for (const n of watched.dr) out[`DestinationRule/${n}`] = (await drOf(n))?.metadata.resourceVersion;
  return out;
}

/**
 * The check every case ends with: the controller goes quiet, then through three resync periods
 * reconciles every Rollout at least twice and sends no request; no object changes.
 */
async function expectNothingAtRest(): Promise<void> {
  // One that writes at every resync never goes quiet: then the window below says what it sends.
  await waitQuiet(controller.port, 2 * RESYNC_MS + 500, 15_000).catch(() => undefined);
  const rvBefore = await resourceVersions();
  const before = await scrape(controller.port);
  await sleep(3 * RESYNC_MS + 500);
  const after = await scrape(controller.port);
  const delta = requestDelta(before, after);
  const reconciles = total(after, 'fledge_reconcile_total') - total(before, 'fledge_reconcile_total');
  expect(reconciles, 'resyncs reconciled every Rollout').toBeGreaterThanOrEqual(2 * watched.rollouts.length);
  expect(total(after, 'fledge_reconcile_total', (l) => l.result === 'error') - total(before, 'fledge_reconcile_total', (l) => l.result === 'error')).toBe(0);
  expect(writesOf(delta), `writes at rest: ${JSON.stringify(delta)}`).toBe(0);
  expect(delta, 'requests at rest').toEqual({});
  expect(await resourceVersions()).toEqual(rvBefore);
}

beforeAll(async () => {
  cluster = await startTestCluster();
  k = testKube(cluster.kubeconfigPath);
  await createNamespace(k, NS);
  controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ['--resync', `${RESYNC_MS}ms`], env: { LOG_LEVEL: 'info' } });
});

afterAll(async () => {
  await controller?.stop();
  await cluster?.stop();
});

describe('a converged controller makes no API request at resync', () => {
  it('generated objects, no passthrough; Rollout labels and annotations', async () => {
    await rollout('plain', spec(), {
      labels: { team: 'shop', 'app.kubernetes.io/part-of': 'web' },
      annotations: { 'argocd.argoproj.io/tracking-id': 'shop:fledge.dev/Rollout:rest/plain', note: 'x' },
    });
    await waitPhase('plain', 'Progressing', (r) => r.status?.canaryWeight === 10);
    await eventually(async () => weightsOf((await vsOf('plain'))!).canary === 10, 'plain at 90/10');
    await expectNothingAtRest();
  }, 60_000);

  it('DestinationRule with nested trafficPolicy passthrough (connectionPool, outlierDetection, consistentHash, portLevelSettings, tls)', async () => {
    await rollout('nested', spec({
      service: { name: 'nested', port: 8080 },
      trafficRouting: {
        destinationRule: {
          trafficPolicy: {
            connectionPool: {
              tcp: { maxConnections: 100, connectTimeout: '30ms', tcpKeepalive: { time: '7200s', interval: '75s' } },
              http: { http1MaxPendingRequests: 10, http2MaxRequests: 100, maxRequestsPerConnection: 1, maxRetries: 0, idleTimeout: '30s', h2UpgradePolicy: 'UPGRADE' },
            },
            outlierDetection: { consecutive5xxErrors: 5, consecutiveGatewayErrors: 3, interval: '10s', baseEjectionTime: '30s', maxEjectionPercent: 50.0, minHealthPercent: 10, splitExternalLocalOriginErrors: false },
            loadBalancer: { consistentHash: { httpHeaderName: 'x-user', minimumRingSize: 1024 }, localityLbSetting: { enabled: true } },
            portLevelSettings: [{ port: { number: 8080 }, loadBalancer: { simple: 'LEAST_REQUEST' } }],
            tls: { mode: 'ISTIO_MUTUAL' },
          },
        },
      },
    }));
    await rollout('cookie', spec({
      service: { name: 'cookie' },
      trafficRouting: { destinationRule: { trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: { name: 'user', path: '/', ttl: '0s' } } }, connectionPool: { http: {} } } } },
    }));
    // An empty trafficPolicy: Fledge sets none (a GitOps tool adds one below).
    await rollout('empty-policy', spec({ service: { name: 'empty-policy' }, trafficRouting: { destinationRule: { trafficPolicy: {} } } }));
    for (const n of ['nested', 'cookie', 'empty-policy']) await waitPhase(n, 'Progressing', (r) => r.status?.canaryWeight === 10);
    const dr = (await drOf('nested'))!;
    expect((dr.spec.trafficPolicy as { connectionPool: { http: unknown } }).connectionPool.http).toMatchObject({ http1MaxPendingRequests: 10, maxRetries: 0 });
    await expectNothingAtRest();
  }, 60_000);

  it('VirtualService with match, gateways and http passthrough (retries, headers, corsPolicy, mirror)', async () => {
    await rollout('routes', spec({
      service: { name: 'routes', port: 8080 },
      trafficRouting: {
        virtualService: {
          hosts: ['routes', 'routes.example.com'],
          gateways: ['mesh', 'istio-system/public'],
          match: [{ headers: { 'user-agent': { regex: '.*iphone.*' } }, uri: { prefix: '/api' } }],
          http: {
            timeout: '5s',
            retries: { attempts: 3, perTryTimeout: '2s', retryOn: '5xx,connect-failure' },
            headers: { request: { set: { 'x-canary': 'maybe' } }, response: { remove: ['x-internal'] } },
            corsPolicy: { allowOrigins: [{ exact: 'https://example.com' }], allowMethods: ['GET', 'POST'], maxAge: '24h' },
            mirror: { host: 'routes-shadow' },
            mirrorPercentage: { value: 5.5 },
          },
        },
      },
    }));
    await waitPhase('routes', 'Progressing', (r) => r.status?.canaryWeight === 10);
    await expectNothingAtRest();
  }, 60_000);

  it('phases at rest: Paused (manual step, annotation), Promoted, RolledBack, Invalid, Pending', async () => {
    await rollout('manual', spec({ service: { name: 'manual' }, strategy: { steps: [{ weight: 20, pause: 'manual' }, 100], interval: '1s' } }));
    await rollout('held', spec({ service: { name: 'held' } }), { annotations: { 'fledge.dev/paused': 'true' } });
    await rollout('done', spec({ service: { name: 'done' }, strategy: { steps: [50, 100], interval: '1s' } }));
    await rollout('aborted', spec({ service: { name: 'aborted' } }));
    await rollout('broken', spec({ service: { name: 'broken' }, strategy: { steps: [10, 60, 50], interval: '1s' } }), { vs: null, dr: null });
    // A passthrough value Istio's schema refuses: Invalid after the dry run, which must not repeat.
    await rollout('refused', spec({ service: { name: 'refused' }, trafficRouting: { destinationRule: { trafficPolicy: { loadBalancer: { simple: 'NOT_A_POLICY' } } } } }), { vs: null, dr: null });
    await rollout('waiting', spec({ service: { name: 'waiting' }, trafficRouting: { virtualService: { ref: 'not-yet' } } }), { vs: null, dr: null });
    await waitPhase('manual', 'Paused');
    await waitPhase('held', 'Paused');
    await waitPhase('done', 'Promoted');
    const release = (await waitPhase('aborted', 'Progressing')).status!.release!;
    await k.co.patchNamespacedCustomObject({ ...ROLLOUTS, namespace: NS, name: 'aborted', body: { metadata: { annotations: { 'fledge.dev/abort': release } } }, fieldManager: 'kubectl-fledge' }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await waitPhase('aborted', 'RolledBack');
    await waitPhase('broken', 'Invalid');
    await waitPhase('refused', 'Invalid');
    await waitPhase('waiting', 'Pending');
    await expectNothingAtRest();
  }, 60_000);

  it('adopted VirtualService and DestinationRule owned by a GitOps tool; adopted VirtualService with a generated DestinationRule', async () => {
    const example = (file: string): Obj => {
      const obj = parse(readFileSync(new URL(`../../examples/adopted/product/${file}.yaml`, import.meta.url), 'utf8')) as Obj;
      obj.metadata!.namespace = NS;
      return obj;
    };
    // The product example: a named weighted route and a default route, both the team's.
    const vsObj = example('virtual-service');
    const drObj = example('destination-rule');
    await gitopsApply(k, vsObj, 'argocd-controller');
    await gitopsApply(k, drObj, 'argocd-controller');
    const adopted = example('rollout');
    await rollout('product-service', adopted.spec, { vs: 'product-service', dr: 'product-service' });
    await gitopsApply(k, {
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'team-vs', namespace: NS },
      spec: {
        hosts: ['team'], exportTo: ['.'],
        http: [{ name: 'main', retries: { attempts: 2 }, timeout: '3s', route: [{ destination: { host: 'team', subset: 'stable' }, weight: 100 }, { destination: { host: 'team', subset: 'canary' }, weight: 0 }] }],
      },
    } as Obj, 'argocd-controller');
    await rollout('team', spec({
      service: { name: 'team' },
      stable: { labels: { app: 'team', version: 'v1' } },
      canary: { labels: { app: 'team', version: 'v2' } },
      trafficRouting: { virtualService: { ref: 'team-vs' }, destinationRule: { trafficPolicy: { outlierDetection: { consecutive5xxErrors: 3 } } } },
    }), { vs: 'team-vs' });
    await waitPhase('product-service', 'Progressing', (r) => r.status?.canaryWeight === 20);
    await waitPhase('team', 'Progressing', (r) => r.status?.canaryWeight === 10);
    await eventually(async () => weightsOf((await vsOf('team-vs'))!).canary === 10, 'team-vs at 90/10');
    await expectNothingAtRest();
  }, 60_000);

  it('generated objects where a GitOps tool and kubectl own other fields (labels, annotations, exportTo, trafficPolicy keys)', async () => {
    const gitops = (kind: 'VirtualService' | 'DestinationRule', name: string, body: { metadata?: Record<string, unknown>; spec?: Record<string, unknown> }) =>
      gitopsApply(k, { apiVersion: 'networking.istio.io/v1', kind, metadata: { name, namespace: NS, ...body.metadata }, ...(body.spec ? { spec: body.spec } : {}) } as Obj, 'argocd-controller');
    await gitops('VirtualService', 'plain', { metadata: { labels: { team: 'shop' }, annotations: { 'argocd.argoproj.io/tracking-id': 'shop:networking.istio.io/VirtualService:rest/plain' } }, spec: { exportTo: ['.', 'istio-system'] } });
    await gitops('DestinationRule', 'plain', { metadata: { labels: { team: 'shop' } }, spec: { exportTo: ['.'] } });
    // A key beside Fledge's in a trafficPolicy that Fledge also sets, at two depths.
    await gitops('DestinationRule', 'nested', { spec: { trafficPolicy: { connectionPool: { http: { maxConcurrentStreams: 100 } }, loadBalancer: { warmupDurationSecs: '30s' } } } });
    await gitops('DestinationRule', 'cookie', { spec: { trafficPolicy: { connectionPool: { http: { useClientProtocol: true } } } } });
    // The same value Fledge sets: shared ownership.
    await gitops('DestinationRule', 'team', { spec: { host: 'team', trafficPolicy: { outlierDetection: { consecutive5xxErrors: 3 } } } });
    // A trafficPolicy where the Rollout's is empty (Fledge sets none).
    await gitops('DestinationRule', 'empty-policy', { spec: { trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } } });
    await k.co.patchNamespacedCustomObject({ ...VIRTUAL_SERVICES, namespace: NS, name: 'routes', body: { metadata: { annotations: { owner: 'someone' }, labels: { tier: 'front' } } }, fieldManager: 'kubectl-edit' }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await eventually(async () => ((await drOf('empty-policy'))?.spec.trafficPolicy as { tls?: unknown } | undefined)?.tls !== undefined, 'the GitOps key in empty-policy');
    await expectNothingAtRest();
    // Theirs, still there: nothing was put back.
    expect((await vsOf('plain'))!.spec.exportTo).toEqual(['.', 'istio-system']);
    expect(((await drOf('nested'))!.spec.trafficPolicy as { connectionPool: { http: Record<string, unknown> } }).connectionPool.http.maxConcurrentStreams).toBe(100);
    expect(((await drOf('empty-policy'))!.spec.trafficPolicy as { tls?: unknown }).tls).toEqual({ mode: 'ISTIO_MUTUAL' });
  }, 60_000);

  it('a controller started on converged objects makes no write at all', async () => {
    await controller.stop();
    controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ['--resync', `${RESYNC_MS}ms`], env: { LOG_LEVEL: 'info' } });
    const rvBefore = await resourceVersions();
    await waitQuiet(controller.port, 2 * RESYNC_MS + 500, 15_000).catch(() => undefined);
    const sinceStart = requestDelta(new Map(), await scrape(controller.port));
    // One list per resource; no write. Dry runs only for the Rollouts whose status does not show
    // their generation routed (Invalid, Pending): the others' objects passed one before the restart.
    expect(writesOf(Object.fromEntries(Object.entries(sinceStart).filter(([key]) => !key.startsWith('apply-dry-run '))))).toBe(0);
    const dryRuns = Object.entries(sinceStart).filter(([key]) => key.startsWith('apply-dry-run ')).reduce((n, [, v]) => n + v, 0);
    const statuses = await Promise.all(watched.rollouts.map(async (name) => (await rolloutOf(name))?.status));
    const routed = statuses.filter((st) => ['Progressing', 'Paused', 'Promoted', 'RolledBack'].includes(st?.phase ?? '')).length;
    expect(routed).toBeGreaterThan(3);
    expect(dryRuns).toBeLessThanOrEqual(2 * (watched.rollouts.length - routed));
    expect(await resourceVersions()).toEqual(rvBefore);
    await expectNothingAtRest();
  }, 60_000);
});
