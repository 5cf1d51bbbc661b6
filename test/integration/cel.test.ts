/**
 * The CRD's CEL rules (src/api/cel.ts) on a real kube-apiserver: each bad Rollout below is refused
 * at create time with the same field paths and messages `fledge validate` gives offline (the
 * one table of src/api/messages.ts), a good one is accepted, and the rules CEL cannot express
 * are accepted by the API server and left to the controller's check (it marks them Invalid).
 * The rules of spec.strategy.steps, which the CRD keeps untyped, are enforced by the
 * ValidatingAdmissionPolicy deploy/base ships (src/api/cel.ts): refused with `path: message` as
 * fledge validate prints it, and only when the spec changes. Also `kubectl apply` shows the CEL
 * message to a person.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRollout } from '../../src/check/rollout.ts';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ROLLOUTS, createNamespace, eventually, gitopsApply, mergePatch, rolloutManifest, testKube, type TestKube } from '../support/kube.ts';
import { parseAllDocuments, stringify } from 'yaml';
import { readFileSync } from 'node:fs';
import { AdmissionregistrationV1Api, type KubernetesObject } from '@kubernetes/client-node';

const POLICY = new URL('../../deploy/base/admission-policy.yaml', import.meta.url);

const NS = 'cel';
type Spec = Record<string, unknown>;
const base = (): Spec => ({
  service: { name: 'shop' },
  stable: { labels: { version: 'v1' } },
  canary: { labels: { version: 'v2' } },
  strategy: { steps: [10, 50, 100], interval: '1m' },
});
const analysis = (extra: Spec = {}): Spec => ({ metrics: [{ name: 'errors', template: 'istio-error-rate', max: 0.01 }], ...extra });
const withSpec = (patch: Spec): Spec => ({ ...base(), ...patch });
const withAnalysis = (a: Spec): Spec => withSpec({ analysis: a });
const routing = (vs?: Spec, dr?: Spec): Spec => withSpec({ trafficRouting: { ...(vs ? { virtualService: vs } : {}), ...(dr ? { destinationRule: dr } : {}) } });

/** Bad Rollouts whose every offline problem is a rule the CRD enforces too. */
const REFUSED: [string, Spec][] = [
  ['subsets with one name', withSpec({ canary: { subset: 'stable', labels: { version: 'v2' } } })],
  ['identical stable and canary labels', withSpec({ canary: { labels: { version: 'v1' } } })],
  ['labels that can match one pod', withSpec({ stable: { labels: { app: 'shop' } }, canary: { labels: { track: 'canary' } } })],
  ['maxWeight without stepWeight', withSpec({ strategy: { steps: [10, 100], maxWeight: 50 } })],
  ['maxWeight below stepWeight', withSpec({ strategy: { stepWeight: 20, maxWeight: 10 } })],
  ['an interval under 1s', withSpec({ strategy: { steps: [10, 100], interval: '500ms' } })],
  ['an adopted VirtualService with generated fields', routing({ ref: 'theirs', name: 'x', hosts: ['shop'], gateways: ['mesh'], match: [{ uri: { prefix: '/' } }], http: { timeout: '5s' } })],
  ['routes without ref', routing({ routes: ['primary'] })],
  ['a route named twice', routing({ ref: 'theirs', routes: ['primary', 'primary'] })],
  ['an adopted DestinationRule with generated fields', routing(undefined, { ref: 'theirs', name: 'x', trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } })],
  ['analysis durations under 1s and a timeout over 60s', withAnalysis(analysis({ checkInterval: '0s', comparison: { baselineWindow: '999ms' }, prometheus: { timeout: '2m' } }))],
  ['a Prometheus timeout under 1s', withAnalysis(analysis({ prometheus: { timeout: '900ms' } }))],
  ['a provider and an address', withAnalysis(analysis({ prometheus: { provider: 'default', address: 'http://prometheus:9090' } }))],
  ['a credential file', withAnalysis(analysis({ prometheus: { auth: { type: 'bearer', file: '/etc/token' } } }))],
  ['a credential Secret', withAnalysis(analysis({ prometheus: { auth: { type: 'bearer', secretRef: { name: 'prom', key: 'token' } } } }))],
  ['an auth block', withAnalysis(analysis({ prometheus: { auth: { type: 'basic' } } }))],
  ['no version label with the comparison on', { ...withAnalysis(analysis()), stable: { labels: { app: 'v1' } }, canary: { labels: { app: 'v2' } } }],
  ['one version on both', { ...withAnalysis(analysis()), stable: { labels: { version: 'v1', track: 'stable' } }, canary: { labels: { 'app.kubernetes.io/version': 'v1', track: 'canary' } } }],
  ['minRequests without version labels', {
    ...withAnalysis({ minRequests: 5, comparison: { enabled: false }, metrics: [{ name: 'up', query: 'sum(up)', max: 1 }] }),
    stable: { labels: { track: 'stable' } }, canary: { labels: { track: 'canary' } },
  }],
  ['a metric name twice', withAnalysis(analysis({ metrics: [{ name: 'errors', template: 'istio-error-rate', max: 0.01 }, { name: 'errors', template: 'istio-request-count', min: 1 }] }))],
  ['template and query, no threshold', withAnalysis(analysis({ metrics: [{ name: 'q', template: 'istio-error-rate', query: 'sum(up)' }] }))],
  ['min above max', withAnalysis(analysis({ metrics: [{ name: 'q', template: 'istio-error-rate', min: 0.5, max: 0.1 }] }))],
  ['istio-slow-requests with min and no max', withAnalysis(analysis({ metrics: [{ name: 'slow', template: 'istio-slow-requests', min: 1 }] }))],
  ['istio-slow-requests with max 0', withAnalysis(analysis({ metrics: [{ name: 'slow', template: 'istio-slow-requests', max: 0 }] }))],
  ['a Service name of four labels', withSpec({ service: { name: 'shop.a.b.c' } })],
  ['a wildcard host on the mesh', routing({ hosts: ['*.example.com'] })],
  ['virtualService and virtualServices', withSpec({ trafficRouting: { virtualService: { ref: 'a' }, virtualServices: [{ ref: 'b' }] } })],
  ['a VirtualService listed twice', withSpec({ trafficRouting: { virtualServices: [{ ref: 'a' }, { ref: 'b' }, { ref: 'a' }] } })],
  ['a route named twice in a listed VirtualService', withSpec({ trafficRouting: { virtualServices: [{ ref: 'a', routes: ['p', 'p'] }] } })],
  ['sessionAffinity with an adopted VirtualService', withSpec({ trafficRouting: { virtualService: { ref: 'theirs' }, sessionAffinity: { cookieName: 'c' } } })],
  ['sessionAffinity with listed VirtualServices', withSpec({ trafficRouting: { virtualServices: [{ ref: 'a' }], sessionAffinity: { cookieName: 'c' } } })],
  ['one cookie name for both sides', withSpec({ trafficRouting: { sessionAffinity: { cookieName: 'sticky', stableCookieName: 'sticky' } } })],
  ['cookie names with a browser prefix', withSpec({ trafficRouting: { sessionAffinity: { cookieName: '__Host-c', stableCookieName: '__secure-s' } } })],
];

