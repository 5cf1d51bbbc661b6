import { hostname } from 'node:os';
import type { Server } from 'node:http';
import type { KubernetesObject } from '@kubernetes/client-node';
import { FIELD_MANAGER, GROUP, PLURAL, ROLLOUT_LABEL, VERSION } from '../api/constants.ts';
import { adoptedVirtualServices, generatedHosts, type RolloutObject } from '../api/rollout-object.ts';
import type { KubeObject } from '../api/object.ts';
import { KubeClient, loadKubeConfig, type ResourceRef } from '../kube/client.ts';
import { EventRecorder } from '../kube/events.ts';
import { FreshCache } from '../kube/fresh-cache.ts';
import { Informer } from '../kube/informer.ts';
import { LeaderElector } from '../kube/lease.ts';
import { dropManagedFields, slimManagedFields } from '../kube/prune.ts';
import type { Logger } from '../kube/log.ts';
import { WorkQueue, type Lane } from '../kube/workqueue.ts';
import { policyOf, type PrometheusConfig } from '../metrics/provider-config.ts';
import { istioRouter } from '../router/istio/render.ts';
import type { TrafficRouter } from '../router/types.ts';
import type { Analyzer } from './analyzer.ts';
import { ClaimIndex } from './claims.ts';
import { CONTROLLER_DEFAULTS } from './defaults.ts';
import { parseDuration } from '../api/duration.ts';
import { HostIndex } from './host-index.ts';
import { startHealthServer } from './health.ts';
import { ControllerMetrics } from './metrics.ts';
import { PrometheusAnalyzer } from './prometheus-analyzer.ts';
import { isStaleWrite } from './executor.ts';
import { Reconciler } from './reconciler.ts';

export interface ControllerOptions {
  log: Logger;
  kubeconfig?: string;
  /** A context of the kubeconfig other than its current one. */
  context?: string;
  /** Watch one namespace only; needs no cluster-wide permissions. */
  namespace?: string;
  workers?: number;
  resyncMs?: number;
  metricsAddress?: string;
  qps?: number;
  burst?: number;
  leaderElect?: boolean;
  leaseNamespace?: string;
  leaseName?: string;
  identity?: string;
  /** Judges steps; the default reads Prometheus. */
  analyzer?: Analyzer;
  /**
   * The Prometheus providers the platform team configured (--prometheus-address,
   * --prometheus-config); default none, so a Rollout with analysis is Invalid until one is set.
   */
  prometheus?: PrometheusConfig;
  onLostLeadership?: () => void;
  /** The mesh it steers, by the TrafficRouter interface only; default Istio. */
  router?: TrafficRouter;
}

const ROLLOUTS: ResourceRef = { group: GROUP, version: VERSION, plural: PLURAL };

export class Controller {
  readonly metrics = new ControllerMetrics();
  private readonly o: ControllerOptions;
  private readonly client: KubeClient;
  private readonly queue: WorkQueue;
  private readonly informers: { rollouts: Informer<RolloutObject & KubernetesObject>; vs: Informer<KubeObject & KubernetesObject>; dr: Informer<KubeObject & KubernetesObject> };
  private readonly caches: { rollouts: FreshCache<RolloutObject & KubernetesObject>; vs: FreshCache<KubeObject & KubernetesObject>; dr: FreshCache<KubeObject & KubernetesObject> };
  private readonly claims = new ClaimIndex();
  /** Canonical host -> `namespace/name` of the VirtualServices, and of the Rollouts, naming it. */
  private readonly vsHosts: HostIndex;
  private readonly rolloutHosts: HostIndex;
  private readonly router: TrafficRouter;
  private elector: LeaderElector | undefined;
  private server: Server | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private workers: Promise<void> | undefined;
  metricsPort = 0;

