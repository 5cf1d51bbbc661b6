/**
 * Starts what the demo runs on, all on this machine: a kube-apiserver + etcd with Istio's and
 * Fledge's CRDs, one fake mesh workload per story, a Prometheus scraping them, data-plane
 * followers that route the mesh by the live VirtualServices, and the controller in-process.
 * Every piece is handed to `cleanup` the moment it is started.
 */
import { CoreV1Api } from '@kubernetes/client-node';
import { DEFAULT_PROVIDER } from '../../api/prometheus-policy.ts';
import { Controller } from '../../controller/controller.ts';
import { startLocalCluster, type LocalCluster } from '../../devenv/cluster.ts';
import { followVirtualService } from '../../devenv/dataplane.ts';
import { startMeshWorkload, type MeshWorkload } from '../../devenv/mesh.ts';
import { startLocalPrometheus, type LocalPrometheus } from '../../devenv/prometheus.ts';
import { KubeClient } from '../../kube/client.ts';
import { abortable, DemoError, sleep, type Cleanup } from './lifecycle.ts';
import type { FileLog } from './log.ts';
import { ROLLOUT_CRD } from './prereqs.ts';
import { NAMESPACE, StoryRun, VERSIONS, type DemoTiming, type StoryDef } from './stories.ts';

export interface DemoEnv {
  cluster: LocalCluster;
  prometheus: LocalPrometheus;
  client: KubeClient;
  runs: StoryRun[];
}

export interface EnvOptions {
  stories: StoryDef[];
  timing: DemoTiming;
  /** Temp dir the cluster's and Prometheus' own temp dirs are made in. */
  workspace: string;
  cleanup: Cleanup;
  signal: AbortSignal;
  log: FileLog;
  progress: (line: string) => void;
}

const SCRAPE_TIMEOUT_MS = 45_000;

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

export async function startEnvironment(o: EnvOptions): Promise<DemoEnv> {
  const { cleanup, signal, progress } = o;
  const t0 = Date.now();

  const meshes: MeshWorkload[] = [];
  for (const s of o.stories) {
    const mesh = await cleanup.track(`mesh ${s.service}`, startMeshWorkload({
      service: s.service, namespace: NAMESPACE, versions: [...VERSIONS], rps: o.timing.rps, seed: 40 + s.index,
      behaviour: { v1: { errorRate: s.errorRate.v1, latencyMs: 20 }, v2: { errorRate: s.errorRate.v2, latencyMs: 25 } },
    }), (m) => m.stop());
    meshes.push(mesh);
  }
  progress(`fake Istio mesh up: ${o.stories.map((s) => s.service).join(' and ')}, ${o.timing.rps} requests/s each, all on v1 until a Rollout says otherwise`);

  progress('starting the local control plane (etcd, kube-apiserver, Istio\'s CRDs, the Rollout CRD) and Prometheus');
  // The servers make their temp dirs under os.tmpdir(): point it into the workspace while they
  // start, so every file and every command line of theirs lives under one dir we remove.
  const savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = o.workspace;
  const clusterStarting = cleanup.track('kube-apiserver and etcd', startLocalCluster({ crdFiles: [ROLLOUT_CRD], log: o.log.lines('cluster') }), (c) => c.stop());
  const promStarting = cleanup.track('Prometheus', startLocalPrometheus({
    scrapeTargets: meshes.map((m) => m.metricsAddress), scrapeInterval: '1s', log: o.log.lines('prometheus'),
  }), (p) => p.stop());
  // TMPDIR must stay put until both have made their dirs, even when the demo is interrupted.
  const settled = Promise.allSettled([clusterStarting, promStarting]).finally(() => {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
  });
  await abortable(settled, signal);
  const [cluster, prometheus] = await Promise.all([clusterStarting, promStarting]);
  progress(`control plane ready at ${cluster.server}, Prometheus at ${prometheus.url} scraping the mesh every 1 s (${seconds(t0)})`);

  const kc = cluster.adminKubeConfig();
  await abortable(kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NAMESPACE } } }), signal);
  // The demo applies Rollouts the way a GitOps tool would: server-side apply under its own name.
  const client = new KubeClient(kc, { fieldManager: 'fledge-demo' });

  const runs = o.stories.map((s, i) => {
    const mesh = meshes[i]!;
    const plane = followVirtualService(kc, mesh, { namespace: NAMESPACE, virtualService: s.service, destinationRule: s.service });
    cleanup.add(`follower ${s.service}`, () => plane.stop());
    return new StoryRun(s, mesh, plane);
  });

  const controller = new Controller({
    log: o.log.logger('controller'),
    kubeconfig: cluster.kubeconfigPath,
    namespace: NAMESPACE,
    metricsAddress: '127.0.0.1:0',
    resyncMs: 30_000,
    // What `--prometheus-address` does, with a short timeout for a machine-local Prometheus.
    prometheus: { providers: [{ name: DEFAULT_PROVIDER, address: prometheus.url, timeoutMs: 2000 }], allowedAddresses: [] },
  });
  const controllerStarting = controller.start();
  cleanup.add('controller', async () => {
    await controllerStarting.catch(() => {});
    await controller.stop();
  });
  await abortable(controllerStarting, signal);
  progress(`Fledge controller running in this process, watching namespace ${NAMESPACE}`);

  await waitForScrape(prometheus.url, o.stories.length, signal);
  progress(`Prometheus has scraped the mesh: analysis can read Istio's metrics (${seconds(t0)} since start)`);
  return { cluster, prometheus, client, runs };
}

/** Prometheus passes new targets on only after its first discovery cycle (~5 s). */
async function waitForScrape(url: string, services: number, signal: AbortSignal): Promise<void> {
  const query = encodeURIComponent('count by (destination_service_name) (istio_requests_total)');
  const deadline = Date.now() + SCRAPE_TIMEOUT_MS;
  for (;;) {
    try {
      const res = await fetch(`${url}/api/v1/query?query=${query}`, { signal: AbortSignal.any([signal, AbortSignal.timeout(2000)]) });
      const body = (await res.json()) as { data?: { result?: unknown[] } };
      if ((body.data?.result?.length ?? 0) >= services) return;
    } catch {
      if (signal.aborted) throw signal.reason as Error;
    }
    if (Date.now() > deadline) throw new DemoError(`Prometheus did not scrape the mesh within ${SCRAPE_TIMEOUT_MS / 1000} s; see the log file for its output`);
    await sleep(250, signal);
  }
}
