/**
 * What the demo needs on this machine, each missing piece explained in one line, and the one
 * thing it may fix by itself: building the local control plane, when Go is there to build it.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname, delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { clusterBinDir, istioCrdsPath } from '../../devenv/cluster.ts';
import { CONTROL_PLANE_BUILD_TIME, GO_NEEDED } from './build-facts.ts';
import { DemoError } from './lifecycle.ts';

/** The package root, from src/cli/demo and from dist/cli/demo alike. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const ROLLOUT_CRD = join(PACKAGE_ROOT, 'crds', 'rollouts.fledge.dev.yaml');
const BUILD_SCRIPT = join(PACKAGE_ROOT, 'test', 'cluster', 'build.sh');

export interface Prerequisites {
  /** One line per missing piece; empty when the demo can run (possibly after `build`). */
  problems: string[];
  /** Set when the control plane must be built first and can be. */
  build?: { go: string; script: string };
}

function executable(candidates: string[]): string | undefined {
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  return undefined;
}

function onPath(name: string, extra: string[] = []): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return executable([...extra, ...dirs.map((d) => join(d, name))]);
}

export function checkPrerequisites(): Prerequisites {
  const problems: string[] = [];
  if (!onPath('prometheus', ['/usr/bin/prometheus'])) {
    problems.push('Prometheus is not installed: install it with `apt-get install -y prometheus` (Debian/Ubuntu), or put a `prometheus` binary on PATH');
  }
  if (!existsSync(ROLLOUT_CRD)) {
    problems.push(`the Rollout CRD is missing (${ROLLOUT_CRD}): run the demo from a checkout of Fledge, or run \`npm run gen\``);
  }
  let build: Prerequisites['build'];
  const needed = [join(clusterBinDir(), 'etcd'), join(clusterBinDir(), 'kube-apiserver'), istioCrdsPath()];
  if (needed.some((f) => !existsSync(f))) {
    const go = onPath('go', ['/usr/local/go/bin/go']);
    if (!existsSync(BUILD_SCRIPT)) {
      problems.push(`the local control plane (etcd, kube-apiserver, Istio's CRDs) is not built and ${BUILD_SCRIPT} is not here: run the demo from a clone of the Fledge repository`);
    } else if (!go) {
      problems.push(`the local control plane (etcd, kube-apiserver, Istio's CRDs) is not built, and building it needs Go ${GO_NEEDED}+: install Go (https://go.dev/dl) and run the demo again; it builds it once (${CONTROL_PLANE_BUILD_TIME})`);
    } else {
      build = { go, script: BUILD_SCRIPT };
    }
  }
  return { problems, ...(build ? { build } : {}) };
}

/**
 * Runs test/cluster/build.sh in its own process group, so an interrupt stops the whole Go build
 * and not only the shell. Each line of its output goes to `onLine`.
 */
export async function buildControlPlane(b: { go: string; script: string }, onLine: (line: string) => void, signal: AbortSignal): Promise<void> {
  const proc = spawn('bash', [b.script], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PATH: `${dirname(b.go)}${delimiter}${process.env.PATH ?? ''}` },
  });
  const killGroup = (sig: NodeJS.Signals) => {
    try {
      if (proc.pid) process.kill(-proc.pid, sig);
    } catch {
      // already gone
    }
  };
  const onExit = () => killGroup('SIGKILL');
  process.on('exit', onExit);
  const tail: string[] = [];
  for (const stream of [proc.stdout, proc.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      tail.push(line);
      if (tail.length > 10) tail.shift();
      onLine(line);
    });
  }
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    killGroup('SIGTERM');
    killTimer = setTimeout(() => killGroup('SIGKILL'), 3000);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const code = await new Promise<number | string>((resolve) => {
      proc.once('error', (err) => resolve(err.message));
      proc.once('exit', (c, s) => resolve(c ?? s ?? 'unknown'));
    });
    if (signal.aborted) throw signal.reason as Error;
    if (code !== 0) {
      throw new DemoError(`building the local control plane failed (bash ${b.script}: ${typeof code === 'number' ? `exit ${code}` : code}); its last output:\n${tail.join('\n')}`);
    }
  } finally {
    clearTimeout(killTimer);
    signal.removeEventListener('abort', onAbort);
    process.off('exit', onExit);
  }
}
