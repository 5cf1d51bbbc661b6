import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from './log.ts';

export type ChangeType = 'add' | 'update' | 'delete';
export type ChangeHandler<T> = (type: ChangeType, obj: T) => void;

export interface InformerOptions<T extends KubernetesObject> {
  name: string;
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  labelSelector?: string;
  log: Logger;
  maxBackoffMs?: number;
}

/**
 * client-node's Watch, telling when a watch stream is actually open. `watch()` resolves once the
 * API server has answered: with 200 the stream is open, otherwise `done` was already called with
 * the error. Neither a successful list nor a connect attempt says the watch works: with RBAC that
 * grants `list` but not `watch`, both happen on every retry while the cache is blind.
 */
class OpenedWatch extends Watch {
  private readonly onOpen: () => void;

  constructor(kc: KubeConfig, onOpen: () => void) {
    super(kc);
    this.onOpen = onOpen;
  }

  override async watch(
    path: string, queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    let ended = false;
    const controller = await super.watch(path, queryParams, callback, (err) => { ended = true; done(err); });
    if (!ended) this.onOpen();
    return controller;
  }
}

/**
 * A cache of one resource kept current by list+watch. client-node relists by itself on 410 Gone
 * but stops on any other error; this restarts it with back-off, so a dropped connection or an
 * API server restart heals without anyone noticing.
 */
export class Informer<T extends KubernetesObject> {
  private readonly lw: ListWatch<T>;
  private readonly handlers: ChangeHandler<T>[] = [];
  private readonly opts: InformerOptions<T>;
  private backoffMs = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  synced = false;
  healthy = false;
  lastContact = 0;
  restarts = 0;
  relists = 0;
  private readonly recoveredHandlers: (() => void)[] = [];
  /** When the current run of failures began; 0 while the watch works. */
  private downSince = 0;

  private readonly firstList: Promise<void>;
  private listed!: () => void;

  constructor(kc: KubeConfig, opts: InformerOptions<T>) {
    this.opts = opts;
    this.firstList = new Promise((resolve) => { this.listed = resolve; });
    const listFn = async () => {
      const list = await opts.list();
      // A list after the first: the watch expired (410 Gone: its revision was compacted away, or
      // a restarted API server's watch cache no longer has it) and the cache is rebuilt.
      if (this.synced) {
        this.relists++;
        opts.log.info({ informer: opts.name, objects: list.items.length, relists: this.relists }, 'relisted');
      }
      this.lastContact = Date.now();
      this.synced = true;
      this.listed();
      return list;
    };
    // Healthy only once a watch stream is open: the cache is then kept current, not just listed.
    this.lw = new ListWatch<T>(opts.path, new OpenedWatch(kc, () => this.touch()), listFn, false, opts.labelSelector);
    this.lw.on('add', (o) => this.emit('add', o));
    this.lw.on('update', (o) => this.emit('update', o));
    this.lw.on('delete', (o) => this.emit('delete', o));
    this.lw.on('error', (err) => this.onError(err));
  }

  onChange(handler: ChangeHandler<T>): void {
    this.handlers.push(handler);
  }

  private emit(type: ChangeType, obj: T): void {
    this.touch();
    for (const h of this.handlers) h(type, obj);
  }

  /** Called when the watch works again after it failed (events may have been missed meanwhile). */
  onRecovered(handler: () => void): void {
    this.recoveredHandlers.push(handler);
  }

  private touch(): void {
    const recovering = !this.healthy && this.downSince > 0;
    this.lastContact = Date.now();
    this.healthy = true;
    this.backoffMs = 0;
    if (recovering) {
      this.opts.log.info({ informer: this.opts.name, downMs: Date.now() - this.downSince }, 'watch restored');
      this.downSince = 0;
      setTimeout(() => { for (const h of this.recoveredHandlers) h(); }, 0).unref?.();
    }
  }

  /** Resolves after the first successful list; failed lists are retried with back-off. */
  async start(): Promise<void> {
    this.stopped = false;
    this.lw.start().catch((err) => this.onError(err));
    await this.firstList;
  }

  private nextBackoff(): number {
    this.backoffMs = Math.min(this.opts.maxBackoffMs ?? 30_000, this.backoffMs ? this.backoffMs * 2 : 500);
    return this.backoffMs;
  }

  private onError(err: unknown): void {
    this.healthy = false;
    if (this.downSince === 0) this.downSince = Date.now();
    if (this.stopped) return;
    const e = err as { message?: string; code?: unknown; statusCode?: unknown };
    this.opts.log.warn({ informer: this.opts.name, err: e?.message ?? String(err), code: e?.code ?? e?.statusCode }, 'watch failed; restarting');
    if (this.restartTimer) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.restarts++;
      // start() resolves even when its list or watch failed (those arrive as error events).
      if (!this.stopped) this.lw.start().catch((e2) => this.onError(e2));
    }, this.nextBackoff());
  }

  get(name: string, namespace?: string): T | undefined {
    return this.lw.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.lw.list(namespace);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.listed();
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.lw.stop();
  }
}
