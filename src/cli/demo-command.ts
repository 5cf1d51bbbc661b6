/**
 * `fledge demo`: two canary releases on this machine, start to finish, with nothing of the user's
 * touched. A local kube-apiserver with Istio's CRDs, a fake Istio data plane that routes by the
 * VirtualServices Fledge writes, a real Prometheus scraping it, and the controller in this process.
 * Story 1 promotes a healthy canary; story 2 rolls back a bad one, caught mid-step.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEnvironment, type DemoEnv } from './demo/env.ts';
import { Cleanup, DemoError, Interrupted, sleep } from './demo/lifecycle.ts';
import { FileLog } from './demo/log.ts';
import { clusterCacheDir } from '../devenv/cluster.ts';
import { CONTROL_PLANE_BUILD_TIME } from './demo/build-facts.ts';
import { buildControlPlane, checkPrerequisites } from './demo/prereqs.ts';
import { demoStories, demoTiming, type StoryRun } from './demo/stories.ts';
import { LiveView, PlainLog, duration, servedText, weightsText, whenText, type Reporter } from './demo/view.ts';
import { createWorkspace, removeWorkspace, removeWorkspaceSync } from './demo/workspace.ts';

/** A story that has not ended this long after its Rollout was applied has failed. */
const STORY_TIMEOUT_MS = 3 * 60_000;
const TICK_MS = 250;

type Write = (s: string) => void;

