/**
 * Real Flux for the GitOps end-to-end test: source-controller and kustomize-controller v1.9.6
 * (built from Go modules by test/flux/build.sh, cached outside the repo) run as plain processes
 * against the local API server, pulling from a local git server: `git http-backend` (Debian's
 * git) behind a Node HTTP server, all on loopback.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { Child } from '../../src/devenv/child.ts';
import { freePorts } from '../../src/devenv/ports.ts';
import { eventually, type TestKube } from './kube.ts';

/** Must match FLUX_VERSION in test/flux/build.sh, which fills the cache. */
export const FLUX_VERSION = 'v1.9.6';
const CONTROLLERS = ['source-controller', 'kustomize-controller'] as const;

export function fluxCacheDir(): string {
  return join(process.env['FLEDGE_CACHE_DIR'] || join(homedir(), '.cache', 'fledge'), `flux-${FLUX_VERSION}`);
}

/**
 * The controllers' binaries and Flux's CRD files, or an error that says how to build them: the
 * test fails without them, it never skips.
 */
export function requireFlux(): { bin: Record<(typeof CONTROLLERS)[number], string>; crdFiles: string[] } {
  const dir = fluxCacheDir();
  const bin = Object.fromEntries(CONTROLLERS.map((c) => [c, join(dir, 'bin', c)])) as Record<(typeof CONTROLLERS)[number], string>;
  const crdDir = join(dir, 'crds');
  const missing = Object.values(bin).filter((b) => !existsSync(b));
  if (!existsSync(join(crdDir, '.complete'))) missing.push(`${crdDir}/*.yaml`);
  if (missing.length > 0) {
    throw new Error(`Flux ${FLUX_VERSION} is not built (missing ${missing.join(', ')}): run \`bash test/flux/build.sh\` ` +
      '(npm test\'s pretest does; needs Go; ~40 min cold on 2 cores, cached afterwards)');
  }
  return { bin, crdFiles: readdirSync(crdDir).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(crdDir, f)) };
}

function git(args: string[], cwd: string): string {
  const res = spawnSync('git', args, {
    cwd, encoding: 'utf8', timeout: 30_000,
    env: { ...process.env, GIT_AUTHOR_NAME: 'fledge-test', GIT_AUTHOR_EMAIL: 'test@fledge.invalid', GIT_COMMITTER_NAME: 'fledge-test', GIT_COMMITTER_EMAIL: 'test@fledge.invalid', GIT_CONFIG_NOSYSTEM: '1', HOME: cwd },
  });
  if (res.error) throw new Error(`git ${args.join(' ')}: ${res.error.message} (Debian: apt-get install -y git)`);
  if (res.status !== 0) throw new Error(`git ${args.join(' ')} failed (${res.status}): ${res.stderr}`);
  return res.stdout.trim();
}

const HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

/**
 * A git repository served over smart HTTP by `git http-backend` (as CGI, run per request by a
 * Node server on 127.0.0.1), written to by commits pushed straight to its bare directory.
 */
export class GitRepo {
  readonly url: string;
  readonly #server: Server;
  readonly #bare: string;
  readonly #work: string;

