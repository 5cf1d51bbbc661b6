/**
 * `fledge demo`, as an evaluator runs it: the built CLI as a child process, no cluster of ours.
 * It must tell both stories to their end (Promoted, RolledBack), and leave nothing running
 * behind, whether it finishes or is interrupted.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'fledge.js');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const SERVERS = /(^|\/)(etcd|kube-apiserver|prometheus)$/;

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});
// Each demo run gets its own TMPDIR (its workspace and its kept log file go there), removed
// after the suite: a user keeps the log, a test run leaves nothing in /tmp.
const tmpDirs: string[] = [];
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

interface DemoRun {
  proc: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
  output(): string;
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
}

function startDemo(args: string[]): DemoRun {
  // setpriv: if the test runner dies, the demo dies with it (and its servers with the demo).
  const setpriv = existsSync('/usr/bin/setpriv');
  const argv = [BIN, 'demo', ...args];
  const tmp = mkdtempSync(join(tmpdir(), 'fledge-demo-test-'));
  tmpDirs.push(tmp);
  const proc = spawn(setpriv ? '/usr/bin/setpriv' : process.execPath, setpriv ? ['--pdeathsig', 'KILL', '--', process.execPath, ...argv] : argv, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', TMPDIR: tmp },
  });
  live.add(proc);
  const lines: string[] = [];
  for (const stream of [proc.stdout!, proc.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      if (process.env.FLEDGE_TEST_LOGS) process.stderr.write(`[demo] ${line}\n`);
    });
  }
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => {
    live.delete(proc);
    resolve(code);
  }));
  const output = () => lines.join('\n');
  return {
    proc, lines, exited, output,
    async waitFor(re, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let done = false;
      void exited.then(() => (done = true));
      for (;;) {
        const m = output().match(re);
        if (m) return m;
        if (done) throw new Error(`the demo exited before printing ${re}; its output:\n${output()}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; the demo's output:\n${output()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

/** The demo names its temp dir on its first line; every server it starts lives under it. */
function workspaceOf(run: DemoRun): string {
  const m = run.output().match(/workspace (\/\S*fledge-demo-[A-Za-z0-9]+)/);
  if (!m?.[1]) throw new Error(`no workspace line in the demo's output:\n${run.output()}`);
  return m[1];
}

/** Processes whose command line mentions `text`, with the program name. */
function processesMentioning(text: string): { pid: number; program: string; cmdline: string }[] {
  const found = [];
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      const args = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const cmdline = args.join(' ');
      if (!cmdline.includes(text)) continue;
      // setpriv execs the server, so the program is argv[0] either way.
      found.push({ pid: Number(name), program: args[0] ?? '', cmdline });
    } catch {
      // exited while we looked
    }
  }
  return found;
}

function leftovers(workspace: string): string[] {
  return processesMentioning(workspace).filter((p) => SERVERS.test(p.program)).map((p) => `${p.pid} ${p.cmdline}`);
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

beforeAll(() => {
  // The demo runs from dist/, as `npx fledge demo` does.
  execFileSync(process.execPath, [TSC, '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
}, 120_000);

describe('fledge demo', () => {
  it('promotes the healthy canary, rolls back the bad one, and leaves nothing running', { timeout: 300_000 }, async () => {
    const run = startDemo(['--no-tty']);
    const code = await withTimeout(run.exited, 290_000, 'the demo');
    const out = run.output();
    expect(code, out).toBe(0);
    expect(out).toMatch(/\[1 checkout\] Promoted after/);
    expect(out).toMatch(/\[2 payments\] RolledBack after/);
    expect(out).toMatch(/checkout, a healthy release: Promoted/);
    expect(out).toMatch(/payments, a bad release: RolledBack/);
    // The bad canary is judged by the comparison of its error rate with stable's: the failing
    // judgement shows as its own line, or (a failure on the evidence rolls back at once) on the rollback's.
    expect(out).toMatch(/payments[\s\S]*(analysis FAIL|RolledBack after)[^\n]*errors: (release so far|this step): canary/);
    expect(out).toMatch(/Demo passed/);
    const workspace = workspaceOf(run);
    expect(leftovers(workspace)).toEqual([]);
    expect(existsSync(workspace), `${workspace} should be removed`).toBe(false);
    const log = out.match(/Controller log \(JSON lines\): (\S+)/)?.[1];
    expect(log && existsSync(log), 'the controller log is kept and named').toBe(true);
  });

  it.each([['SIGINT', 130], ['SIGTERM', 143]] as const)('cleans up everything on %s mid-story and exits %i', { timeout: 180_000 }, async (signal, expected) => {
    const run = startDemo(['--no-tty']);
    try {
      await run.waitFor(/\[1 checkout\] phase Progressing/, 150_000);
      const workspace = workspaceOf(run);
      // The check below is only worth something if it sees the servers while they run.
      const programs = processesMentioning(workspace).map((p) => p.program.split('/').pop());
      expect(programs).toEqual(expect.arrayContaining(['etcd', 'kube-apiserver', 'prometheus']));

      run.proc.kill(signal);
      const code = await withTimeout(run.exited, 60_000, `the demo's exit after ${signal}`);
      expect(code, run.output()).toBe(expected);
      expect(run.output()).toContain(`${signal}: stopping everything the demo started`);
      expect(run.output()).toMatch(/cleaned up: /);
      expect(leftovers(workspace)).toEqual([]);
      expect(existsSync(workspace), `${workspace} should be removed`).toBe(false);
    } finally {
      run.proc.kill('SIGKILL');
    }
  });
});
