/**
 * Prometheus credentials never leak. The real controller runs at LOG_LEVEL=debug as the
 * ServiceAccount deploy/base binds, with `get` on the credential Secrets granted by a Role as
 * docs/install.md describes, through analyses that authenticate with a bearer token from a Secret
 * and from a file, and against a Prometheus that echoes the credentials it refuses (as a
 * misbehaving proxy might). None of the token values may appear in the controller's output, in
 * an Event, or in any Rollout, VirtualService or DestinationRule; the tokens must really have
 * been sent (the fake Prometheus checks them), so the test cannot pass by not reading them.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import { DESTINATION_RULES, ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, getObject, gitopsApply, rolloutManifest, testKube, type RolloutLike, type TestKube } from '../support/kube.ts';

const NS = 'shop';
const SA = 'system:serviceaccount:fledge-system:fledge';
const DEPLOY_BASE = fileURLToPath(new URL('../../deploy/base', import.meta.url));
const token = (what: string) => `${what}-${randomBytes(18).toString('hex')}`;
const TOKENS = { secret: token('secret-token'), file: token('file-token'), echoed: token('echoed-token') };

let cluster: LocalCluster;
let k: TestKube;
let controller: ControllerProcess;
let prometheus: Server;
let promUrl = '';
let dir = '';
/** Authorization headers the fake Prometheus received. */
const seen = new Set<string>();

/** `kubectl kustomize DIR` as objects (rbac.test.ts does the same; kubectl is needed there too). */
function kustomize(path: string): Promise<KubernetesObject[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.env.KUBECTL ?? 'kubectl', ['kustomize', path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(parseAllDocuments(out).map((d) => d.toJS() as KubernetesObject).filter(Boolean)) : reject(new Error(`kubectl kustomize failed (${code}): ${err}`))));
  });
}

/**
 * A Prometheus HTTP API that demands a bearer token: the two good tokens get a sample of 0 for
 * any query; anything else gets a 401 whose body repeats the Authorization header it refused.
 */
function startFakePrometheus(): Promise<void> {
  prometheus = createServer((req, res) => {
    const auth = req.headers.authorization ?? '';
    seen.add(auth);
    if (auth !== `Bearer ${TOKENS.secret}` && auth !== `Bearer ${TOKENS.file}`) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': `Bearer error="invalid_token" token="${auth}"` }).end(`refused credentials: ${auth}`);
      return;
    }
    const body = { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [Date.now() / 1000, '0'] }] } };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  return new Promise((resolve) => prometheus.listen(0, '127.0.0.1', () => {
    promUrl = `http://127.0.0.1:${(prometheus.address() as AddressInfo).port}`;
    resolve();
  }));
}

function spec(service: string, auth: Record<string, unknown>): Record<string, unknown> {
  return {
    service: { name: service },
    stable: { labels: { app: service, version: 'v1' } },
    canary: { labels: { app: service, version: 'v2' } },
    strategy: { steps: [50, 100], interval: '2s' },
    analysis: {
      prometheus: { address: promUrl, timeout: '2s', auth },
      metrics: [{ name: 'saturation', query: 'max(up{service="{{service}}"})', max: 1 }],
      comparison: { enabled: false },
      minRequests: 0,
      checkInterval: '1s',
    },
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fledge-secrets-'));
  writeFileSync(join(dir, 'token'), `${TOKENS.file}\n`, { mode: 0o600 });
  const base = await kustomize(DEPLOY_BASE);
  await startFakePrometheus();
  cluster = await startTestCluster({ users: [{ name: SA, groups: ['system:serviceaccounts', 'system:serviceaccounts:fledge-system', 'system:authenticated'] }] });
  k = testKube(cluster.kubeconfigPath);
  await createNamespace(k, NS);
  const rbac = base.filter((o) => ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(o.kind!));
  const order = ['Namespace', 'ServiceAccount', 'ClusterRole', 'Role', 'ClusterRoleBinding', 'RoleBinding'];
  for (const o of rbac.sort((a, b) => order.indexOf(a.kind!) - order.indexOf(b.kind!))) await gitopsApply(k, o, 'kubectl');
  // docs/install.md, "Prometheus credentials in a Secret": get on the named Secrets, nothing else.
  await gitopsApply(k, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'fledge-prometheus-secrets', namespace: NS },
    rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: ['prometheus-token', 'prometheus-echo'], verbs: ['get'] }],
  } as KubernetesObject, 'kubectl');
  await gitopsApply(k, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'fledge-prometheus-secrets', namespace: NS },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'fledge-prometheus-secrets' },
    subjects: [{ kind: 'ServiceAccount', name: 'fledge', namespace: 'fledge-system' }],
  } as KubernetesObject, 'kubectl');
  for (const [name, value] of [['prometheus-token', TOKENS.secret], ['prometheus-echo', TOKENS.echoed]] as const) {
    await k.core.createNamespacedSecret({ namespace: NS, body: { metadata: { name }, stringData: { token: value } } });
  }
  controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigFor(SA), args: ['--namespace', NS, '--resync', '30s'], env: { LOG_LEVEL: 'debug' } });
});

