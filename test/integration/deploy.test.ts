/**
 * The install manifests in deploy/: the kustomize base and the namespaced overlay are rendered with
 * `kubectl kustomize` and sent to a real kube-apiserver (server-side apply, dry run), and their
 * security-relevant properties are checked on the rendered objects. The Helm chart is rendered by
 * the real helm in helm-chart.test.ts; here it gets static checks that need no helm: values
 * against values.schema.json, templates that are sane YAML and balanced Go template blocks, every
 * `.Values.x` a template reads declared in values.yaml, and the same RBAC rules as the base.
 * The Prometheus provider configuration both ship is read by the controller's own loader.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parse, parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { ROLLOUT_CRD, startTestCluster } from '../support/cluster.ts';
import { gitopsApply, testKube } from '../support/kube.ts';
import { prometheusConfig } from '../../src/metrics/provider-config.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');
const CHART = join(DEPLOY, 'helm', 'fledge');
const KUBECTL = process.env.KUBECTL ?? 'kubectl';

/** What `fledge controller` does cluster-wide: src/kube/client.ts, called by src/controller. */
const CONTROLLER_RULES = [
  { apiGroups: ['fledge.dev'], resources: ['rollouts'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['fledge.dev'], resources: ['rollouts/status'], verbs: ['get', 'patch'] },
  { apiGroups: ['networking.istio.io'], resources: ['virtualservices', 'destinationrules'], verbs: ['get', 'list', 'watch', 'create', 'patch'] },
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create'] },
];
const LEASE_RULES = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['fledge-controller'], verbs: ['get', 'update'] },
];

