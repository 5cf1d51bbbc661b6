import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const BIN = fileURLToPath(new URL('../../bin/fledge.js', import.meta.url));
const live = new Set<ChildProcess>();
process.on('exit', () => { for (const p of live) p.kill('SIGKILL'); });

export interface LogLine { level?: string; msg?: string; [k: string]: unknown }

/** The real `fledge controller`, as a child process, with its JSON logs parsed. */
export class ControllerProcess {
  readonly logs: LogLine[] = [];
  readonly raw: string[] = [];
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  port = 0;

  private constructor(args: string[], env: NodeJS.ProcessEnv) {
    // setpriv: if the test runner dies, the controller dies with it instead of writing on.
    const cmd = existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : process.execPath;
    const argv = cmd === process.execPath ? [BIN, 'controller', ...args] : ['--pdeathsig', 'KILL', '--', process.execPath, BIN, 'controller', ...args];
    this.proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    live.add(this.proc);
    for (const stream of [this.proc.stdout!, this.proc.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        this.raw.push(line);
        if (process.env.FLEDGE_TEST_LOGS) process.stderr.write(`[controller ${this.proc.pid}] ${line}\n`);
        try {
          const parsed = JSON.parse(line) as LogLine;
          this.logs.push(parsed);
          if (parsed.msg === 'serving /metrics, /healthz, /readyz') this.port = Number(parsed.port);
        } catch { /* not JSON: kept in raw */ }
      });
    }
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => { live.delete(this.proc); resolve(code); }));
  }

  /** Starts the controller and waits until it logs `until` (default: workers started). */
  static async start(opts: { kubeconfig: string; args?: string[]; env?: NodeJS.ProcessEnv; until?: string; timeoutMs?: number }): Promise<ControllerProcess> {
    const c = new ControllerProcess(['--kubeconfig', opts.kubeconfig, '--metrics-bind-address', '127.0.0.1:0', ...(opts.args ?? [])], { LOG_LEVEL: 'debug', ...opts.env });
    await c.waitForLog((l) => l.msg === (opts.until ?? 'controller started'), opts.timeoutMs ?? 30_000);
    return c;
  }

  async waitForLog(pred: (l: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    let exitCode: number | null | undefined;
    void this.exited.then((c) => { exitCode = c; });
    for (;;) {
      const hit = this.logs.find(pred);
      if (hit) return hit;
      if (exitCode !== undefined) throw new Error(`controller exited (${exitCode}) before the expected log line; last output:\n${this.raw.slice(-20).join('\n')}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for a controller log line; last output:\n${this.raw.slice(-20).join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.proc.kill(signal);
  }

  /** SIGTERM, SIGKILL after `graceMs`; resolves with the exit code (null if killed). */
  async stop(graceMs = 15_000): Promise<number | null> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.proc.exitCode;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}