export interface DemoIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** `tty: false` is `--no-tty`; the flags and help are declared in program.ts. */
export async function demoCommand(values: { tty: boolean; fast: boolean }, io: DemoIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const out: Write = (s) => io.stdout.write(s);
  const err: Write = (s) => io.stderr.write(s);
  const tty = values.tty && io.stdout.isTTY === true;
  const color = tty && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
  const began = Date.now();

  const pre = checkPrerequisites();
  if (pre.problems.length > 0) {
    err(`fledge demo cannot run on this machine yet:\n${pre.problems.map((p) => `  - ${p}\n`).join('')}`);
    return 1;
  }

  const aborter = new AbortController();
  const signal = aborter.signal;
  const onSignal = (sig: NodeJS.Signals) => {
    const interrupted = new Interrupted(sig);
    if (signal.aborted) {
      // A second Ctrl-C: stop waiting. The exit hooks SIGKILL the servers and remove the dirs.
      err(`\n${sig} again: exiting without waiting for the cleanup\n`);
      process.exit(interrupted.exitCode);
    }
    aborter.abort(interrupted);
  };
  const onSigint = () => onSignal('SIGINT');
  const onSigterm = () => onSignal('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);

  const cleanup = new Cleanup();
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const log = new FileLog(join(tmpdir(), `fledge-demo-${stamp}-${process.pid}.log`), process.env.LOG_LEVEL ?? 'info');
  let reporter: Reporter = new PlainLog(out);
  let ticker: Ticker | undefined;
  let code = 1;
  let runs: StoryRun[] = [];
  try {
    const workspace = await createWorkspace();
    const exitHook = () => removeWorkspaceSync(workspace);
    process.on('exit', exitHook);
    cleanup.add('workspace', async () => {
      await removeWorkspace(workspace);
      process.off('exit', exitHook);
    });
    reporter.info(`fledge demo: workspace ${workspace} (removed at the end); log file ${log.path}`);

    if (pre.build) {
      reporter.info(`building the local control plane once with \`bash test/cluster/build.sh\`: it takes ${CONTROL_PLANE_BUILD_TIME}, then it is cached in ${clusterCacheDir()}`);
      await buildControlPlane(pre.build, (line) => reporter.info(`  | ${line}`), signal);
      const again = checkPrerequisites();
      if (again.problems.length > 0 || again.build) throw new DemoError(`the control plane build finished but the demo still cannot run: ${again.problems.join('; ') || 'binaries missing'}`);
    }

    const timing = demoTiming(values.fast);
    const stories = demoStories(timing);
    const env = await startEnvironment({ stories, timing, workspace, cleanup, signal, log, progress: (l) => reporter.info(l) });
    runs = env.runs;
    if (tty) reporter = new LiveView(io.stdout, { color });
    ticker = new Ticker(env, () => reporter.update(runs));
    cleanup.add('status polling', () => ticker?.stop());

    // A story that fails ends the others too (with --fast they play at the same time).
    const plays = new AbortController();
    const playing = AbortSignal.any([signal, plays.signal]);
    const play = async (run: StoryRun) => {
      const d = run.def;
      reporter.info(`story ${d.index}, ${d.title}: ${d.detail}; applying Rollout ${d.service} (steps ${d.steps.join(', ')}, ${d.intervalSeconds} s each, judged every second)`);
      await run.begin(env.client);
      while (run.state !== 'done') {
        if (run.durationMs() > STORY_TIMEOUT_MS) {
          const a = run.analysis;
          throw new DemoError(`story ${d.index} (${d.service}) did not finish within ${duration(STORY_TIMEOUT_MS)}: it is ${run.phase ?? 'not reconciled'} at ${weightsText(run)}${a ? `; last analysis ${a.verdict}: ${a.reason}` : ''}`);
        }
        await sleep(100, playing);
      }
      reporter.update(runs); // its end is told before the next story begins
    };
    try {
      if (values.fast) await Promise.all(runs.map(play));
      else for (const run of runs) await play(run);
    } finally {
      plays.abort(signal.reason ?? new Error('stories over'));
    }

    await ticker.stop();
    reporter.update(runs);
    reporter.close();
    const verdict = summarize(runs, Date.now() - began);
    out(`\n${verdict.lines.join('\n')}\n`);
    code = verdict.ok ? 0 : 1;
    await finish(cleanup, reporter, out, err, log);
    if (signal.aborted) return (code = (signal.reason as Interrupted).exitCode); // interrupted while cleaning up
    if (verdict.ok) out(`Demo passed in ${duration(Date.now() - began)}: the healthy canary was promoted and the bad one rolled back.\n`);
    else err(`fledge demo: FAILED: ${verdict.failure}\n`);
    return code;
  } catch (e) {
    await ticker?.stop();
    reporter.close();
    if (e instanceof Interrupted) {
      code = e.exitCode;
      out(`\n${e.signal}: stopping everything the demo started\n`);
    } else {
      code = 1;
      const message = e instanceof Error ? e.message : String(e);
      err(`\nfledge demo: FAILED: ${message}\n`);
      if (process.env.FLEDGE_DEBUG && e instanceof Error && !(e instanceof DemoError)) err(`${e.stack}\n`);
    }
    await finish(cleanup, new PlainLog(out), out, err, log);
    return code;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    // Keep-alive sockets to servers that are gone have nothing left to say.
    setTimeout(() => process.exit(code), 1000).unref();
  }
}

async function finish(cleanup: Cleanup, reporter: Reporter, out: Write, err: Write, log: FileLog): Promise<void> {
  const t0 = Date.now();
  const { stopped, problems } = await cleanup.run();
  log.close();
  if (problems.length === 0) reporter.info(`cleaned up: ${stopped.join(', ')} (${duration(Date.now() - t0)})`);
  else err(`cleanup was incomplete:\n${problems.map((p) => `  - ${p}\n`).join('')}`);
  out(`Controller log (JSON lines): ${log.path}\n`);
}

function summarize(runs: readonly StoryRun[], totalMs: number): { lines: string[]; ok: boolean; failure?: string } {
  const lines = [`Summary (${duration(totalMs)} in all):`];
  const failures: string[] = [];
  for (const run of runs) {
    const d = run.def;
    const phase = run.phase ?? 'not finished';
    const ok = run.state === 'done' && phase === d.expected;
    lines.push(`  ${d.index}  ${d.service}, ${d.title}: ${phase} after ${duration(run.durationMs())}${ok ? '' : ` (expected ${d.expected})`}`);
    lines.push(`       served: ${servedText(run.served())}`);
    lines.push(`       final weights: ${weightsText(run)}`);
    const a = run.analysis;
    if (a) lines.push(`       last analysis: ${a.verdict} (${whenText(run)}): ${a.reason}`);
    if (!ok) failures.push(`story ${d.index} (${d.service}) ended ${phase}, expected ${d.expected}${run.status?.message ? `: ${run.status.message}` : ''}`);
  }
  return failures.length === 0 ? { lines, ok: true } : { lines, ok: false, failure: failures.join('; ') };
}

/** Samples the mesh and reads the Rollouts and their Events, then lets the view draw (~4 fps). */
class Ticker {
  readonly #env: DemoEnv;
  readonly #draw: () => void;
  #stopped = false;
  readonly #loop: Promise<void>;

  constructor(env: DemoEnv, draw: () => void) {
    this.#env = env;
    this.#draw = draw;
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    for (let tick = 0; !this.#stopped; tick++) {
      const t = Date.now();
      const running = this.#env.runs.filter((r) => r.state === 'running');
      for (const r of this.#env.runs) r.sample(t);
      const reads: Promise<void>[] = running.map((r) => r.refreshStatus(this.#env.client));
      if (tick % 4 === 0) reads.push(...running.map((r) => r.refreshEvents(this.#env.client)));
      await Promise.all(reads);
      if (this.#stopped) break;
      try {
        this.#draw();
      } catch {
        // a frame that cannot be drawn is skipped, the demo goes on
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, TICK_MS - (Date.now() - t))));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }
}