interface Rule { apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; verbs: string[]; nonResourceURLs?: string[] }
interface Obj { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown }
interface Container {
  name: string; image: string; args?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports?: { name?: string; containerPort: number }[];
  livenessProbe?: { httpGet?: { path: string; port: number | string } };
  readinessProbe?: { httpGet?: { path: string; port: number | string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface Volume { name: string; configMap?: { name: string }; secret?: { secretName: string; items?: { key: string; path: string }[] } }
interface Deployment extends Obj { spec: { replicas: number; template: { spec: { serviceAccountName: string; securityContext?: Record<string, unknown>; containers: Container[]; volumes?: Volume[] } } } }
/** The ConfigMap kustomize generates carries a hash of its content in its name. */
const unhashed = (o: Obj) => (o.kind === 'ConfigMap' ? o.metadata.name.replace(/-[a-z0-9]{10}$/, '') : o.metadata.name);
const PROMETHEUS_CONFIG = '/etc/fledge/config/prometheus.yaml';

/** The Deployment reads --prometheus-config from the ConfigMap it mounts; the file is one the controller accepts. */
function expectProviderConfig(d: Deployment, objects: Obj[]): void {
  const c = d.spec.template.spec.containers[0]!;
  expect(argAfter(c.args, '--prometheus-config')).toBe(PROMETHEUS_CONFIG);
  const mount = c.volumeMounts?.find((m) => m.mountPath === '/etc/fledge/config');
  expect(mount).toMatchObject({ readOnly: true });
  const volume = d.spec.template.spec.volumes?.find((v) => v.name === mount!.name);
  const cm = one<Obj & { data: Record<string, string> }>(objects, 'ConfigMap');
  expect(volume?.configMap?.name).toBe(cm.metadata.name);
  expect(cm.metadata.namespace).toBe(d.metadata.namespace);
  const config = prometheusConfig({ file: { path: PROMETHEUS_CONFIG, text: cm.data['prometheus.yaml']! } });
  expect(config).toEqual({ providers: [{ name: 'default', address: 'http://prometheus.istio-system:9090', timeoutMs: 5000 }], allowedAddresses: [] });
}

interface Run { code: number | null; stdout: string; stderr: string }

/** Runs a command; a missing binary is an error that says what to install, never a skip. */
function run(cmd: string, args: string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT'
        ? new Error(`${cmd} is not installed or not on PATH: these tests render deploy/ with \`kubectl kustomize\` and need kubectl >= 1.27 (set KUBECTL=/path/to/kubectl to use another one)`)
        : err);
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

async function kustomize(dir: string): Promise<{ text: string; objects: Obj[] }> {
  const r = await run(KUBECTL, ['kustomize', dir]);
  if (r.code !== 0) throw new Error(`kubectl kustomize ${dir} failed (${r.code}):\n${r.stderr}`);
  return { text: r.stdout, objects: parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj).filter(Boolean) };
}

const byKind = (objects: Obj[], kind: string) => objects.filter((o) => o.kind === kind);
function one<T extends Obj = Obj>(objects: Obj[], kind: string, name?: string): T {
  const hits = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(hits, `exactly one ${kind}${name ? ` ${name}` : ''}`).toHaveLength(1);
  return hits[0] as T;
}

/** No wildcard, no verb that writes RBAC or acts as someone else, no deletes, no Secrets unless asked. */
function expectTightRules(rules: Rule[], where: string, opts: { secrets?: boolean } = {}): void {
  expect(rules.length, `${where} has rules`).toBeGreaterThan(0);
  for (const rule of rules) {
    const text = JSON.stringify(rule);
    expect(rule.verbs, `${where}: ${text}`).not.toContain('*');
    expect(rule.resources ?? [], `${where}: ${text}`).not.toContain('*');
    expect(rule.apiGroups ?? [], `${where}: ${text}`).not.toContain('*');
    expect(rule.nonResourceURLs, `${where}: ${text}`).toBeUndefined();
    for (const verb of ['delete', 'deletecollection', 'escalate', 'bind', 'impersonate']) expect(rule.verbs, `${where}: ${text}`).not.toContain(verb);
    if (!opts.secrets) expect(rule.resources ?? [], `${where}: ${text}`).not.toContain('secrets');
  }
}

function expectHardenedPod(d: Deployment): void {
  const pod = d.spec.template.spec;
  expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
  expect(pod.containers).toHaveLength(1);
  const c = pod.containers[0]!;
  expect(c.securityContext).toMatchObject({
    runAsNonRoot: true, runAsUser: 1000, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
  });
  expect((c.securityContext?.capabilities as { add?: string[] }).add).toBeUndefined();
  expect(c.securityContext?.privileged).not.toBe(true);
  expect(c.ports).toEqual([expect.objectContaining({ name: 'metrics', containerPort: 8080 })]);
  expect(c.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'metrics' });
  expect(c.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'metrics' });
  for (const key of ['requests', 'limits'] as const) {
    expect(c.resources?.[key]?.cpu, `resources.${key}.cpu`).toBeTruthy();
    expect(c.resources?.[key]?.memory, `resources.${key}.memory`).toBeTruthy();
  }
  expect(c.env).toEqual(expect.arrayContaining([
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'LOG_LEVEL', value: 'info' },
  ]));
  // The heap cap must leave the container room for code, stacks and buffers, or the kernel kills it first.
  const heapMb = Number(/--max-old-space-size=(\d+)/.exec(c.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '')?.[1]);
  expect(heapMb, 'NODE_OPTIONS --max-old-space-size').toBeGreaterThan(0);
  expect(heapMb * 1.5).toBeLessThanOrEqual(mebibytes(c.resources?.limits?.memory));
}

function mebibytes(quantity: string | undefined): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(quantity ?? '');
  if (!m) throw new Error(`memory limit ${quantity}: expected Mi or Gi`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
}

const argAfter = (args: string[] | undefined, flag: string) => {
  const i = (args ?? []).indexOf(flag);
  return i >= 0 ? args![i + 1] : undefined;
};

let cluster: LocalCluster;

/** `kubectl apply --server-side --dry-run=server` as the admin: the API server validates every object. */
async function dryRunApply(text: string): Promise<string> {
  const r = await run(KUBECTL, ['--kubeconfig', cluster.kubeconfigPath, '--cache-dir', join(cluster.dir, 'kubectl-cache'), 'apply', '--server-side', '--dry-run=server', '-f', '-'], text);
  expect(r.code, `kubectl apply --dry-run=server failed:\n${r.stderr}\n${r.stdout}`).toBe(0);
  // Warnings of the API server (Pod Security, deprecated APIs or fields) are findings too.
  expect(r.stderr.split('\n').filter((l) => /warning/i.test(l))).toEqual([]);
  return r.stdout;
}

