export const GROUP = 'fledge.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'Rollout';
export const PLURAL = 'rollouts';
export const SINGULAR = 'rollout';
export const SHORT_NAME = 'fro';

/** Server-side apply field manager; GitOps tools are told to ignore fields owned by it. */
export const FIELD_MANAGER = 'fledge';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'fledge';
/** Set on generated objects so an informer event can be mapped back to its Rollout. */
export const ROLLOUT_LABEL = 'fledge.dev/rollout';

/**
 * Operator requests live in annotations, not spec: a GitOps sync leaves annotations it does not
 * know about alone, so `fledge pause` is not undone by the next sync.
 */
export const ANNOTATIONS = {
  paused: 'fledge.dev/paused',
  promote: 'fledge.dev/promote',
  abort: 'fledge.dev/abort',
  resume: 'fledge.dev/resume-step',
  retry: 'fledge.dev/retry',
} as const;

export const DEFAULT_SUBSETS = { stable: 'stable', canary: 'canary' } as const;
export const DEFAULT_INTERVAL = '1m';
export const DEFAULT_FAILURE_LIMIT = 1;
export const DEFAULT_INCONCLUSIVE_LIMIT = 10;
export const DEFAULT_MIN_REQUESTS = 50;
export const MAX_STEPS = 100;
export const DEFAULT_CHECK_INTERVAL = '10s';
export const DEFAULT_PROMETHEUS_TIMEOUT = '5s';
export const DEFAULT_COMPARISON = { confidence: 0.99, passConfidence: 0.65, tolerance: 0.005, relativeTolerance: 0.5, baselineWindow: '10m' } as const;
