/**
 * Scale benchmark: the real controller process against a real local kube-apiserver + etcd, with
 * N Rollouts that sit at their first step (analysis off, a one-hour interval).
 *
 *   node --experimental-strip-types bench/scale.ts [--n 100,1000,5000] [--idle 60] [--changes 50]
 *       [--namespaces 5] [--analysis-rollouts 20] [--analysis-seconds 60]
 *       [--controller-args "--qps 50 --burst 100"] [--bin PATH] [--node-options "..."] [--doc PATH] [--no-write]
 *
 * For each N, on a fresh cluster: create N Rollouts (64 creates in flight), start `fledge
 * controller`, and measure the time until every Rollout has its DestinationRule, its
 * VirtualService at 90/10 and status Progressing (watched from this process); then one idle
 * period (requests from /metrics, RSS and CPU from /proc); then `--changes` spec changes of one
 * Rollout (canary labels flipped: the VirtualService goes to 100/0), timed from the patch to the
 * VirtualService's watch event here. Last, a small run with analysis on against a local
 * Prometheus that has no data, counting queries per check.
 *
 * Writes the section "## Scale (npm run bench:scale)" of docs/benchmarks.md, keeping the file's
 * other sections and the hand-written "### Before and after" part of this one.
 * `npm run build` must be current (dist/ is what runs).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { startLocalCluster, type LocalCluster } from '../src/devenv/cluster.ts';
import { startLocalPrometheus, type LocalPrometheus } from '../src/devenv/prometheus.ts';
import { requireBuilt } from '../test/support/built.ts';
import { ROLLOUT_CRD } from '../test/support/cluster.ts';
import { BenchController, DEFAULT_BIN } from './scale/controller.ts';
import { machineLine, writeDocSection } from './doc.ts';
import {
  CANARY, ConvergenceWatch, ROLLOUTS, STABLE, atFirstStep, createRollouts, percentile, procSample, requestDelta, scaleNamespaces,
  scrape, sleep, total, waitQuiet, weights, writesOf, type ProcSample, type Scrape,
} from './scale/kit.ts';

const HEADING = '## Scale (npm run bench:scale)';
const KEEP = '### Before and after';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const option = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const num = (name: string, fallback: number) => {
  const v = Number(option(name));
  return Number.isFinite(v) && option(name) !== undefined ? v : fallback;
};

const NS = (option('--n') ?? '100,1000,5000').split(',').map(Number).filter((x) => x > 0);
const IDLE_S = num('--idle', 60);
const CHANGES = num('--changes', 50);
const NAMESPACES = num('--namespaces', 5);
const ANALYSIS_ROLLOUTS = num('--analysis-rollouts', 20);
const ANALYSIS_S = num('--analysis-seconds', 60);
const CONVERGE_TIMEOUT_S = num('--timeout', 1200);
const CONTROLLER_ARGS = (option('--controller-args') ?? '').split(/\s+/).filter(Boolean);
/** Another build of the CLI (e.g. compiled to another outDir while tests read dist/). */
const BIN = option('--bin');
/**
 * NODE_OPTIONS for the controller process: by default the Deployment's (deploy/base), so RSS is
 * measured as the controller runs in a cluster; `--node-options ""` for Node's own defaults.
 */
const NODE_OPTIONS = option('--node-options') ?? deploymentNodeOptions();
const CONTROLLER_ENV: NodeJS.ProcessEnv = { LOG_LEVEL: 'info', ...(NODE_OPTIONS ? { NODE_OPTIONS } : {}) };
/** Where the section is written (default docs/benchmarks.md). */
const DOC = option('--doc') ?? fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
const LOG = flag('--verbose') ? (s: string) => process.stderr.write(`${s}\n`) : () => {};

function deploymentNodeOptions(): string {
  const yaml = readFileSync(fileURLToPath(new URL('../deploy/base/deployment.yaml', import.meta.url)), 'utf8');
  const m = /- name: NODE_OPTIONS\n\s+value: (.+)\n/.exec(yaml);
  if (!m) throw new Error('deploy/base/deployment.yaml sets no NODE_OPTIONS: pass --node-options');
  return m[1]!.trim();
}

