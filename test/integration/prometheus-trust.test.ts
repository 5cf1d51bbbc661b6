/**
 * A Rollout's author cannot aim the controller's reads or credentials (docs/security.md). The real
 * controller, on a real API server, with the providers a platform team would configure:
 * `--prometheus-address` (the default provider, no credentials) and `--prometheus-config` (a
 * provider whose bearer token is a file, and three allowed addresses). Loopback HTTP servers play
 * each part: the two Prometheus servers, an "attacker" endpoint (as a cloud metadata service would
 * be), and non-Prometheus endpoints that answer plain text, HTML and JSON of another shape.
 *
 * - Rollouts naming an address outside the allowed set, or any credential file or Secret, are
 *   Invalid naming the field and the setting, and the attacker endpoint receives no request at all.
 * - A Rollout with no Prometheus block is judged from the default provider and promoted.
 * - The provider's token is sent to its own address and nowhere else.
 * - Whatever a non-Prometheus endpoint answers never reaches status, Events or the logs.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import { DESTINATION_RULES, ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, getObject, gitopsApply, queryOnlySpec, rolloutManifest, testKube, type RolloutLike, type TestKube } from '../support/kube.ts';

const NS = 'shop';
const TOKEN = `provider-token-${randomBytes(16).toString('hex')}`;
/** In every body the non-Prometheus endpoints and the attacker answer: it must never come back. */
const LEAK = `leak-${randomBytes(8).toString('hex')}`;

interface Seen { path: string; authorization: string | undefined }
interface Endpoint { url: string; seen: Seen[]; server: Server }

let cluster: LocalCluster;
let k: TestKube;
let controller: ControllerProcess;
let dir = '';
const endpoints: Endpoint[] = [];

function serve(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<Endpoint> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', authorization: req.headers.authorization });
    answer(req, res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const e = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
    endpoints.push(e);
    resolve(e);
  }));
}

const sample = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' })
  .end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [Date.now() / 1000, '0'] }] } }));

let defaultProm: Endpoint;
let securedProm: Endpoint;
let attacker: Endpoint;
let foreign: Endpoint;

type Spec = Record<string, unknown>;
type Status = RolloutLike & { status?: { lastAnalysis?: { verdict: string; reason: string; metrics?: { reason: string }[] } } };
const rolloutOf = (name: string) => getObject<Status>(k, ROLLOUTS, NS, name);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fledge-prom-trust-'));
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  defaultProm = await serve((_req, res) => sample(res));
  securedProm = await serve((req, res) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) res.writeHead(401, { 'content-type': 'text/plain' }).end('unauthorized');
    else sample(res);
  });
  attacker = await serve((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`ami-id\n${LEAK}\n`));
  foreign = await serve((req, res) => {
    if (req.url?.startsWith('/text/')) res.writeHead(200, { 'content-type': 'text/plain' }).end(`root:x:0:0:${LEAK}`);
    else if (req.url?.startsWith('/html/')) res.writeHead(200, { 'content-type': 'text/html' }).end(`<html><body>${LEAK}</body></html>`);
    else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ Code: 'Success', AccessKeyId: LEAK, status: LEAK, error: LEAK }));
  });
  writeFileSync(join(dir, 'prometheus.yaml'), [
    'providers:',
    `  - {name: secured, address: "${securedProm.url}", auth: {type: bearer, file: "${join(dir, 'token')}"}}`,
    `allowedAddresses: ["${foreign.url}/text", "${foreign.url}/html", "${foreign.url}/json"]`,
  ].join('\n'));
  cluster = await startTestCluster();
  k = testKube(cluster.kubeconfigPath);
  await createNamespace(k, NS);
  controller = await ControllerProcess.start({
    kubeconfig: cluster.kubeconfigPath,
    args: ['--namespace', NS, '--resync', '30s', '--prometheus-address', defaultProm.url, '--prometheus-config', join(dir, 'prometheus.yaml')],
    env: { LOG_LEVEL: 'debug' },
  });
}, 60_000);

