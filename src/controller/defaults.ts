/**
 * The controller's defaults, stated once: `fledge controller`'s flags show them and the
 * Controller falls back to them. The client's rate limit is sized so that 5,000 Rollouts (4
 * requests each at startup) converge in about a minute; the API server's priority and fairness
 * does the protecting (bench:scale, docs/benchmarks.md).
 */
export const CONTROLLER_DEFAULTS = {
  workers: 4,
  /** Every Rollout is reconciled at least this often (a Go duration). */
  resync: '5m',
  qps: 500,
  burst: 1000,
  metricsAddress: '0.0.0.0:8080',
  /** The Lease's namespace when neither --lease-namespace nor --namespace is given. */
  leaseNamespace: 'fledge-system',
  leaseName: 'fledge-controller',
} as const;