const say = (s: string) => process.stderr.write(`[scale ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

/** kube-apiserver processes on this machine that are not ours: other test runs competing for the CPUs. */
function foreignApiServers(ownDirs: readonly string[]): number {
  let n = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d))) {
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmd.split('\0')[0]?.endsWith('kube-apiserver') && !cmd.includes('/kube-apiserver\0')) continue;
    if (!ownDirs.some((d) => cmd.includes(d))) n++;
  }
  return n;
}

/** CPU seconds used so far by this cluster's etcd and kube-apiserver (found by their data dir). */
function clusterCpuSeconds(dir: string): number {
  let s = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) continue;
      s += procSample(Number(pid)).cpuSeconds;
    } catch {
      // gone
    }
  }
  return s;
}

interface RunResult {
  n: number;
  createS: number;
  syncS: number;
  convergeS: number;
  medianS: number;
  requestsDuringConvergence: Record<string, number>;
  /** Reconciles run until converged (fledge_reconcile_total). */
  reconcilesDuringConvergence: number;
  controllerCpuConvergeS: number;
  clusterCpuConvergeS: number;
  benchCpuConvergeS: number;
  peakRssMb: number;
  idle: { seconds: number; requests: Record<string, number>; rssMb: number; heapMb: number; cpuPercent: number };
  latency: { samples: number[]; reconcileMeanMs: number };
  /** A spec change sent while the startup backlog drains: how long until it was live, and how many Rollouts had converged by then. */
  startupChange: { ms: number; convergedBefore: number; sentAtS: number } | undefined;
  foreign: number;
  load: number[];
}

function heapMb(s: Scrape): number {
  return total(s, 'fledge_process_nodejs_heap_size_used_bytes') / 2 ** 20;
}

async function runN(n: number, ownDirs: string[]): Promise<RunResult> {
  say(`N=${n}: starting a local cluster`);
  const cluster: LocalCluster = await startLocalCluster({ crdFiles: [ROLLOUT_CRD], log: LOG });
  ownDirs.push(cluster.dir);
  let controller: BenchController | undefined;
  let watch: ConvergenceWatch | undefined;
  try {
    const kc = cluster.adminKubeConfig();
    const namespaces = scaleNamespaces(NAMESPACES);
    const createMs = await createRollouts(kc, n, namespaces);
    say(`N=${n}: created ${n} Rollouts in ${(createMs / 1000).toFixed(1)} s`);
    watch = new ConvergenceWatch(kc);
    await watch.start();

    let foreign = foreignApiServers(ownDirs);
    const load: number[] = [];
    const sampleLoad = () => {
      foreign = Math.max(foreign, foreignApiServers(ownDirs));
      load.push(loadavg()[0]!);
    };
    const cpu0 = clusterCpuSeconds(cluster.dir);
    const bench0 = process.cpuUsage();
    const t0 = performance.now();
    controller = await BenchController.start({
      ...(BIN ? { bin: BIN } : {}), kubeconfig: cluster.kubeconfigPath, args: CONTROLLER_ARGS, env: CONTROLLER_ENV, timeoutMs: CONVERGE_TIMEOUT_S * 1000,
    });
    const pid = controller.proc.pid!;
    const syncS = (performance.now() - t0) / 1000;
    say(`N=${n}: controller ${pid} started (caches synced) after ${syncS.toFixed(1)} s`);
    const startupChange = n >= 100 ? await changeDuringStartup(kc, watch, namespaces, n, t0) : undefined;
    if (startupChange) say(`N=${n}: a change sent during the startup backlog was live after ${startupChange.ms.toFixed(0)} ms (${startupChange.convergedBefore} of ${n} converged by then)`);
    await watch.waitConverged(n, CONVERGE_TIMEOUT_S * 1000);
    const times = [...watch.convergedAt.values()].map((t) => (t - t0) / 1000);
    const convergeS = Math.max(...times);
    const atConverged = procSample(pid);
    const clusterCpuConvergeS = clusterCpuSeconds(cluster.dir) - cpu0;
    const benchCpu = process.cpuUsage(bench0);
    const sConverged = await scrape(controller.port);
    sampleLoad();
    say(`N=${n}: all converged after ${convergeS.toFixed(1)} s (median ${percentile(times, 50).toFixed(1)} s)`);

    // Rest: the queue empty and no request for 5 s, then the idle period proper.
    await waitQuiet(controller.port, 5000, 300_000);
    const s0 = await scrape(controller.port);
    const p0 = procSample(pid);
    await sleep(IDLE_S * 1000);
    // /proc first: the scrape itself costs the controller CPU (one line per Rollout and phase).
    const p1: ProcSample = procSample(pid);
    const s1 = await scrape(controller.port);
    const idleRequests = requestDelta(s0, s1);
    sampleLoad();
    say(`N=${n}: idle ${IDLE_S} s: ${JSON.stringify(idleRequests)}, RSS ${p1.rssMb.toFixed(0)} MB, CPU ${(100 * (p1.cpuSeconds - p0.cpuSeconds) / ((p1.at - p0.at) / 1000)).toFixed(2)} %`);

    const latency = await changeLatency(kc, watch, controller.port, namespaces, Math.floor(n / 2));
    say(`N=${n}: change → VirtualService p50 ${percentile(latency.samples, 50).toFixed(0)} ms, p99 ${percentile(latency.samples, 99).toFixed(0)} ms`);

    return {
      n,
      createS: createMs / 1000,
      syncS,
      convergeS,
      medianS: percentile(times, 50),
      requestsDuringConvergence: requestDelta(new Map(), sConverged),
      reconcilesDuringConvergence: total(sConverged, 'fledge_reconcile_total'),
      controllerCpuConvergeS: atConverged.cpuSeconds,
      clusterCpuConvergeS,
      benchCpuConvergeS: (benchCpu.user + benchCpu.system) / 1e6,
      peakRssMb: p1.peakRssMb,
      idle: { seconds: (p1.at - p0.at) / 1000, requests: idleRequests, rssMb: p1.rssMb, heapMb: heapMb(s1), cpuPercent: (100 * (p1.cpuSeconds - p0.cpuSeconds)) / ((p1.at - p0.at) / 1000) },
      latency,
      startupChange,
      foreign: Math.max(foreign, foreignApiServers(ownDirs)),
      load,
    };
  } finally {
    await controller?.stop();
    await watch?.stop();
    await cluster.stop();
  }
}

/**
 * One spec change while the controller works through the startup backlog (every Rollout queued
 * at once), to the Rollout it would reach last: the last in the order it lists them
 * (namespace/name, as etcd keeps them). Timed from the patch to this process seeing the Rollout
 * converged for the new generation (status, DestinationRule, VirtualService at 90/10).
 */
async function changeDuringStartup(kc: ReturnType<LocalCluster['adminKubeConfig']>, watch: ConvergenceWatch, namespaces: string[], n: number, t0: number): Promise<RunResult['startupChange']> {
  const keys = Array.from({ length: n }, (_, i) => `${namespaces[i % namespaces.length]!}/r-${i}`).sort();
  const [ns, name] = keys.at(-1)!.split('/') as [string, string];
  const co = kc.makeApiClient(CustomObjectsApi);
  await sleep(500);
  const sent = performance.now();
  const patched = await co.patchNamespacedCustomObject(
    { ...ROLLOUTS, namespace: ns, name, body: { spec: { canary: { labels: { version: 'v3' } } } }, fieldManager: 'bench' },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  ) as { metadata: { generation: number } };
  const deadline = Date.now() + CONVERGE_TIMEOUT_S * 1000;
  for (;;) {
    const s = watch.rollout(ns, name)?.status;
    if (atFirstStep(watch.virtualService(ns, name)) && s?.phase === 'Progressing' && s.canaryWeight === 10 && (s.observedGeneration ?? 0) >= patched.metadata.generation) break;
    if (Date.now() > deadline) throw new Error(`${ns}/${name} did not converge after its change during startup`);
    await sleep(5);
  }
  const at = performance.now();
  return { ms: at - sent, convergedBefore: [...watch.convergedAt.values()].filter((t) => t < at).length, sentAtS: (sent - t0) / 1000 };
}

/**
 * Flips the canary labels of one Rollout `CHANGES` times. Each flip is a new release: the
 * controller puts all traffic back on stable (VirtualService 100/0), then starts the first step
 * again. Timed: from sending the patch to this process seeing the VirtualService at 100/0.
 */
async function changeLatency(kc: ReturnType<LocalCluster['adminKubeConfig']>, watch: ConvergenceWatch, port: number, namespaces: string[], i: number): Promise<{ samples: number[]; reconcileMeanMs: number }> {
  const co = kc.makeApiClient(CustomObjectsApi);
  const ns = namespaces[i % namespaces.length]!;
  const name = `r-${i}`;
  const samples: number[] = [];
  const before = await scrape(port);
  for (let c = 0; c < CHANGES; c++) {
    const version = c % 2 === 0 ? 'v3' : CANARY.labels.version;
    const restarted = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => { off(); reject(new Error(`no VirtualService update for change ${c}`)); }, 30_000);
      const off = watch.onEvent((e) => {
        if (e.kind !== 'vs' || e.obj.metadata?.namespace !== ns || e.obj.metadata?.name !== name) return;
        const w = weights(e.obj);
        if (w[STABLE.subset] === 100 && w[CANARY.subset] === 0) {
          clearTimeout(timer);
          off();
          resolve(e.at);
        }
      });
    });
    const sent = performance.now();
    const patched = await co.patchNamespacedCustomObject(
      { ...ROLLOUTS, namespace: ns, name, body: { spec: { canary: { labels: { version } } } }, fieldManager: 'bench' },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    ) as { metadata: { generation: number } };
    samples.push((await restarted) - sent);
    // Back at the first step for the new release before the next change.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = watch.rollout(ns, name);
      const s = r?.status;
      if (atFirstStep(watch.virtualService(ns, name)) && s?.phase === 'Progressing' && s.canaryWeight === 10 && (s.observedGeneration ?? 0) >= patched.metadata.generation) break;
      if (Date.now() > deadline) throw new Error(`${ns}/${name} did not return to the first step after change ${c}`);
      await sleep(20);
    }
    await sleep(100 + Math.random() * 100);
  }
  const after = await scrape(port);
  const count = total(after, 'fledge_reconcile_duration_seconds_count') - total(before, 'fledge_reconcile_duration_seconds_count');
  const sum = total(after, 'fledge_reconcile_duration_seconds_sum') - total(before, 'fledge_reconcile_duration_seconds_sum');
  return { samples, reconcileMeanMs: count > 0 ? (1000 * sum) / count : NaN };
}

/** What a Rollout would typically judge: its error rate, and its latency by comparison and by p99. */
const METRICS = [
  { name: 'error-rate', template: 'istio-error-rate', max: 0.01 },
  { name: 'slow', template: 'istio-slow-requests', max: 500 },
  { name: 'latency', template: 'istio-latency-p99', max: 500 },
];
/** Templates read from the traffic query (src/metrics/traffic.ts): no query of their own. */
const FROM_TRAFFIC = new Set(['istio-error-rate', 'istio-request-count', 'istio-slow-requests']);

interface AnalysisResult {
  rollouts: number;
  seconds: number;
  queries: number;
  analyses: number;
  requests: Record<string, number>;
  checkIntervalS: number;
}

async function runAnalysis(ownDirs: string[]): Promise<AnalysisResult> {
  say(`analysis: ${ANALYSIS_ROLLOUTS} Rollouts against a local Prometheus with no data`);
  const cluster = await startLocalCluster({ crdFiles: [ROLLOUT_CRD], log: LOG });
  ownDirs.push(cluster.dir);
  let prom: LocalPrometheus | undefined;
  let controller: BenchController | undefined;
  let watch: ConvergenceWatch | undefined;
  try {
    prom = await startLocalPrometheus({ scrapeTargets: [] });
    const kc = cluster.adminKubeConfig();
    const analysis = { metrics: METRICS };
    await createRollouts(kc, ANALYSIS_ROLLOUTS, scaleNamespaces(Math.min(NAMESPACES, ANALYSIS_ROLLOUTS)), { analysis });
    watch = new ConvergenceWatch(kc);
    await watch.start();
    controller = await BenchController.start({ ...(BIN ? { bin: BIN } : {}), kubeconfig: cluster.kubeconfigPath, args: [...CONTROLLER_ARGS, '--prometheus-address', prom.url], env: CONTROLLER_ENV, timeoutMs: 120_000 });
    await watch.waitConverged(ANALYSIS_ROLLOUTS, 120_000);
    // Let every Rollout reach its first check (checkInterval 10 s after the step began).
    await sleep(12_000);
    const s0 = await scrape(controller.port);
    const t0 = performance.now();
    await sleep(ANALYSIS_S * 1000);
    const s1 = await scrape(controller.port);
    return {
      rollouts: ANALYSIS_ROLLOUTS,
      seconds: (performance.now() - t0) / 1000,
      queries: total(s1, 'fledge_prometheus_queries_total') - total(s0, 'fledge_prometheus_queries_total'),
      analyses: total(s1, 'fledge_analysis_total') - total(s0, 'fledge_analysis_total'),
      requests: requestDelta(s0, s1),
      checkIntervalS: 10,
    };
  } finally {
    await controller?.stop();
    await watch?.stop();
    await prom?.stop();
    await cluster.stop();
  }
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '–');
const fmtRequests = (r: Record<string, number>) => {
  const e = Object.entries(r).sort((a, b) => b[1] - a[1]);
  return e.length === 0 ? 'none' : e.map(([k, v]) => `${k} ${v}`).join(', ');
};
const sumOf = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

function tableFor(r: RunResult): string {
  const writes = writesOf(r.requestsDuringConvergence);
  const conv = r.convergeS - r.syncS;
  const lat = r.latency.samples;
  const rows: [string, string][] = [
    [`create ${r.n} Rollouts (64 in flight)`, `${f1(r.createS)} s (${f0(r.n / r.createS)}/s)`],
    ['controller start → caches synced, workers started', `${f1(r.syncS)} s`],
    ['controller start → every Rollout at 90/10 and Progressing', `**${f1(r.convergeS)} s**`],
    ['… per Rollout', `${f1((1000 * r.convergeS) / r.n)} ms (${f1((1000 * conv) / r.n)} ms after the caches synced)`],
    ['… half of the Rollouts converged by', `${f1(r.medianS)} s`],
    ['requests until converged', `${sumOf(r.requestsDuringConvergence)} (${f1(sumOf(r.requestsDuringConvergence) / r.n)} per Rollout; ${writes} writes, ${f0(writes / Math.max(conv, 0.001))}/s after the sync): ${fmtRequests(r.requestsDuringConvergence)}`],
    ['reconciles until converged', `${r.reconcilesDuringConvergence} (${f1(r.reconcilesDuringConvergence / r.n)} per Rollout)`],
    ['CPU until converged: controller / kube-apiserver + etcd / this benchmark (its watches)', `${f1(r.controllerCpuConvergeS)} s / ${f1(r.clusterCpuConvergeS)} s / ${f1(r.benchCpuConvergeS)} s`],
    [`requests in ${f0(r.idle.seconds)} idle s after convergence`, `**${sumOf(r.idle.requests)}** (writes ${writesOf(r.idle.requests)}${sumOf(r.idle.requests) ? `: ${fmtRequests(r.idle.requests)}` : ''})`],
    ['controller RSS at rest (heap used) / peak RSS', `**${f0(r.idle.rssMb)} MB** (${f0(r.idle.heapMb)} MB) / ${f0(r.peakRssMb)} MB`],
    ['controller CPU at rest', `${r.idle.cpuPercent.toFixed(2)} % of one core`],
    ['load average (1 min) at convergence / after the idle period; other kube-apiservers running', `${r.load.map((x) => x.toFixed(1)).join(' / ')}; ${r.foreign}`],
    ...(r.startupChange ? [[`spec change sent ${f1(r.startupChange.sentAtS)} s after start (startup backlog) → live for the new generation`, `**${f0(r.startupChange.ms)} ms** (${r.startupChange.convergedBefore} of ${r.n} Rollouts converged by then)`] as [string, string]] : []),
    [`spec change → VirtualService written, p50 / p99 / max (${lat.length} changes)`, `**${f0(percentile(lat, 50))} / ${f0(percentile(lat, 99))}** / ${f0(Math.max(...lat))} ms`],
    ['… mean reconcile during those changes', `${f1(r.latency.reconcileMeanMs)} ms`],
  ];
  return ['| measure | value |', '|---|---|', ...rows.map(([a, b]) => `| ${a} | ${b} |`)].join('\n');
}

function growthTable(rs: RunResult[]): string {
  const rows = [
    '| N | converged | per Rollout | requests idle | RSS at rest | peak RSS | CPU at rest | change p50 / p99 | change during startup |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rs) {
    rows.push(`| ${r.n} | ${f1(r.convergeS)} s | ${f1((1000 * r.convergeS) / r.n)} ms | ${sumOf(r.idle.requests)} | ${f0(r.idle.rssMb)} MB | ${f0(r.peakRssMb)} MB | ${r.idle.cpuPercent.toFixed(2)} % | ${f0(percentile(r.latency.samples, 50))} / ${f0(percentile(r.latency.samples, 99))} ms | ${r.startupChange ? `${f0(r.startupChange.ms)} ms` : '–'} |`);
  }
  return rows.join('\n');
}

function analysisText(a: AnalysisResult | undefined): string {
  if (!a) return '';
  const checks = a.analyses;
  const perCheck = a.queries / Math.max(checks, 1);
  const expectedChecks = (a.rollouts * a.seconds) / a.checkIntervalS;
  const writes = writesOf(a.requests);
  return `### Prometheus queries with analysis on

${a.rollouts} Rollouts with \`analysis: {metrics: [${METRICS.map((m) => `{name: ${m.name}, template: ${m.template}, max: ${m.max}}`).join(', ')}]}\` (comparison on by default, checkInterval 10 s; the controller's \`--prometheus-address\` the local Prometheus), against a Prometheus with no data (every check inconclusive), over ${f0(a.seconds)} s:

| measure | value |
|---|---|
| checks (fledge_analysis_total) | ${checks} (${f1(checks / a.rollouts / (a.seconds / a.checkIntervalS))} per Rollout per check interval; ${f0(expectedChecks)} expected) |
| Prometheus queries (fledge_prometheus_queries_total) | ${a.queries} |
| **queries per Rollout per check** | **${f1(perCheck)}** (${f1(perCheck / METRICS.length)} per metric) |
| queries per second for ${a.rollouts} Rollouts | ${f1(a.queries / a.seconds)} (so ${f0((a.queries / a.seconds) * (5000 / a.rollouts))}/s for 5000) |
| Kubernetes writes per check | ${f1(writes / Math.max(checks, 1))} (${fmtRequests(a.requests)}) |

Each check sends one traffic query (\`src/metrics/traffic.ts\`): requests by response code and
gRPC status for the canary over the step and for stable over the baseline window, the duration
histograms of both by \`le\` when \`istio-slow-requests\` is used, and the Service's series by
reporter (for the missing-signals diagnosis). It serves the comparison, \`minRequests\` and the
\`istio-error-rate\`, \`istio-request-count\` and \`istio-slow-requests\` templates; every other
metric (\`istio-latency-p99\`, a user query) is one query more. Here: ${1 + METRICS.filter((m) => !FROM_TRAFFIC.has(m.template)).length} expected, ${f1(perCheck)} measured. Each check also
writes the Rollout's status (\`lastAnalysis\` carries the time of the check), so with analysis on
a Rollout is never write-free at rest: about one status write per Rollout per check interval.
A Prometheus without the Rollouts' series also gets each Rollout one \`MetricsMissing\` Event per
step (the diagnosis of missing signals, once the window reaches 60 s), not one per check.
`;
}

