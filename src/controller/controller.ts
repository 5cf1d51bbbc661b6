import { hostname } from 'node:os';
import type { Server } from 'node:http';
import type { KubernetesObject } from '@kubernetes/client-node';
import { FIELD_MANAGER, GROUP, ISTIO_GROUP, ISTIO_VERSION, PLURAL, ROLLOUT_LABEL, VERSION } from '../api/constants.ts';
import type { KubeObject } from '../api/object.ts';
import { KubeClient, loadKubeConfig, type ResourceRef } from '../kube/client.ts';
import { EventRecorder } from '../kube/events.ts';
import { FreshCache } from '../kube/fresh-cache.ts';
import { Informer } from '../kube/informer.ts';
import { LeaderElector } from '../kube/lease.ts';
import type { Logger } from '../kube/log.ts';
import { WorkQueue } from '../kube/workqueue.ts';
import { istioRouter } from '../router/istio/render.ts';
import type { Analyzer } from './analyzer.ts';
import { claimedVirtualService } from './conflicts.ts';
import { startHealthServer } from './health.ts';
import { ControllerMetrics } from './metrics.ts';
import { PrometheusAnalyzer } from './prometheus-analyzer.ts';
import { Reconciler, isStaleWrite, type RolloutObject } from './reconciler.ts';

export interface ControllerOptions {
  log: Logger;
  kubeconfig?: string;
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
  onLostLeadership?: () => void;
}

const VS_REF: ResourceRef = { group: ISTIO_GROUP, version: ISTIO_VERSION, plural: 'virtualservices' };
const DR_REF: ResourceRef = { group: ISTIO_GROUP, version: ISTIO_VERSION, plural: 'destinationrules' };
const ROLLOUTS: ResourceRef = { group: GROUP, version: VERSION, plural: PLURAL };

export class Controller {
  readonly metrics = new ControllerMetrics();
  private readonly o: ControllerOptions;
  private readonly client: KubeClient;
  private readonly queue: WorkQueue;
  private readonly informers: { rollouts: Informer<RolloutObject & KubernetesObject>; vs: Informer<KubeObject & KubernetesObject>; dr: Informer<KubeObject & KubernetesObject> };
  private readonly caches: { rollouts: FreshCache<RolloutObject & KubernetesObject>; vs: FreshCache<KubeObject & KubernetesObject>; dr: FreshCache<KubeObject & KubernetesObject> };
  private elector: LeaderElector | undefined;
  private server: Server | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private workers: Promise<void> | undefined;
  metricsPort = 0;

  constructor(opts: ControllerOptions) {
    this.o = opts;
    const kc = loadKubeConfig(opts.kubeconfig);
    this.client = new KubeClient(kc, { fieldManager: FIELD_MANAGER, qps: opts.qps ?? 50, burst: opts.burst ?? 100 });
    this.client.onRequest = (verb, resource) => this.metrics.apiRequests.inc({ verb, resource });
    this.queue = new WorkQueue({
      isTransient: isStaleWrite,
      onError: (key, err, retryIn) => {
        this.metrics.reconcileErrors.inc();
        const level = isStaleWrite(err) ? 'debug' : 'warn';
        opts.log[level]({ rollout: key, err: (err as Error).message, retryInMs: retryIn }, 'reconcile failed');
      },
    });
    const informer = <T extends KubernetesObject>(name: string, ref: ResourceRef) => new Informer<T>(kc, {
      name,
      path: opts.namespace ? `/apis/${ref.group}/${ref.version}/namespaces/${opts.namespace}/${ref.plural}` : `/apis/${ref.group}/${ref.version}/${ref.plural}`,
      list: () => this.client.list<T>(ref, opts.namespace),
      log: opts.log,
    });
    this.informers = { rollouts: informer('rollouts', ROLLOUTS), vs: informer('virtualservices', VS_REF), dr: informer('destinationrules', DR_REF) };
    this.caches = { rollouts: new FreshCache(this.informers.rollouts), vs: new FreshCache(this.informers.vs), dr: new FreshCache(this.informers.dr) };

    this.informers.rollouts.onChange((type, obj) => {
      this.caches.rollouts.observe(type, obj);
      this.enqueue(obj.metadata?.namespace, obj.metadata?.name);
    });
    for (const [inf, cache] of [[this.informers.vs, this.caches.vs], [this.informers.dr, this.caches.dr]] as const) {
      inf.onChange((type, obj) => {
        cache.observe(type, obj);
        this.enqueueOwnersOf(obj);
      });
    }
  }

