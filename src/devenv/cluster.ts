import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { Child, isAlive } from './child.ts';
import { applyManifests, waitEstablished } from './crds.ts';
import { kubeconfigYaml, newToken, tokensCsv, writeServiceAccountKeys, type User } from './credentials.ts';
import { freePorts } from './ports.ts';

export type { User } from './credentials.ts';

/** Must match K8S_VERSION in test/cluster/build.sh, which fills the cache. */
export const K8S_VERSION = 'v1.36.3';
const ADMIN = 'admin';
const DIR_PREFIX = 'fledge-cluster-';
const OWNER_FILE = 'owner.pid';
const READY_TIMEOUT_MS = 60_000;

export interface LocalClusterOptions {
  /** Users to issue bearer tokens for; RBAC judges them (the admin is in system:masters). */
  users?: User[];
  /** Also run kube-controller-manager with only the garbage collector. */
  garbageCollector?: boolean;
  /** YAML files (CRDs or anything else) to server-side apply after Istio's CRDs. */
  crdFiles?: string[];
  /** Receives progress messages and every line the child processes print. */
  log?: (line: string) => void;
  /**
   * Extra kube-apiserver flags, appended at every start (a later flag wins), e.g.
   * `['--etcd-compaction-interval=5s']` so that old resourceVersions are compacted away quickly
   * and watches resumed from them get 410 Gone.
   */
  apiServerArgs?: string[];
}

export interface StartApiServerOptions {
  /** Extra flags for this start only, after `apiServerArgs` (e.g. `['--watch-cache=false']`). */
  extraArgs?: string[];
}

export interface LocalCluster {
  /** https://127.0.0.1:PORT */
  server: string;
  /** Admin kubeconfig (bearer token, group system:masters). */
  kubeconfigPath: string;
  adminToken: string;
  /** Temp dir holding everything; removed by stop(). */
  dir: string;
  /** Bearer token of a declared user ('admin' included); throws for unknown users. */
  tokenFor(user: string): string;
  /** Path of a kubeconfig for a declared user ('admin' included); throws for unknown users. */
  kubeconfigFor(user: string): string;
  /** Admin KubeConfig object, for @kubernetes/client-node. */
  adminKubeConfig(): KubeConfig;
  /** Stops kube-apiserver only (etcd keeps the data), for fault tests. */
  stopApiServer(): Promise<void>;
  /** Starts kube-apiserver again on the same port and waits for /readyz. */
  startApiServer(opts?: StartApiServerOptions): Promise<void>;
  restartApiServer(opts?: StartApiServerOptions): Promise<void>;
  /** Stops everything (apiserver, controller-manager, etcd) and removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

export function clusterCacheDir(): string {
  return join(process.env['FLEDGE_CACHE_DIR'] || join(homedir(), '.cache', 'fledge'), `k8s-${K8S_VERSION}`);
}

export function clusterBinDir(): string {
  return join(clusterCacheDir(), 'bin');
}

/** Istio's own CRDs (from istio.io/api), copied there by build.sh. */
export function istioCrdsPath(): string {
  return join(clusterCacheDir(), 'istio-crds.yaml');
}

export async function startLocalCluster(opts: LocalClusterOptions = {}): Promise<LocalCluster> {
  const log = opts.log ?? (() => {});
  const bin = (name: string) => join(clusterBinDir(), name);
  const needed = [bin('etcd'), bin('kube-apiserver'), istioCrdsPath()];
  if (opts.garbageCollector) needed.push(bin('kube-controller-manager'));
  const missing = needed.filter((f) => !existsSync(f));
  if (missing.length > 0) {
    throw new Error(`local cluster is not built (missing ${missing.join(', ')}): run \`bash test/cluster/build.sh\``);
  }

  const started = Date.now();
  await sweepStaleDirs();
  const dir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
  await writeFile(join(dir, OWNER_FILE), String(process.pid));
  const children: Child[] = [];
  // Covers a parent that exits without calling stop(): the children die in child.ts.
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.on('exit', removeDir);

  let apiServer: Child | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // Order matters: kube-apiserver hangs on SIGTERM once etcd is gone.
    await apiServer?.stop();
    for (const child of [...children].reverse()) await child.stop();
    await rm(dir, { recursive: true, force: true });
    process.off('exit', removeDir);
  };

