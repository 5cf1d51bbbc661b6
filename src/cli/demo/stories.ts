/**
 * The demo's two stories, and what is known about each while it plays: the Rollout's status as the
 * controller wrote it, its Events, and the requests the fake mesh really served per version.
 */
import type { EventsV1Event } from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../../api/constants.ts';
import type { KubeObject } from '../../api/object.ts';
import type { AnalysisResult, RolloutStatus } from '../../api/schema.ts';
import type { KubeClient } from '../../kube/client.ts';
import type { DataPlane } from '../../devenv/dataplane.ts';
import type { MeshWorkload } from '../../devenv/mesh.ts';

export const NAMESPACE = 'demo';
export const ROLLOUTS = { group: GROUP, version: VERSION, plural: PLURAL };
export const VERSIONS = ['v1', 'v2'] as const;
/** How far back "the traffic now" looks. */
export const RECENT_MS = 5_000;

export type Outcome = 'Promoted' | 'RolledBack';

export interface StoryDef {
  index: number;
  service: string;
  title: string;
  detail: string;
  expected: Outcome;
  errorRate: { v1: number; v2: number };
  steps: number[];
  intervalSeconds: number;
}

export interface DemoTiming {
  /** Synthetic requests per second per service. */
  rps: number;
  /** Hold of each step of the healthy release. */
  intervalSeconds: number;
  /** Hold of each step of the bad release: long enough to show it is failed before the hold ends. */
  badIntervalSeconds: number;
}

export function demoTiming(fast: boolean): DemoTiming {
  return fast ? { rps: 200, intervalSeconds: 3, badIntervalSeconds: 8 } : { rps: 200, intervalSeconds: 5, badIntervalSeconds: 10 };
}

export function demoStories(t: DemoTiming): StoryDef[] {
  const steps = [10, 25, 50, 100];
  return [
    {
      index: 1, service: 'checkout', title: 'a healthy release', detail: 'v1 and v2 both answer ~0.5 % of requests with a 5xx',
      expected: 'Promoted', errorRate: { v1: 0.005, v2: 0.005 }, steps, intervalSeconds: t.intervalSeconds,
    },
    {
      index: 2, service: 'payments', title: 'a bad release', detail: 'v2 answers ~5 % of requests with a 5xx, 10x v1',
      expected: 'RolledBack', errorRate: { v1: 0.005, v2: 0.05 }, steps, intervalSeconds: t.badIntervalSeconds,
    },
  ];
}

/**
 * The Rollout a team would commit for the story's service. It names no Prometheus: the demo's
 * controller has the local one as its default provider, as a platform team would configure it.
 */
export function rolloutFor(story: StoryDef): KubeObject {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: story.service, namespace: NAMESPACE },
    spec: {
      service: { name: story.service, port: 8080 },
      stable: { labels: { app: story.service, version: 'v1' } },
      canary: { labels: { app: story.service, version: 'v2' } },
      strategy: { steps: story.steps, interval: `${story.intervalSeconds}s` },
      analysis: {
        metrics: [{ name: 'error-rate', template: 'istio-error-rate', max: 0.1 }],
        minRequests: 20,
        checkInterval: '1s',
      },
    },
  };
}

export type Counts = Record<string, { requests: number; errors: number }>;

export interface EventLine {
  time: Date;
  type: string;
  reason: string;
  note: string;
}

const TERMINAL = new Set(['Promoted', 'RolledBack', 'Invalid']);

function minus(a: Counts, b: Counts | undefined): Counts {
  const out: Counts = {};
  for (const v of VERSIONS) {
    const x = a[v] ?? { requests: 0, errors: 0 };
    const y = b?.[v] ?? { requests: 0, errors: 0 };
    out[v] = { requests: x.requests - y.requests, errors: x.errors - y.errors };
  }
  return out;
}