  constructor(opts: ControllerOptions) {
    this.o = opts;
    const router = (this.router = opts.router ?? istioRouter);
    this.vsHosts = new HostIndex((h, ns) => router.canonicalHost(h, ns));
    this.rolloutHosts = new HostIndex((h, ns) => router.canonicalHost(h, ns));
    const kc = loadKubeConfig({ file: opts.kubeconfig, context: opts.context });
    this.client = new KubeClient(kc, { fieldManager: FIELD_MANAGER, qps: opts.qps ?? CONTROLLER_DEFAULTS.qps, burst: opts.burst ?? CONTROLLER_DEFAULTS.burst });
    this.client.onRequest = (verb, resource) => this.metrics.apiRequests.inc({ verb, resource });
    this.client.onThrottled = (verb, resource, status, waitMs) => {
      this.metrics.apiThrottled.inc({ verb, resource });
      opts.log.info({ verb, resource, status, waitMs }, 'API server asked to slow down; retrying after its Retry-After');
    };
    this.queue = new WorkQueue({
      isTransient: isStaleWrite,
      metrics: this.metrics.queue,
      onError: (key, err, retryIn) => {
        this.metrics.reconcileErrors.inc();
        const level = isStaleWrite(err) ? 'debug' : 'warn';
        opts.log[level]({ rollout: key, err: (err as Error).message, retryInMs: retryIn }, 'reconcile failed');
      },
    });
    // managedFields are trimmed first thing in the change handlers below, before anyone can read
    // the object: a listed object enters the cache through them too (client-node's ListWatch calls
    // the add/update handlers for each new or changed item, and keeps the trimmed copy otherwise).
    const informer = <T extends KubernetesObject>(name: string, ref: ResourceRef) => new Informer<T>(kc, {
      name,
      path: opts.namespace ? `/apis/${ref.group}/${ref.version}/namespaces/${opts.namespace}/${ref.plural}` : `/apis/${ref.group}/${ref.version}/${ref.plural}`,
      list: () => this.client.list<T>(ref, opts.namespace),
      log: opts.log,
      // A controller that cannot watch cannot see an abort either: look again every few seconds
      // (three informers, one request each) rather than up to 30 s after the API server is back.
      maxBackoffMs: 5_000,
    });
    this.informers = {
      rollouts: informer('rollouts', ROLLOUTS),
      vs: informer('virtualservices', router.resources.virtualService),
      dr: informer('destinationrules', router.resources.destinationRule),
    };
    this.caches = { rollouts: new FreshCache(this.informers.rollouts), vs: new FreshCache(this.informers.vs), dr: new FreshCache(this.informers.dr) };

    this.informers.rollouts.onChange((type, obj) => {
      dropManagedFields(obj);
      const seen = this.caches.rollouts.observe(type, obj);
      if (type === 'delete') this.claims.delete(obj);
      else this.claims.update(obj);
      const key = `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
      if (type === 'delete') this.rolloutHosts.delete(key);
      else this.rolloutHosts.update(key, obj.metadata?.namespace ?? '', generatedHosts(obj));
      if (seen === 'news') this.enqueue(obj.metadata?.namespace, obj.metadata?.name);
    });
    this.caches.rollouts.onReleased = (_type, obj, echo) => {
      if (!echo) this.enqueue(obj.metadata?.namespace, obj.metadata?.name);
    };
    // After an outage, work that failed meanwhile sits in the queue's back-off (up to 5 min) and
    // events may have been missed: once a watch works again, reconcile every Rollout now.
    for (const inf of Object.values(this.informers)) {
      inf.onRecovered(() => {
        this.sweep();
      });
    }
    for (const [kind, inf, cache] of [['VirtualService', this.informers.vs, this.caches.vs], ['DestinationRule', this.informers.dr, this.caches.dr]] as const) {
      inf.onChange((type, obj) => {
        slimManagedFields(obj);
        const seen = cache.observe(type, obj);
        if (kind === 'VirtualService') this.indexHosts(type, obj, seen !== 'held');
        if (seen !== 'held') this.enqueueOwnersOf(kind, obj, seen === 'echo');
      });
      cache.onReleased = (type, obj, echo) => {
        if (kind === 'VirtualService') this.indexHosts(type, obj, true);
        this.enqueueOwnersOf(kind, obj, echo);
      };
    }
  }

  /**
   * Until the workers start, every event is the initial list: background, like the sweep that
   * follows. Afterwards an event is a change someone is waiting on: it goes before any sweep.
   */
  private enqueue(namespace: string | undefined, name: string | undefined, lane: Lane = this.workers ? 'now' : 'background'): void {
    if (!namespace || !name) return;
    this.queue.add(`${namespace}/${name}`, lane);
  }

  /** Every Rollout, behind any change someone is waiting on. */
  private sweep(): void {
    for (const r of this.informers.rollouts.list()) this.enqueue(r.metadata?.namespace, r.metadata?.name, 'background');
  }

  /**
   * A VirtualService's hosts are indexed, and the Rollouts whose hosts it named before or names
   * now are woken: another VirtualService for their host (or its removal) decides whether Istio
   * applies theirs (see hostOverlaps).
   */
  private indexHosts(type: string, obj: KubeObject, wake: boolean): void {
    const ns = obj.metadata.namespace ?? '';
    const key = `${ns}/${obj.metadata.name}`;
    const before = type === 'delete' ? this.vsHosts.delete(key) : this.vsHosts.update(key, ns, this.router.objectHosts(obj));
    if (!wake) return;
    const owner = obj.metadata.labels?.[ROLLOUT_LABEL];
    for (const r of this.rolloutHosts.naming([...new Set([...before, ...this.vsHosts.hostsOf(key)])])) {
      const i = r.indexOf('/');
      // The Rollout that generated it is woken by enqueueOwnersOf (unless it is the echo of its own write).
      if (r.slice(i + 1) !== owner || r.slice(0, i) !== ns) this.enqueue(r.slice(0, i), r.slice(i + 1));
    }
  }

  /**
   * A VirtualService or DestinationRule changed: wake the Rollout that generated it, those that
   * adopt it, and (for a VirtualService no Rollout generated) those that claim its name. Looked
   * up in the claim index: scanning every Rollout of the namespace per event was O(N²) at startup.
   */
  private enqueueOwnersOf(kind: 'VirtualService' | 'DestinationRule', obj: KubeObject, echo: boolean): void {
    const ns = obj.metadata.namespace ?? '';
    const name = obj.metadata.name;
    const owner = obj.metadata.labels?.[ROLLOUT_LABEL];
    // The echo of our own write is no news to the Rollout that generated the object (its reconcile
    // wrote it); others that adopt or claim it still need to look.
    if (owner && !echo) this.enqueue(ns, owner);
    if (kind === 'DestinationRule') {
      for (const r of this.claims.adoptingDestinationRule(ns, name)) this.enqueue(ns, r);
      return;
    }
    for (const r of this.claims.claimingVirtualService(ns, name)) {
      const rollout = this.informers.rollouts.get(r, ns);
      if (!owner || (rollout && adoptedVirtualServices(rollout).includes(name))) this.enqueue(ns, r);
    }
  }

  ready(): { ok: boolean; detail: string } {
    const parts = Object.entries(this.informers).map(([name, inf]) => `${name}: ${inf.synced ? 'synced' : 'syncing'}, ${inf.healthy ? 'watching' : 'reconnecting'}`);
    const ok = Object.values(this.informers).every((i) => i.synced && i.healthy);
    return { ok, detail: parts.join('; ') };
  }

  async start(): Promise<void> {
    const { log } = this.o;
    const health = await startHealthServer(this.o.metricsAddress ?? CONTROLLER_DEFAULTS.metricsAddress, { registry: this.metrics.registry, ready: () => this.ready() });
    this.server = health.server;
    this.metricsPort = health.port;
    log.info({ port: health.port }, 'serving /metrics, /healthz, /readyz');

    await Promise.all(Object.values(this.informers).map((i) => i.start()));
    if (this.stopping) return;
    log.info({ namespace: this.o.namespace ?? '(all)', rollouts: this.informers.rollouts.list().length }, 'caches synced');

    if (this.o.leaderElect) {
      const identity = this.o.identity ?? `${hostname()}-${process.pid}`;
      this.elector = new LeaderElector(this.client, {
        namespace: this.o.leaseNamespace ?? this.o.namespace ?? CONTROLLER_DEFAULTS.leaseNamespace,
        name: this.o.leaseName ?? CONTROLLER_DEFAULTS.leaseName,
        identity, log, metrics: this.metrics.leaderElection,
      });
      log.info({ identity }, 'waiting for leadership');
      const leading = await this.elector.run(() => this.o.onLostLeadership?.());
      if (!leading || this.stopping) {
        log.info({ identity }, 'stopped before leading');
        return;
      }
    }

    const prometheus = this.o.prometheus ?? { providers: [], allowedAddresses: [] };
    const reconciler = new Reconciler({
      rollouts: this.caches.rollouts, virtualServices: this.caches.vs, destinationRules: this.caches.dr,
      claimants: (ns, vs) => this.claims.claimingVirtualService(ns, vs).flatMap((n) => this.caches.rollouts.get(n, ns) ?? []),
      virtualServicesNaming: (hosts) => this.vsHosts.naming(hosts).flatMap((k) => {
        const i = k.indexOf('/');
        return this.caches.vs.get(k.slice(i + 1), k.slice(0, i)) ?? [];
      }),
      client: this.client,
      recorder: new EventRecorder(this.client, `${GROUP}/controller`, this.o.identity ?? `${hostname()}-${process.pid}`, log),
      router: this.router,
      prometheus: policyOf(prometheus),
      analyzer: this.o.analyzer ?? new PrometheusAnalyzer({
        log,
        prometheus,
        onQuery: (_q, ms, outcome) => {
          this.metrics.promQueries.inc({ outcome });
          this.metrics.promQueryDuration.observe(ms / 1000);
        },
      }),
      metrics: this.metrics,
      log,
    });
    this.workers = this.queue.run(this.o.workers ?? CONTROLLER_DEFAULTS.workers, async (key) => {
      const end = this.metrics.reconcileDuration.startTimer();
      try {
        const result = await reconciler.reconcile(key);
        this.metrics.reconciles.inc({ result: 'ok' });
        return result;
      } catch (err) {
        this.metrics.reconciles.inc({ result: 'error' });
        throw err;
      } finally {
        end();
      }
    });
    this.sweep();
    // Level-triggered safety net: even a lost event or timer is healed within one period.
    const resync = this.o.resyncMs ?? parseDuration(CONTROLLER_DEFAULTS.resync)!;
    this.resyncTimer = setInterval(() => this.sweep(), resync);
    this.resyncTimer.unref();
    log.info({ workers: this.o.workers ?? CONTROLLER_DEFAULTS.workers, resyncMs: resync }, 'controller started');
  }

  /** Set by `stop()`: a `start()` still waiting (caches, leadership) returns instead of starting workers. */
  private stopping = false;

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.queue.shutDown();
    // Let in-flight reconciles finish their writes, but never hang a shutdown on them.
    if (this.workers) await Promise.race([this.workers, new Promise((r) => setTimeout(r, 10_000).unref())]);
    await this.elector?.release();
    await Promise.all(Object.values(this.informers).map((i) => i.stop()));
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections?.();
  }
}
