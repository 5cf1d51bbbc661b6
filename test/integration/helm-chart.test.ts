/**
 * The install manifests as a user runs them, with the real tools: the Helm chart rendered by the
 * real helm (built from Go modules by test/helm/build.sh, which `npm test` runs first), with its
 * defaults and with every option, and accepted by a real API server's server-side dry run (the
 * prometheus-operator CRDs for ServiceMonitor and PodMonitor come from its Go module); and
 * deploy/base under an overlay that sets `namespace:`, rendered by `kubectl kustomize`.
 * The two faults an audit found are run for real, not only read off the YAML: the controller,
 * with the rendered arguments and as the rendered ServiceAccount with only the rendered RBAC,
 * must take its Lease under the overlay (it used to be forbidden fledge-system's, and never led),
 * and two Helm releases in one namespace must each lead (they used to share one Lease).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoordinationV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { ROLLOUT_CRD, startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import { createNamespace, gitopsApply, testKube, type TestKube } from '../support/kube.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHART = join(ROOT, 'deploy', 'helm', 'fledge');
const KUBECTL = process.env.KUBECTL ?? 'kubectl';
/** Must match HELM_VERSION in test/helm/build.sh. */
const HELM_DIR = join(process.env.FLEDGE_CACHE_DIR ?? join(homedir(), '.cache', 'fledge'), 'helm-v4.2.4');
const HELM = process.env.HELM ?? join(HELM_DIR, 'bin', 'helm');
const MONITORING_CRDS = join(HELM_DIR, 'crds');

interface Obj { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: unknown }
interface Rule { apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; verbs: string[] }
interface EnvVar { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }
interface PodSpec {
  serviceAccountName: string;
  containers: { name: string; args: string[]; env: EnvVar[] }[];
  affinity?: Record<string, unknown>;
  topologySpreadConstraints?: unknown[];
  nodeSelector?: Record<string, string>;
  tolerations?: unknown[];
  priorityClassName?: string;
  imagePullSecrets?: unknown[];
}
interface Deployment extends Obj { spec: { replicas: number; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } } }

function run(cmd: string, args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

const parseObjects = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Obj | null).filter((o): o is Obj => o !== null);

/** `helm template RELEASE deploy/helm/fledge -n NS` with these values; a failure throws helm's message. */
async function helmTemplate(release: string, namespace: string, values: Record<string, unknown> = {}): Promise<{ text: string; objects: Obj[] }> {
  const r = await run(HELM, ['template', release, CHART, '--namespace', namespace, '--values', '-'], stringify(values));
  if (r.code !== 0) throw new Error(`helm template failed (${r.code}): ${r.stderr}`);
  return { text: r.stdout, objects: parseObjects(r.stdout) };
}

async function kustomize(dir: string): Promise<{ text: string; objects: Obj[] }> {
  const r = await run(KUBECTL, ['kustomize', dir]);
  if (r.code !== 0) throw new Error(`kubectl kustomize ${dir} failed (${r.code}):\n${r.stderr}`);
  return { text: r.stdout, objects: parseObjects(r.stdout) };
}

function one<T extends Obj = Obj>(objects: Obj[], kind: string, name?: string): T {
  const hits = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(hits, `exactly one ${kind}${name ? ` ${name}` : ''} in ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`).toHaveLength(1);
  return hits[0] as T;
}
const argAfter = (args: string[], flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
const container = (d: Deployment) => d.spec.template.spec.containers[0]!;
const leaseRole = (objects: Obj[]) => objects.find((o) => o.kind === 'Role' && o.metadata.name.endsWith('leader-election')) as Obj & { rules: Rule[] };

/** Every option of values.yaml set to something other than its default. */
const EVERY_OPTION = {
  image: { repository: 'registry.example.com/fledge', tag: '0.1.0-rc1', pullPolicy: 'Always' },
  imagePullSecrets: [{ name: 'regcred' }],
  replicas: 3,
  logLevel: 'debug',
  nodeOptions: '--max-old-space-size=512',
  namespaceScope: { enabled: true, namespace: 'team-a' },
  leaderElection: { enabled: true, leaseNamespace: 'team-a', leaseName: 'shop-lease' },
  extraArgs: ['--workers=8', '--resync=10m', '--qps=100', '--burst=200'],
  extraEnv: [{ name: 'TZ', value: 'UTC' }],
  podDisruptionBudget: { enabled: true, maxUnavailable: 2 },
  podAntiAffinity: 'hard',
  topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'fledge' } } }],
  prometheus: {
    address: '',
    providers: [{ name: 'thanos', address: 'https://thanos.example.com/prom', timeout: '10s', namespaces: ['team-a'], auth: { type: 'bearer', secretName: 'thanos-token', key: 'token' } }],
    allowedAddresses: ['http://prometheus.team-a:9090'],
  },
  resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '2', memory: '1Gi' } },
  serviceAccount: { create: true, name: 'fledge-sa', annotations: { team: 'platform' } },
  metrics: {
    port: 9090,
    service: { enabled: true },
    serviceMonitor: { enabled: true, interval: '15s', scrapeTimeout: '10s', labels: { release: 'kube-prometheus-stack' } },
    podMonitor: { enabled: true, interval: '20s', scrapeTimeout: '5s', labels: { release: 'kube-prometheus-stack' } },
  },
  grafanaDashboard: { enabled: true, namespace: 'monitoring', labels: { grafana_dashboard: '1' }, annotations: { grafana_folder: 'Fledge' } },
  podAnnotations: { team: 'platform' },
  nodeSelector: { 'kubernetes.io/os': 'linux' },
  tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'platform', effect: 'NoSchedule' }],
  affinity: {},
  priorityClassName: 'fledge-critical',
  nameOverride: 'canary',
  fullnameOverride: '',
};