/** One story while it plays: written by the poller, read by the views. */
export class StoryRun {
  readonly def: StoryDef;
  readonly mesh: MeshWorkload;
  readonly plane: DataPlane;
  state: 'waiting' | 'running' | 'done' = 'waiting';
  startedAt: number | undefined;
  endedAt: number | undefined;
  status: RolloutStatus | undefined;
  events: EventLine[] = [];
  /** When each step began, as the controller recorded it while the step was current. */
  readonly stepStarts = new Map<number, number>();
  /** The last error reading the Rollout, shown until a read succeeds. */
  pollError: string | undefined;
  #servedAtStart: Counts | undefined;
  #servedAtEnd: Counts | undefined;
  readonly #samples: { t: number; served: Counts }[] = [];

  constructor(def: StoryDef, mesh: MeshWorkload, plane: DataPlane) {
    this.def = def;
    this.mesh = mesh;
    this.plane = plane;
  }

  get phase(): string | undefined {
    return this.status?.phase;
  }

  get analysis(): AnalysisResult | undefined {
    return this.status?.lastAnalysis;
  }

  async begin(client: KubeClient): Promise<void> {
    this.#servedAtStart = this.mesh.served();
    this.startedAt = Date.now();
    this.state = 'running';
    await client.apply(rolloutFor(this.def));
  }

  /** Records what the mesh has served so far; `recent()` diffs these samples. */
  sample(now = Date.now()): void {
    this.#samples.push({ t: now, served: this.mesh.served() });
    while (this.#samples.length > 2 && (this.#samples[1]?.t ?? now) <= now - RECENT_MS) this.#samples.shift();
  }

  /** Requests per version over the last ~RECENT_MS, and how long that window really is. */
  recent(): { counts: Counts; seconds: number } {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (!first || !last || first === last) return { counts: minus({}, undefined), seconds: 0 };
    return { counts: minus(last.served, first.served), seconds: (last.t - first.t) / 1000 };
  }

  /** Requests per version since the Rollout was applied (until it finished). */
  served(): Counts {
    return minus(this.#servedAtEnd ?? this.mesh.served(), this.#servedAtStart);
  }

  durationMs(now = Date.now()): number {
    return this.startedAt === undefined ? 0 : (this.endedAt ?? now) - this.startedAt;
  }

  async refreshStatus(client: KubeClient): Promise<void> {
    try {
      const r = await client.get<{ status?: RolloutStatus }>(ROLLOUTS, NAMESPACE, this.def.service);
      this.status = r.status;
      this.pollError = undefined;
      const st = r.status;
      // First sighting only: a failed check restarts the step's window, not the step.
      if (st?.phase === 'Progressing' && st.stepStartedAt && st.stepIndex !== undefined && st.stepIndex >= 0 && !this.stepStarts.has(st.stepIndex)) {
        this.stepStarts.set(st.stepIndex, Date.parse(st.stepStartedAt));
      }
    } catch (err) {
      this.pollError = (err as Error).message;
    }
    if (this.state === 'running' && this.phase !== undefined && TERMINAL.has(this.phase)) {
      this.state = 'done';
      this.endedAt = Date.now();
      this.#servedAtEnd = this.mesh.served();
      await this.refreshEvents(client);
    }
  }

  async refreshEvents(client: KubeClient): Promise<void> {
    try {
      const items = await client.listEvents(NAMESPACE, `regarding.name=${this.def.service},regarding.kind=${KIND}`);
      this.events = items.map(eventLine).sort((a, b) => a.time.getTime() - b.time.getTime());
    } catch {
      // keep the last list; the status read reports API trouble
    }
  }
}

function eventLine(e: EventsV1Event): EventLine {
  const t = e.eventTime ?? e.deprecatedLastTimestamp ?? e.metadata?.creationTimestamp;
  return { time: t ? new Date(t as unknown as string) : new Date(0), type: e.type ?? '', reason: e.reason ?? '', note: e.note ?? '' };
}
