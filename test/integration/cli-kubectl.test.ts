/**
 * The CLI as a kubectl user meets it, on a real API server with the real controller: kubectl's
 * flags (--context, -n, -A), output formats, the step counted from 1 for any schedule, shell and
 * kubectl plugin completion with live Rollout names, `status --watch --timeout` as a CI gate, and
 * what `resume` and `retry` say and do about a release that has ended.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { cliTestFiles, fledge as run, fledgeAsync, lines } from '../support/cli.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import { ROLLOUTS, createNamespace, eventually, getObject, gitopsApply, rolloutManifest, testKube, waitForEvents, waitForPhase, type TestKube } from '../support/kube.ts';

let cluster: LocalCluster;
let k: TestKube;
let controller: ControllerProcess;
const NS = 'kc';
const { dir, file } = cliTestFiles('fledge-kubectl-');
const REPO = join(import.meta.dirname, '..', '..');

const fledge = (...args: string[]) => run([...args, '--kubeconfig', cluster.kubeconfigPath], { timeoutMs: 30_000 });
// One Service per Rollout: a second Rollout of one Service is refused (its VirtualService would overlap).
const spec = (service: string, strategy: Record<string, unknown>) => ({ service: { name: service }, stable: { labels: { version: 'v1' } }, canary: { labels: { version: 'v2' } }, strategy });

beforeAll(async () => {
  cluster = await startTestCluster({ users: [{ name: 'nobody', groups: [] }] });
  k = testKube(cluster.kubeconfigPath);
  await createNamespace(k, NS);
  controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ['--namespace', NS] });
  await gitopsApply(k, rolloutManifest(NS, 'steady', spec('steady', { stepWeight: 20, maxWeight: 80, interval: '1h' })));
  await gitopsApply(k, rolloutManifest(NS, 'gate', spec('gate', { steps: [{ weight: 0, pause: 'manual' }, 100], interval: '1h' })));
  await waitForPhase(k, NS, 'steady', 'Progressing');
  await waitForPhase(k, NS, 'gate', 'Paused');
});

afterAll(async () => {
  await controller?.stop();
  await cluster?.stop();
});

describe('the step, counted from 1 of the resolved schedule', () => {
  it('status and list show step 1/4 for stepWeight 20 up to maxWeight 80 (20, 40, 60, 80)', () => {
    const status = fledge('status', 'steady', '-n', NS);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^Step\s+1\/4$/m);
    expect(status.stdout).toMatch(/^Schedule\s+20, 40, 60, 80, each held 1h, then promoted$/m);
    expect(fledge('list', '-n', NS).stdout).toMatch(/^steady\s+Progressing\s+20\s+1\/4\s/m);
  });

  it('the status carries the same step for the CRD Step column; stepIndex stays 0-based', () => {
    const obj = JSON.parse(execJson(['list', '-n', NS, '-o', 'json'])) as { kind: string; items: { metadata: { name: string; managedFields?: unknown }; status: { step: string; stepIndex: number } }[] };
    expect(obj.kind).toBe('List');
    const steady = obj.items.find((i) => i.metadata.name === 'steady')!;
    expect(steady.status).toMatchObject({ step: '1/4', stepIndex: 0 });
    expect(steady.metadata.managedFields).toBeUndefined();
  });
});

function execJson(args: string[]): string {
  const r = fledge(...args);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

describe('output formats', () => {
  it('list -o yaml is a v1 List; -o wide adds release and subsets', () => {
    const doc = parse(execJson(['list', '-n', NS, '-o', 'yaml'])) as { apiVersion: string; kind: string; items: { kind: string; metadata: { name: string } }[] };
    expect(doc).toMatchObject({ apiVersion: 'v1', kind: 'List' });
    expect(doc.items.map((i) => i.metadata.name).sort()).toEqual(['gate', 'steady']);
    expect(doc.items.every((i) => i.kind === 'Rollout')).toBe(true);
    const wide = fledge('list', '-n', NS, '-o', 'wide');
    expect(wide.stdout).toMatch(/^NAME\s+PHASE\s+WEIGHT\s+STEP\s+AGE\s+RELEASE\s+STABLE\s+CANARY\s+MESSAGE$/m);
    expect(wide.stdout).toMatch(/^steady\s+Progressing\s+20\s+1\/4\s+\S+\s+[0-9a-f]{10}\s+stable\s+canary\s/m);
    expect(lines(fledge('list', '-n', NS, '-o', 'name').stdout)).toEqual(['rollout.fledge.dev/gate', 'rollout.fledge.dev/steady']);
  });

  it('status -o yaml and -o json give the status, the step and the schedule', () => {
    const y = parse(execJson(['status', 'steady', '-n', NS, '-o', 'yaml'])) as { step: string; steps: number[]; status: { phase: string } };
    expect(y).toMatchObject({ step: '1/4', steps: [20, 40, 60, 80], status: { phase: 'Progressing' } });
    expect(JSON.parse(execJson(['status', 'steady', '-n', NS, '-o', 'json']))).toEqual(y);
  });

  it('status -o wide adds the conditions and every Event with its time', async () => {
    // Events are written beside the status, not with it: wait for the first.
    const wide = await eventually(async () => {
      const out = execJson(['status', 'steady', '-n', NS, '-o', 'wide']);
      return out.includes('RolloutStarted') ? out : undefined;
    }, 'the RolloutStarted Event');
    expect(wide).toMatch(/^Conditions:\nTYPE\s+STATUS\s+REASON\s+SINCE\s+MESSAGE$/m);
    expect(wide).toMatch(/^Ready\s+True\s+Progressing\s/m);
    expect(wide).toMatch(/^Normal\s+RolloutStarted\s+\d{4}-\d\d-\d\dT[\d:.]+Z\s+step 1\/4/m);
  });

  it('refuses an unknown format as a usage error', () => {
    const r = fledge('list', '-n', NS, '-o', 'table');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("fledge list: option '-o, --output <format>' argument 'table' is invalid");
  });
});

describe('kubeconfig, --context and -n as kubectl reads them', () => {
  /** Two contexts on one API server: the current one a user RBAC lets do nothing, the other the admin in namespace kc. */
  function twoContexts(): string {
    const admin = parse(readFileSync(cluster.kubeconfigPath, 'utf8')) as { clusters: unknown[] };
    const config = {
      apiVersion: 'v1', kind: 'Config',
      clusters: admin.clusters,
      users: [{ name: 'nobody', user: { token: cluster.tokenFor('nobody') } }, { name: 'admin', user: { token: cluster.tokenFor('admin') } }],
      contexts: [
        { name: 'nobody', context: { cluster: 'fledge-local', user: 'nobody' } },
        { name: 'ops', context: { cluster: 'fledge-local', user: 'admin', namespace: NS } },
      ],
      'current-context': 'nobody',
    };
    return file('two-contexts.yaml', stringify(config));
  }

  it('--context selects the second context, its user and its namespace', () => {
    const kubeconfig = twoContexts();
    const current = run(['list', '--kubeconfig', kubeconfig]);
    expect(current.code).toBe(1);
    expect(current.stderr).toMatch(/forbidden/i);
    const ops = run(['list', '--kubeconfig', kubeconfig, '--context', 'ops']);
    expect(ops.code, ops.stderr).toBe(0);
    expect(ops.stdout).toMatch(/^steady\s+Progressing/m);
    // KUBECONFIG works as for kubectl.
    const viaEnv = spawnSync(process.execPath, [join(REPO, 'bin', 'fledge.js'), 'status', 'steady', '--context', 'ops'], { env: { ...process.env, KUBECONFIG: kubeconfig }, encoding: 'utf8' });
    expect(viaEnv.status, viaEnv.stderr).toBe(0);
    expect(viaEnv.stdout).toMatch(/^Name\s+kc\/steady$/m);
  });

  it('an unknown context names the known ones', () => {
    const r = run(['list', '--kubeconfig', twoContexts(), '--context', 'prod']);
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual(['fledge list: context "prod" is not in the kubeconfig (contexts: nobody, ops)']);
  });

  it('no kubeconfig at all: says so, instead of trying http://localhost', () => {
    const env = { PATH: process.env.PATH ?? '', HOME: dir };
    const r = spawnSync(process.execPath, [join(REPO, 'bin', 'fledge.js'), 'list'], { env, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('fledge list: no kubeconfig found; set KUBECONFIG or --kubeconfig');
  });
});