/** The steps rules, refused by the ValidatingAdmissionPolicy. */
const REFUSED_BY_POLICY: [string, Spec][] = [
  ['descending steps', withSpec({ strategy: { steps: [50, { weight: 60, pause: 'manual' }, 10, 100] } })],
  ['a pause of 0s', withSpec({ strategy: { steps: [10, { weight: 20, pause: '0h0m' }, 100] } })],
  ['steps and stepWeight', withSpec({ strategy: { steps: [10, 100], stepWeight: 10 } })],
  ['neither steps nor stepWeight', withSpec({ strategy: { interval: '1m' } })],
  ['a match step with a pause of 0s', withSpec({ strategy: { steps: [{ match: [{ headers: { 'x-canary': { exact: 'true' } } }], pause: '0s' }, 100] } })],
];

/** Refused by `fledge validate` and the controller, accepted by the API server: CEL cannot say it (src/api/cel.ts). */
const CONTROLLER_ONLY: [string, Spec][] = [
  ['a step of another shape (a string: zod\'s message)', withSpec({ strategy: { steps: ['10', 100] } })],
  ['a Service of another namespace (CEL does not see metadata.namespace)', withSpec({ service: { name: 'payments.other' } })],
  ['a Rollout\'s own Prometheus address (the controller\'s configuration decides)', withAnalysis(analysis({ prometheus: { address: 'http://169.254.169.254' } }))],
  ['an unknown query placeholder', withAnalysis({ metrics: [{ name: 'q', query: 'sum(up{x="{{secrets.token}}"})', max: 1 }] })],
  ['a mirror step after a weight (the order of step kinds; the policy leaves schedules with match or mirror steps to the controller)', withSpec({ strategy: { steps: [10, { mirror: 20 }, 100] } })],
];