afterAll(async () => {
  await controller?.stop();
  await cluster?.stop();
  await new Promise((r) => (prometheus ? prometheus.close(r) : r(undefined)));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('never shows a Prometheus token in logs (debug), Events, status or generated objects', async () => {
  await gitopsApply(k, rolloutManifest(NS, 'from-secret', spec('from-secret', { type: 'bearer', secretRef: { name: 'prometheus-token', key: 'token' } })));
  await gitopsApply(k, rolloutManifest(NS, 'from-file', spec('from-file', { type: 'bearer', file: join(dir, 'token') })));
  await gitopsApply(k, rolloutManifest(NS, 'echoed', spec('echoed', { type: 'bearer', secretRef: { name: 'prometheus-echo', key: 'token' } })));

  for (const name of ['from-secret', 'from-file']) {
    const r = await eventually(async () => {
      const x = await getObject<RolloutLike & { status?: { lastAnalysis?: { verdict: string } } }>(k, ROLLOUTS, NS, name);
      return x?.status?.phase === 'Promoted' ? x : undefined;
    }, `${name} to be promoted through its analyses`, 45_000, 250);
    expect(r.status?.lastAnalysis?.verdict).toBe('pass');
  }
  // The refused one is judged inconclusive (never a pass), with the reason, minus the token.
  const echoed = await eventually(async () => {
    const x = await getObject<RolloutLike & { status?: { lastAnalysis?: { verdict: string; reason: string } } }>(k, ROLLOUTS, NS, 'echoed');
    return x?.status?.lastAnalysis ? x : undefined;
  }, 'the refused analysis', 30_000, 250);
  expect(echoed.status?.phase).not.toBe('Promoted');
  expect(echoed.status?.lastAnalysis?.verdict).toBe('inconclusive');
  expect(echoed.status?.lastAnalysis?.reason).toMatch(/401|unauthori[sz]ed|credentials/i);
  if (process.env.FLEDGE_TEST_LOGS) process.stderr.write(`refused analysis: ${echoed.status?.lastAnalysis?.reason}\n`);

  // The tokens were really read and sent (the file's without its newline).
  expect(seen).toContain(`Bearer ${TOKENS.secret}`);
  expect(seen).toContain(`Bearer ${TOKENS.file}`);
  expect(seen).toContain(`Bearer ${TOKENS.echoed}`);
  expect(controller.logs.some((l) => l.level === 'debug'), 'the controller logs at debug').toBe(true);
  expect(controller.raw.filter((l) => /forbidden/i.test(l)), 'RBAC refused the controller something').toEqual([]);

  const everywhere: [string, string][] = [['controller output', controller.raw.join('\n')]];
  const events = await k.events.listNamespacedEvent({ namespace: NS });
  everywhere.push(['Events', JSON.stringify(events.items)]);
  expect(events.items.length).toBeGreaterThan(0);
  for (const ref of [ROLLOUTS, VIRTUAL_SERVICES, DESTINATION_RULES]) {
    everywhere.push([ref.plural, JSON.stringify(await k.co.listNamespacedCustomObject({ ...ref, namespace: NS }))]);
  }
  const leaks: string[] = [];
  for (const [where, text] of everywhere) {
    for (const [which, value] of Object.entries(TOKENS)) if (text.includes(value)) leaks.push(`the ${which} token appears in ${where}`);
    // Nor the controller's own API credentials.
    if (text.includes(cluster.tokenFor(SA))) leaks.push(`the controller's bearer token appears in ${where}`);
  }
  expect(leaks).toEqual([]);
}, 90_000);