describe('completion with live Rollout names', () => {
  it('fledge __complete offers the Rollouts of the namespace given on the line', () => {
    const r = run(['__complete', 'status', '--kubeconfig', cluster.kubeconfigPath, '-n', NS, '']);
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual(['gate', 'steady', ':4']);
    expect(lines(run(['__complete', 'promote', '--kubeconfig', cluster.kubeconfigPath, '-n', NS, 'st']).stdout)).toEqual(['steady', ':4']);
  });

  it('the bash script completes names through the real function', () => {
    const script = file('fledge.bash', run(['completion', 'bash']).stdout);
    const bin = join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'fledge'), `#!/bin/sh\nexec "${process.execPath}" "${join(REPO, 'bin', 'fledge.js')}" "$@"\n`, { mode: 0o755 });
    const probe = [
      `source ${script}`,
      `COMP_WORDS=(fledge pause -n ${NS} --kubeconfig ${cluster.kubeconfigPath} g); COMP_CWORD=6`,
      '_fledge_complete',
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join('\n');
    const r = spawnSync('bash', ['-c', probe], { env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(lines(r.stdout)).toEqual(['gate']);
  });

  it('kubectl_complete-fledge answers kubectl in cobra\'s protocol', () => {
    const r = spawnSync(process.execPath, [join(REPO, 'bin', 'kubectl_complete-fledge.js'), 'resume', '-n', NS, '--kubeconfig', cluster.kubeconfigPath, ''], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(lines(r.stdout)).toEqual(['gate', 'steady', ':4']);
  });

  it.skipIf(!existsSync('/usr/bin/kubectl'))('kubectl itself completes `kubectl fledge status` through it (skipped where kubectl is not installed)', () => {
    const bin = join(dir, 'plugin-bin');
    mkdirSync(bin, { recursive: true });
    for (const [name, script] of [['kubectl-fledge', 'fledge.js'], ['kubectl_complete-fledge', 'kubectl_complete-fledge.js']] as const) {
      writeFileSync(join(bin, name), `#!/bin/sh\nexec "${process.execPath}" "${join(REPO, 'bin', script)}" "$@"\n`, { mode: 0o755 });
    }
    const r = spawnSync('kubectl', ['__complete', 'fledge', 'status', '-n', NS, '--kubeconfig', cluster.kubeconfigPath, 'st'], { env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(lines(r.stdout)).toEqual(['steady', ':4']);
  });

  it('completes --context from the kubeconfig and -o from the formats', () => {
    expect(lines(run(['__complete', 'list', '--kubeconfig', cluster.kubeconfigPath, '--context', '']).stdout)).toEqual(['admin@fledge-local', ':4']);
    expect(lines(run(['__complete', 'status', 'x', '-o', '']).stdout)).toEqual(['json', 'yaml', 'wide', ':4']);
  });
});

describe('status --watch --timeout: the CI gate', () => {
  it('exits 0 when the release is promoted', async () => {
    await gitopsApply(k, rolloutManifest(NS, 'quick', spec('quick', { steps: [50, 100], interval: '2s' })));
    const r = await fledgeAsync(['status', 'quick', '-n', NS, '--kubeconfig', cluster.kubeconfigPath, '--watch', '--timeout', '60s']);
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stdout).at(-1)).toBe(`Rollout ${NS}/quick: Promoted: 100 % on canary`);
    // A pipe gets one timestamped line per change, not a redrawn screen.
    expect(r.stdout).not.toContain('\x1b[');
    for (const l of lines(r.stdout).slice(0, -1)) expect(l).toMatch(/^\d\d:\d\d:\d\d Rollout kc\/quick: (Pending|Progressing|Promoted)\b/);
  });

  it('exits 1 when the release is rolled back', async () => {
    await gitopsApply(k, rolloutManifest(NS, 'doomed', spec('doomed', { steps: [10, 100], interval: '1h' })));
    await waitForPhase(k, NS, 'doomed', 'Progressing');
    const watching = fledgeAsync(['status', 'doomed', '-n', NS, '--kubeconfig', cluster.kubeconfigPath, '--timeout', '60s']);
    expect(fledge('abort', 'doomed', '-n', NS).code).toBe(0);
    const r = await watching;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Rollout ${NS}/doomed: RolledBack: 100 % on stable`);
  });

  it('exits 1 when --timeout passes first, saying where the release is', () => {
    const r = fledge('status', 'gate', '-n', NS, '--timeout', '2s');
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([`Rollout ${NS}/gate: timed out after 2s while Paused at step 1/2`]);
  });

  it('Ctrl-C stops watching, not the release: exit 130', async () => {
    const child = spawn(process.execPath, [join(REPO, 'bin', 'fledge.js'), 'status', 'gate', '-n', NS, '--kubeconfig', cluster.kubeconfigPath, '--watch'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr.trim()).toBe(`Rollout ${NS}/gate: stopped watching (the release goes on)`);
  });

  it('refuses a timeout that is not a duration, as a usage error', () => {
    const r = fledge('status', 'gate', '-n', NS, '--timeout', 'soon');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--timeout: must be a duration');
  });
});

describe('resume says what is true', () => {
  it('on a RolledBack release: nothing to resume, and what moves it on; nothing is written', async () => {
    await gitopsApply(k, rolloutManifest(NS, 'fallen', spec('fallen', { steps: [10, 100], interval: '1h' })));
    await waitForPhase(k, NS, 'fallen', 'Progressing');
    expect(fledge('abort', 'fallen', '-n', NS).code).toBe(0);
    await waitForPhase(k, NS, 'fallen', 'RolledBack');
    const before = await getObject<{ metadata: { resourceVersion: string } }>(k, ROLLOUTS, NS, 'fallen');
    const r = fledge('resume', 'fallen', '-n', NS);
    expect((await getObject<{ metadata: { resourceVersion: string } }>(k, ROLLOUTS, NS, 'fallen'))?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('was RolledBack');
    expect(r.stderr).toContain('commit new spec.canary.labels');
    expect(r.stderr).toContain('`fledge promote fallen`');
    expect(r.stderr).toContain('`fledge retry fallen`');
    expect(r.stderr).not.toMatch(/\bresumed\b/);
  });

  it('on a Progressing release that is not paused: says so and writes nothing', () => {
    const r = fledge('resume', 'steady', '-n', NS);
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([`Rollout ${NS}/steady: not paused (Progressing, step 1/4); nothing to resume`]);
  });

  it('retry on a release that is not RolledBack: says so, writes nothing, exits 1', async () => {
    const before = await getObject<{ metadata: { resourceVersion: string } }>(k, ROLLOUTS, NS, 'steady');
    const r = fledge('retry', 'steady', '-n', NS);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/^Rollout kc\/steady: release [0-9a-f]+ is Progressing at step 1\/4, not RolledBack; nothing to retry, nothing was changed/)]);
    expect((await getObject<{ metadata: { resourceVersion: string } }>(k, ROLLOUTS, NS, 'steady'))?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion);
  });

  it('retry on a RolledBack release: the abort request goes, the controller starts it again from step 1', async () => {
    type Annotated = { metadata: { annotations?: Record<string, string> }; status?: { phase?: string; stepIndex?: number; canaryWeight?: number; handledRetry?: string } };
    const r = fledge('retry', 'fallen', '-n', NS);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^set fledge\.dev\/retry=[0-9a-f]+\/\d{4}-\d\d-\d\dT[0-9:.]+Z$/m);
    expect(r.stdout).toMatch(/^removed fledge\.dev\/abort \(was [0-9a-f]+\)$/m);
    expect(r.stdout).toContain('starts it again from step 1 (canary 10 %)');
    const started = await eventually(async () => {
      const x = await getObject<Annotated>(k, ROLLOUTS, NS, 'fallen');
      return x?.status?.phase === 'Progressing' ? x : undefined;
    }, 'fallen to start again');
    expect(started.metadata.annotations?.['fledge.dev/abort']).toBeUndefined();
    expect(started.status).toMatchObject({ stepIndex: 0, canaryWeight: 10, handledRetry: started.metadata.annotations?.['fledge.dev/retry'] });
    await waitForEvents(k, NS, 'fallen', ['Retried']);
  });
});

describe('kubectl explain rollouts.fledge.dev reads the schema descriptions', () => {
  it('the OpenAPI v3 document the API server publishes (what kubectl explain reads) describes spec fields', async () => {
    const doc = await openApiV3(`/openapi/v3/apis/fledge.dev/v1alpha1`) as { components: { schemas: Record<string, { properties: Record<string, { description?: string; properties?: Record<string, { description?: string }> }> }> } };
    const rollout = doc.components.schemas['dev.fledge.v1alpha1.Rollout']!;
    const specProps = rollout.properties.spec!.properties!;
    for (const field of ['service', 'stable', 'canary', 'strategy', 'analysis', 'trafficRouting']) {
      expect(specProps[field]?.description, `spec.${field}`).toMatch(/\w{3,}/);
    }
  });

  it.skipIf(!existsSync('/usr/bin/kubectl'))('kubectl explain rollouts.fledge.dev.spec prints them (skipped where kubectl is not installed)', () => {
    const out = execFileSync('kubectl', ['explain', 'rollouts.fledge.dev.spec', '--kubeconfig', cluster.kubeconfigPath], { encoding: 'utf8' });
    expect(out).not.toContain('<no description>');
    expect(out).toMatch(/service\s+<Object> -required-\n\s+\S/);
  });
});

async function openApiV3(path: string): Promise<unknown> {
  const { request } = await import('node:https');
  const server = new URL(cluster.server);
  return new Promise((resolve, reject) => {
    const req = request({ host: server.hostname, port: server.port, path, rejectUnauthorized: false, headers: { authorization: `Bearer ${cluster.tokenFor('admin')}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (e) {
          reject(new Error(`${res.statusCode}: ${body.slice(0, 200)} (${String(e)})`));
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}