function section(rs: RunResult[], a: AnalysisResult | undefined, startLoad: number[], endLoad: number[]): string {
  const cmd = ['node --experimental-strip-types bench/scale.ts', `--n ${NS.join(',')}`, `--idle ${IDLE_S}`, `--changes ${CHANGES}`, `--namespaces ${NAMESPACES}`,
    `--analysis-rollouts ${ANALYSIS_ROLLOUTS}`, ...(BIN ? [`--bin ${BIN}`] : []), ...(NODE_OPTIONS ? [`--node-options "${NODE_OPTIONS}"`] : []), ...(CONTROLLER_ARGS.length ? [`--controller-args "${CONTROLLER_ARGS.join(' ')}"`] : [])].join(' ');
  const foreign = Math.max(0, ...rs.map((r) => r.foreign));
  const machine = machineLine({ ram: true });
  const load = foreign > 0
    ? `**Taken under load**: up to ${foreign} other kube-apiserver(s) (other test runs) were running during the measurements; load average ${startLoad.map((x) => x.toFixed(2)).join(' ')} at the start, ${endLoad.map((x) => x.toFixed(2)).join(' ')} at the end.`
    : `No other kube-apiserver was running during the measurements (load average ${startLoad.map((x) => x.toFixed(2)).join(' ')} at the start, ${endLoad.map((x) => x.toFixed(2)).join(' ')} at the end).`;
  return `${HEADING}

\`\`\`sh
npm run build && ${cmd}
\`\`\`

${machine}. The controller (\`fledge controller${CONTROLLER_ARGS.length ? ` ${CONTROLLER_ARGS.join(' ')}` : ''}\`${NODE_OPTIONS ? ` with NODE_OPTIONS="${NODE_OPTIONS}"` : ''}; its defaults otherwise: 4 workers, \`--qps 500 --burst 1000\`, no leader election), the local kube-apiserver + etcd (\`src/devenv/cluster.ts\`, default flags; the admin user is in \`system:masters\`, which API priority and fairness exempts) and this benchmark share the machine. ${load}

**Setup.** A fresh cluster per N; N Rollouts spread over ${NAMESPACES} namespaces, analysis off, steps [10, 50, 100], interval 1h, so each sits at its first step (90/10) once reconciled; they exist before the controller starts. "Converged" is timed from spawning the controller until this process has seen, by its own watches, every Rollout's DestinationRule, its VirtualService at 90/10 and its status Progressing at weight 10 for the current generation. Requests are the controller's \`fledge_kube_requests_total\` (list, get and writes; its watches are not counted). Idle: after convergence, once the queue is empty and no request was made for 5 s, ${IDLE_S} s with nothing changing; RSS is VmRSS of the controller process at its end, CPU is utime+stime over it (/proc). Change latency: the canary labels of one Rollout flipped ${CHANGES} times (each a new release: the VirtualService goes to 100/0, then the first step again), from sending the patch to this process's watch seeing the VirtualService at 100/0; the other N-1 Rollouts idle.

${growthTable(rs)}

${rs.map((r) => `### N = ${r.n}\n\n${tableFor(r)}`).join('\n\n')}

${analysisText(a)}`;
}

async function main(): Promise<void> {
  if (!BIN) requireBuilt();
  else process.stderr.write(`running ${BIN} instead of ${DEFAULT_BIN}\n`);
  const startLoad = loadavg();
  const ownDirs: string[] = [];
  const results: RunResult[] = [];
  for (const n of NS) results.push(await runN(n, ownDirs));
  const a = ANALYSIS_ROLLOUTS > 0 ? await runAnalysis(ownDirs) : undefined;
  const text = section(results, a, startLoad, loadavg());
  process.stdout.write(`${text}\n`);
  if (!flag('--no-write')) {
    writeDocSection(DOC, HEADING, text, KEEP);
    say(`written to ${DOC}`);
  }
  // Keep-alive sockets of the Kubernetes client would hold the process open.
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
