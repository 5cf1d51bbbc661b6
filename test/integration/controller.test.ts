/**
 * The real controller process against a real kube-apiserver with Istio's CRDs: every behaviour a
 * user relies on, observed through the API as a user (or kubectl) would see it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import {
  DESTINATION_RULES, ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, expectValidWeights, getObject,
  gitopsApply, listEvents, mergePatch, waitForEvents, rolloutManifest, testKube, weightsOf, waitForPhase, type RolloutLike,
  type TestKube, type VirtualServiceLike,
} from '../support/kube.ts';

let cluster: LocalCluster;
let k: TestKube;
let controller: ControllerProcess;
const NS = 'shop';

/** One Service per Rollout: two Rollouts of one Service are refused (Istio would apply only one VirtualService). */
function staffSpec(service: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    service: { name: service, port: 8080 },
    stable: { subset: 'safe', labels: { version: 'safe' } },
    canary: { subset: 'risky', labels: { version: 'risky' } },
    strategy: { steps: [10, 50, 100], interval: '1s' },
    ...overrides,
  };
}

const vsOf = (name: string) => getObject<VirtualServiceLike>(k, VIRTUAL_SERVICES, NS, name);
const rolloutOf = (name: string) => getObject<RolloutLike>(k, ROLLOUTS, NS, name);

const waitPhase = (name: string, phase: string, timeoutMs = 30_000) => waitForPhase(k, NS, name, phase, timeoutMs);

beforeAll(async () => {
  cluster = await startTestCluster();
  k = testKube(cluster.kubeconfigPath);
  await createNamespace(k, NS);
  controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ['--resync', '30s'] });
});

afterAll(async () => {
  await controller?.stop();
  await cluster?.stop();
});

