/**
 * A work queue with client-go's guarantees: a key is queued at most once however often it is
 * added, one key is never processed by two workers at once (an add during processing re-queues
 * it once done), delayed adds keep only the earliest due time, and failures back off per key.
 *
 * Two lanes, because a start or a resync queues every Rollout at once: with one FIFO, a Rollout
 * whose spec just changed (or whose canary must be rolled back) waited behind the whole backlog,
 * 50 s for 5,000 Rollouts. Keys woken by a change or a timer go in the `now` lane, bulk sweeps in
 * `background`; workers take from `now` first. A key queued in both runs once, at the earlier.
 */
export interface QueueResult { requeueAfterMs?: number }

/** `now`: something changed or a timer is due. `background`: a sweep over every key (start, resync). */
export type Lane = 'now' | 'background';

export type QueueHandler = (key: string) => Promise<QueueResult | void>;

/**
 * What a work queue reports, in client-go's terms (k8s.io/client-go/util/workqueue/metrics.go:
 * workqueue_adds_total, workqueue_depth, workqueue_queue_duration_seconds,
 * workqueue_work_duration_seconds, workqueue_retries_total); the controller names the metrics.
 */
export interface QueueMetrics {
  /** A key entered the queue (not counted again while it waits). */
  added(): void;
  /** Keys waiting now, not the delayed ones. */
  depth(n: number): void;
  /** Seconds a key waited between entering the queue and a worker taking it. */
  waited(seconds: number): void;
  /** Seconds a worker spent on one key. */
  worked(seconds: number): void;
  /** A key queued again after its handler failed. */
  retried(): void;
}

export interface WorkQueueOptions {
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  onError?: (key: string, err: unknown, retryInMs: number) => void;
  /** Errors that mean "read again and retry" (a write raced a newer version): short fixed retry, no back-off. */
  isTransient?: (err: unknown) => boolean;
  transientRetryMs?: number;
  metrics?: QueueMetrics;
}

/** The longest delay a Node.js timer supports. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A FIFO of keys with O(1) take; entries may be stale (see WorkQueue.take). */
class Fifo {
  private items: string[] = [];
  private head = 0;

  push(key: string): void { this.items.push(key); }

  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const key = this.items[this.head++];
    // Compact now and then so a long-running queue does not keep every key it ever held.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return key;
  }
}

export class WorkQueue {
  private readonly lanes: Record<Lane, Fifo> = { now: new Fifo(), background: new Fifo() };
  /** Keys waiting, and the lane each waits in; a FIFO entry whose lane differs is stale. */
  private readonly queued = new Map<string, Lane>();
  private readonly processing = new Set<string>();
  /** Keys added while processing, to be queued again (in this lane) when done. */
  private readonly dirty = new Map<string, Lane>();
  private readonly delayed = new Map<string, { due: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private readonly idle: (() => void)[] = [];
  /** When each waiting key entered the queue (ms since the epoch), for the queue's wait time. */
  private readonly since = new Map<string, number>();
  private wake: (() => void) | undefined;
  private stopped = false;
  private readonly opts: Required<Omit<WorkQueueOptions, 'onError' | 'isTransient' | 'metrics'>> & Pick<WorkQueueOptions, 'onError' | 'isTransient' | 'metrics'>;

  constructor(opts: WorkQueueOptions = {}) {
    this.opts = { baseBackoffMs: 500, maxBackoffMs: 300_000, transientRetryMs: 100, ...opts };
  }

  add(key: string, lane: Lane = 'now'): void {
    if (this.stopped) return;
    this.clearDelay(key);
    if (this.processing.has(key)) {
      this.dirty.set(key, earlier(this.dirty.get(key), lane));
      return;
    }
    const current = this.queued.get(key);
    if (current === 'now' || current === lane) return;
    // New, or moving up from background: the old background entry goes stale.
    this.queued.set(key, lane);
    this.lanes[lane].push(key);
    if (current === undefined) {
      this.since.set(key, Date.now());
      this.opts.metrics?.added();
      this.opts.metrics?.depth(this.queued.size);
    }
    this.wake?.();
  }

  /** The next key to process, `now` lane first, skipping stale entries. */
  private take(): string | undefined {
    for (const lane of ['now', 'background'] as const) {
      for (let key = this.lanes[lane].shift(); key !== undefined; key = this.lanes[lane].shift()) {
        if (this.queued.get(key) !== lane) continue;
        this.queued.delete(key);
        const m = this.opts.metrics;
        if (m) {
          m.waited((Date.now() - (this.since.get(key) ?? Date.now())) / 1000);
          m.depth(this.queued.size);
        }
        this.since.delete(key);
        return key;
      }
    }
    return undefined;
  }

  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (!(ms > 0)) return this.add(key);
    // Node fires a timer longer than 2^31-1 ms (24.8 days) after 1 ms: a step held for 1000h
    // would be reconciled in a hot loop. Waking early is harmless: the reconcile re-plans.
    ms = Math.min(ms, MAX_TIMER_MS);
    const due = Date.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.due <= due) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    timer.unref?.();
    this.delayed.set(key, { due, timer });
  }

  /** Keys waiting to be processed now (not the delayed ones). */
  depth(): number { return this.queued.size; }
  delayedCount(): number { return this.delayed.size; }

  /** Runs `concurrency` workers until `shutDown`; resolves when they have all finished. */
  async run(concurrency: number, handler: QueueHandler): Promise<void> {
    await Promise.all(Array.from({ length: concurrency }, () => this.worker(handler)));
  }

  private async worker(handler: QueueHandler): Promise<void> {
    while (!this.stopped) {
      const key = this.take();
      if (key === undefined) {
        this.notifyIdle();
        await new Promise<void>((resolve) => {
          const previous = this.wake;
          this.wake = () => { this.wake = undefined; previous?.(); resolve(); };
        });
        continue;
      }
      this.processing.add(key);
      const started = performance.now();
      try {
        const result = await handler(key);
        this.failures.delete(key);
        if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
      } catch (err) {
        this.opts.metrics?.retried();
        if (this.opts.isTransient?.(err)) {
          this.opts.onError?.(key, err, this.opts.transientRetryMs);
          this.addAfter(key, this.opts.transientRetryMs);
          continue;
        }
        const n = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, n);
        const retryIn = Math.min(this.opts.maxBackoffMs, this.opts.baseBackoffMs * 2 ** (n - 1));
        this.opts.onError?.(key, err, retryIn);
        this.addAfter(key, retryIn);
      } finally {
        this.opts.metrics?.worked((performance.now() - started) / 1000);
        this.processing.delete(key);
        const again = this.dirty.get(key);
        if (again) {
          this.dirty.delete(key);
          this.add(key, again);
        }
      }
    }
  }

  private notifyIdle(): void {
    if (this.queued.size === 0 && this.processing.size === 0) for (const f of this.idle.splice(0)) f();
  }

  /** Resolves when nothing is queued or processing (delayed keys do not count). */
  async drained(): Promise<void> {
    if (this.queued.size === 0 && this.processing.size === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private clearDelay(key: string): void {
    const d = this.delayed.get(key);
    if (d) {
      clearTimeout(d.timer);
      this.delayed.delete(key);
    }
  }

  shutDown(): void {
    this.stopped = true;
    for (const d of this.delayed.values()) clearTimeout(d.timer);
    this.delayed.clear();
    this.wake?.();
  }
}

function earlier(a: Lane | undefined, b: Lane): Lane {
  return a === 'now' || b === 'now' ? 'now' : 'background';
}