describe('deploy/ copies of the CRD', () => {
  const crd = readFileSync(ROLLOUT_CRD, 'utf8');
  it.each([
    ['deploy/base/crd.yaml', join(DEPLOY, 'base', 'crd.yaml')],
    ['deploy/helm/fledge/crds/rollouts.fledge.dev.yaml', join(CHART, 'crds', 'rollouts.fledge.dev.yaml')],
  ])('%s equals crds/rollouts.fledge.dev.yaml', (name, path) => {
    expect(readFileSync(path, 'utf8') === crd, `${name} is stale: run npm run gen`).toBe(true);
  });
});

describe('kustomize: deploy/base and deploy/namespaced against a real API server', () => {
  let base: Awaited<ReturnType<typeof kustomize>>;
  let namespaced: Awaited<ReturnType<typeof kustomize>>;

  beforeAll(async () => {
    // First, so a missing kubectl fails in seconds with its own message, not after a cluster start.
    base = await kustomize(join(DEPLOY, 'base'));
    namespaced = await kustomize(join(DEPLOY, 'namespaced'));
    cluster = await startTestCluster();
    // Server-side dry runs do not create the Namespace, and objects in a missing one are refused.
    // The base's own Namespace, labels included: it enforces the "restricted" Pod Security
    // Standard, whose violations a dry run reports as warnings. team-a gets the same warning.
    const k = testKube(cluster.kubeconfigPath);
    await gitopsApply(k, one(base.objects, 'Namespace') as KubernetesObject, 'kubectl');
    await k.core.createNamespace({ body: { metadata: { name: 'team-a', labels: { 'pod-security.kubernetes.io/warn': 'restricted' } } } });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('the base holds exactly the expected objects', () => {
    expect(base.objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${unhashed(o)}`).sort()).toEqual([
      'ClusterRole//fledge-controller',
      'ClusterRoleBinding//fledge-controller',
      'ConfigMap/fledge-system/fledge-prometheus',
      'CustomResourceDefinition//rollouts.fledge.dev',
      'Deployment/fledge-system/fledge-controller',
      'Namespace//fledge-system',
      'PodDisruptionBudget/fledge-system/fledge-controller',
      'Role/fledge-system/fledge-leader-election',
      'RoleBinding/fledge-system/fledge-leader-election',
      'Service/fledge-system/fledge-metrics',
      'ServiceAccount/fledge-system/fledge',
      'ValidatingAdmissionPolicy//fledge-rollout-steps',
      'ValidatingAdmissionPolicyBinding//fledge-rollout-steps',
    ]);
  });

  it('the base is accepted by the API server (server-side apply, dry run)', async () => {
    const out = await dryRunApply(base.text);
    for (const o of base.objects) expect(out).toContain(`${o.metadata.name} serverside-applied (server dry run)`);
  });

  it('base RBAC: exactly what the controller calls, no wildcard, no Secrets, no delete', () => {
    const role = one<Obj & { rules: Rule[] }>(base.objects, 'ClusterRole');
    expect(role.rules).toEqual(CONTROLLER_RULES);
    expectTightRules(role.rules, 'ClusterRole');
    expect(JSON.stringify(role)).not.toContain('secrets');
    const lease = one<Obj & { rules: Rule[] }>(base.objects, 'Role');
    expect(lease.metadata.namespace).toBe('fledge-system');
    expect(lease.rules).toEqual(LEASE_RULES);
    expectTightRules(lease.rules, 'Role');
    for (const [kind, roleKind, roleName] of [['ClusterRoleBinding', 'ClusterRole', role.metadata.name], ['RoleBinding', 'Role', lease.metadata.name]] as const) {
      const binding = one<Obj & { roleRef: unknown; subjects: unknown[] }>(base.objects, kind);
      expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name: roleName });
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'fledge', namespace: 'fledge-system' }]);
    }
  });

  it('the base Namespace enforces the restricted Pod Security Standard', () => {
    expect(one(base.objects, 'Namespace').metadata).toMatchObject({ labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } });
  });

  it('base Deployment: hardened pod, probes, leader election, two replicas', () => {
    const d = one<Deployment>(base.objects, 'Deployment');
    expectHardenedPod(d);
    expect(d.spec.replicas).toBe(2);
    expect(d.spec.template.spec.serviceAccountName).toBe('fledge');
    const c = d.spec.template.spec.containers[0]!;
    expect(c.image).toBe('fledge:0.1.0');
    // The Lease goes in the pod's namespace (POD_NAMESPACE), where the leader-election Role is.
    expect(c.args).toEqual(['controller', '--leader-elect', '--prometheus-config', PROMETHEUS_CONFIG]);
    expect(c.env).toContainEqual({ name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } });
    expectProviderConfig(d, base.objects);
    const svc = one<Obj & { spec: { ports: unknown[]; selector: Record<string, string> } }>(base.objects, 'Service');
    expect(svc.spec.ports).toEqual([expect.objectContaining({ name: 'metrics', port: 8080, targetPort: 'metrics' })]);
    expect((d.spec.template as unknown as { metadata: { labels: Record<string, string> } }).metadata.labels).toMatchObject(svc.spec.selector);
  });

  it('the namespaced overlay has no cluster-scoped object and everything in its namespace', () => {
    expect(namespaced.objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${unhashed(o)}`).sort()).toEqual([
      'ConfigMap/team-a/fledge-prometheus',
      'Deployment/team-a/fledge-controller',
      'PodDisruptionBudget/team-a/fledge-controller',
      'Role/team-a/fledge-controller',
      'Role/team-a/fledge-leader-election',
      'RoleBinding/team-a/fledge-controller',
      'RoleBinding/team-a/fledge-leader-election',
      'Service/team-a/fledge-metrics',
      'ServiceAccount/team-a/fledge',
    ]);
  });

  it('the namespaced overlay is accepted by the API server (server-side apply, dry run)', async () => {
    const out = await dryRunApply(namespaced.text);
    for (const o of namespaced.objects) expect(out).toContain(`${o.metadata.name} serverside-applied (server dry run)`);
  });

  it('namespaced RBAC: the ClusterRole\'s rules as a Role, bound to the namespace\'s ServiceAccount', () => {
    const role = one<Obj & { rules: Rule[] }>(namespaced.objects, 'Role', 'fledge-controller');
    expect(role.rules).toEqual(CONTROLLER_RULES);
    expectTightRules(role.rules, 'Role fledge-controller');
    expect(one<Obj & { rules: Rule[] }>(namespaced.objects, 'Role', 'fledge-leader-election').rules).toEqual(LEASE_RULES);
    for (const b of byKind(namespaced.objects, 'RoleBinding') as (Obj & { subjects: unknown[] })[]) {
      expect(b.subjects, b.metadata.name).toEqual([{ kind: 'ServiceAccount', name: 'fledge', namespace: 'team-a' }]);
    }
  });

  it('namespaced Deployment watches and leases in its own namespace', () => {
    const d = one<Deployment>(namespaced.objects, 'Deployment');
    expectHardenedPod(d);
    const c = d.spec.template.spec.containers[0]!;
    expect(argAfter(c.args, '--namespace')).toBe('$(POD_NAMESPACE)');
    expect(argAfter(c.args, '--lease-namespace')).toBeUndefined();
    expect(c.args).toContain('--leader-elect');
    expect(c.env).toContainEqual({ name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } });
    expectProviderConfig(d, namespaced.objects);
  });
});