let cluster: LocalCluster;
let k: TestKube;

beforeAll(async () => {
  cluster = await startTestCluster();
  k = testKube(cluster.kubeconfigPath);
  await createNamespace(k, NS);
  for (const doc of parseAllDocuments(readFileSync(POLICY, 'utf8'))) await gitopsApply(k, doc.toJS() as KubernetesObject, 'kubectl');
  // A new policy takes effect once the API server has loaded and type-checked it.
  await eventually(async () => !(await create('probe', REFUSED_BY_POLICY[0]![1])).ok, 'the admission policy to take effect', 30_000, 200);
});

afterAll(async () => {
  await cluster?.stop();
});

interface Cause { field: string; message: string }

/** What the API server answers to a create (dry run, as `kubectl apply --dry-run=server` sends it). */
async function create(name: string, spec: Spec): Promise<{ ok: true } | { ok: false; causes: Cause[]; message: string }> {
  try {
    await k.co.createNamespacedCustomObject({ ...ROLLOUTS, namespace: NS, body: rolloutManifest(NS, name, spec), dryRun: 'All', fieldValidation: 'Strict' });
    return { ok: true };
  } catch (err) {
    const body = JSON.parse(String((err as { body?: unknown }).body)) as { message: string; details?: { causes?: { field?: string; message?: string }[] } };
    const causes = (body.details?.causes ?? []).map((c) => ({ field: c.field ?? '', message: withoutValue(c.message ?? '') }));
    return { ok: false, causes, message: body.message };
  }
}

/** A cause reads `Invalid value: "0s": must be at least 1s`, or without the value for an object. */
function withoutValue(message: string): string {
  return message.replace(/^Invalid value: (?:"(?:[^"\\]|\\.)*": |-?[0-9][0-9.e+-]*: |(?:true|false|null): )?/, '');
}

/** The field paths match, but a rule on a list names the list (CEL cannot name an index). */
const samePath = (cel: string, offline: string) => cel === offline || offline.startsWith(`${cel}[`);

