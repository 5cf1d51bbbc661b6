/**
 * A work queue with client-go's guarantees: a key is queued at most once however often it is
 * added, one key is never processed by two workers at once (an add during processing re-queues
 * it once done), delayed adds keep only the earliest due time, and failures back off per key.
 */
export interface QueueResult { requeueAfterMs?: number }
export type QueueHandler = (key: string) => Promise<QueueResult | void>;

export interface WorkQueueOptions {
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  onError?: (key: string, err: unknown, retryInMs: number) => void;
  /** Errors that mean "read again and retry" (a write raced a newer version): short fixed retry, no back-off. */
  isTransient?: (err: unknown) => boolean;
  transientRetryMs?: number;
}

/** The longest delay a Node.js timer supports. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly delayed = new Map<string, { due: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private readonly idle: (() => void)[] = [];
  private wake: (() => void) | undefined;
  private stopped = false;
  private readonly opts: Required<Omit<WorkQueueOptions, 'onError' | 'isTransient'>> & Pick<WorkQueueOptions, 'onError' | 'isTransient'>;

  constructor(opts: WorkQueueOptions = {}) {
    this.opts = { baseBackoffMs: 500, maxBackoffMs: 300_000, transientRetryMs: 100, ...opts };
  }

  add(key: string): void {
    if (this.stopped) return;
    this.clearDelay(key);
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.wake?.();
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
  depth(): number { return this.queue.length; }
  delayedCount(): number { return this.delayed.size; }

  /** Runs `concurrency` workers until `shutDown`; resolves when they have all finished. */
  async run(concurrency: number, handler: QueueHandler): Promise<void> {
    await Promise.all(Array.from({ length: concurrency }, () => this.worker(handler)));
  }

  private async worker(handler: QueueHandler): Promise<void> {
    while (!this.stopped) {
      const key = this.queue.shift();
      if (key === undefined) {
        this.notifyIdle();
        await new Promise<void>((resolve) => {
          const previous = this.wake;
          this.wake = () => { this.wake = undefined; previous?.(); resolve(); };
        });
        continue;
      }
      this.queued.delete(key);
      this.processing.add(key);
      try {
        const result = await handler(key);
        this.failures.delete(key);
        if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
      } catch (err) {
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
        this.processing.delete(key);
        if (this.dirty.delete(key)) this.add(key);
      }
    }
  }

  private notifyIdle(): void {
    if (this.queue.length === 0 && this.processing.size === 0) for (const f of this.idle.splice(0)) f();
  }

  /** Resolves when nothing is queued or processing (delayed keys do not count). */
  async drained(): Promise<void> {
    if (this.queue.length === 0 && this.processing.size === 0) return;
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