  private enqueue(namespace: string | undefined, name: string | undefined): void {
    if (!namespace || !name) return;
    this.queue.add(`${namespace}/${name}`);
    this.metrics.queueDepth.set(this.queue.depth());
  }

  /** A VirtualService or DestinationRule changed: wake the Rollout that generated or adopted it. */
  private enqueueOwnersOf(obj: KubeObject): void {
    const ns = obj.metadata.namespace;
    const owner = obj.metadata.labels?.[ROLLOUT_LABEL];
    if (owner) this.enqueue(ns, owner);
    for (const r of this.informers.rollouts.list(ns)) {
      const tr = (r.spec as { trafficRouting?: { virtualService?: { ref?: string }; destinationRule?: { ref?: string } } } | undefined)?.trafficRouting;
      const adopted = obj.kind === 'DestinationRule' ? tr?.destinationRule?.ref : tr?.virtualService?.ref;
      if (adopted === obj.metadata.name || (obj.kind === 'VirtualService' && !owner && claimedVirtualService(r) === obj.metadata.name)) {
        this.enqueue(ns, r.metadata.name);
      }
    }
  }

  ready(): { ok: boolean; detail: string } {
    const parts = Object.entries(this.informers).map(([name, inf]) => `${name}: ${inf.synced ? 'synced' : 'syncing'}, ${inf.healthy ? 'watching' : 'reconnecting'}`);
    const ok = Object.values(this.informers).every((i) => i.synced && i.healthy);
    return { ok, detail: parts.join('; ') };
  }

  async start(): Promise<void> {
    const { log } = this.o;
    const health = await startHealthServer(this.o.metricsAddress ?? '0.0.0.0:8080', { registry: this.metrics.registry, ready: () => this.ready() });
    this.server = health.server;
    this.metricsPort = health.port;
    log.info({ port: health.port }, 'serving /metrics, /healthz, /readyz');

    await Promise.all(Object.values(this.informers).map((i) => i.start()));
    log.info({ namespace: this.o.namespace ?? '(all)', rollouts: this.informers.rollouts.list().length }, 'caches synced');

    if (this.o.leaderElect) {
      const identity = this.o.identity ?? `${hostname()}-${process.pid}`;
      this.elector = new LeaderElector(this.client, {
        namespace: this.o.leaseNamespace ?? this.o.namespace ?? 'fledge-system',
        name: this.o.leaseName ?? 'fledge-controller',
        identity, log,
      });
      log.info({ identity }, 'waiting for leadership');
      await this.elector.run(() => this.o.onLostLeadership?.());
    }

    const reconciler = new Reconciler({
      rollouts: this.caches.rollouts, virtualServices: this.caches.vs, destinationRules: this.caches.dr,
      client: this.client,
      recorder: new EventRecorder(this.client, `${GROUP}/controller`, this.o.identity ?? `${hostname()}-${process.pid}`, log),
      router: istioRouter,
      analyzer: this.o.analyzer ?? new PrometheusAnalyzer({
        log,
        readSecret: (ns, name, key) => this.client.readSecretKey(ns, name, key),
        onQuery: (_q, ms, outcome) => {
          this.metrics.promQueries.inc({ outcome });
          this.metrics.promQueryDuration.observe(ms / 1000);
        },
      }),
      metrics: this.metrics,
      log,
    });
    this.workers = this.queue.run(this.o.workers ?? 4, async (key) => {
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
        this.metrics.queueDepth.set(this.queue.depth());
      }
    });
    for (const r of this.informers.rollouts.list()) this.enqueue(r.metadata?.namespace, r.metadata?.name);
    // Level-triggered safety net: even a lost event or timer is healed within one period.
    const resync = this.o.resyncMs ?? 300_000;
    this.resyncTimer = setInterval(() => {
      for (const r of this.informers.rollouts.list()) this.enqueue(r.metadata?.namespace, r.metadata?.name);
    }, resync);
    this.resyncTimer.unref();
    log.info({ workers: this.o.workers ?? 4, resyncMs: resync }, 'controller started');
  }

  async stop(): Promise<void> {
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
