/**
 * One reconcile as read, decide, write: read one snapshot of the Rollout and what bears on it from
 * the informer caches (plus the API server's dry run of the objects it would write, and the
 * judgement if one is due), call the pure `decide`, and let the executor perform the actions it
 * returns. A routing write the API server refuses is one more decision (`decideRefused`), whose
 * actions run before the reconcile fails.
 */
import type { PrometheusPolicy } from '../api/prometheus-policy.ts';
import type { KubeObject } from '../api/object.ts';
import { readRequests } from '../api/requests.ts';
import { withVirtualService, type ResolvedRollout } from '../api/resolve.ts';
import { claimedVirtualServices, type RolloutObject } from '../api/rollout-object.ts';
import type { Problem } from '../api/validate.ts';
import { checkRollout } from '../check/rollout.ts';
import type { KubeClient } from '../kube/client.ts';
import { KubeApiError } from '../kube/errors.ts';
import type { EventRecorder } from '../kube/events.ts';
import { withBindings, type Logger } from '../kube/log.ts';
import type { QueueResult } from '../kube/workqueue.ts';
import type { RoutingObjects, TrafficRouter } from '../router/types.ts';
import type { Analyzer } from './analyzer.ts';
import { admission, decide, decideRefused, judgementDue, liveVirtualServices, type Snapshot } from './decide.ts';
import { Executor, RoutingRefusedError, type Cache } from './executor.ts';
import type { ControllerMetrics } from './metrics.ts';

export { ROLLOUT_REF, isStaleWrite, type Cache } from './executor.ts';
export type { RolloutObject } from '../api/rollout-object.ts';

export interface ReconcilerDeps {
  rollouts: Cache<RolloutObject>;
  virtualServices: Cache<KubeObject>;
  destinationRules: Cache<KubeObject>;
  /** The Rollouts of a namespace that claim a VirtualService (an index). */
  claimants: (namespace: string, virtualService: string) => readonly RolloutObject[];
  /** The VirtualServices of any namespace that name one of these canonical hosts (an index; see HostIndex). */
  virtualServicesNaming: (canonicalHosts: readonly string[]) => readonly KubeObject[];
  client: KubeClient;
  recorder: EventRecorder;
  router: TrafficRouter;
  analyzer?: Analyzer;
  /** Which Prometheus a Rollout may name: the platform's provider configuration. */
  prometheus: PrometheusPolicy;
  metrics: ControllerMetrics;
  log: Logger;
  now?: () => Date;
}

export class Reconciler {
  private readonly d: ReconcilerDeps;
  private readonly executor: Executor;
  /** Rollouts whose generated objects the API server's dry run has judged, by uid/generation. */
  private readonly vetted = new Map<string, { stamp: string; problems: Problem[] }>();

  constructor(deps: ReconcilerDeps) {
    this.d = deps;
    this.executor = new Executor(deps);
  }

  async reconcile(key: string): Promise<QueueResult> {
    const [namespace, name] = splitKey(key);
    const raw = this.d.rollouts.get(name, namespace);
    if (!raw) {
      // Deleted: generated objects go with it through their ownerReferences.
      this.d.metrics.forgetRollout(namespace, name);
      this.vetted.delete(key);
      return {};
    }
    if (raw.metadata.deletionTimestamp) return {};
    const now = this.d.now?.() ?? new Date();
    const log = withBindings(this.d.log, { rollout: key });

    const snapshot = await this.read(raw, namespace, now, log);
    const decision = decide(snapshot, now, this.d.router);
    if (decision.problems) log.warn({ problems: decision.problems.map((p) => `${p.path}: ${p.message}`) }, 'invalid rollout');
    const resolved = snapshot.checked.ok ? snapshot.checked.resolved : undefined;
    const target = {
      rollout: raw, log,
      ...(resolved ? { resolved } : {}),
      ...(resolved ? { adoptedVirtualServices: adoptedVirtualServices(resolved, liveVirtualServices(snapshot, resolved)) } : {}),
    };
    let result: QueueResult;
    try {
      result = await this.executor.run(target, decision.actions);
    } catch (err) {
      if (!(err instanceof RoutingRefusedError)) throw err;
      // The cache holds the status written just before, if any, with the resourceVersion to guard on.
      const current = this.d.rollouts.get(name, namespace) ?? raw;
      await this.executor.run({ ...target, rollout: current }, decideRefused(snapshot, err.cause.message, now));
      throw err.cause;
    }
    this.d.metrics.setRollout(namespace, name, decision.status.phase ?? 'Pending', decision.status.canaryWeight ?? 0);
    return result;
  }