describe('fledge controller against a real API server', () => {
  it('creates the DestinationRule and the VirtualService at the first step (90/10)', async () => {
    await gitopsApply(k, rolloutManifest(NS, 'first', staffSpec('first', { strategy: { steps: [10, 50, 100], interval: '1h' } })));
    const vs = await eventually(async () => {
      const v = await vsOf('first');
      return v && weightsOf(v).risky === 10 ? v : undefined;
    }, 'the VirtualService at 90/10');
    expect(weightsOf(vs)).toEqual({ safe: 90, risky: 10 });
    expectValidWeights(vs);
    expect(vs.spec.http?.[0]?.route?.[0]?.destination?.port?.number).toBe(8080);
    const dr = await getObject<{ metadata: { ownerReferences?: { kind: string; name: string; controller?: boolean }[] }; spec: { subsets: { name: string; labels: Record<string, string> }[] } }>(k, DESTINATION_RULES, NS, 'first');
    expect(dr?.spec.subsets).toEqual([{ name: 'safe', labels: { version: 'safe' } }, { name: 'risky', labels: { version: 'risky' } }]);
    expect(dr?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Rollout', name: 'first', controller: true });
    const r = await rolloutOf('first');
    expect(r?.status).toMatchObject({ phase: 'Progressing', canaryWeight: 10, stepIndex: 0, observedGeneration: r?.metadata.generation });
    expect(r?.status?.conditions?.map((c) => c.type).sort()).toEqual(['Progressing', 'Ready']);
    const managers = vs.metadata.managedFields?.map((m) => m.manager);
    expect(managers).toContain('fledge');
  });

  it('re-applying an unchanged Rollout writes nothing', async () => {
    const before = await vsOf('first');
    const rBefore = await rolloutOf('first') as { metadata: { resourceVersion: string } } & RolloutLike;
    await gitopsApply(k, rolloutManifest(NS, 'first', staffSpec('first', { strategy: { steps: [10, 50, 100], interval: '1h' } })));
    await new Promise((r) => setTimeout(r, 1500));
    const after = await vsOf('first');
    const rAfter = await rolloutOf('first') as { metadata: { resourceVersion: string } } & RolloutLike;
    expect(after?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion);
    expect(rAfter.metadata.resourceVersion).toBe(rBefore.metadata.resourceVersion);
  });

  it('steps through to promotion with analysis off', async () => {
    await gitopsApply(k, rolloutManifest(NS, 'walk', staffSpec('walk')));
    const seen = new Set<number>();
    const done = await eventually(async () => {
      const v = await vsOf('walk');
      if (v) {
        expectValidWeights(v);
        seen.add(weightsOf(v).risky!);
      }
      const r = await rolloutOf('walk');
      return r?.status?.phase === 'Promoted' ? r : undefined;
    }, 'promotion', 30_000, 50);
    expect(done.status).toMatchObject({ canaryWeight: 100, stepIndex: 3 });
    // Status first, then routing, then Events.
    await eventually(async () => weightsOf((await vsOf('walk'))!).risky === 100, 'the VirtualService at 100 %', 30_000, 50);
    expect(weightsOf((await vsOf('walk'))!)).toEqual({ safe: 0, risky: 100 });
    expect([...seen].sort((a, b) => a - b)).toEqual(expect.arrayContaining([10, 50, 100]));
    await waitForEvents(k, NS, 'walk', ['RolloutStarted', 'StepAdvanced', 'Promoted']);
  });

  it('restarts from 100/0 when the canary labels change mid-rollout', async () => {
    await gitopsApply(k, rolloutManifest(NS, 'restart', staffSpec('restart', { strategy: { steps: [10, 50, 100], interval: '2s' } })));
    await eventually(async () => (await rolloutOf('restart'))?.status?.canaryWeight === 50, 'step 2 (50)');
    await gitopsApply(k, rolloutManifest(NS, 'restart', staffSpec('restart', {
      canary: { subset: 'risky', labels: { version: 'risky-2' } },
      strategy: { steps: [10, 50, 100], interval: '2s' },
    })));
    const r = await eventually(async () => {
      const x = await rolloutOf('restart');
      return x?.status?.canaryWeight !== undefined && x.status.canaryWeight <= 10 && x.status.observedGeneration === x.metadata.generation ? x : undefined;
    }, 'the restart');
    expect(r.status!.stepIndex).toBeLessThanOrEqual(0);
    // Status first, then the VirtualService to 100/0, then the DestinationRule's new labels.
    await eventually(async () => {
      const dr = await getObject<{ spec: { subsets: { labels: Record<string, string> }[] } }>(k, DESTINATION_RULES, NS, 'restart');
      return dr?.spec.subsets[1]?.labels.version === 'risky-2';
    }, 'the DestinationRule to select the new canary', 10_000);
    await waitForEvents(k, NS, 'restart', ['Restarted']);
    await waitPhase('restart', 'Promoted');
  });

  it('marks an invalid Rollout Invalid, naming the field, and writes nothing for it', async () => {
    await gitopsApply(k, rolloutManifest(NS, 'broken', staffSpec('broken', { strategy: { steps: [10, 60, 50], interval: '1s' } })));
    const r = await waitPhase('broken', 'Invalid');
    expect(r.status?.message).toContain('spec.strategy.steps[2]');
    expect(r.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(await vsOf('broken')).toBeUndefined();
    await waitForEvents(k, NS, 'broken', ['InvalidSpec']);
    // Fixing the spec lets it start.
    await gitopsApply(k, rolloutManifest(NS, 'broken', staffSpec('broken', { strategy: { steps: [10, 50, 60], interval: '1h' } })));
    await waitPhase('broken', 'Progressing');
    expect(weightsOf((await eventually(() => vsOf('broken'), 'VirtualService'))!)).toEqual({ safe: 90, risky: 10 });
  });

  it('puts back a hand-edited weight on the watch event (not the 30 s resync) and says so in an Event', async () => {
    const vs = await vsOf('first');
    const http = structuredClone(vs!.spec.http!);
    http[0]!.route![0]!.weight = 50;
    http[0]!.route![1]!.weight = 50;
    await mergePatch(k, VIRTUAL_SERVICES, NS, 'first', { spec: { http } }, 'kubectl-edit');
    // The deadline is below the controller's 30 s resync: a restore within it came from the event.
    await eventually(async () => weightsOf((await vsOf('first'))!).risky === 10, 'the weight restored', 20_000, 25);
    const events = await eventually(async () => {
      const ev = await listEvents(k, NS, 'first');
      return ev.some((e) => e.reason === 'RoutingRestored') ? ev : undefined;
    }, 'a RoutingRestored event', 5000);
    expect(events.find((e) => e.reason === 'RoutingRestored')?.note).toContain('kubectl-edit');
  });

  it('survives SIGKILL mid-rollout: a new controller resumes without going backwards', async () => {
    await gitopsApply(k, rolloutManifest(NS, 'crash', staffSpec('crash', { strategy: { steps: [10, 20, 30, 40, 50, 100], interval: '1s' } })));
    await eventually(async () => ((await rolloutOf('crash'))?.status?.canaryWeight ?? 0) >= 20, 'step 2');
    controller.kill('SIGKILL');
    await controller.exited;
    const atKill = (await rolloutOf('crash'))!.status!.canaryWeight!;
    // Status is written before routing: a kill between the two leaves the VirtualService behind
    // the status, never ahead of it; the next controller applies what the status says.
    expect(weightsOf((await vsOf('crash'))!).risky!).toBeLessThanOrEqual(atKill);
    controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ['--resync', '30s'] });
    await eventually(async () => weightsOf((await vsOf('crash'))!).risky! >= atKill, 'the VirtualService to catch up with the status');
    let last = atKill;
    await eventually(async () => {
      const r = await rolloutOf('crash');
      const w = r?.status?.canaryWeight ?? 0;
      expect(w).toBeGreaterThanOrEqual(last);
      last = w;
      return r?.status?.phase === 'Promoted';
    }, 'promotion after the restart', 30_000, 50);
  });

  it('serves /healthz, /readyz and /metrics', async () => {
    const base = `http://127.0.0.1:${controller.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/fledge_reconcile_total\{result="ok"\} [1-9]/);
    expect(metrics).toMatch(/fledge_rollout_canary_weight\{namespace="shop",name="first"\} 10/);
    expect(metrics).toMatch(/fledge_rollout_phase\{namespace="shop",name="crash",phase="Promoted"\} 1/);
    expect(metrics).toContain('fledge_reconcile_duration_seconds_bucket');
    // client-go's work-queue and leader-election names, prom-client's standard process metrics.
    expect(metrics).toMatch(/^workqueue_depth\{name="rollouts"\} \d+$/m);
    expect(metrics).toMatch(/^workqueue_adds_total\{name="rollouts"\} [1-9]/m);
    expect(metrics).toMatch(/^workqueue_queue_duration_seconds_bucket\{le="10",name="rollouts"\} [1-9]/m);
    expect(metrics).toMatch(/^workqueue_work_duration_seconds_count\{name="rollouts"\} [1-9]/m);
    expect(metrics).toMatch(/^workqueue_retries_total\{name="rollouts"\} \d+$/m);
    expect(metrics).toMatch(/^process_cpu_seconds_total \d/m);
    expect(metrics).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    expect(metrics).not.toContain('fledge_process_');
  });

  it('shuts down cleanly on SIGTERM', async () => {
    // 0, not null: it ended by itself, before the 15 s after which stop() sends SIGKILL.
    const code = await controller.stop();
    expect(code).toBe(0);
    expect(controller.logs.some((l) => l.msg === 'shutting down')).toBe(true);
  });
});
