/**
 * Pieces of the scale benchmark that the scale smoke test shares: making many Rollouts, watching
 * them converge from outside the controller, reading the controller's /metrics and /proc.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import {
  CoreV1Api, CustomObjectsApi, ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject,
} from '@kubernetes/client-node';

export const ROLLOUTS = { group: 'fledge.dev', version: 'v1alpha1', plural: 'rollouts' };
export const VIRTUAL_SERVICES = { group: 'networking.istio.io', version: 'v1', plural: 'virtualservices' };
export const DESTINATION_RULES = { group: 'networking.istio.io', version: 'v1', plural: 'destinationrules' };
type Ref = typeof ROLLOUTS;

export const STABLE = { subset: 'stable', labels: { version: 'v1' } };
export const CANARY = { subset: 'canary', labels: { version: 'v2' } };
/** The weight of the first step: every Rollout sits there (the interval is an hour). */
export const FIRST_STEP = 10;

export interface ScaleRolloutOptions {
  /** spec.analysis; none by default. */
  analysis?: Record<string, unknown>;
  interval?: string;
}

export function scaleNamespaces(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `scale-${i}`);
}

/** Rollout i of a run, in namespace i mod |namespaces|. */
export function scaleRollout(i: number, namespaces: readonly string[], o: ScaleRolloutOptions = {}): KubernetesObject & { spec: Record<string, unknown> } {
  const name = `r-${i}`;
  return {
    apiVersion: 'fledge.dev/v1alpha1',
    kind: 'Rollout',
    metadata: { name, namespace: namespaces[i % namespaces.length]! },
    spec: {
      service: { name: `svc-${i}`, port: 8080 },
      stable: STABLE,
      canary: CANARY,
      strategy: { steps: [FIRST_STEP, 50, 100], interval: o.interval ?? '1h' },
      ...(o.analysis ? { analysis: o.analysis } : {}),
    },
  };
}

/** Runs `fn` over 0..n-1 with at most `concurrency` in flight. */
export async function pool(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, async () => {
    for (let i = next++; i < n; i = next++) await fn(i);
  }));
}

/** Creates the namespaces and N Rollouts as fast as the API server takes them. Returns ms. */
export async function createRollouts(kc: KubeConfig, n: number, namespaces: readonly string[], o: ScaleRolloutOptions & { concurrency?: number } = {}): Promise<number> {
  const core = kc.makeApiClient(CoreV1Api);
  const co = kc.makeApiClient(CustomObjectsApi);
  for (const ns of namespaces) {
    await core.createNamespace({ body: { metadata: { name: ns } } }).catch((err: { code?: number }) => {
      if (err.code !== 409) throw err;
    });
  }
  const t0 = performance.now();
  await pool(n, o.concurrency ?? 64, async (i) => {
    const body = scaleRollout(i, namespaces, o);
    for (let attempt = 0; ; attempt++) {
      try {
        await co.createNamespacedCustomObject({ ...ROLLOUTS, namespace: body.metadata!.namespace!, body });
        return;
      } catch (err) {
        const code = (err as { code?: number }).code;
        if (code === 409) return;
        // 429 (API priority and fairness) or a dropped connection under load: try again.
        if (attempt >= 20 || (code !== undefined && code !== 429 && code < 500)) throw err;
        await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
      }
    }
  });
  return performance.now() - t0;
}

interface Obj extends KubernetesObject {
  spec?: { http?: { route?: { destination?: { subset?: string }; weight?: number }[] }[]; subsets?: { name?: string; labels?: Record<string, string> }[] };
  status?: { phase?: string; canaryWeight?: number; observedGeneration?: number };
}

/** Stable/canary weights of a VirtualService's first route, e.g. {stable: 90, canary: 10}. */
export function weights(vs: Obj | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of vs?.spec?.http?.[0]?.route ?? []) out[d.destination?.subset ?? '?'] = d.weight ?? 0;
  return out;
}

export function atFirstStep(vs: Obj | undefined): boolean {
  const w = weights(vs);
  return w[STABLE.subset] === 100 - FIRST_STEP && w[CANARY.subset] === FIRST_STEP;
}

function rolloutAtFirstStep(r: Obj | undefined): boolean {
  const s = r?.status;
  return s?.phase === 'Progressing' && s.canaryWeight === FIRST_STEP && s.observedGeneration === r?.metadata?.generation;
}

export type WatchEvent = { kind: 'rollout' | 'vs' | 'dr'; obj: Obj; at: number };

/**
 * Watches Rollouts, VirtualServices and DestinationRules cluster-wide from the benchmark's side
 * (list, then watch from that resourceVersion) and notes when each Rollout first has all three
 * at the first step: its DestinationRule, its VirtualService at 90/10, its status Progressing.
 */
export class ConvergenceWatch {
  /** key ns/name → performance.now() when first converged. */
  readonly convergedAt = new Map<string, number>();
  private readonly lws: ListWatch<Obj>[] = [];
  private readonly listeners = new Set<(e: WatchEvent) => void>();
  private readonly kc: KubeConfig;
  private waiters: { n: number; resolve: () => void }[] = [];

  constructor(kc: KubeConfig) {
    this.kc = kc;
  }