  /**
   * The snapshot: the Rollout checked offline (the same check as `fledge validate`, with the
   * platform's providers), the objects it names, the Rollouts and VirtualServices that bear on it
   * (from indexes); then, only once those admit it, the API server's dry run and the judgement.
   */
  private async read(raw: RolloutObject, namespace: string, now: Date, log: Logger): Promise<Snapshot> {
    const checked = checkRollout(raw, namespace, { prometheus: this.d.prometheus });
    const requests = readRequests(raw.metadata.annotations);
    if (!checked.ok) return { rollout: raw, checked, live: {}, claimants: [], overlapping: [], refusals: [], requests };
    const r = checked.resolved;
    const lives = r.virtualServices.map((vs) => this.d.virtualServices.get(vs.name, namespace));
    const virtualService = lives[0];
    const destinationRule = this.d.destinationRules.get(r.destinationRule.name, namespace);
    const live: RoutingObjects = { ...(virtualService ? { virtualService } : {}), ...(destinationRule ? { destinationRule } : {}) };
    const hosts = [...new Set(lives.flatMap((vs, i) => this.d.router.routedHosts(withVirtualService(r, i), { ...(vs ? { virtualService: vs } : {}) })))];
    const claimants = new Map(claimedVirtualServices(raw).flatMap((vs) => this.d.claimants(namespace, vs)).map((o) => [o.metadata.name, o]));
    const base = {
      rollout: raw, checked, live, requests,
      ...(lives.length > 1 ? { liveVirtualServices: lives } : {}),
      claimants: [...claimants.values()],
      overlapping: hosts.length > 0 ? this.d.virtualServicesNaming(hosts) : [],
    };
    const a = admission(base, this.d.router);
    const refusals = a.kind === 'admitted' && a.dryRun ? await this.dryRun(a.r) : [];
    const check = this.d.analyzer ? judgementDue(a, { rollout: raw, refusals, requests }, now) : undefined;
    if (!this.d.analyzer || !check) return { ...base, refusals };
    const analysis = await this.d.analyzer.analyze(r, check, now);
    this.d.metrics.analyses.inc({ verdict: analysis.verdict });
    log.debug({ step: analysis.stepIndex, final: analysis.final, verdict: analysis.verdict, reason: analysis.reason, canary: analysis.canary, stable: analysis.stable, pWorse: analysis.probabilityWorse, bayesFactor: analysis.bayesFactor, windowSeconds: analysis.windowSeconds, releaseSeconds: analysis.releaseSeconds }, 'analysis');
    return { ...base, refusals, analysis };
  }

  /**
   * The offline check judges the passthrough fields by the Istio CRD schema Fledge vendors; the
   * cluster's may be another version, and admission webhooks (istiod's validation, policies) may
   * refuse more. So every generated object is applied with dryRun=All first, once per generation,
   * and a refusal makes the Rollout Invalid (naming the field, as the router reads the refusal)
   * before anything is written, instead of a status that claims a weight whose objects the API
   * server refused. A refusal that may be lifted without a change to the Rollout is not
   * remembered; the write itself then ends as RoutingRefused, retried with back-off.
   */
  private async dryRun(r: ResolvedRollout): Promise<Problem[]> {
    const key = `${r.namespace}/${r.name}`;
    const stamp = `${r.uid ?? ''}/${r.generation}`;
    const memo = this.vetted.get(key);
    if (memo?.stamp === stamp) return memo.problems;
    const problems: Problem[] = [];
    let settled = true;
    for (const obj of this.d.router.objectsToVet(r)) {
      try {
        await this.d.client.applyDryRun(obj);
      } catch (err) {
        if (!(err instanceof KubeApiError)) throw err;
        const verdict = this.d.router.admissionVerdict(r, obj.kind, err.status, err.message);
        if (verdict === undefined) throw err;
        if (verdict === 'lifted') settled = false;
        else problems.push(verdict);
      }
    }
    if (settled) this.vetted.set(key, { stamp, problems });
    return problems;
  }
}

/** The live adopted VirtualServices by their index in `r.virtualServices` (the others left out). */
function adoptedVirtualServices(r: ResolvedRollout, lives: readonly (KubeObject | undefined)[]): Map<number, KubeObject> {
  const out = new Map<number, KubeObject>();
  r.virtualServices.forEach((vs, i) => {
    const live = lives[i];
    if (vs.mode === 'adopted' && live) out.set(i, live);
  });
  return out;
}

export function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}