const saGroups = (ns: string) => ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'];
/** The overlay of the README's recommended install: deploy/base with `namespace:` set. */
const OVERLAY_NS = 'platform';
const OVERLAY_SA = `system:serviceaccount:${OVERLAY_NS}:fledge`;
/** Two Helm releases in one namespace. */
const RELEASES_NS = 'controllers';
const RELEASES = ['shop', 'payments'] as const;
const releaseSa = (r: string) => `system:serviceaccount:${RELEASES_NS}:${r}-fledge`;

let cluster: LocalCluster;
let admin: TestKube;
let overlayDir: string;
const controllers: ControllerProcess[] = [];

beforeAll(async () => {
  // Before the cluster: a missing helm fails in seconds, saying how to build it.
  if (!existsSync(HELM) || !existsSync(join(MONITORING_CRDS, '.complete'))) {
    throw new Error(`helm is not built at ${HELM}: run bash test/helm/build.sh (npm test runs it first; set HELM=/path/to/helm for another one)`);
  }
  overlayDir = mkdtempSync(join(tmpdir(), 'fledge-overlay-'));
  writeFileSync(join(overlayDir, 'kustomization.yaml'), stringify({
    apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', namespace: OVERLAY_NS,
    resources: [relative(overlayDir, join(ROOT, 'deploy', 'base'))],
  }));
  cluster = await startTestCluster({
    users: [{ name: OVERLAY_SA, groups: saGroups(OVERLAY_NS) }, ...RELEASES.map((r) => ({ name: releaseSa(r), groups: saGroups(RELEASES_NS) }))],
    crdFiles: [ROLLOUT_CRD, ...readdirSync(MONITORING_CRDS).filter((f) => f.endsWith('.yaml')).map((f) => join(MONITORING_CRDS, f))],
  });
  admin = testKube(cluster.kubeconfigPath);
  for (const ns of ['fledge-system', 'team-a', 'monitoring', OVERLAY_NS, RELEASES_NS]) await createNamespace(admin, ns);
  await gitopsApply(admin, { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'fledge-critical' }, value: 1000 } as KubernetesObject, 'kubectl');
});

afterAll(async () => {
  await Promise.all(controllers.map((c) => c.stop()));
  await cluster?.stop();
  if (overlayDir) rmSync(overlayDir, { recursive: true, force: true });
});

/** `kubectl apply --server-side --dry-run=server`: the API server validates every object; warnings count as failures. */
async function dryRun(text: string): Promise<string> {
  const r = await run(KUBECTL, ['--kubeconfig', cluster.kubeconfigPath, '--cache-dir', join(cluster.dir, 'kubectl-cache'), 'apply', '--server-side', '--dry-run=server', '-f', '-'], text);
  expect(r.code, `kubectl apply --dry-run=server failed:\n${r.stderr}\n${r.stdout}`).toBe(0);
  expect(r.stderr.split('\n').filter((l) => /warning/i.test(l))).toEqual([]);
  return r.stdout;
}

/** Applies a rendering's ServiceAccounts and RBAC as the admin (what the controller runs with). */
async function applyRbac(objects: Obj[]): Promise<void> {
  const order = ['ServiceAccount', 'ClusterRole', 'Role', 'ClusterRoleBinding', 'RoleBinding'];
  for (const o of objects.filter((x) => order.includes(x.kind)).sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind))) {
    await gitopsApply(admin, o as KubernetesObject, 'kubectl');
  }
}

/**
 * Runs the controller as `user` with the rendered Deployment's arguments and the environment the
 * kubelet would give it (the downward API's POD_NAME and POD_NAMESPACE), minus the in-cluster
 * files: resolves once it leads, or throws with its last log lines.
 */