afterAll(async () => {
  await controller?.stop();
  await cluster?.stop();
  for (const e of endpoints) {
    e.server.closeAllConnections();
    await new Promise((r) => e.server.close(r));
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('judges only from the configured providers, sends a provider\'s token only to its own address, and repeats nothing a foreign endpoint answers', async () => {
  // refused: by the CRD's CEL rules at create time (src/api/cel.ts), the rest by the controller.
  const hostile: { name: string; prometheus: Spec; field: string; says: RegExp; refused?: true }[] = [
    { name: 'metadata', prometheus: { address: `${attacker.url}/latest/meta-data` }, field: 'spec.analysis.prometheus.address', says: /not a Prometheus this controller may query.*--prometheus-config/ },
    { name: 'sa-token', prometheus: { address: attacker.url, auth: { type: 'bearer', file: '/var/run/secrets/kubernetes.io/serviceaccount/token' } }, field: 'spec.analysis.prometheus.auth.file', says: /may not name a credential file/, refused: true },
    { name: 'provider-file', prometheus: { provider: 'secured', auth: { type: 'bearer', file: join(dir, 'token') } }, field: 'spec.analysis.prometheus.auth.file', says: /providers\[\]\.auth\.file/, refused: true },
    { name: 'secret', prometheus: { address: attacker.url, auth: { type: 'bearer', secretRef: { name: 'prometheus', key: 'token' } } }, field: 'spec.analysis.prometheus.auth.secretRef', says: /no longer read/, refused: true },
    { name: 'below-provider', prometheus: { address: `${securedProm.url}/admin` }, field: 'spec.analysis.prometheus.address', says: /not a Prometheus/ },
    { name: 'other-port', prometheus: { address: attacker.url.replace(/:\d+$/, ':1') }, field: 'spec.analysis.prometheus.address', says: /not a Prometheus/ },
    { name: 'unknown-provider', prometheus: { provider: 'attacker' }, field: 'spec.analysis.prometheus.provider', says: /no Prometheus provider "attacker".*available here: default, secured/ },
  ];
  for (const h of hostile) {
    const applied = gitopsApply(k, rolloutManifest(NS, h.name, queryOnlySpec(h.name, h.prometheus)));
    if (!h.refused) {
      await applied;
      continue;
    }
    const message = await applied.then(() => 'accepted', (err: { body?: unknown }) => String(err.body));
    expect(message, h.name).toContain(`${h.field}: Invalid value: `);
    expect(message, h.name).toMatch(h.says);
  }
  await gitopsApply(k, rolloutManifest(NS, 'by-default', queryOnlySpec('by-default')));
  await gitopsApply(k, rolloutManifest(NS, 'by-provider', queryOnlySpec('by-provider', { provider: 'secured', timeout: '2s' })));
  // A Rollout from before providers, naming the provider's own address: that provider, its token.
  await gitopsApply(k, rolloutManifest(NS, 'by-address', queryOnlySpec('by-address', { address: `${securedProm.url}/` })));
  for (const kind of ['text', 'html', 'json']) await gitopsApply(k, rolloutManifest(NS, `foreign-${kind}`, queryOnlySpec(`foreign-${kind}`, { address: `${foreign.url}/${kind}` })));

  for (const h of hostile.filter((x) => !x.refused)) {
    const r = await eventually(async () => {
      const x = await rolloutOf(h.name);
      return x?.status?.phase ? x : undefined;
    }, `${h.name} to get a phase`, 20_000, 100);
    expect(r.status?.phase, h.name).toBe('Invalid');
    expect(r.status?.message, h.name).toContain(`${h.field}:`);
    expect(r.status?.message, h.name).toMatch(h.says);
    expect(await getObject(k, VIRTUAL_SERVICES, NS, h.name), `${h.name}: no VirtualService`).toBeUndefined();
  }
  for (const name of ['by-default', 'by-provider', 'by-address']) {
    const r = await eventually(async () => {
      const x = await rolloutOf(name);
      return x?.status?.phase === 'Promoted' ? x : undefined;
    }, `${name} to be promoted through its analyses`, 45_000, 250);
    expect(r.status?.lastAnalysis?.verdict, name).toBe('pass');
  }
  // Each foreign endpoint was queried and judged inconclusive, described by status and type only.
  const foreignReasons: string[] = [];
  for (const kind of ['text', 'html', 'json']) {
    const r = await eventually(async () => {
      const x = await rolloutOf(`foreign-${kind}`);
      return x?.status?.lastAnalysis ? x : undefined;
    }, `foreign-${kind} to be judged`, 30_000, 250);
    expect(r.status?.lastAnalysis?.verdict).toBe('inconclusive');
    const reasons = JSON.stringify(r.status?.lastAnalysis);
    expect(reasons).toMatch(new RegExp(`answered HTTP 200 OK \\(${kind === 'text' ? 'text/plain' : kind === 'html' ? 'text/html' : 'application/json'}\\), which is not the Prometheus query API's JSON`));
    foreignReasons.push(reasons);
  }
  if (process.env.FLEDGE_TEST_LOGS) process.stderr.write(`${foreignReasons.join('\n')}\n`);

  // The attacker's endpoint was never asked anything, however many reconciles went by.
  expect(attacker.seen).toEqual([]);
  expect(defaultProm.seen.length).toBeGreaterThan(0);
  expect(securedProm.seen.length).toBeGreaterThan(0);
  // The token went to its own provider with every query, and nowhere else.
  expect(securedProm.seen.every((s) => s.authorization === `Bearer ${TOKEN}`)).toBe(true);
  for (const e of [defaultProm, foreign]) expect(e.seen.map((s) => s.authorization).filter(Boolean), e.url).toEqual([]);
  expect(foreign.seen.map((s) => s.path.split('/')[1]).sort().filter((p, i, a) => a.indexOf(p) === i)).toEqual(['html', 'json', 'text']);

  // Nothing an endpoint answered, nor the token, is in status, Events or logs.
  const everywhere: [string, string][] = [['controller output', controller.raw.join('\n')]];
  const events = await k.events.listNamespacedEvent({ namespace: NS });
  expect(events.items.length).toBeGreaterThan(0);
  everywhere.push(['Events', JSON.stringify(events.items)]);
  for (const ref of [ROLLOUTS, VIRTUAL_SERVICES, DESTINATION_RULES]) {
    everywhere.push([ref.plural, JSON.stringify(await k.co.listNamespacedCustomObject({ ...ref, namespace: NS }))]);
  }
  const leaks = everywhere.flatMap(([where, text]) => [
    ...(text.includes(LEAK) ? [`a foreign body appears in ${where}`] : []),
    ...(text.includes(TOKEN) ? [`the provider's token appears in ${where}`] : []),
  ]);
  expect(leaks).toEqual([]);
  expect(controller.logs.some((l) => l.level === 'debug'), 'the controller logs at debug').toBe(true);
}, 120_000);

it('refuses to start on a provider configuration it cannot use, naming the setting', async () => {
  writeFileSync(join(dir, 'bad.yaml'), 'providers: [{name: default, address: "http://u:p@prometheus:9090"}]');
  const bad = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ['--prometheus-config', join(dir, 'bad.yaml')], until: '__never__', timeoutMs: 15_000 }).catch((err: Error) => err);
  expect(bad).toBeInstanceOf(Error);
  expect((bad as Error).message).toMatch(/controller exited \(\d+\)[\s\S]*--prometheus-config .*bad\.yaml: providers\.0\.address: must be an http/);
  expect((bad as Error).message).not.toContain('u:p@');
}, 30_000);
