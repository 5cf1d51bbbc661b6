/**
 * What makes the demo safe to interrupt: everything it starts is registered here the moment it
 * is started (even before it is ready), and torn down in reverse order on success, on failure
 * and on Ctrl-C.
 */

/** The demo was stopped by a signal; `exitCode` is 128 + the signal number. */
export class Interrupted extends Error {
  readonly signal: NodeJS.Signals;
  readonly exitCode: number;
  constructor(signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
    this.signal = signal;
    this.exitCode = signal === 'SIGINT' ? 130 : 143;
  }
}

/** A failure the user can act on: its message is the whole story, no stack trace. */
export class DemoError extends Error {}

const STEP_TIMEOUT_MS = 20_000;

export class Cleanup {
  readonly #steps: { name: string; fn: () => unknown }[] = [];
  #ran: Promise<{ stopped: string[]; problems: string[] }> | undefined;

  /** `fn` may return false to say there was nothing to stop. */
  add(name: string, fn: () => unknown): void {
    this.#steps.push({ name, fn });
  }

  /**
   * Registers `started` at once, so an interrupt during a slow start still stops it once it is
   * up; `stop` is called with its value, or skipped if it failed to start.
   */
  track<T>(name: string, started: Promise<T>, stop: (value: T) => unknown): Promise<T> {
    this.add(name, async () => {
      let value: T;
      try {
        value = await started;
      } catch {
        return false; // never started, nothing to stop (the starter cleans up after itself)
      }
      await stop(value);
      return true;
    });
    return started;
  }

  /** Runs every step once, newest first; a slow or failing step never blocks the others. */
  run(): Promise<{ stopped: string[]; problems: string[] }> {
    this.#ran ??= (async () => {
      const stopped: string[] = [];
      const problems: string[] = [];
      for (const step of this.#steps.splice(0).reverse()) {
        let timer: NodeJS.Timeout | undefined;
        try {
          const result = await Promise.race([
            Promise.resolve().then(step.fn),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error(`did not stop within ${STEP_TIMEOUT_MS / 1000} s`)), STEP_TIMEOUT_MS);
            }),
          ]);
          if (result !== false) stopped.push(step.name);
        } catch (err) {
          problems.push(`${step.name}: ${(err as Error).message}`);
        } finally {
          clearTimeout(timer);
        }
      }
      return { stopped, problems };
    })();
    return this.#ran;
  }
}

/** Resolves with `p`, or rejects with the abort reason as soon as `signal` fires. */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}

/** setTimeout as a promise that an abort cuts short (rejecting with the abort reason). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return abortable(new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))), signal).finally(() => clearTimeout(timer));
}