async function runAsPod(d: Deployment, user: string, podName: string): Promise<ControllerProcess> {
  const c = container(d);
  // Not the in-cluster file, nor the pod's port: the test's controller serves on a free loopback one.
  const dropped = ['--prometheus-config', '--metrics-bind-address'];
  const args = c.args.slice(1).filter((a, i, all) => !dropped.includes(a) && !dropped.includes(all[i - 1]!));
  const env: NodeJS.ProcessEnv = { POD_NAME: podName };
  for (const e of c.env) {
    if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = d.metadata.namespace;
  }
  const p = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigFor(user), args: [...args, '--resync', '30s'], env, until: 'controller started', timeoutMs: 60_000 });
  controllers.push(p);
  return p;
}

const holder = async (namespace: string, name: string) => (await cluster.adminKubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace, name })).spec?.holderIdentity;

describe('Helm chart, rendered by the real helm', () => {
  it('defaults: the Lease of release "fledge" keeps its name, the Role names it, a PDB and a soft anti-affinity for the two replicas', async () => {
    const { text, objects } = await helmTemplate('fledge', 'fledge-system');
    const d = one<Deployment>(objects, 'Deployment');
    const c = container(d);
    expect(argAfter(c.args, '--lease-name')).toBe('fledge-controller');
    expect(argAfter(c.args, '--lease-namespace')).toBe('fledge-system');
    expect(c.env).toContainEqual({ name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } });
    expect(leaseRole(objects).rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['fledge-controller'], verbs: ['get', 'update'] },
    ]);
    expect(one(objects, 'PodDisruptionBudget')).toMatchObject({ spec: { maxUnavailable: 1, selector: { matchLabels: d.spec.template.metadata.labels } } });
    expect(d.spec.template.spec.affinity).toEqual({
      podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: d.spec.template.metadata.labels } } }] },
    });
    // The steps rules the CRD cannot hold, as deploy/base has them, named for the release.
    const policy = one(objects, 'ValidatingAdmissionPolicy', 'fledge-rollout-steps');
    const base = parseObjects(readFileSync(join(ROOT, 'deploy', 'base', 'admission-policy.yaml'), 'utf8'));
    expect(policy.spec).toEqual(one(base, 'ValidatingAdmissionPolicy').spec);
    expect(one(objects, 'ValidatingAdmissionPolicyBinding')).toMatchObject({ spec: { policyName: 'fledge-rollout-steps', validationActions: ['Deny'] } });
    expect(objects.filter((o) => ['ServiceMonitor', 'PodMonitor'].includes(o.kind) || o.metadata.name.endsWith('-dashboard'))).toEqual([]);
    const out = await dryRun(text);
    for (const o of objects) expect(out).toContain(`${o.metadata.name} serverside-applied (server dry run)`);
  });

  it('renders every option, and the API server accepts the result', async () => {
    const { text, objects } = await helmTemplate('shop', 'team-a', EVERY_OPTION);
    const d = one<Deployment>(objects, 'Deployment', 'shop-canary');
    const c = container(d);
    const pod = d.spec.template.spec;
    expect(d.spec.replicas).toBe(3);
    expect(c.args.slice(-4)).toEqual(EVERY_OPTION.extraArgs);
    expect(argAfter(c.args, '--namespace')).toBe('team-a');
    expect(argAfter(c.args, '--lease-name')).toBe('shop-lease');
    expect(argAfter(c.args, '--metrics-bind-address')).toBe('0.0.0.0:9090');
    expect(c.env).toEqual(expect.arrayContaining([{ name: 'TZ', value: 'UTC' }, { name: 'LOG_LEVEL', value: 'debug' }, { name: 'NODE_OPTIONS', value: '--max-old-space-size=512' }]));
    expect(pod).toMatchObject({
      serviceAccountName: 'fledge-sa', priorityClassName: 'fledge-critical', nodeSelector: EVERY_OPTION.nodeSelector,
      tolerations: EVERY_OPTION.tolerations, topologySpreadConstraints: EVERY_OPTION.topologySpreadConstraints, imagePullSecrets: EVERY_OPTION.imagePullSecrets,
    });
    expect(pod.affinity).toMatchObject({ podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname' }] } });
    expect(leaseRole(objects)).toMatchObject({ metadata: { namespace: 'team-a' }, rules: [{ verbs: ['create'] }, { resourceNames: ['shop-lease'] }] });
    expect(one(objects, 'PodDisruptionBudget')).toMatchObject({ spec: { maxUnavailable: 2 } });
    const labels = d.spec.template.metadata.labels;
    expect(one(objects, 'ServiceMonitor')).toMatchObject({
      metadata: { namespace: 'team-a', labels: { release: 'kube-prometheus-stack' } },
      spec: { selector: { matchLabels: labels }, namespaceSelector: { matchNames: ['team-a'] }, endpoints: [{ port: 'metrics', path: '/metrics', interval: '15s', scrapeTimeout: '10s' }] },
    });
    // The ServiceMonitor selects the metrics Service, whose port it names.
    expect(one(objects, 'Service')).toMatchObject({ metadata: { labels }, spec: { ports: [{ name: 'metrics', port: 9090 }] } });
    expect(one(objects, 'PodMonitor')).toMatchObject({ spec: { selector: { matchLabels: labels }, podMetricsEndpoints: [{ port: 'metrics', interval: '20s', scrapeTimeout: '5s' }] } });
    const dashboard = one<Obj & { data: Record<string, string> }>(objects, 'ConfigMap', 'shop-canary-dashboard');
    expect(dashboard.metadata).toMatchObject({ namespace: 'monitoring', labels: { grafana_dashboard: '1' }, annotations: { grafana_folder: 'Fledge' } });
    expect(JSON.parse(dashboard.data['fledge-dashboard.json']!)).toEqual(JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', 'fledge-dashboard.json'), 'utf8')));
    // Namespace mode: nothing cluster-scoped.
    expect(objects.filter((o) => o.kind.startsWith('ValidatingAdmissionPolicy'))).toEqual([]);
    const out = await dryRun(text);
    for (const o of objects) expect(out).toContain(`${o.metadata.name} serverside-applied (server dry run)`);
  });

  it.each([
    ['a ServiceMonitor without the Service it selects', { metrics: { port: 8080, service: { enabled: false }, serviceMonitor: { enabled: true } } }, 'metrics.serviceMonitor.enabled needs metrics.service.enabled'],
    ['an unknown anti-affinity', { podAntiAffinity: 'sometimes' }, 'podAntiAffinity'],
    ['a PDB that allows none to go', { podDisruptionBudget: { enabled: true, maxUnavailable: 0 } }, 'maxUnavailable'],
    ['extraEnv without a name', { extraEnv: [{ value: 'x' }] }, 'extraEnv'],
  ])('refuses %s, naming it', async (_what, values, says) => {
    await expect(helmTemplate('fledge', 'fledge-system', values)).rejects.toThrow(says);
  });

  it('two releases in one namespace each take their own Lease, and each leads with only its own RBAC', async () => {
    const rendered = await Promise.all(RELEASES.map((r) => helmTemplate(r, RELEASES_NS)));
    const names = rendered.map(({ objects }) => argAfter(container(one<Deployment>(objects, 'Deployment')).args, '--lease-name'));
    expect(names).toEqual(['shop-fledge-controller', 'payments-fledge-controller']);
    for (const [i, { objects }] of rendered.entries()) {
      expect(leaseRole(objects).rules[1]!.resourceNames).toEqual([names[i]]);
      await applyRbac(objects);
    }
    await Promise.all(rendered.map(({ objects }, i) => runAsPod(one<Deployment>(objects, 'Deployment'), releaseSa(RELEASES[i]!), `${RELEASES[i]}-0`)));
    for (const [i, name] of names.entries()) expect(await holder(RELEASES_NS, name!)).toBe(`${RELEASES[i]}-0`);
  }, 120_000);
});

describe('kustomize: deploy/base under an overlay that sets namespace:', () => {
  it('the Lease follows the namespace, with the Role that allows it, and the controller leads as that ServiceAccount', async () => {
    const { text, objects } = await kustomize(overlayDir);
    const d = one<Deployment>(objects, 'Deployment');
    expect(d.metadata.namespace).toBe(OVERLAY_NS);
    const c = container(d);
    // No fixed --lease-namespace: the pod's own namespace, from the downward API.
    expect(argAfter(c.args, '--lease-namespace')).toBeUndefined();
    expect(c.env).toContainEqual({ name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } });
    expect(leaseRole(objects).metadata.namespace).toBe(OVERLAY_NS);
    expect(one(objects, 'RoleBinding')).toMatchObject({ metadata: { namespace: OVERLAY_NS }, subjects: [{ kind: 'ServiceAccount', name: 'fledge', namespace: OVERLAY_NS }] });
    expect(one(objects, 'PodDisruptionBudget').metadata.namespace).toBe(OVERLAY_NS);
    expect(text).not.toContain('fledge-system');
    await applyRbac(objects);
    const p = await runAsPod(d, OVERLAY_SA, 'fledge-controller-0');
    expect(await holder(OVERLAY_NS, 'fledge-controller')).toBe('fledge-controller-0');
    expect(p.logs.filter((l) => /forbidden/i.test(JSON.stringify(l)))).toEqual([]);
  }, 120_000);
});