describe('kustomize: deploy/examples/prometheus-providers (docs/install.md, "Prometheus providers")', () => {
  it('mounts the Secret key where the provider configuration names its credential file, and nothing else of it', async () => {
    const { objects } = await kustomize(join(DEPLOY, 'examples', 'prometheus-providers'));
    const d = one<Deployment>(objects, 'Deployment');
    expectHardenedPod(d);
    const cm = one<Obj & { data: Record<string, string> }>(objects, 'ConfigMap');
    const config = prometheusConfig({ file: { path: PROMETHEUS_CONFIG, text: cm.data['prometheus.yaml']! } });
    expect(config.providers.map((p) => p.name)).toEqual(['default', 'thanos']);
    const file = config.providers.find((p) => p.auth)!.auth!.file;
    const c = d.spec.template.spec.containers[0]!;
    const mount = c.volumeMounts!.find((m) => file.startsWith(`${m.mountPath}/`))!;
    expect(mount).toMatchObject({ readOnly: true });
    const volume = d.spec.template.spec.volumes!.find((v) => v.name === mount.name)!;
    expect(volume.secret?.items).toEqual([{ key: file.slice(mount.mountPath.length + 1), path: file.slice(mount.mountPath.length + 1) }]);
    expect(d.spec.template.spec.volumes!.find((v) => v.name === 'prometheus-config')?.configMap?.name).toBe(cm.metadata.name);
    expect(byKind(objects, 'ConfigMap')).toHaveLength(1);
  });
});