  try {
    const [etcdPort, peerPort, apiPort] = (await freePorts(3)) as [number, number, number];
    const server = `https://127.0.0.1:${apiPort}`;
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;

    const users = new Map<string, { token: string; user: User; kubeconfig: string }>();
    for (const user of [{ name: ADMIN, groups: ['system:masters'] }, ...(opts.users ?? [])]) {
      if (users.has(user.name)) throw new Error(`user declared twice: ${user.name}`);
      const token = newToken();
      const kubeconfig = join(dir, `kubeconfig-${user.name.replace(/[^A-Za-z0-9._-]/g, '_')}.yaml`);
      await writeFile(kubeconfig, kubeconfigYaml(server, user.name, token), { mode: 0o600 });
      users.set(user.name, { token, user, kubeconfig });
    }
    const lookup = (name: string) => {
      const entry = users.get(name);
      if (!entry) throw new Error(`unknown user ${name}: declare it in startLocalCluster({ users })`);
      return entry;
    };
    const admin = lookup(ADMIN);
    await writeFile(join(dir, 'tokens.csv'), tokensCsv([...users.values()]), { mode: 0o600 });
    const sa = await writeServiceAccountKeys(dir);
    await mkdir(join(dir, 'certs'));

    log(`starting etcd on ${etcdUrl}`);
    const etcd = new Child({
      name: 'etcd',
      command: bin('etcd'),
      args: [
        '--data-dir', join(dir, 'etcd'),
        '--listen-client-urls', etcdUrl,
        '--advertise-client-urls', etcdUrl,
        '--listen-peer-urls', peerUrl,
        '--initial-advertise-peer-urls', peerUrl,
        '--initial-cluster', `default=${peerUrl}`,
        // The data is thrown away after the run, so durability buys nothing but slowness.
        '--unsafe-no-fsync',
        '--log-level', 'warn',
      ],
      log: opts.log,
    });
    children.push(etcd);
    await waitFor(etcd, () => probe(`${etcdUrl}/health`), 'etcd /health');

    const apiServerArgs = [
      '--etcd-servers', etcdUrl,
      '--secure-port', String(apiPort),
      '--bind-address', '127.0.0.1',
      '--cert-dir', join(dir, 'certs'),
      '--service-account-key-file', sa.pub,
      '--service-account-signing-key-file', sa.key,
      '--service-account-issuer', 'https://kubernetes.default.svc',
      '--token-auth-file', join(dir, 'tokens.csv'),
      '--authorization-mode', 'RBAC',
      '--service-cluster-ip-range', '10.96.0.0/16',
      // There is no controller-manager minting ServiceAccount tokens.
      '--disable-admission-plugins', 'ServiceAccount',
      // Without it, open watches (controller-manager, informers) keep SIGTERM from
      // finishing for up to a minute; with it they are ended and shutdown takes ~1 s.
      '--shutdown-watch-termination-grace-period', '2s',
      ...(opts.apiServerArgs ?? []),
    ];
    const startApiServer = async (startOpts: StartApiServerOptions = {}) => {
      if (stopped) throw new Error('the local cluster was stopped');
      if (apiServer && apiServer.exitReason === undefined) throw new Error('kube-apiserver is already running');
      log(`starting kube-apiserver on ${server}`);
      apiServer = new Child({ name: 'kube-apiserver', command: bin('kube-apiserver'), args: [...apiServerArgs, ...(startOpts.extraArgs ?? [])], log: opts.log });
      await waitFor(apiServer, () => probe(`${server}/readyz`, admin.token), 'kube-apiserver /readyz');
    };
    const stopApiServer = async () => {
      await apiServer?.stop();
      apiServer = undefined;
    };
    await startApiServer();
    log(`kube-apiserver ready after ${Date.now() - started} ms`);

    const kc = new KubeConfig();
    kc.loadFromFile(admin.kubeconfig);
    const crdNames = await applyManifests(kc, [istioCrdsPath(), ...(opts.crdFiles ?? [])]);
    await waitEstablished(kc, crdNames);
    log(`${crdNames.length} CRDs established after ${Date.now() - started} ms`);

    if (opts.garbageCollector) {
      // Its port is picked just before it binds (the API server's start takes seconds, in which
      // another process may take a port picked earlier), and picked again if it was taken anyway.
      for (let attempt = 1; ; attempt++) {
        const [kcmPort] = (await freePorts(1)) as [number];
        const kcm = new Child({
          name: 'kube-controller-manager',
          command: bin('kube-controller-manager'),
          args: [
            '--kubeconfig', admin.kubeconfig,
            '--controllers', 'garbagecollector',
            '--leader-elect=false',
            '--bind-address', '127.0.0.1',
            '--secure-port', String(kcmPort),
            '--cert-dir', join(dir, 'kcm-certs'),
          ],
          log: opts.log,
        });
        children.push(kcm);
        try {
          // /healthz is always allowed, so no token is needed.
          await waitFor(kcm, () => probe(`https://127.0.0.1:${kcmPort}/healthz`), 'kube-controller-manager /healthz');
          break;
        } catch (err) {
          if (attempt >= 3 || !kcm.tail().includes('address already in use')) throw err;
          log(`kube-controller-manager: port ${kcmPort} was taken before it could bind; trying another`);
        }
      }
      log(`kube-controller-manager ready after ${Date.now() - started} ms`);
    }

    return {
      server,
      kubeconfigPath: admin.kubeconfig,
      adminToken: admin.token,
      dir,
      tokenFor: (user) => lookup(user).token,
      kubeconfigFor: (user) => lookup(user).kubeconfig,
      adminKubeConfig: () => {
        const copy = new KubeConfig();
        copy.loadFromFile(admin.kubeconfig);
        return copy;
      },
      stopApiServer,
      startApiServer,
      restartApiServer: async (startOpts?: StartApiServerOptions) => {
        await stopApiServer();
        await startApiServer(startOpts);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Removes the temp dirs (~120 MB each, mostly etcd's WAL) of clusters whose owner died
 * without cleaning up, e.g. a test run killed with SIGKILL. Live owners' dirs are kept.
 */
async function sweepStaleDirs(): Promise<void> {
  for (const name of await readdir(tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    const pid = Number(await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => ''));
    if (Number.isInteger(pid) && pid > 0 && !isAlive(pid)) await rm(dir, { recursive: true, force: true });
  }
}


/** Polls until `ready` returns true; fails early with the output tail if the process exits. */
async function waitFor(child: Child, ready: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitReason !== undefined) {
      throw new Error(`${child.name} ${child.exitReason} before ${what} answered; last output:\n${child.tail()}`);
    }
    if (await ready()) return;
    if (Date.now() > deadline) {
      throw new Error(`${what} not ready after ${READY_TIMEOUT_MS} ms; last output of ${child.name}:\n${child.tail()}`);
    }
    await Promise.race([child.exited, new Promise((resolve) => setTimeout(resolve, 100))]);
  }
}

/** True if GET `url` answers 200. TLS is not verified: the servers' certificates are self-signed. */
function probe(url: string, token?: string): Promise<boolean> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        rejectUnauthorized: false,
        timeout: 2000,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}
