/**
 * The real `fledge controller` as a child process for the scale benchmark. Like
 * test/support/controller-process.ts, but it keeps no log lines (5,000 Rollouts log tens of
 * thousands) and can run another build (`--bin`), e.g. one compiled to another outDir while a
 * test run is reading dist/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const DEFAULT_BIN = fileURLToPath(new URL('../../bin/fledge.js', import.meta.url));
const live = new Set<ChildProcess>();
process.on('exit', () => { for (const p of live) p.kill('SIGKILL'); });

export class BenchController {
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  port = 0;
  started = false;
  private readonly tail: string[] = [];

  private constructor(bin: string, args: string[], env: NodeJS.ProcessEnv) {
    // setpriv: if the benchmark dies, the controller dies with it.
    const argv = [bin, 'controller', ...args];
    const [cmd, full] = existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', process.execPath, ...argv]] : [process.execPath, argv];
    this.proc = spawn(cmd, full, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    live.add(this.proc);
    for (const stream of [this.proc.stdout!, this.proc.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        this.tail.push(line);
        if (this.tail.length > 30) this.tail.shift();
        // Cheap checks first: most lines are per-Rollout events.
        if (line.includes('serving /metrics')) this.port = Number(/"port":([0-9]+)/.exec(line)?.[1] ?? 0);
        else if (line.includes('"controller started"')) this.started = true;
      });
    }
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => { live.delete(this.proc); resolve(code); }));
  }

  /** Spawns the controller and resolves once its workers have started (caches synced). */
  static async start(opts: { bin?: string; kubeconfig: string; args?: string[]; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<BenchController> {
    const c = new BenchController(opts.bin ?? DEFAULT_BIN, ['--kubeconfig', opts.kubeconfig, '--metrics-bind-address', '127.0.0.1:0', ...(opts.args ?? [])], opts.env ?? {});
    const deadline = Date.now() + opts.timeoutMs;
    let code: number | null | undefined;
    void c.exited.then((x) => { code = x; });
    while (!(c.started && c.port)) {
      if (code !== undefined) throw new Error(`controller exited (${code}) before it started:\n${c.tail.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`controller not started within ${opts.timeoutMs} ms:\n${c.tail.join('\n')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return c;
  }

  /** SIGTERM, SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
