/**
 * A real Prometheus as a child process, for integration tests and `fledge demo`. It uses the
 * binary from Debian's `prometheus` package: no download at run time, since the build machines
 * reach only package registries.
 *
 * Timing (Debian's 2.42): ready ~0.1-1 s after spawn, but the first scrape only ~5 s later,
 * because the discovery manager passes targets on at most every 5 s; a rate over [10s] then
 * exists ~1 s after that and rests on a full window ~15 s after start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { stringify } from 'yaml';

export interface LocalPrometheus {
  url: string;
  /** Temporary dir with prometheus.yml and data/; removed by stop(). */
  dir: string;
  /** SIGTERM (SIGKILL after 5 s), then remove dir. Idempotent. */
  stop(): Promise<void>;
  /** pause() then resume(): for 'Prometheus down mid-step' tests. */
  restart(): Promise<void>;
  /** Stop the process but keep port and data, so resume() brings back the same history. */
  pause(): Promise<void>;
  /** Start it again on the same port and data dir; resolves when ready. */
  resume(): Promise<void>;
}

export interface LocalPrometheusOptions {
  /** host:port on loopback. */
  scrapeTargets: string[];
  /** Default '1s', so short [10s] windows fill within seconds. */
  scrapeInterval?: string;
  /** Receives each line Prometheus logs. */
  log?: (line: string) => void;
  /** Path of the binary; default /usr/bin/prometheus, else `prometheus` on PATH. */
  binary?: string;
}

const READY_TIMEOUT_MS = 30_000;
const KILL_AFTER_MS = 5_000;
const STDERR_TAIL_LINES = 20;

// Children still running when the parent exits would outlive a test run; 'exit' handlers must be
// synchronous, so they can only send SIGKILL and remove the dirs (best effort).
const running = new Set<ChildProcess>();
const dirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of running) c.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
}
function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
}
function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

function findBinary(explicit: string | undefined): string {
  const candidates = explicit
    ? [explicit]
    : ['/usr/bin/prometheus', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'prometheus'))];
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // try the next one
    }
  }
  throw new Error(
    `Prometheus binary not found (looked for ${explicit ?? '/usr/bin/prometheus and prometheus on PATH'}); ` +
      'install it with `apt-get install -y prometheus` (or run .ci/prometheus-setup.sh)',
  );
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = waitExit(child);
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), KILL_AFTER_MS);
  });
  if (await Promise.race([exited.then(() => false), timedOut])) child.kill('SIGKILL');
  clearTimeout(timer);
  await exited;
}

export async function startLocalPrometheus(opts: LocalPrometheusOptions): Promise<LocalPrometheus> {
  const binary = findBinary(opts.binary);
  const interval = opts.scrapeInterval ?? '1s';
  installExitHook();
  const dir = await mkdtemp(join(tmpdir(), 'fledge-prometheus-'));
  dirs.add(dir);
  const configFile = join(dir, 'prometheus.yml');
  const config = {
    // scrape_timeout defaults to 10s, which Prometheus rejects when the interval is shorter.
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    scrape_configs: [{ job_name: 'mesh', static_configs: [{ targets: opts.scrapeTargets }] }],
  };
  await writeFile(configFile, stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ];

  let child: ChildProcess | undefined;
  const tail: string[] = [];

  const launch = async (): Promise<void> => {
    const c = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    track(c);
    tail.length = 0;
    const onData = (buf: Buffer): void => {
      for (const line of buf.toString().split('\n')) {
        if (!line) continue;
        tail.push(line);
        if (tail.length > STDERR_TAIL_LINES) tail.shift();
        opts.log?.(line);
      }
    };
    c.stdout?.on('data', onData);
    c.stderr?.on('data', onData);
    let exitInfo: string | undefined;
    let spawnError: Error | undefined;
    c.once('error', (err) => (spawnError = err));
    c.once('exit', (code, signal) => (exitInfo = `exited with ${signal ?? `code ${code}`}`));

    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (spawnError || exitInfo) {
        child = undefined;
        throw new Error(`Prometheus ${exitInfo ?? `failed to start: ${spawnError?.message}`} before ready:\n${tail.join('\n')}`);
      }
      try {
        const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        child = undefined; // so a later resume() launches afresh
        await kill(c);
        throw new Error(`Prometheus not ready within ${READY_TIMEOUT_MS / 1000} s at ${url}:\n${tail.join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const pause = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c) await kill(c);
  };
  const resume = async (): Promise<void> => {
    if (child) return;
    await launch();
  };

  try {
    await launch();
  } catch (err) {
    removeDir(dir);
    throw err;
  }

  let stopped: Promise<void> | undefined;
  return {
    url,
    dir,
    pause,
    resume,
    restart: async () => {
      await pause();
      await resume();
    },
    stop: () => {
      stopped ??= pause().finally(() => removeDir(dir));
      return stopped;
    },
  };
}
