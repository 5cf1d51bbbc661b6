import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

const SETPRIV = '/usr/bin/setpriv';
const TAIL_LINES = 40;

// Last line of defence against orphaned etcd/kube-apiserver: 'exit' runs on normal exit
// and process.exit(), and setpriv's parent-death signal covers the cases where it does
// not run (the parent killed by a signal or crashing).
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const proc of running) proc.kill('SIGKILL');
});

export interface ChildOptions {
  name: string;
  command: string;
  args: string[];
  log?: ((line: string) => void) | undefined;
}

/** A long-running child process that keeps the tail of its output for error messages. */
export class Child {
  readonly name: string;
  readonly #proc: ChildProcess;
  readonly #tail: string[] = [];
  readonly #exited: Promise<void>;
  #exitReason: string | undefined;

  constructor(opts: ChildOptions) {
    this.name = opts.name;
    const [command, args] = existsSync(SETPRIV)
      ? [SETPRIV, ['--pdeathsig', 'KILL', '--', opts.command, ...opts.args]]
      : [opts.command, opts.args];
    this.#proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: false });
    running.add(this.#proc);
    // Both pipes must be drained or a chatty child blocks once the pipe buffer fills.
    for (const stream of [this.#proc.stdout, this.#proc.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        this.#tail.push(line);
        if (this.#tail.length > TAIL_LINES) this.#tail.shift();
        opts.log?.(`[${this.name}] ${line}`);
      });
    }
    this.#exited = new Promise<void>((resolve) => {
      this.#proc.once('error', (err) => {
        this.#exitReason ??= `failed to start: ${err.message}`;
        running.delete(this.#proc);
        resolve();
      });
      this.#proc.once('exit', (code, signal) => {
        this.#exitReason ??= signal ? `killed by ${signal}` : `exited with code ${code}`;
        running.delete(this.#proc);
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.#proc.pid;
  }

  /** Why the process ended, or undefined while it runs. */
  get exitReason(): string | undefined {
    return this.#exitReason;
  }

  /** Resolves when the process has ended (or failed to start). */
  get exited(): Promise<void> {
    return this.#exited;
  }

  /** The last lines the process printed, for error messages. */
  tail(): string {
    return this.#tail.join('\n');
  }

  /** SIGTERM, then SIGKILL after `graceMs`: kube-apiserver can hang on SIGTERM once etcd is gone. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.#exitReason !== undefined) return;
    this.#proc.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), graceMs);
    });
    const killed = await Promise.race([this.#exited.then(() => false), timedOut]);
    clearTimeout(timer);
    if (killed) this.#proc.kill('SIGKILL');
    await this.#exited;
  }
}

/** Whether a process with this pid exists (EPERM: it does, but belongs to someone else). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