  async start(): Promise<void> {
    const co = this.kc.makeApiClient(CustomObjectsApi);
    const make = (ref: Ref, kind: WatchEvent['kind']) => {
      // Right after a CRD is established the API server may answer 429 "storage is (re)initializing".
      const list = async () => {
        for (let attempt = 0; ; attempt++) {
          try {
            return (await co.listClusterCustomObject({ ...ref })) as KubernetesListObject<Obj>;
          } catch (err) {
            if (attempt >= 30) throw err;
            await sleep(500);
          }
        }
      };
      const lw = new ListWatch<Obj>(`/apis/${ref.group}/${ref.version}/${ref.plural}`, new Watch(this.kc), list, false);
      const on = (obj: Obj) => this.observe(kind, obj);
      lw.on('add', on);
      lw.on('update', on);
      // ListWatch resumes by itself after a watch times out; any other error ends it.
      lw.on('error', (err) => {
        if (!this.stopped) process.stderr.write(`bench watch ${ref.plural} ended: ${(err as Error)?.message ?? String(err)}\n`);
      });
      this.lws.push(lw);
      return lw;
    };
    this.rollouts = make(ROLLOUTS, 'rollout');
    this.vs = make(VIRTUAL_SERVICES, 'vs');
    this.dr = make(DESTINATION_RULES, 'dr');
    await Promise.all(this.lws.map((lw) => lw.start()));
  }

  private rollouts!: ListWatch<Obj>;
  private vs!: ListWatch<Obj>;
  private dr!: ListWatch<Obj>;

  onEvent(fn: (e: WatchEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private observe(kind: WatchEvent['kind'], obj: Obj): void {
    const at = performance.now();
    for (const l of this.listeners) l({ kind, obj, at });
    const ns = obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name ?? '';
    const key = `${ns}/${name}`;
    if (this.convergedAt.has(key)) return;
    if (rolloutAtFirstStep(this.rollouts.get(name, ns)) && this.dr.get(name, ns) && atFirstStep(this.vs.get(name, ns))) {
      this.convergedAt.set(key, at);
      this.waiters = this.waiters.filter((w) => {
        if (this.convergedAt.size < w.n) return true;
        w.resolve();
        return false;
      });
    }
  }

  /** Resolves once `n` Rollouts have converged; rejects after `timeoutMs`. */
  async waitConverged(n: number, timeoutMs: number): Promise<void> {
    if (this.convergedAt.size >= n) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.waiters.push({ n, resolve })),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`only ${this.convergedAt.size} of ${n} Rollouts converged within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  virtualService(ns: string, name: string): Obj | undefined {
    return this.vs.get(name, ns);
  }

  rollout(ns: string, name: string): Obj | undefined {
    return this.rollouts.get(name, ns);
  }

  private stopped = false;

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.lws.map((lw) => lw.stop()));
  }
}

/** One scrape of a Prometheus text endpoint: series (name + labels as printed) → value. */
export type Scrape = Map<string, number>;

export async function scrape(port: number): Promise<Scrape> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  const out: Scrape = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

export function labelsOf(series: string): Record<string, string> {
  const out: Record<string, string> = {};
  const m = /\{(.*)\}$/.exec(series);
  if (!m) return out;
  for (const kv of m[1]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) out[kv[1]!] = kv[2]!;
  return out;
}

/** Sum of every series of metric `name` whose labels pass `filter`. */
export function total(s: Scrape, name: string, filter: (labels: Record<string, string>) => boolean = () => true): number {
  let sum = 0;
  for (const [series, v] of s) {
    const base = series.split('{')[0];
    if (base === name && filter(labelsOf(series))) sum += v;
  }
  return sum;
}

/** Request counts by "verb resource" between two scrapes (only those that grew). */
export function requestDelta(before: Scrape, after: Scrape): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [series, v] of after) {
    if (!series.startsWith('fledge_kube_requests_total{')) continue;
    const d = v - (before.get(series) ?? 0);
    if (d <= 0) continue;
    const l = labelsOf(series);
    out[`${l.verb} ${l.resource}`] = d;
  }
  return out;
}

const READ_VERBS = new Set(['get', 'list', 'watch']);
export function writesOf(delta: Record<string, number>): number {
  return Object.entries(delta).filter(([k]) => !READ_VERBS.has(k.split(' ')[0]!)).reduce((a, [, v]) => a + v, 0);
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface ProcSample { at: number; rssMb: number; peakRssMb: number; cpuSeconds: number }

/** VmRSS, VmHWM (peak RSS) and utime+stime of a process, from /proc. */
export function procSample(pid: number): ProcSample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[11]) + Number(rest[12]);
  return { at: performance.now(), rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024, cpuSeconds: ticks / ticksPerSecond() };
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits until the controller's queue is empty and its request counter has not moved for `quietMs`. */
export async function waitQuiet(port: number, quietMs: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let since = Date.now();
  for (;;) {
    const s = await scrape(port);
    const requests = total(s, 'fledge_kube_requests_total');
    const depth = total(s, 'fledge_workqueue_depth');
    if (requests !== last || depth > 0) {
      last = requests;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return;
    }
    if (Date.now() > deadline) throw new Error(`the controller did not go quiet within ${timeoutMs} ms`);
    await sleep(500);
  }
}
