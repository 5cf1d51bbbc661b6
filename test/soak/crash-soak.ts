/**
 * Crash anywhere: many rollouts run (analysis off, short intervals, some aborted or given a new
 * canary mid-way) while the real controller process is killed with SIGKILL at random, seeded
 * moments (while starting, while syncing its caches, in the middle of reconciling) and started
 * again. Every write to Rollouts, VirtualServices and DestinationRules is recorded by a watch
 * from this process and checked against invariants.ts; at the end every Rollout must be Promoted
 * or RolledBack as dictated, with its VirtualService and DestinationRule.
 *
 * Shared by `test/soak/soak.ts` (the long run) and `test/integration/crash-soak.test.ts`.
 * No vitest in here: it runs under plain `node --experimental-strip-types` too.
 */
import { CoreV1Api, CustomObjectsApi, KubeConfig, KubernetesObjectApi, PatchStrategy, setHeaderOptions, type KubernetesObject } from '@kubernetes/client-node';
import { mulberry32 } from '../../src/analysis/prng.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import { checkHistory, weightProblems, type Action, type HistoryStats } from './invariants.ts';
import { REFS, WriteRecorder, type WatchedObject } from './recorder.ts';

export interface SoakOptions {
  kubeconfig: string;
  /** SIGKILLs of the controller (default 50). */
  kills?: number;
  /** Rollouts run in all (default 40). */
  rollouts?: number;
  /** Rollouts in flight at once (default 6). */
  concurrency?: number;
  seed?: number;
  namespace?: string;
  /** Longest a controller lives before its SIGKILL (default 3000 ms). */
  maxLifeMs?: number;
  /** After the last kill, how long the last controller may take to finish everything. */
  settleTimeoutMs?: number;
  log?: (line: string) => void;
}

export type Stage = 'serving' | 'synced' | 'started';
const STAGE_LOG: Record<Stage, string> = { serving: 'serving /metrics, /healthz, /readyz', synced: 'caches synced', started: 'controller started' };

export interface SoakReport {
  seed: number;
  kills: number;
  /** Kills after which a new controller started and, in the end, everything converged. */
  killsSurvived: number;
  killsByStage: Record<Stage, number>;
  rollouts: number;
  aborted: number;
  changed: number;
  /** Promoted, then the next release committed (stable moves to the promoted labels). */
  nextReleases: number;
  promoted: number;
  rolledBack: number;
  recorded: { rolloutEvents: number; vsEvents: number; drEvents: number };
  stats: HistoryStats;
  violations: string[];
  durationMs: number;
  /** Mid-way changes that could not land before the rollout finished (the plan then expects Promoted). */
  missedActions: number;
  /** From spawning a controller to its workers running, ms: the least a kill costs. */
  restartMs: { mean: number; max: number };
}