/**
 * Go template actions reduced to placeholders: comment blocks removed, lines holding only actions
 * (if/range/with/end/include ... | nindent) dropped, inline actions replaced by a scalar.
 */
function stripTemplate(text: string): string {
  return text
    .replace(/\{\{-?\s*\/\*[\s\S]*?\*\/\s*-?\}\}/g, '')
    .split('\n')
    .filter((line) => !/^\s*(\{\{.*?\}\}\s*)+$/.test(line))
    .map((line) => line.replace(/\{\{.*?\}\}/g, 'TEMPLATE'))
    .join('\n');
}

/** Every if/range/with/define/block has its end, and else only inside one. */
function templateBlockProblems(text: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  const withoutComments = text.replace(/\{\{-?\s*\/\*[\s\S]*?\*\/\s*-?\}\}/g, '');
  if ((withoutComments.match(/\{\{/g) ?? []).length !== (withoutComments.match(/\}\}/g) ?? []).length) problems.push('unbalanced {{ }}');
  for (const m of withoutComments.matchAll(/\{\{-?\s*([\s\S]*?)\s*-?\}\}/g)) {
    const word = /^(\w+)/.exec(m[1]!)?.[1];
    if (word === 'if' || word === 'range' || word === 'with' || word === 'define' || word === 'block') stack.push(word);
    else if (word === 'else' && stack.length === 0) problems.push('else outside a block');
    else if (word === 'end' && stack.pop() === undefined) problems.push('end without a block');
  }
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(', ')}`);
  return problems;
}

describe('Helm chart deploy/helm/fledge (static checks; helm-chart.test.ts renders it with the real helm)', () => {
  const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;
  const schema = z.fromJSONSchema(JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as Parameters<typeof z.fromJSONSchema>[0]);
  const templates = readdirSync(join(CHART, 'templates')).sort();

  it('Chart.yaml is an apiVersion v2 application chart of this version', () => {
    const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'fledge', type: 'application', appVersion: pkg.version });
  });

  it('values.yaml satisfies values.schema.json', () => {
    const r = schema.safeParse(values);
    expect(r.success, r.success ? '' : JSON.stringify(r.error.issues)).toBe(true);
    expect(values).toMatchObject({
      replicas: 2, logLevel: 'info',
      namespaceScope: { enabled: false }, leaderElection: { enabled: true },
      prometheus: { address: expect.stringMatching(/^http/), providers: [], allowedAddresses: [] },
    });
  });

  it.each([
    ['an unknown key', { replicaCount: 3 }],
    ['a negative replica count', { replicas: -1 }],
    ['an unknown log level', { logLevel: 'loud' }],
    ['a namespace that is not a DNS label', { namespaceScope: { enabled: true, namespace: 'Team_A' } }],
    ['the removed Secret opt-in', { prometheusSecrets: [{ namespace: 'shop', names: ['prometheus-token'] }] }],
    ['a Prometheus address without a scheme', { prometheus: { address: 'prometheus:9090', providers: [], allowedAddresses: [] } }],
    ['a provider address with credentials', { prometheus: { address: '', providers: [{ name: 'a', address: 'http://u:p@a:9090' }], allowedAddresses: [] } }],
    ['a provider without an address', { prometheus: { address: '', providers: [{ name: 'a' }], allowedAddresses: [] } }],
    ['a provider credential file path', { prometheus: { address: '', providers: [{ name: 'a', address: 'http://a:9090', auth: { type: 'bearer', file: '/etc/token' } }], allowedAddresses: [] } }],
    ['a provider credential without its key', { prometheus: { address: '', providers: [{ name: 'a', address: 'http://a:9090', auth: { type: 'bearer', secretName: 'a' } }], allowedAddresses: [] } }],
    ['a provider name too long for its volume', { prometheus: { address: '', providers: [{ name: 'p'.repeat(53), address: 'http://a:9090' }], allowedAddresses: [] } }],
    ['an allowed address with a query', { prometheus: { address: '', providers: [], allowedAddresses: ['http://a:9090/?x=1'] } }],
    ['NODE_OPTIONS that are not flags', { nodeOptions: '--max-old-space-size=256; rm -rf /' }],
  ])('values.schema.json refuses %s', (_what, override) => {
    expect(schema.safeParse({ ...values, ...override }).success).toBe(false);
  });

  it('values.schema.json accepts the opt-ins', () => {
    expect(schema.safeParse({
      ...values,
      namespaceScope: { enabled: true, namespace: 'team-a' },
      leaderElection: { enabled: true, leaseNamespace: 'team-a' },
      prometheus: {
        address: '',
        providers: [{ name: 'thanos', address: 'https://thanos.example.com/prom', timeout: '10s', namespaces: ['shop'], auth: { type: 'bearer', secretName: 'thanos-token', key: 'token' } }],
        allowedAddresses: ['http://prometheus.team-a:9090'],
      },
    }).success).toBe(true);
  });

  it.each(templates.filter((t) => t.endsWith('.yaml')))('templates/%s is sane YAML once its template actions are stripped', (name) => {
    const text = readFileSync(join(CHART, 'templates', name), 'utf8');
    expect(templateBlockProblems(text)).toEqual([]);
    const docs = parseAllDocuments(stripTemplate(text));
    for (const d of docs) expect(d.errors.map((e) => e.message), name).toEqual([]);
    const objects = docs.map((d) => d.toJS() as Obj | null).filter((o): o is Obj => o !== null);
    expect(objects.length, `${name} declares objects`).toBeGreaterThan(0);
    for (const o of objects) {
      expect(o.apiVersion, name).toBeTruthy();
      expect(o.kind, name).toBeTruthy();
      expect(o.metadata?.name, name).toBeTruthy();
      for (const rule of (o.rules as Rule[] | undefined) ?? []) expectTightRules([rule], `${name} ${o.kind}`);
    }
  });

  it('_helpers.tpl and NOTES.txt have balanced template blocks', () => {
    for (const name of ['_helpers.tpl', 'NOTES.txt']) expect(templateBlockProblems(readFileSync(join(CHART, 'templates', name), 'utf8')), name).toEqual([]);
  });

  it('every .Values path a template reads is declared in values.yaml', () => {
    const missing: string[] = [];
    for (const name of templates) {
      const text = readFileSync(join(CHART, 'templates', name), 'utf8');
      for (const m of text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
        let node: unknown = values;
        for (const key of m[1]!.slice(1).split('.')) {
          if (node === null || typeof node !== 'object' || !(key in node)) {
            missing.push(`${name}: .Values${m[1]}`);
            break;
          }
          node = (node as Record<string, unknown>)[key];
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('the chart grants the controller the same rules as deploy/base, and no Secret', () => {
    const rbac = parseAllDocuments(stripTemplate(readFileSync(join(CHART, 'templates', 'rbac.yaml'), 'utf8'))).map((d) => d.toJS() as Obj & { rules?: Rule[] });
    const baseRole = parse(readFileSync(join(DEPLOY, 'base', 'clusterrole.yaml'), 'utf8').split(/^---$/m)[0]!) as { rules: Rule[] };
    expect(rbac[0]?.rules).toEqual(baseRole.rules);
    expect(rbac[0]?.rules).toEqual(CONTROLLER_RULES);
    const lease = parseAllDocuments(stripTemplate(readFileSync(join(CHART, 'templates', 'leader-election.yaml'), 'utf8'))).map((d) => d.toJS() as Obj & { rules?: Rule[] });
    // The Lease's name is the release's (rendered and checked by helm-chart.test.ts).
    expect(lease[0]?.rules).toEqual(LEASE_RULES.map((r) => (r.resourceNames ? { ...r, resourceNames: ['TEMPLATE'] } : r)));
    // Provider credentials are mounted from Secrets by the kubelet; the controller reads none.
    for (const name of templates) expect(readFileSync(join(CHART, 'templates', name), 'utf8'), name).not.toMatch(/resources:\s*\[?\s*"?secrets/);
  });

  it('the chart Deployment keeps the base\'s hardening', () => {
    const d = parseAllDocuments(stripTemplate(readFileSync(join(CHART, 'templates', 'deployment.yaml'), 'utf8')))[0]!.toJS() as Deployment;
    const baseD = one<Deployment>(parseAllDocuments(readFileSync(join(DEPLOY, 'base', 'deployment.yaml'), 'utf8')).map((x) => x.toJS() as Obj), 'Deployment');
    expect(d.spec.template.spec.securityContext).toEqual(baseD.spec.template.spec.securityContext);
    const c = d.spec.template.spec.containers[0]!;
    const bc = baseD.spec.template.spec.containers[0]!;
    expect(c.securityContext).toEqual(bc.securityContext);
    expect(c.livenessProbe).toEqual(bc.livenessProbe);
    expect(c.readinessProbe).toEqual(bc.readinessProbe);
    expect(c.env?.[0]).toEqual({ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    // The chart's default heap cap is the base's (the one bench:scale measured), for the same memory limit.
    expect(values.nodeOptions).toBe(bc.env?.find((e) => e.name === 'NODE_OPTIONS')?.value);
    expect((values.resources as { limits: { memory: string } }).limits.memory).toBe(bc.resources?.limits?.memory);
  });

  it('the chart reads its providers from the ConfigMap it renders, and mounts only each provider\'s Secret key', () => {
    const text = readFileSync(join(CHART, 'templates', 'deployment.yaml'), 'utf8');
    const d = parseAllDocuments(stripTemplate(text))[0]!.toJS() as Deployment;
    const c = d.spec.template.spec.containers[0]!;
    expect(argAfter(c.args, '--prometheus-config')).toBe(PROMETHEUS_CONFIG);
    expect(c.volumeMounts).toContainEqual({ name: 'prometheus-config', mountPath: '/etc/fledge/config', readOnly: true });
    expect(text).toMatch(/- --prometheus-address\n\s*- \{\{ \. \| quote \}\}/);
    expect(text).toMatch(/checksum\/prometheus: \{\{ include "fledge\.prometheusConfig" \. \| sha256sum/);
    // The credential file the config names is where the Secret's one key is mounted.
    const helpers = readFileSync(join(CHART, 'templates', '_helpers.tpl'), 'utf8');
    expect(helpers).toContain('(printf "/etc/fledge/prometheus/%s/%s" $p.name .key)');
    expect(text).toMatch(/mountPath: \/etc\/fledge\/prometheus\/\{\{ \.name \}\}\n\s*readOnly: true/);
    expect(text).toMatch(/secretName: \{\{ \.auth\.secretName \}\}\n\s*items:\n\s*- key: \{\{ \.auth\.key \| quote \}\}\n\s*path: \{\{ \.auth\.key \| quote \}\}/);
    const cm = parseAllDocuments(stripTemplate(readFileSync(join(CHART, 'templates', 'prometheus-config.yaml'), 'utf8')))[0]!.toJS() as Obj;
    expect(cm).toMatchObject({ kind: 'ConfigMap', data: { 'prometheus.yaml': expect.anything() } });
  });
});
