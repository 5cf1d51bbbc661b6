import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { PHASES } from '../api/schema.ts';
import type { LeaderMetrics } from '../kube/lease.ts';
import type { QueueMetrics } from '../kube/workqueue.ts';

/**
 * Every metric name the controller exports, in one place (the Grafana dashboard in deploy/ is
 * tested to query only these). Fledge's own are `fledge_*`; the work queue's and the leader
 * election's use client-go's names, and the process's prom-client's standard `process_*` and
 * `nodejs_*`, so dashboards and alerts written for other controllers apply as they are.
 */
export const METRIC_NAMES = {
  reconciles: 'fledge_reconcile_total',
  reconcileErrors: 'fledge_reconcile_errors_total',
  reconcileDuration: 'fledge_reconcile_duration_seconds',
  apiRequests: 'fledge_kube_requests_total',
  apiThrottled: 'fledge_kube_throttled_total',
  writesSkipped: 'fledge_writes_skipped_total',
  canaryWeight: 'fledge_rollout_canary_weight',
  phase: 'fledge_rollout_phase',
  promQueries: 'fledge_prometheus_queries_total',
  promQueryDuration: 'fledge_prometheus_query_duration_seconds',
  analyses: 'fledge_analysis_total',
  queueDepth: 'workqueue_depth',
  queueAdds: 'workqueue_adds_total',
  queueDuration: 'workqueue_queue_duration_seconds',
  workDuration: 'workqueue_work_duration_seconds',
  queueRetries: 'workqueue_retries_total',
  leader: 'leader_election_master_status',
  leaderTransitions: 'fledge_leader_election_transitions_total',
} as const;

/** The `name` label of the work queue's metrics (client-go labels each queue by its name). */
export const QUEUE_NAME = 'rollouts';

const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** client-go's queue buckets: 1 µs to 10 s, by tens (workqueue/metrics.go). */
const QUEUE_BUCKETS = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10];

/** What an operator of Fledge watches: work done, failures, latency, backlog, leadership, and each rollout. */
export class ControllerMetrics {
  readonly registry = new Registry();
  private readonly r = [this.registry];
  readonly reconciles = new Counter({ name: METRIC_NAMES.reconciles, help: 'Reconciles run', labelNames: ['result'], registers: this.r });
  readonly reconcileErrors = new Counter({ name: METRIC_NAMES.reconcileErrors, help: 'Reconciles that failed and were retried', registers: this.r });
  readonly reconcileDuration = new Histogram({ name: METRIC_NAMES.reconcileDuration, help: 'Time spent in one reconcile', buckets: LATENCY_BUCKETS, registers: this.r });
  readonly apiRequests = new Counter({ name: METRIC_NAMES.apiRequests, help: 'Requests made to the Kubernetes API', labelNames: ['verb', 'resource'], registers: this.r });
  readonly apiThrottled = new Counter({ name: METRIC_NAMES.apiThrottled, help: 'Kubernetes API requests answered 429 (or 503 with Retry-After) and retried after the server\'s Retry-After', labelNames: ['verb', 'resource'], registers: this.r });
  readonly writesSkipped = new Counter({ name: METRIC_NAMES.writesSkipped, help: 'Writes not sent because nothing changed', labelNames: ['kind'], registers: this.r });
  readonly canaryWeight = new Gauge({ name: METRIC_NAMES.canaryWeight, help: 'Percent of traffic on the canary', labelNames: ['namespace', 'name'], registers: this.r });
  readonly phase = new Gauge({ name: METRIC_NAMES.phase, help: '1 for the phase the rollout is in', labelNames: ['namespace', 'name', 'phase'], registers: this.r });
  readonly promQueries = new Counter({ name: METRIC_NAMES.promQueries, help: 'Queries sent to Prometheus', labelNames: ['outcome'], registers: this.r });
  readonly promQueryDuration = new Histogram({ name: METRIC_NAMES.promQueryDuration, help: 'Prometheus query latency', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: this.r });
  readonly analyses = new Counter({ name: METRIC_NAMES.analyses, help: 'Step judgements', labelNames: ['verdict'], registers: this.r });
  private readonly queueDepth = new Gauge({ name: METRIC_NAMES.queueDepth, help: 'Rollouts waiting to be reconciled', labelNames: ['name'], registers: this.r });
  private readonly queueAdds = new Counter({ name: METRIC_NAMES.queueAdds, help: 'Rollouts put in the work queue', labelNames: ['name'], registers: this.r });
  private readonly queueDuration = new Histogram({ name: METRIC_NAMES.queueDuration, help: 'How long a Rollout waited in the work queue before a worker took it', labelNames: ['name'], buckets: QUEUE_BUCKETS, registers: this.r });
  private readonly workDuration = new Histogram({ name: METRIC_NAMES.workDuration, help: 'How long a worker spent on a Rollout', labelNames: ['name'], buckets: QUEUE_BUCKETS, registers: this.r });
  private readonly queueRetries = new Counter({ name: METRIC_NAMES.queueRetries, help: 'Rollouts queued again after a failed reconcile', labelNames: ['name'], registers: this.r });
  private readonly leader = new Gauge({ name: METRIC_NAMES.leader, help: '1 while this instance leads the lease, 0 while it stands by', labelNames: ['name'], registers: this.r });
  private readonly leaderTransitions = new Counter({ name: METRIC_NAMES.leaderTransitions, help: 'Times this instance became leader or stopped leading', labelNames: ['name'], registers: this.r });

  /** The work queue's sink (label name="rollouts"). */
  readonly queue: QueueMetrics = {
    added: () => this.queueAdds.inc({ name: QUEUE_NAME }),
    depth: (n) => this.queueDepth.set({ name: QUEUE_NAME }, n),
    waited: (s) => this.queueDuration.observe({ name: QUEUE_NAME }, s),
    worked: (s) => this.workDuration.observe({ name: QUEUE_NAME }, s),
    retried: () => this.queueRetries.inc({ name: QUEUE_NAME }),
  };

  /** The leader elector's sink (label name = the Lease's name). */
  readonly leaderElection: LeaderMetrics = {
    leading: (name, isLeader) => {
      const before = this.leaderState.get(name);
      if (before !== undefined && before !== isLeader) this.leaderTransitions.inc({ name });
      else if (before === undefined) this.leaderTransitions.inc({ name }, 0);
      this.leaderState.set(name, isLeader);
      this.leader.set({ name }, isLeader ? 1 : 0);
    },
  };
  private readonly leaderState = new Map<string, boolean>();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // Zero from the start, so a rate() or an alert sees the series before the first event.
    this.queue.depth(0);
    this.queueAdds.inc({ name: QUEUE_NAME }, 0);
    this.queueRetries.inc({ name: QUEUE_NAME }, 0);
  }

  setRollout(namespace: string, name: string, phase: string, weight: number): void {
    this.canaryWeight.set({ namespace, name }, weight);
    for (const p of PHASES) this.phase.set({ namespace, name, phase: p }, p === phase ? 1 : 0);
  }

  forgetRollout(namespace: string, name: string): void {
    this.canaryWeight.remove({ namespace, name });
    for (const p of PHASES) this.phase.remove({ namespace, name, phase: p });
  }
}