describe('CEL rules in the CRD, against a real API server', () => {
  it('a good Rollout, with every section set, is accepted', async () => {
    const spec = withSpec({
      stable: { subset: 'v1', labels: { app: 'shop', version: 'v1' } },
      canary: { subset: 'v2', labels: { app: 'shop', version: 'v2' } },
      strategy: { stepWeight: 20, maxWeight: 60, interval: '1m30s' },
      trafficRouting: { virtualService: { hosts: ['shop', 'shop.example.com'], gateways: ['mesh', 'istio-system/public'] }, destinationRule: { trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } } },
      analysis: {
        prometheus: { provider: 'default', timeout: '10s' }, checkInterval: '1000ms', minRequests: 10,
        comparison: { baselineWindow: '10m' },
        metrics: [{ name: 'errors', template: 'istio-error-rate', max: 0.01 }, { name: 'slow', template: 'istio-slow-requests', max: 500 }, { name: 'up', query: 'sum(up)', min: 0, max: 1 }],
      },
    });
    expect(checkRollout(rolloutManifest(NS, 'good', spec), NS)).toMatchObject({ ok: true });
    expect(await create('good', spec)).toEqual({ ok: true });
  });

  it('a Rollout with mirror and match steps between weights is accepted', async () => {
    const spec = withSpec({ strategy: { steps: [{ mirror: 20, pause: '5m' }, { match: [{ headers: { cookie: { regex: '^(.*?;)?( ?user=beta)(;.*)?$' } } }], pause: 'manual' }, 10, { weight: 50, pause: 'manual' }, 100] } });
    expect(checkRollout(rolloutManifest(NS, 'steps', spec), NS)).toMatchObject({ ok: true });
    expect(await create('steps', spec)).toEqual({ ok: true });
  });

  it.each(REFUSED)('refuses %s with the field paths and messages of fledge validate', async (_what, spec) => {
    const offline = checkRollout(rolloutManifest(NS, 'bad', spec), NS);
    expect(offline.ok, 'fledge validate refuses it').toBe(false);
    const problems = offline.ok ? [] : offline.problems;
    const answer = await create('bad', spec);
    expect(answer.ok, 'the API server refuses it').toBe(false);
    const causes = answer.ok ? [] : answer.causes;
    // One to one: every offline problem is a cause with its message, at its field (or its list).
    expect(causes.map((c) => c.message).sort()).toEqual(problems.map((p) => p.message).sort());
    for (const p of problems) {
      expect(causes.some((c) => c.message === p.message && samePath(c.field, p.path)), `${p.path}: ${p.message}\nAPI server: ${JSON.stringify(causes)}`).toBe(true);
    }
  });

  it.each(REFUSED_BY_POLICY)('refuses %s by the admission policy, with the path and message of fledge validate', async (_what, spec) => {
    const offline = checkRollout(rolloutManifest(NS, 'bad', spec), NS);
    const problems = offline.ok ? [] : offline.problems;
    expect(problems.length, 'fledge validate refuses it').toBeGreaterThan(0);
    const answer = await create('bad', spec);
    expect(answer.ok, 'the API server refuses it').toBe(false);
    // The policy says its first failed rule, as `path: message`.
    const said = answer.ok ? '' : answer.message;
    expect(problems.some((p) => said.endsWith(`denied request: ${p.path}: ${p.message}`)), `${said}\noffline: ${JSON.stringify(problems)}`).toBe(true);
  });

  it('judges the steps only when the spec changes: a Rollout stored before the policy can still be annotated', async () => {
    const spec = REFUSED_BY_POLICY[0]![1];
    // Stored while the binding is away (as before an upgrade that brings the policy).
    await k.kc.makeApiClient(AdmissionregistrationV1Api).deleteValidatingAdmissionPolicyBinding({ name: 'fledge-rollout-steps' });
    await eventually(async () => (await create('stored', spec)).ok, 'the policy to be unbound', 30_000, 200);
    await k.co.createNamespacedCustomObject({ ...ROLLOUTS, namespace: NS, body: rolloutManifest(NS, 'stored', spec) });
    const binding = parseAllDocuments(readFileSync(POLICY, 'utf8')).map((d) => d.toJS() as KubernetesObject).find((o) => o.kind === 'ValidatingAdmissionPolicyBinding')!;
    await gitopsApply(k, binding, 'kubectl');
    await eventually(async () => !(await create('probe', spec)).ok, 'the policy to take effect again', 30_000, 200);
    await mergePatch(k, ROLLOUTS, NS, 'stored', { metadata: { annotations: { 'fledge.dev/paused': 'true' } } }, 'fledge-cli');
    await expect(mergePatch(k, ROLLOUTS, NS, 'stored', { spec: { strategy: { steps: [60, 10, 100] } } })).rejects.toMatchObject({ code: 422 });
  });

  it.each(CONTROLLER_ONLY)('accepts %s, which fledge validate and the controller refuse', async (_what, spec) => {
    expect(checkRollout(rolloutManifest(NS, 'late', spec), NS).ok).toBe(false);
    expect(await create('late', spec)).toEqual({ ok: true });
  });

  it('kubectl apply shows the rule\'s message and field to a person', async () => {
    const text = stringify(rolloutManifest(NS, 'same-labels', withSpec({ canary: { labels: { version: 'v1' } } })));
    const r = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn(process.env.KUBECTL ?? 'kubectl', ['--kubeconfig', cluster.kubeconfigPath, 'apply', '--server-side', '-f', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, out }));
      child.stdin.end(text);
    });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('spec.canary.labels: Invalid value: must differ from spec.stable.labels');
  });
});
