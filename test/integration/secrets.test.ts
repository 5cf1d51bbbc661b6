/**
 * Prometheus credentials never leak. The real controller runs at LOG_LEVEL=debug as the
 * ServiceAccount deploy/base binds (no Secret access at all), with two Prometheus providers whose
 * bearer tokens come from files, as the chart mounts them from Secrets: one Prometheus accepts its
 * token, the other refuses it and echoes it back in its error (as a misbehaving proxy might), in
 * its body and a header. None of the token values may appear in the controller's output, in an
 * Event, or in any Rollout, VirtualService or DestinationRule; the tokens must really have been
 * sent (the fake Prometheus checks them), so the test cannot pass by not reading them.
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
import { DESTINATION_RULES, ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, getObject, gitopsApply, queryOnlySpec, rolloutManifest, testKube, type RolloutLike, type TestKube } from '../support/kube.ts';

const NS = 'shop';
const SA = 'system:serviceaccount:fledge-system:fledge';
const DEPLOY_BASE = fileURLToPath(new URL('../../deploy/base', import.meta.url));
const token = (what: string) => `${what}-${randomBytes(18).toString('hex')}`;
const TOKENS = { file: token('file-token'), echoed: token('echoed-token') };

let cluster: LocalCluster;
let k: TestKube;
let controller: ControllerProcess;
let prometheus: Server;
let promUrl = '';
let echoUrl = '';
let echo: Server;
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
 * A Prometheus HTTP API that demands a bearer token: the good token gets a sample of 0 for any
 * query. The echoing one refuses every token, repeating it in a header and in Prometheus's own
 * error field (the one part of a body the controller may quote).
 */
async function startFakePrometheus(): Promise<void> {
  prometheus = createServer((req, res) => {
    const auth = req.headers.authorization ?? '';
    seen.add(auth);
    if (auth !== `Bearer ${TOKENS.file}`) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': `Bearer error="invalid_token" token="${auth}"` }).end(`refused credentials: ${auth}`);
      return;
    }
    const body = { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [Date.now() / 1000, '0'] }] } };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  echo = createServer((req, res) => {
    const auth = req.headers.authorization ?? '';
    seen.add(auth);
    res.writeHead(500, { 'content-type': 'application/json', 'www-authenticate': `Bearer token="${auth}"` })
      .end(JSON.stringify({ status: 'error', errorType: 'internal', error: `refused credentials: ${auth}` }));
  });
  const listen = (server: Server) => new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
  [promUrl, echoUrl] = await Promise.all([listen(prometheus), listen(echo)]);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fledge-secrets-'));
  writeFileSync(join(dir, 'token'), `${TOKENS.file}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'echoed'), TOKENS.echoed, { mode: 0o600 });
  const base = await kustomize(DEPLOY_BASE);
  await startFakePrometheus();
  cluster = await startTestCluster({ users: [{ name: SA, groups: ['system:serviceaccounts', 'system:serviceaccounts:fledge-system', 'system:authenticated'] }] });
  k = testKube(cluster.kubeconfigPath);
  await createNamespace(k, NS);
  const rbac = base.filter((o) => ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(o.kind!));
  const order = ['Namespace', 'ServiceAccount', 'ClusterRole', 'Role', 'ClusterRoleBinding', 'RoleBinding'];
  for (const o of rbac.sort((a, b) => order.indexOf(a.kind!) - order.indexOf(b.kind!))) await gitopsApply(k, o, 'kubectl');
  // The providers as the chart renders them: credentials from files (mounted Secrets there).
  writeFileSync(join(dir, 'prometheus.yaml'), JSON.stringify({
    providers: [
      { name: 'secured', address: promUrl, auth: { type: 'bearer', file: join(dir, 'token') } },
      { name: 'echoing', address: echoUrl, auth: { type: 'bearer', file: join(dir, 'echoed') } },
    ],
  }));
  controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigFor(SA), args: ['--namespace', NS, '--resync', '30s', '--prometheus-config', join(dir, 'prometheus.yaml')], env: { LOG_LEVEL: 'debug' } });
});

afterAll(async () => {
  await controller?.stop();
  await cluster?.stop();
  for (const server of [prometheus, echo]) await new Promise((r) => (server ? server.close(r) : r(undefined)));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('never shows a Prometheus token in logs (debug), Events, status or generated objects', async () => {
  await gitopsApply(k, rolloutManifest(NS, 'from-file', queryOnlySpec('from-file', { provider: 'secured', timeout: '2s' })));
  await gitopsApply(k, rolloutManifest(NS, 'echoed', queryOnlySpec('echoed', { provider: 'echoing', timeout: '2s' })));

  for (const name of ['from-file']) {
    const r = await eventually(async () => {
      const x = await getObject<RolloutLike & { status?: { lastAnalysis?: { verdict: string } } }>(k, ROLLOUTS, NS, name);
      return x?.status?.phase === 'Promoted' ? x : undefined;
    }, `${name} to be promoted through its analyses`, 45_000, 250);
    expect(r.status?.lastAnalysis?.verdict).toBe('pass');
  }
  // The refused one is judged inconclusive when its step is over (never a pass), with the
  // reason, minus the token.
  type Judged = RolloutLike & { status?: { lastAnalysis?: { verdict: string; final?: boolean; reason: string; metrics: { reason: string }[] } } };
  const echoed = await eventually(async () => {
    const x = await getObject<Judged>(k, ROLLOUTS, NS, 'echoed');
    return x?.status?.lastAnalysis?.final ? x : undefined;
  }, 'the refused analysis', 30_000, 250);
  expect(echoed.status?.phase).not.toBe('Promoted');
  expect(echoed.status?.lastAnalysis?.verdict).toBe('inconclusive');
  expect(echoed.status?.lastAnalysis?.metrics[0]?.reason).toMatch(/failed \(internal, HTTP 500\): refused credentials: Bearer <redacted>$/);
  if (process.env.FLEDGE_TEST_LOGS) process.stderr.write(`refused analysis: ${echoed.status?.lastAnalysis?.metrics[0]?.reason}\n`);

  // The tokens were really read and sent (the file's without its newline).
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
