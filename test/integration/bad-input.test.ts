/**
 * A corpus of invalid and hostile Rollouts against the real API server and controller. Each is
 * either refused by the CRD's schema or its CEL rules at create time (the API server's message
 * names the field; a rule on a list names the list),
 * or accepted by the API server and then marked Invalid by the controller with a message naming
 * the field; for none of them is a VirtualService or DestinationRule written. A valid rollout
 * created before the corpus keeps progressing to Promoted meanwhile, and the controller neither
 * crashes nor spins.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import {
  DESTINATION_RULES, ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, getObject, gitopsApply, rolloutManifest,
  testKube, weightsOf, waitForPhase, type RolloutLike, type TestKube, type VirtualServiceLike, waitForWeights,
} from '../support/kube.ts';

const NS = 'bad';
/** The controller's default provider: a loopback server that must never be asked anything. */
const prometheusRequests: string[] = [];
const prometheus = createServer((req, res) => {
  prometheusRequests.push(req.url ?? '');
  res.writeHead(503).end();
});
await new Promise<void>((resolve) => prometheus.listen(0, '127.0.0.1', resolve));
const DEFAULT_PROMETHEUS = `http://127.0.0.1:${(prometheus.address() as AddressInfo).port}`;
let cluster: LocalCluster;
let k: TestKube;
let controller: ControllerProcess;

type Spec = Record<string, unknown>;
const base = (): Spec => ({
  service: { name: 'shop' },
  stable: { labels: { version: 'v1' } },
  canary: { labels: { version: 'v2' } },
  strategy: { steps: [10, 100], interval: '1m' },
});
/** base() with `path` (dotted) set to `value`. */
function withField(path: string, value: unknown, spec: Spec = base()): Spec {
  const keys = path.split('.');
  let at: Record<string, unknown> = spec;
  for (const key of keys.slice(0, -1)) at = (at[key] ??= {}) as Record<string, unknown>;
  at[keys[keys.length - 1]!] = value;
  return spec;
}
const nested = (depth: number): unknown => (depth === 0 ? { leaf: 'junk' } : { a: nested(depth - 1) });
const analysis = (extra: Spec = {}): Spec => ({ metrics: [{ name: 'errors', template: 'istio-error-rate', max: 0.01 }], ...extra });

interface Case {
  name: string;
  what: string;
  spec?: Spec;
  /** A whole object instead of rolloutManifest(NS, name, spec). */
  object?: KubernetesObject;
  /** refused: by the API server at create time; invalid: phase Invalid. */
  expect: 'refused' | 'invalid';
  /** Must appear in the API server's message or in status.message. */
  field: string;
  /** Names of the VirtualService / DestinationRule it would generate (default: its own name). */
  generates?: string[];
}

