/**
 * The operator CLI against a live Rollout: `fledge list|status|pause|resume|promote|abort` write
 * only annotations, and the real controller acts on them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { fledge as run } from '../support/cli.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import {
  ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, getObject, gitopsApply, rolloutManifest, testKube, weightsOf,
  type RolloutLike, type TestKube, type VirtualServiceLike,
} from '../support/kube.ts';

let cluster: LocalCluster;
let k: TestKube;
let controller: ControllerProcess;
const NS = 'cli';

const fledge = (...args: string[]) => run([...args, '--kubeconfig', cluster.kubeconfigPath], { timeoutMs: 30_000 });

const rollout = (name: string) => getObject<RolloutLike & { metadata: { annotations?: Record<string, string> } }>(k, ROLLOUTS, NS, name);
const phase = (name: string, p: string) => eventually(async () => ((await rollout(name))?.status?.phase === p ? rollout(name) : undefined), `${name} ${p}`);

beforeAll(async () => {
  cluster = await startTestCluster();
  k = testKube(cluster.kubeconfigPath);
  await createNamespace(k, NS);
  controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ['--namespace', NS] });
  // One Service per Rollout: two Rollouts of one Service are refused (Istio would apply only one VirtualService).
  const spec = (service: string, steps: unknown[]) => ({ service: { name: service }, stable: { labels: { version: 'v1' } }, canary: { labels: { version: 'v2' } }, strategy: { steps, interval: '1h' } });
  await gitopsApply(k, rolloutManifest(NS, 'gate', spec('gate', [{ weight: 0, pause: 'manual' }, 30, 100])));
  await gitopsApply(k, rolloutManifest(NS, 'ship', spec('ship', [10, 50, 100])));
  await gitopsApply(k, rolloutManifest(NS, 'stop', spec('stop', [10, 50, 100])));
  await phase('gate', 'Paused');
  await phase('ship', 'Progressing');
  await phase('stop', 'Progressing');
});

afterAll(async () => {
  await controller?.stop();
  await cluster?.stop();
});

describe('fledge operator commands', () => {
  it('list shows every Rollout with its phase, weight and step counted from 1', () => {
    const r = fledge('list', '-n', NS);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^NAME\s+PHASE\s+WEIGHT\s+STEP\s+AGE\s+MESSAGE$/m);
    expect(r.stdout).toMatch(/^gate\s+Paused\s+0\s+1\/3\s/m);
    expect(r.stdout).toMatch(/^ship\s+Progressing\s+10\s+1\/3\s/m);
    // kubectl's way: the NAMESPACE column only with -A.
    expect(fledge('list', '-A').stdout).toMatch(/^cli\s+gate\s+Paused\s+0\s+1\/3\s/m);
  });

  it('status prints weights, step and events, and -o json the whole status', async () => {
    const r = fledge('status', 'ship', '-n', NS);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('stable 90 / canary 10');
    expect(r.stdout).toMatch(/Step\s+1\/3/);
    await eventually(async () => fledge('status', 'ship', '-n', NS).stdout.includes('RolloutStarted'), 'events in status');
    const json = JSON.parse(fledge('status', 'ship', '-n', NS, '-o', 'json').stdout) as { status: { canaryWeight: number } };
    expect(json.status.canaryWeight).toBe(10);
  });

  it('resume releases a manual pause step', async () => {
    const r = fledge('resume', 'gate', '-n', NS);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('set fledge.dev/resume-step=');
    const after = await eventually(async () => ((await rollout('gate'))?.status?.canaryWeight === 30 ? rollout('gate') : undefined), 'step 2');
    expect(after?.status?.phase).toBe('Progressing');
  });

  it('pause holds, resume carries on', async () => {
    expect(fledge('pause', 'gate', '-n', NS).stdout).toContain('set fledge.dev/paused=true');
    const paused = await phase('gate', 'Paused');
    expect(paused?.metadata.annotations?.['fledge.dev/paused']).toBe('true');
    expect(fledge('resume', 'gate', '-n', NS).stdout).toContain('removed fledge.dev/paused');
    await phase('gate', 'Progressing');
  });

  it('promote sends 100 % to the canary; abort sends it back to stable', async () => {
    expect(fledge('promote', 'ship', '-n', NS).code).toBe(0);
    await phase('ship', 'Promoted');
    // The status is written first (it is the memory), the routing right after it.
    const weights = (name: string) => getObject<VirtualServiceLike>(k, VIRTUAL_SERVICES, NS, name).then((vs) => weightsOf(vs!));
    await eventually(async () => ((await weights('ship')).canary === 100 ? true : undefined), 'ship at 100 %');
    expect(await weights('ship')).toEqual({ stable: 0, canary: 100 });
    expect(fledge('abort', 'stop', '-n', NS).code).toBe(0);
    await phase('stop', 'RolledBack');
    await eventually(async () => ((await weights('stop')).canary === 0 ? true : undefined), 'stop at 0 %');
    expect(await weights('stop')).toEqual({ stable: 100, canary: 0 });
    // Only annotations were written by the CLI, under its own field manager.
    const obj = (await getObject<{ metadata: { managedFields: { manager: string; fieldsV1: Record<string, unknown> }[] } }>(k, ROLLOUTS, NS, 'stop'))!;
    const cli = obj.metadata.managedFields.find((m) => m.manager === 'fledge-cli');
    expect(Object.keys(cli?.fieldsV1 ?? {})).toEqual(['f:metadata']);
  });

  it('names a missing Rollout in one line, without a stack trace, exit 1 as kubectl', () => {
    for (const verb of ['status', 'promote', 'abort', 'pause', 'resume']) {
      const r = fledge(verb, 'nope', '-n', NS);
      expect(r.code, verb).toBe(1);
      expect(r.stderr.trim()).toBe(`fledge ${verb}: Rollout cli/nope not found (rollouts.fledge.dev)`);
    }
  });
});
