import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { PHASES } from '../api/schema.ts';

/** What an operator of Fledge watches: work done, failures, latency, backlog, and each rollout. */
export class ControllerMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({ name: 'fledge_reconcile_total', help: 'Reconciles run', labelNames: ['result'], registers: [this.registry] });
  readonly reconcileErrors = new Counter({ name: 'fledge_reconcile_errors_total', help: 'Reconciles that failed and were retried', registers: [this.registry] });
  readonly reconcileDuration = new Histogram({
    name: 'fledge_reconcile_duration_seconds', help: 'Time spent in one reconcile',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry],
  });
  readonly queueDepth = new Gauge({ name: 'fledge_workqueue_depth', help: 'Rollouts waiting to be reconciled', registers: [this.registry] });
  readonly apiRequests = new Counter({ name: 'fledge_kube_requests_total', help: 'Requests made to the Kubernetes API', labelNames: ['verb', 'resource'], registers: [this.registry] });
  readonly apiThrottled = new Counter({ name: 'fledge_kube_throttled_total', help: 'Kubernetes API requests answered 429 (or 503 with Retry-After) and retried after the server\'s Retry-After', labelNames: ['verb', 'resource'], registers: [this.registry] });
  readonly writesSkipped = new Counter({ name: 'fledge_writes_skipped_total', help: 'Writes not sent because nothing changed', labelNames: ['kind'], registers: [this.registry] });
  readonly canaryWeight = new Gauge({ name: 'fledge_rollout_canary_weight', help: 'Percent of traffic on the canary', labelNames: ['namespace', 'name'], registers: [this.registry] });
  readonly phase = new Gauge({ name: 'fledge_rollout_phase', help: '1 for the phase the rollout is in', labelNames: ['namespace', 'name', 'phase'], registers: [this.registry] });
  readonly promQueries = new Counter({ name: 'fledge_prometheus_queries_total', help: 'Queries sent to Prometheus', labelNames: ['outcome'], registers: [this.registry] });
  readonly promQueryDuration = new Histogram({ name: 'fledge_prometheus_query_duration_seconds', help: 'Prometheus query latency', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry] });
  readonly analyses = new Counter({ name: 'fledge_analysis_total', help: 'Step judgements', labelNames: ['verdict'], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'fledge_process_' });
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