interface Plan {
  name: string;
  steps: (number | { weight: number; pause: string })[];
  interval: string;
  action: 'none' | 'abort' | 'change' | 'next';
  /** Act once the canary weight has reached this. */
  actAt: number;
  created: boolean;
  acted: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runCrashSoak(o: SoakOptions): Promise<SoakReport> {
  const t0 = Date.now();
  const seed = o.seed ?? 1;
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const log = o.log ?? (() => {});
  const ns = o.namespace ?? 'soak';
  const kills = o.kills ?? 50;
  const total = o.rollouts ?? 40;
  const concurrency = o.concurrency ?? 6;
  const maxLife = o.maxLifeMs ?? 3000;

  const kc = new KubeConfig();
  kc.loadFromFile(o.kubeconfig);
  const co = kc.makeApiClient(CustomObjectsApi);
  const objects = KubernetesObjectApi.makeApiClient(kc);
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });

  const plans: Plan[] = Array.from({ length: total }, (_, i) => {
    const n = 2 + Math.floor(rnd() * 5);
    const weights = [...new Set(Array.from({ length: n - 1 }, () => 1 + Math.floor(rnd() * 99)))].sort((a, b) => a - b);
    const steps: Plan['steps'] = [...weights, 100].map((w) => (rnd() < 0.15 ? { weight: w, pause: '1500ms' } : w));
    return {
      name: `r${String(i).padStart(3, '0')}`, steps, interval: pick(['1s', '1s', '2s']),
      // One in six aborted, one in six given a new canary mid-way, one in six followed by the next
      // release once promoted (stable: v2, canary: v3); which step they act at is random.
      action: i % 6 === 1 ? 'abort' : i % 6 === 4 ? 'change' : i % 6 === 3 ? 'next' : 'none',
      actAt: weights[Math.floor(rnd() * weights.length)] ?? 1,
      created: false, acted: false,
    };
  });
  const expected = (p: Plan) => (p.action === 'abort' ? 'RolledBack' : 'Promoted');
  const actions: Action[] = [];
  let missedActions = 0;

  const recorder = new WriteRecorder(o.kubeconfig, ns);
  await recorder.start();

  const rolloutOf = async (name: string) => (await co.getNamespacedCustomObject({ ...REFS.Rollout, namespace: ns, name })) as WatchedObject;
  const status = (r: WatchedObject) => (r.status ?? {}) as { phase?: string; canaryWeight?: number; release?: string };
  const terminal = (p: Plan, r: WatchedObject | undefined) => {
    const s = r && status(r);
    if (!s || r!.metadata.generation !== (s as { observedGeneration?: number }).observedGeneration) return false;
    if (p.action !== 'none' && !p.acted) return false;
    return s.phase === expected(p);
  };

  const create = async (p: Plan) => {
    const body: KubernetesObject = {
      apiVersion: 'fledge.dev/v1alpha1', kind: 'Rollout', metadata: { name: p.name, namespace: ns },
      spec: {
        service: { name: p.name }, stable: { labels: { app: p.name, version: 'v1' } }, canary: { labels: { app: p.name, version: 'v2' } },
        strategy: { steps: p.steps, interval: p.interval },
      },
    } as KubernetesObject;
    await objects.patch(body, undefined, undefined, 'argocd-controller', true, PatchStrategy.ServerSideApply);
    p.created = true;
  };

  /** Abort or change the release, guarded by resourceVersion so it acts on the status it read. */
  const act = async (p: Plan, r: WatchedObject) => {
    const s = status(r);
    if (!s.release || (s.canaryWeight ?? 0) < p.actAt) return;
    // An abort may come at any time (after promotion too: it puts 100 % back on stable); a new
    // canary only while the old one has not all the traffic (else the guard holds it, by design);
    // the next release once this one is promoted.
    const ready = p.action === 'abort' ? s.phase === 'Progressing' || s.phase === 'Promoted'
      : p.action === 'next' ? s.phase === 'Promoted'
      : s.phase === 'Progressing' && (s.canaryWeight ?? 0) < 100;
    if (!ready) {
      if (p.action === 'change' && s.phase === 'Promoted') {
        p.action = 'none';
        missedActions++;
        log(`${p.name}: promoted before its change could land; expecting Promoted`);
      }
      return;
    }
    const body = p.action === 'abort'
      ? { metadata: { resourceVersion: r.metadata.resourceVersion, annotations: { 'fledge.dev/abort': s.release } } }
      : p.action === 'next'
        ? { metadata: { resourceVersion: r.metadata.resourceVersion }, spec: { stable: { labels: { version: 'v2' } }, canary: { labels: { version: 'v3' } } } }
        : { metadata: { resourceVersion: r.metadata.resourceVersion }, spec: { canary: { labels: { version: 'v3' } } } };
    try {
      const written = (await co.patchNamespacedCustomObject({ ...REFS.Rollout, namespace: ns, name: p.name, body, fieldManager: p.action === 'abort' ? 'fledge-cli' : 'argocd-controller' }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))) as WatchedObject;
      actions.push({ rollout: p.name, what: p.action as Action['what'], rv: BigInt(written.metadata.resourceVersion!) });
      p.acted = true;
      log(`${p.name}: ${p.action} at canary weight ${s.canaryWeight}`);
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
    }
  };

  // The test's own GitOps: keeps `concurrency` rollouts in flight, acts on some mid-way.
  let driving = true;
  let driverError: unknown;
  const driver = (async () => {
    while (driving) {
      let active = 0;
      for (const p of plans.filter((x) => x.created)) {
        const r = await rolloutOf(p.name);
        if (!terminal(p, r)) active++;
        if (p.action !== 'none' && !p.acted) await act(p, r);
      }
      for (const p of plans.filter((x) => !x.created)) {
        if (active >= concurrency) break;
        await create(p);
        active++;
      }
      await sleep(150);
    }
  })().catch((err) => { driverError = err; });

  const args = ['--namespace', ns, '--resync', '10s'];
  const env = { LOG_LEVEL: 'info' };
  const killsByStage: Record<Stage, number> = { serving: 0, synced: 0, started: 0 };
  const restarts: number[] = [];
  let killsSurvived = 0;
  let controller: ControllerProcess | undefined;
  try {
    for (let k = 0; k < kills; k++) {
      const stage = pick(['serving', 'synced', 'started', 'started', 'started'] as const);
      const spawned = Date.now();
      controller = await ControllerProcess.start({ kubeconfig: o.kubeconfig, args, env, until: STAGE_LOG[stage], timeoutMs: 60_000 });
      if (stage === 'started') restarts.push(Date.now() - spawned);
      if (k > 0) killsSurvived++;
      // Skewed towards short lives: most kills land in the first reconciles after a start.
      const life = Math.floor(rnd() ** 2 * maxLife);
      await sleep(life);
      controller.kill('SIGKILL');
      await controller.exited;
      killsByStage[stage]++;
      log(`kill ${k + 1}/${kills}: stage ${stage} + ${life} ms (lived ${Date.now() - spawned} ms)`);
      if (driverError) throw driverError;
    }
    // The survivor: everything must converge now, with nobody killing it.
    const spawned = Date.now();
    controller = await ControllerProcess.start({ kubeconfig: o.kubeconfig, args, env });
    restarts.push(Date.now() - spawned);
    if (kills > 0) killsSurvived++;
    const deadline = Date.now() + (o.settleTimeoutMs ?? 180_000);
    for (;;) {
      if (driverError) throw driverError;
      const states = await Promise.all(plans.map(async (p) => (p.created ? terminal(p, await rolloutOf(p.name)) : false)));
      if (states.every(Boolean)) break;
      if (Date.now() > deadline) {
        const stuck = await Promise.all(plans.filter((_, i) => !states[i]).map(async (p) => {
          const r = p.created ? status(await rolloutOf(p.name)) : undefined;
          return `${p.name} (${p.action}${p.acted ? ', acted' : ''}): ${r ? `${r.phase} at ${r.canaryWeight}` : 'not created'}`;
        }));
        throw new Error(`not every rollout finished within ${(o.settleTimeoutMs ?? 180_000) / 1000} s after the last kill:\n${stuck.join('\n')}\nlast controller output:\n${controller.raw.slice(-30).join('\n')}`);
      }
      await sleep(250);
    }
  } finally {
    driving = false;
    await driver;
    await controller?.stop();
  }
  // Let the recorder catch up with the last writes.
  await sleep(500);
  recorder.stop();

  const violations = [...recorder.gaps.map((g) => `recorder: ${g}`)];
  const { violations: history, stats } = checkHistory(recorder.ordered(), actions);
  violations.push(...history);
  let promoted = 0;
  let rolledBack = 0;
  for (const p of plans) {
    const r = await rolloutOf(p.name);
    const s = r.status as { phase?: string; canaryWeight?: number; stableLabels?: Record<string, string>; canaryLabels?: Record<string, string> };
    if (s.phase === 'Promoted') promoted++;
    if (s.phase === 'RolledBack') rolledBack++;
    if (s.phase !== expected(p)) violations.push(`${p.name}: ended ${s.phase}, expected ${expected(p)}`);
    const [vs, dr] = await Promise.all([
      co.getNamespacedCustomObject({ ...REFS.VirtualService, namespace: ns, name: p.name }).catch(() => undefined) as Promise<WatchedObject | undefined>,
      co.getNamespacedCustomObject({ ...REFS.DestinationRule, namespace: ns, name: p.name }).catch(() => undefined) as Promise<WatchedObject | undefined>,
    ]);
    if (!vs || !dr) {
      violations.push(`${p.name}: lost its ${!vs ? 'VirtualService' : ''}${!vs && !dr ? ' and ' : ''}${!dr ? 'DestinationRule' : ''}`);
      continue;
    }
    for (const obj of [vs, dr]) {
      if (!obj.metadata.ownerReferences?.some((ref) => ref.uid === r.metadata.uid && ref.controller)) violations.push(`${p.name}: ${obj.metadata.name} lacks its ownerReference`);
    }
    const routes = (vs.spec?.http ?? []) as { route?: { destination?: { subset?: string }; weight?: number }[] }[];
    for (const problem of weightProblems(routes)) violations.push(`${p.name}: final VirtualService: ${problem}`);
    const canaryWeight = routes[0]?.route?.find((d) => d.destination?.subset === 'canary')?.weight;
    if (canaryWeight !== s.canaryWeight) violations.push(`${p.name}: VirtualService sends ${canaryWeight}% to the canary, status says ${s.canaryWeight}`);
    const subsets = (dr.spec?.subsets ?? []) as { name: string; labels: Record<string, string> }[];
    const want = { stable: { app: p.name, version: p.action === 'next' ? 'v2' : 'v1' }, canary: { app: p.name, version: p.action === 'none' || p.action === 'abort' ? 'v2' : 'v3' } };
    if (JSON.stringify(subsets.map((x) => x.labels)) !== JSON.stringify([want.stable, want.canary])) violations.push(`${p.name}: DestinationRule subsets ${JSON.stringify(subsets)}`);
  }
  const evs = recorder.events;
  return {
    seed, kills, killsSurvived, killsByStage, rollouts: total,
    aborted: plans.filter((p) => p.action === 'abort').length,
    changed: plans.filter((p) => p.action === 'change').length,
    nextReleases: plans.filter((p) => p.action === 'next').length,
    promoted, rolledBack,
    recorded: {
      rolloutEvents: evs.filter((e) => e.kind === 'Rollout').length,
      vsEvents: evs.filter((e) => e.kind === 'VirtualService').length,
      drEvents: evs.filter((e) => e.kind === 'DestinationRule').length,
    },
    stats, violations, durationMs: Date.now() - t0, missedActions,
    restartMs: { mean: Math.round(restarts.reduce((a, b) => a + b, 0) / Math.max(1, restarts.length)), max: Math.max(0, ...restarts) },
  };
}