  private constructor(server: Server, root: string, name: string) {
    this.#server = server;
    this.#bare = join(root, `${name}.git`);
    this.#work = join(root, 'work');
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/${name}.git`;
  }

  static async start(root: string, name = 'fleet'): Promise<GitRepo> {
    if (!existsSync(HTTP_BACKEND)) throw new Error(`${HTTP_BACKEND} is missing: the Flux test serves git with Debian's git (apt-get install -y git)`);
    mkdirSync(join(root, 'work'), { recursive: true });
    git(['init', '--bare', '-q', '-b', 'main', join(root, `${name}.git`)], root);
    git(['init', '-q', '-b', 'main'], join(root, 'work'));
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const cgi = spawn(HTTP_BACKEND, [], {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          GIT_PROJECT_ROOT: root, GIT_HTTP_EXPORT_ALL: '1',
          GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'safe.directory', GIT_CONFIG_VALUE_0: '*',
          REQUEST_METHOD: req.method ?? 'GET', PATH_INFO: decodeURIComponent(url.pathname), QUERY_STRING: url.search.slice(1),
          CONTENT_TYPE: req.headers['content-type'] ?? '', REMOTE_ADDR: '127.0.0.1',
          ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: String(req.headers['content-encoding']) } : {}),
          ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      cgi.stdout.on('data', (d: Buffer) => out.push(d));
      cgi.stderr.resume();
      req.pipe(cgi.stdin);
      cgi.on('error', (err) => { res.statusCode = 500; res.end(err.message); });
      cgi.on('close', () => {
        const all = Buffer.concat(out);
        const sep = all.indexOf('\r\n\r\n') >= 0 ? all.indexOf('\r\n\r\n') : all.indexOf('\n\n');
        const headEnd = sep < 0 ? 0 : sep;
        const bodyStart = sep < 0 ? 0 : sep + (all[sep] === 13 ? 4 : 2);
        res.statusCode = 200;
        for (const line of all.subarray(0, headEnd).toString('latin1').split(/\r?\n/)) {
          const i = line.indexOf(':');
          if (i < 0) continue;
          const [k, v] = [line.slice(0, i).trim(), line.slice(i + 1).trim()];
          if (k.toLowerCase() === 'status') res.statusCode = Number.parseInt(v, 10);
          else res.setHeader(k, v);
        }
        res.end(all.subarray(bodyStart));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    return new GitRepo(server, root, name);
  }

  /** Writes (text) or deletes (null) files, commits and pushes to main; returns the commit's sha. */
  commit(message: string, files: Record<string, string | null>): string {
    for (const [path, text] of Object.entries(files)) {
      const file = join(this.#work, path);
      if (text === null) rmSync(file, { force: true });
      else {
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, text);
      }
    }
    git(['add', '-A'], this.#work);
    git(['commit', '-q', '--allow-empty', '-m', message], this.#work);
    git(['push', '-q', this.#bare, 'main'], this.#work);
    return git(['rev-parse', 'HEAD'], this.#work);
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

export interface Flux {
  stop(): Promise<void>;
  /** The last lines both controllers printed, for failure messages. */
  tail(): string;
}

/**
 * Starts source-controller, then kustomize-controller, on loopback ports with the admin
 * kubeconfig; each gets its own TMPDIR (kustomize-controller deletes every
 * `$TMPDIR/kustomization-*` at start-up). Resolves once both log "Starting workers".
 */
export async function startFlux(opts: { kubeconfig: string; dir: string; log?: (line: string) => void }): Promise<Flux> {
  const { bin } = requireFlux();
  const [metricsSc, healthSc, storage, metricsKc, healthKc] = (await freePorts(5)) as [number, number, number, number, number];
  const started: Child[] = [];
  const seen = new Set<string>();
  const start = (name: (typeof CONTROLLERS)[number], args: string[]) => {
    const tmp = join(opts.dir, `${name}-tmp`);
    mkdirSync(tmp, { recursive: true });
    const child = new Child({
      name, command: '/usr/bin/env', args: [`KUBECONFIG=${opts.kubeconfig}`, `TMPDIR=${tmp}`, bin[name], ...args, '--log-encoding=console', '--log-level=info', '--watch-all-namespaces=true'],
      log: (line) => {
        if (line.includes('Starting workers')) seen.add(name);
        opts.log?.(line);
      },
    });
    started.push(child);
    return child;
  };
  const flux: Flux = {
    stop: async () => { await Promise.all(started.map((c) => c.stop(5000))); },
    tail: () => started.map((c) => `--- ${c.name} (${c.exitReason ?? 'running'}):\n${c.tail()}`).join('\n'),
  };
  mkdirSync(join(opts.dir, 'storage'), { recursive: true });
  try {
    start('source-controller', [`--metrics-addr=127.0.0.1:${metricsSc}`, `--health-addr=127.0.0.1:${healthSc}`, `--storage-path=${join(opts.dir, 'storage')}`, `--storage-addr=127.0.0.1:${storage}`, `--storage-adv-addr=127.0.0.1:${storage}`]);
    // A Kustomization whose dependency is not ready yet is looked at again after this (default 30 s).
    start('kustomize-controller', [`--metrics-addr=127.0.0.1:${metricsKc}`, `--health-addr=127.0.0.1:${healthKc}`, '--requeue-dependency=2s']);
    const deadline = Date.now() + 60_000;
    while (seen.size < CONTROLLERS.length) {
      const dead = started.find((c) => c.exitReason !== undefined);
      if (dead) throw new Error(`${dead.name} ${dead.exitReason}:\n${dead.tail()}`);
      if (Date.now() > deadline) throw new Error(`Flux controllers did not start workers within 60 s:\n${flux.tail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return flux;
  } catch (err) {
    await flux.stop();
    throw err;
  }
}

export const GIT_REPOSITORIES = { group: 'source.toolkit.fluxcd.io', version: 'v1', plural: 'gitrepositories' };
export const KUSTOMIZATIONS = { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations' };

export interface FluxCondition { type: string; status: string; reason: string; message: string; lastTransitionTime?: string }
export interface FluxStatus {
  metadata: { name: string; annotations?: Record<string, string> };
  status?: { conditions?: FluxCondition[]; lastAppliedRevision?: string; lastAttemptedRevision?: string; lastHandledReconcileAt?: string; artifact?: { revision?: string } };
}

/**
 * Asks a Flux object to reconcile now (what `flux reconcile` does: the requestedAt annotation),
 * and returns the token; `status.lastHandledReconcileAt` equals it once the reconcile is done.
 */
export async function requestReconcile(k: TestKube, ref: typeof KUSTOMIZATIONS, name: string, namespace = 'flux-system'): Promise<string> {
  const token = `${Date.now()}.${Math.floor(Math.random() * 1e6)}`;
  await k.co.patchNamespacedCustomObject(
    { ...ref, namespace, name, body: { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': token } } }, fieldManager: 'flux-client-side-apply' },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  return token;
}

export async function getFlux(k: TestKube, ref: typeof KUSTOMIZATIONS, name: string, namespace = 'flux-system'): Promise<FluxStatus> {
  return (await k.co.getNamespacedCustomObject({ ...ref, namespace, name })) as FluxStatus;
}

export const fluxCondition = (o: FluxStatus | undefined, type: string): FluxCondition | undefined => o?.status?.conditions?.find((c) => c.type === type);

/** Polls a Kustomization until `pred` holds; the timeout message shows its conditions and Flux's last log lines. */
export async function waitForKustomization(k: TestKube, flux: Flux, name: string, what: string, pred: (o: FluxStatus) => boolean, timeoutMs = 60_000): Promise<FluxStatus> {
  try {
    return await eventually(async () => {
      const o = await getFlux(k, KUSTOMIZATIONS, name);
      return pred(o) ? o : undefined;
    }, `Kustomization ${name}: ${what}`, timeoutMs, 200);
  } catch (err) {
    const o = await getFlux(k, KUSTOMIZATIONS, name).catch(() => undefined);
    throw new Error(`${(err as Error).message}\nstatus: ${JSON.stringify(o?.status)}\n${flux.tail()}`, { cause: err });
  }
}