const CORPUS: Case[] = [
  // Wrong types.
  { name: 'svc-number', what: 'service name is a number', spec: withField('service.name', 42), expect: 'refused', field: 'spec.service.name' },
  { name: 'port-string', what: 'port is a string', spec: withField('service.port', '8080'), expect: 'refused', field: 'spec.service.port' },
  { name: 'steps-string', what: 'steps is a string', spec: withField('strategy.steps', '10,50,100'), expect: 'refused', field: 'spec.strategy.steps' },
  { name: 'step-string', what: 'a step is a string', spec: withField('strategy.steps', ['10', 100]), expect: 'invalid', field: 'spec.strategy.steps[0]' },
  { name: 'step-bool', what: 'a step is a boolean', spec: withField('strategy.steps', [true, 100]), expect: 'invalid', field: 'spec.strategy.steps[0]' },
  { name: 'labels-list', what: 'labels is a list', spec: withField('stable.labels', ['version=v1']), expect: 'refused', field: 'spec.stable.labels' },
  { name: 'label-number', what: 'a label value is a number', spec: withField('canary.labels', { version: 2 }), expect: 'refused', field: 'spec.canary.labels.version' },
  { name: 'interval-number', what: 'interval is a number', spec: withField('strategy.interval', 60), expect: 'refused', field: 'spec.strategy.interval' },
  { name: 'no-canary', what: 'canary missing', spec: (() => { const s = base(); delete s.canary; return s; })(), expect: 'refused', field: 'spec.canary' },
  { name: 'no-spec', what: 'no spec at all', object: { apiVersion: 'fledge.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'no-spec', namespace: NS } }, expect: 'refused', field: 'spec' },
  { name: 'limit-string', what: 'failureLimit is a string', spec: withField('analysis', analysis({ failureLimit: '1' })), expect: 'refused', field: 'spec.analysis.failureLimit' },
  { name: 'max-string', what: 'a threshold is a string', spec: withField('analysis', analysis({ metrics: [{ name: 'errors', template: 'istio-error-rate', max: 'high' }] })), expect: 'refused', field: 'spec.analysis.metrics[0].max' },
  // Huge and negative numbers.
  { name: 'port-huge', what: 'port 10^12', spec: withField('service.port', 1e12), expect: 'refused', field: 'spec.service.port' },
  { name: 'port-negative', what: 'port -1', spec: withField('service.port', -1), expect: 'refused', field: 'spec.service.port' },
  { name: 'step-negative', what: 'a negative weight', spec: withField('strategy.steps', [-10, 100]), expect: 'invalid', field: 'spec.strategy.steps[0]' },
  { name: 'step-huge', what: 'a weight of 1e308', spec: withField('strategy.steps', [1e308]), expect: 'invalid', field: 'spec.strategy.steps[0]' },
  { name: 'step-fraction', what: 'a weight of 10.5', spec: withField('strategy.steps', [10.5, 100]), expect: 'invalid', field: 'spec.strategy.steps[0]' },
  { name: 'step-object-negative', what: '{weight: -1}', spec: withField('strategy.steps', [{ weight: -1 }, 100]), expect: 'invalid', field: 'spec.strategy.steps[0].weight' },
  { name: 'steps-descending', what: 'steps going down', spec: withField('strategy.steps', [50, 10, 100]), expect: 'invalid', field: 'spec.strategy.steps[1]' },
  { name: 'steps-empty', what: 'no steps', spec: withField('strategy.steps', []), expect: 'refused', field: 'spec.strategy.steps' },
  { name: 'steps-10000', what: '10,000 steps', spec: withField('strategy.steps', Array.from({ length: 10_000 }, (_, i) => Math.floor(i / 100))), expect: 'refused', field: 'spec.strategy.steps' },
  { name: 'stepweight-negative', what: 'stepWeight -5', spec: withField('strategy', { stepWeight: -5 }), expect: 'refused', field: 'spec.strategy.stepWeight' },
  { name: 'stepweight-huge', what: 'stepWeight 10^9', spec: withField('strategy', { stepWeight: 1e9 }), expect: 'refused', field: 'spec.strategy.stepWeight' },
  { name: 'limit-huge', what: 'failureLimit 10^12', spec: withField('analysis', analysis({ failureLimit: 1e12 })), expect: 'refused', field: 'spec.analysis.failureLimit' },
  { name: 'confidence-over-1', what: 'confidence 1.5', spec: withField('analysis', analysis({ comparison: { confidence: 1.5 } })), expect: 'refused', field: 'spec.analysis.comparison.confidence' },
  { name: 'interval-overflow', what: 'an interval of 10^20 hours', spec: withField('strategy.interval', '99999999999999999999h'), expect: 'invalid', field: 'spec.strategy.interval' },
  { name: 'interval-zero', what: 'interval 0s', spec: withField('strategy.interval', '0s'), expect: 'refused', field: 'spec.strategy.interval' },
  { name: 'interval-words', what: 'interval "1 minute"', spec: withField('strategy.interval', '1 minute'), expect: 'refused', field: 'spec.strategy.interval' },
  { name: 'pause-forever', what: 'pause "forever"', spec: withField('strategy.steps', [{ weight: 10, pause: 'forever' }, 100]), expect: 'invalid', field: 'spec.strategy.steps[0]' },
  { name: 'both-styles', what: 'steps and stepWeight', spec: withField('strategy', { steps: [10, 100], stepWeight: 10 }), expect: 'invalid', field: 'spec.strategy' },
  // Unicode in names and labels.
  { name: 'räkna', what: 'a unicode Rollout name', spec: base(), expect: 'refused', field: 'metadata.name' },
  { name: 'x'.repeat(300), what: 'a 300-character name', spec: base(), expect: 'refused', field: 'metadata.name' },
  { name: 'meta-label-unicode', what: 'a unicode label on the Rollout itself', object: { apiVersion: 'fledge.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'meta-label-unicode', namespace: NS, labels: { team: 'ünïcode' } }, spec: base() } as KubernetesObject, expect: 'refused', field: 'metadata.labels' },
  { name: 'label-key-unicode', what: 'a unicode label key', spec: withField('stable.labels', { 'versión': 'v1', version: 'v1' }), expect: 'invalid', field: 'spec.stable.labels' },
  { name: 'label-value-unicode', what: 'a unicode label value', spec: withField('canary.labels', { version: 'v2-ß' }), expect: 'refused', field: 'spec.canary.labels.version' },
  { name: 'label-value-emoji', what: 'an emoji label value', spec: withField('canary.labels', { version: '🚀' }), expect: 'refused', field: 'spec.canary.labels.version' },
  { name: 'label-value-long', what: 'a 64-character label value', spec: withField('canary.labels', { version: 'v'.repeat(64) }), expect: 'refused', field: 'spec.canary.labels.version' },
  { name: 'labels-empty', what: 'no labels', spec: withField('canary.labels', {}), expect: 'refused', field: 'spec.canary.labels' },
  { name: 'labels-17', what: '17 labels', spec: withField('canary.labels', Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']))), expect: 'refused', field: 'spec.canary.labels' },
  { name: 'subset-unicode', what: 'a unicode subset name', spec: withField('stable.subset', 'stäble'), expect: 'refused', field: 'spec.stable.subset' },
  { name: 'service-unicode', what: 'a unicode service name', spec: withField('service.name', 'stäff'), expect: 'refused', field: 'spec.service.name' },
  { name: 'metric-rtl', what: 'a metric name with a right-to-left override', spec: withField('analysis', analysis({ metrics: [{ name: 'errors\u202egnp', template: 'istio-error-rate', max: 0.01 }] })), expect: 'refused', field: 'spec.analysis.metrics[0].name' },
  { name: 'same-labels', what: 'stable and canary select the same pods', spec: withField('canary.labels', { version: 'v1' }), expect: 'refused', field: 'spec.canary.labels' },
  { name: 'same-subsets', what: 'stable and canary subsets share a name', spec: withField('canary.subset', 'stable'), expect: 'refused', field: 'spec.canary.subset' },
  // PromQL injection, in label values, label keys and queries.
  { name: 'promql-label-value', what: 'PromQL in a label value', spec: withField('canary.labels', { version: 'v2"} or vector(1) #' }), expect: 'refused', field: 'spec.canary.labels.version' },
  { name: 'promql-label-key', what: 'PromQL in a label key', spec: withField('canary.labels', { version: 'v2', 'x"} or vector(1) #': 'y' }), expect: 'invalid', field: 'spec.canary.labels' },
  { name: 'promql-query-var', what: 'a variable outside a string, to splice PromQL', spec: withField('analysis', analysis({ metrics: [{ name: 'q', query: 'sum(up{service="x"}) or {{service}}', max: 1 }] })), expect: 'invalid', field: 'spec.analysis.metrics[0].query' },
  { name: 'promql-query-unknown', what: 'an unknown query variable', spec: withField('analysis', analysis({ metrics: [{ name: 'q', query: 'sum(up{token="{{secrets.token}}"})', max: 1 }] })), expect: 'invalid', field: 'spec.analysis.metrics[0].query' },
  { name: 'promql-query-escape', what: 'a backslash before a variable', spec: withField('analysis', analysis({ metrics: [{ name: 'q', query: 'sum(up{v="\\{{canary.labels.version}}"})', max: 1 }] })), expect: 'invalid', field: 'spec.analysis.metrics[0].query' },
  { name: 'promql-query-huge', what: 'a 5000-character query', spec: withField('analysis', analysis({ metrics: [{ name: 'q', query: `sum(up)${' '.repeat(5000)}`, max: 1 }] })), expect: 'refused', field: 'spec.analysis.metrics[0].query' },
  { name: 'template-unknown', what: 'an unknown template', spec: withField('analysis', analysis({ metrics: [{ name: 'q', template: 'evil', max: 1 }] })), expect: 'refused', field: 'spec.analysis.metrics[0].template' },
  { name: 'metrics-33', what: '33 metrics', spec: withField('analysis', analysis({ metrics: Array.from({ length: 33 }, (_, i) => ({ name: `m${i}`, template: 'istio-error-rate', max: 1 })) })), expect: 'refused', field: 'spec.analysis.metrics' },
  { name: 'prom-file-url', what: 'Prometheus at file:///etc/passwd', spec: withField('analysis', analysis({ prometheus: { address: 'file:///etc/passwd' } })), expect: 'refused', field: 'spec.analysis.prometheus.address' },
  { name: 'prom-credentials', what: 'credentials in the Prometheus URL', spec: withField('analysis', analysis({ prometheus: { address: 'http://admin:hunter2@prometheus:9090' } })), expect: 'refused', field: 'spec.analysis.prometheus.address' },
  { name: 'prom-huge', what: 'a 1 MB Prometheus address', spec: withField('analysis', analysis({ prometheus: { address: `http://${'p'.repeat(1_000_000)}:9090` } })), expect: 'refused', field: 'spec.analysis.prometheus.address' },
  { name: 'secret-key-path', what: 'a Secret key with ../', spec: withField('analysis', analysis({ prometheus: { address: 'http://prom:9090', auth: { type: 'bearer', secretRef: { name: 'prom', key: '../../etc/shadow' } } } })), expect: 'refused', field: 'spec.analysis.prometheus.auth.secretRef.key' },
  { name: 'auth-both', what: 'auth from a file and a Secret', spec: withField('analysis', analysis({ prometheus: { address: 'http://prom:9090', auth: { type: 'bearer', file: '/etc/token', secretRef: { name: 'prom', key: 'token' } } } })), expect: 'refused', field: 'spec.analysis.prometheus.auth' },
  // Aiming the controller's reads and credentials (docs/security.md): only the platform's providers.
  { name: 'prom-metadata', what: 'the cloud metadata service as Prometheus', spec: withField('analysis', analysis({ prometheus: { address: 'http://169.254.169.254/latest/meta-data' } })), expect: 'invalid', field: 'spec.analysis.prometheus.address' },
  { name: 'prom-kubelet', what: 'a loopback admin port as Prometheus', spec: withField('analysis', analysis({ prometheus: { address: 'https://127.0.0.1:10250/pods' } })), expect: 'invalid', field: 'spec.analysis.prometheus.address' },
  { name: 'prom-default-path', what: 'a path below the default provider', spec: withField('analysis', analysis({ prometheus: { address: `${DEFAULT_PROMETHEUS}/api/v1/admin` } })), expect: 'invalid', field: 'spec.analysis.prometheus.address' },
  { name: 'prom-query-string', what: 'a Prometheus address with a query string', spec: withField('analysis', analysis({ prometheus: { address: 'http://prom:9090/?redirect=http://169.254.169.254' } })), expect: 'refused', field: 'spec.analysis.prometheus.address' },
  { name: 'auth-sa-token', what: 'the controller\'s ServiceAccount token as a bearer file', spec: withField('analysis', analysis({ prometheus: { auth: { type: 'bearer', file: '/var/run/secrets/kubernetes.io/serviceaccount/token' } } })), expect: 'refused', field: 'spec.analysis.prometheus.auth.file' },
  { name: 'auth-file-to-provider', what: 'a credential file sent to a configured provider', spec: withField('analysis', analysis({ prometheus: { provider: 'default', auth: { type: 'basic', file: '/etc/shadow' } } })), expect: 'refused', field: 'spec.analysis.prometheus.auth.file' },
  { name: 'auth-secret', what: 'Prometheus credentials from a Secret', spec: withField('analysis', analysis({ prometheus: { auth: { type: 'bearer', secretRef: { name: 'prometheus', key: 'token' } } } })), expect: 'refused', field: 'spec.analysis.prometheus.auth.secretRef' },
  { name: 'prom-provider-unknown', what: 'a provider the platform did not configure', spec: withField('analysis', analysis({ prometheus: { provider: 'attacker' } })), expect: 'invalid', field: 'spec.analysis.prometheus.provider' },
  { name: 'prom-provider-path', what: 'a provider name with a path', spec: withField('analysis', analysis({ prometheus: { provider: '../../etc' } })), expect: 'refused', field: 'spec.analysis.prometheus.provider' },
  { name: 'prom-provider-and-address', what: 'a provider and an address', spec: withField('analysis', analysis({ prometheus: { provider: 'default', address: 'http://169.254.169.254' } })), expect: 'refused', field: 'spec.analysis.prometheus' },
  // Reaching outside the namespace.
  { name: 'fqdn-other-ns', what: 'a Service FQDN in another namespace', spec: withField('service.name', 'payments.other.svc.cluster.local'), expect: 'invalid', field: 'spec.service.name' },
  { name: 'name-ns-other', what: 'name.namespace of another namespace', spec: withField('service.name', 'payments.other'), expect: 'invalid', field: 'spec.service.name' },
  { name: 'host-other-ns', what: 'a VirtualService host in another namespace', spec: withField('trafficRouting.virtualService.hosts', ['payments.other.svc.cluster.local']), expect: 'invalid', field: 'spec.trafficRouting.virtualService.hosts[0]' },
  { name: 'host-wildcard', what: 'the host "*" on the mesh', spec: withField('trafficRouting.virtualService.hosts', ['*']), expect: 'refused', field: 'spec.trafficRouting.virtualService.hosts' },
  { name: 'host-cluster-wildcard', what: 'the host "*.cluster.local" (every Service) on the mesh', spec: withField('trafficRouting.virtualService.hosts', ['*.cluster.local']), expect: 'refused', field: 'spec.trafficRouting.virtualService.hosts' },
  { name: 'host-name-ns-other', what: 'a VirtualService host name.namespace of another namespace on the mesh', spec: withField('trafficRouting.virtualService.hosts', ['payments.other']), expect: 'invalid', field: 'spec.trafficRouting.virtualService.hosts[0]' },
  { name: 'host-unicode', what: 'a unicode host', spec: withField('trafficRouting.virtualService.hosts', ['shöp.example.com']), expect: 'refused', field: 'spec.trafficRouting.virtualService.hosts[0]' },
  { name: 'gateway-junk', what: 'a gateway with a path', spec: withField('trafficRouting.virtualService.gateways', ['../../istio-system/public']), expect: 'refused', field: 'spec.trafficRouting.virtualService.gateways[0]' },
  { name: 'ref-and-hosts', what: 'an adopted VirtualService with hosts', spec: withField('trafficRouting.virtualService', { ref: 'theirs', hosts: ['shop'] }), expect: 'refused', field: 'spec.trafficRouting.virtualService.hosts' },
  // Junk in the fields passed through to Istio.
  { name: 'http-unknown-field', what: 'an http field Fledge does not pass through', spec: withField('trafficRouting.virtualService.http', { route: [{ destination: { host: 'evil' } }] }), expect: 'invalid', field: 'spec.trafficRouting.virtualService.http.route' },
  { name: 'http-deep', what: 'junk nested 200 deep in http.retries', spec: withField('trafficRouting.virtualService.http', { retries: nested(200) }), expect: 'invalid', field: 'spec.trafficRouting.virtualService.http' },
  { name: 'policy-deep', what: 'junk nested 200 deep in trafficPolicy', spec: withField('trafficRouting.destinationRule.trafficPolicy', nested(200) as Spec), expect: 'invalid', field: 'spec.trafficRouting.destinationRule.trafficPolicy' },
  { name: 'match-huge', what: 'a 600 kB string in a match', spec: withField('trafficRouting.virtualService.match', [{ headers: { 'x-user': { exact: 'u'.repeat(600_000) } } }]), expect: 'invalid', field: 'spec.trafficRouting.virtualService.match[0]' },
  { name: 'http-wrong-type', what: 'retries.attempts is a word (Istio\'s schema refuses it)', spec: withField('trafficRouting.virtualService.http', { retries: { attempts: 'three' } }), expect: 'invalid', field: 'spec.trafficRouting.virtualService.http' },
  { name: 'http-istio-unknown', what: 'a field Istio does not know inside retries', spec: withField('trafficRouting.virtualService.http', { retries: { attempts: 3, evil: true } }), expect: 'invalid', field: 'spec.trafficRouting.virtualService.http' },
];

interface Collision { rollout: string; field: string }

beforeAll(async () => {
  cluster = await startTestCluster();
  k = testKube(cluster.kubeconfigPath);
  await createNamespace(k, NS);
  controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ['--resync', '30s', '--prometheus-address', DEFAULT_PROMETHEUS], env: { LOG_LEVEL: 'info' } });
});

afterAll(async () => {
  await controller?.stop();
  await cluster?.stop();
  prometheus.closeAllConnections();
  await new Promise((r) => prometheus.close(r));
});

/** What the API server answers to a create, as kubectl does it (fieldValidation=Strict). */
async function create(obj: KubernetesObject): Promise<{ ok: true } | { ok: false; code?: number; message: string }> {
  try {
    await k.co.createNamespacedCustomObject({ ...ROLLOUTS, namespace: NS, body: obj, fieldValidation: 'Strict' });
    return { ok: true };
  } catch (err) {
    const e = err as { code?: number; body?: unknown };
    let message = String(e.body ?? err);
    try {
      message = (JSON.parse(String(e.body)) as { message?: string }).message ?? message;
    } catch { /* not JSON */ }
    return { ok: false, ...(e.code !== undefined ? { code: e.code } : {}), message };
  }
}

const rolloutOf = (name: string) => getObject<RolloutLike>(k, ROLLOUTS, NS, name);
async function reconcileCount(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${controller.port}/metrics`)).text();
  return [...text.matchAll(/^fledge_reconcile_total\{result="[a-z]+"\} ([0-9.e+]+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
}

describe('bad input', () => {
  const outcomes: string[] = [];

  it(`refuses or invalidates each of ${CORPUS.length} bad Rollouts, naming the field, writing nothing, while a valid one is promoted`, async () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(40);
    expect(new Set(CORPUS.map((c) => c.name)).size).toBe(CORPUS.length);
    // The valid rollout, started just before the corpus: it must walk on meanwhile.
    await gitopsApply(k, rolloutManifest(NS, 'good', { service: { name: 'good' }, stable: { labels: { version: 'v1' } }, canary: { labels: { version: 'v2' } }, strategy: { steps: [10, 30, 60, 100], interval: '3s' } }));
    await eventually(async () => (await rolloutOf('good'))?.status?.phase === 'Progressing', 'the valid rollout to start');

    const invalid: Case[] = [];
    const problems: string[] = [];
    for (const c of CORPUS) {
      const obj = c.object ?? rolloutManifest(NS, c.name, c.spec!);
      const res = await create(obj);
      if (c.expect === 'refused') {
        if (res.ok) problems.push(`${c.name} (${c.what}): accepted by the API server, expected refused naming ${c.field}`);
        else if (!res.message.includes(c.field)) problems.push(`${c.name} (${c.what}): refused (${res.code}) without naming ${c.field}: ${res.message.slice(0, 300)}`);
        else outcomes.push(`refused  ${c.name}: ${res.message.slice(0, 160)}`);
      } else if (!res.ok) {
        problems.push(`${c.name} (${c.what}): refused by the API server (${res.code}: ${res.message.slice(0, 200)}), expected the controller to mark it Invalid`);
      } else {
        invalid.push(c);
      }
    }
    for (const c of invalid) {
      const r = await eventually(async () => {
        const x = await rolloutOf(c.name);
        return x?.status?.phase ? x : undefined;
      }, `${c.name} to get a phase`, 20_000).catch(() => undefined);
      if (r?.status?.phase !== 'Invalid') problems.push(`${c.name} (${c.what}): phase ${r?.status?.phase ?? '(none)'}, expected Invalid naming ${c.field}; message: ${r?.status?.message}`);
      else if (!r.status.message?.includes(c.field)) problems.push(`${c.name} (${c.what}): Invalid without naming ${c.field}: ${r.status.message}`);
      else outcomes.push(`invalid  ${c.name}: ${r.status.message!.slice(0, 160)}`);
    }
    // Nothing was written for any of them.
    for (const c of CORPUS) {
      for (const name of c.generates ?? [c.name]) {
        if (await getObject(k, VIRTUAL_SERVICES, NS, name)) problems.push(`${c.name}: a VirtualService ${name} was written`);
        if (await getObject(k, DESTINATION_RULES, NS, name)) problems.push(`${c.name}: a DestinationRule ${name} was written`);
      }
    }
    expect(problems).toEqual([]);
    // No bad Rollout got as far as a Prometheus query, not even to the configured provider.
    expect(prometheusRequests).toEqual([]);

    const good = await waitForPhase(k, NS, 'good', 'Promoted');
    expect(good.status?.canaryWeight).toBe(100);
    expect(weightsOf(await waitForWeights(k, NS, 'good', { stable: 0, canary: 100 }))).toEqual({ stable: 0, canary: 100 });
    expect(controller.proc.exitCode).toBeNull();
    if (process.env.FLEDGE_TEST_LOGS) process.stderr.write(`${outcomes.join('\n')}\n`);
  }, 120_000);

  it('refuses a second Rollout claiming the same VirtualService, and names that a generated name is taken by someone else', async () => {
    // Someone else's objects, not Fledge's.
    await gitopsApply(k, { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'foreign', namespace: NS }, spec: { hosts: ['foreign'], http: [{ route: [{ destination: { host: 'foreign' } }] }] } } as KubernetesObject, 'platform-team');
    await gitopsApply(k, { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'foreign-dr', namespace: NS }, spec: { host: 'foreign' } } as KubernetesObject, 'platform-team');
    const foreignBefore = await getObject<VirtualServiceLike>(k, VIRTUAL_SERVICES, NS, 'foreign');
    await gitopsApply(k, rolloutManifest(NS, 'owner', withField('trafficRouting.virtualService.name', 'shared', withField('strategy.interval', '1h'))));
    await eventually(async () => (await getObject(k, VIRTUAL_SERVICES, NS, 'shared')) !== undefined, 'the first claim to be served', 10_000, 20);
    const cases: (Collision & { spec: Spec; generates: string[] })[] = [
      { rollout: 'second', field: 'spec.trafficRouting.virtualService', spec: withField('trafficRouting.virtualService.name', 'shared'), generates: ['second'] },
      { rollout: 'adopts-shared', field: 'spec.trafficRouting.virtualService', spec: withField('trafficRouting.virtualService', { ref: 'shared' }, withField('strategy.steps', [60, 100])), generates: ['adopts-shared'] },
      { rollout: 'takes-foreign', field: 'spec.trafficRouting.virtualService.name', spec: withField('trafficRouting.virtualService.name', 'foreign'), generates: ['takes-foreign'] },
      { rollout: 'takes-foreign-dr', field: 'spec.trafficRouting.destinationRule.name', spec: withField('trafficRouting.destinationRule.name', 'foreign-dr'), generates: ['takes-foreign-dr'] },
    ];
    // Created right after the first claim, usually within the same second: creation times cannot
    // tell them apart, and 'adopts-shared' sorts before 'owner'. It must not take the live
    // VirtualService over (before the fix it did, and moved its weights to its own first step).
    for (const c of cases) await gitopsApply(k, rolloutManifest(NS, c.rollout, c.spec));
    for (const c of cases) {
      const r = await eventually(async () => {
        const x = await rolloutOf(c.rollout);
        return x?.status?.phase === 'Invalid' ? x : undefined;
      }, `${c.rollout} to be Invalid`, 20_000);
      expect(r.status?.message, c.rollout).toContain(c.field);
      for (const name of c.generates) {
        expect(await getObject(k, VIRTUAL_SERVICES, NS, name), `${c.rollout}: VirtualService ${name}`).toBeUndefined();
        expect(await getObject(k, DESTINATION_RULES, NS, name), `${c.rollout}: DestinationRule ${name}`).toBeUndefined();
      }
    }
    // The first claim keeps its VirtualService; the foreign objects are untouched.
    const shared = await getObject<VirtualServiceLike & { metadata: { labels?: Record<string, string> } }>(k, VIRTUAL_SERVICES, NS, 'shared');
    expect(shared?.metadata.labels?.['fledge.dev/rollout']).toBe('owner');
    expect(weightsOf(shared!)).toEqual({ stable: 90, canary: 10 });
    expect((await getObject<VirtualServiceLike>(k, VIRTUAL_SERVICES, NS, 'foreign'))?.metadata.resourceVersion).toBe(foreignBefore?.metadata.resourceVersion);
    expect((await getObject<{ metadata: { managedFields?: { manager?: string }[] } }>(k, DESTINATION_RULES, NS, 'foreign-dr'))?.metadata.managedFields?.map((m) => m.manager)).not.toContain('fledge');
  }, 60_000);

  it('holds a step for an interval longer than a timer can wait (100000h) without spinning', async () => {
    // Its own Service: 'owner' already steers shop's mesh traffic, and one Service has one Rollout.
    await gitopsApply(k, rolloutManifest(NS, 'forever', withField('service.name', 'forever', withField('strategy', { steps: [10, { weight: 20, pause: '200000h' }, 100], interval: '100000h' }))));
    await eventually(async () => (await rolloutOf('forever'))?.status?.phase === 'Progressing', 'forever to start');
    await new Promise((r) => setTimeout(r, 1000));
    const before = await reconcileCount();
    await new Promise((r) => setTimeout(r, 3000));
    const spent = (await reconcileCount()) - before;
    // Idle: every Rollout here is settled or held; a few reconciles from late events at most.
    expect(spent, 'reconciles in 3 s of quiet').toBeLessThan(20);
    expect((await rolloutOf('forever'))?.status).toMatchObject({ phase: 'Progressing', canaryWeight: 10 });
  }, 30_000);
});
