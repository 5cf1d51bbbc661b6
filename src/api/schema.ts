/**
 * The one source of truth for the Rollout resource. TypeScript types, the validation run by the
 * CLI and the controller, and the CRD's OpenAPI schema (scripts/gen-crd.ts) all come from here.
 * Field-level rules live in the schema so the API server enforces them too; rules that span
 * fields live in `crossFieldProblems` (validate.ts), which the CRD cannot express.
 * Spec objects are strict: the API server would prune a misspelt field without a word, so
 * `fledge validate` in CI is where a typo such as `gatways` must be caught.
 */
import { z } from 'zod';
import { API_VERSION, KIND, MAX_STEPS } from './constants.ts';
import { DURATION_PATTERN } from './duration.ts';

export const METRIC_TEMPLATES = ['istio-error-rate', 'istio-request-count', 'istio-latency-p99'] as const;
export type MetricTemplate = (typeof METRIC_TEMPLATES)[number];

const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
// Kubernetes label syntax; it also keeps quotes and backslashes out of PromQL label matchers.
const LABEL_KEY = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';
const LABEL_VALUE = '^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$';

const dnsLabel = (what: string) =>
  z.string().max(63, `${what} must be at most 63 characters`)
    .regex(new RegExp(DNS_LABEL), `${what} must be a DNS label: lowercase letters, digits and '-'`);
const dnsSubdomain = (what: string) =>
  z.string().min(1, `${what} must not be empty`).max(253, `${what} must be at most 253 characters`)
    .regex(new RegExp(DNS_SUBDOMAIN), `${what} must be lowercase letters, digits, '-' and '.'`);
const duration = (what: string) =>
  z.string().regex(new RegExp(DURATION_PATTERN), `${what} must be a duration such as 30s, 1m or 1h30m`)
    .min(2, `${what} must be a duration such as 30s, 1m or 1h30m`);
const weight = z.number({ error: 'must be an integer between 0 and 100' })
  .int('must be an integer between 0 and 100')
  .min(0, 'must be between 0 and 100').max(100, 'must be between 0 and 100');
/**
 * Objects handed to Istio verbatim; Istio's own schema judges them (the controller dry-runs the
 * objects it would write before it writes anything, so junk Istio does not know is refused there,
 * naming the field). Bounded in size here, so that a megabyte of text is refused before it is
 * copied into a VirtualService.
 */
export const PASSTHROUGH_MAX_BYTES = 32 * 1024;
const passthrough = z.record(z.string(), z.unknown(), { error: 'must be an object' })
  .refine((v) => jsonSize(v) <= PASSTHROUGH_MAX_BYTES, `must be at most ${PASSTHROUGH_MAX_BYTES / 1024} KiB as JSON`);

function jsonSize(v: unknown): number {
  try {
    return JSON.stringify(v).length;
  } catch {
    return Infinity;
  }
}

// Istio hosts: a DNS name, optionally with a leading `*.`, or `*`. Gateways: [namespace/]name.
const HOST = '^(\\*|(\\*\\.)?[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*)$';
const GATEWAY = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$';

export const LabelsSchema = z
  .record(
    z.string().regex(new RegExp(LABEL_KEY), 'label key must be a Kubernetes label name'),
    z.string({ error: 'label value must be a string' })
      .regex(new RegExp(LABEL_VALUE), 'label value must be at most 63 letters, digits, "-", "_" or "."'),
    { error: 'must be a map of pod labels' },
  )
  .refine((l) => Object.keys(l).length > 0, 'must name at least one pod label')
  .refine((l) => Object.keys(l).length <= 16, 'must have at most 16 labels')
  .meta({ minProperties: 1, maxProperties: 16 });

export const SubsetSchema = z.strictObject({
  subset: dnsLabel('subset name').optional(),
  labels: LabelsSchema,
});

export const ServiceSchema = z.strictObject({
  name: dnsSubdomain('service name'),
  port: z.number().int('must be an integer').min(1, 'must be between 1 and 65535')
    .max(65535, 'must be between 1 and 65535').optional(),
});

export const HTTP_EXTRA_FIELDS = [
  'timeout', 'retries', 'fault', 'mirror', 'mirrors', 'mirrorPercentage', 'headers', 'corsPolicy', 'rewrite',
] as const;

export const VirtualServiceRefSchema = z.strictObject({
  name: dnsSubdomain('name').optional(),
  hosts: z.array(z.string().min(1, 'host must not be empty').max(253)
    .regex(new RegExp(HOST), 'must be a DNS name, *.domain or *'), { error: 'must be a list of hosts' })
    .min(1, 'must list at least one host').max(64).optional(),
  gateways: z.array(z.string().min(1, 'gateway must not be empty').max(253)
    .regex(new RegExp(GATEWAY), 'must be a Gateway name, namespace/name, or mesh'), { error: 'must be a list of gateways' })
    .max(64).optional(),
  match: z.array(passthrough, { error: 'must be a list of Istio HTTPMatchRequest objects' }).max(64).optional(),
  http: passthrough.optional(),
  /** Adopt a VirtualService the user keeps in git instead of generating one. */
  ref: dnsSubdomain('ref').optional(),
  routes: z.array(z.string().min(1).max(253), { error: 'must be a list of route names' }).min(1).max(64).optional(),
});

export const DestinationRuleRefSchema = z.strictObject({
  name: dnsSubdomain('name').optional(),
  trafficPolicy: passthrough.optional(),
  ref: dnsSubdomain('ref').optional(),
});

export const PauseSchema = z.string({ error: 'must be "manual" or a duration such as 10m' })
  .regex(new RegExp(`^manual$|${DURATION_PATTERN}`), 'must be "manual" or a duration such as 10m')
  .min(2, 'must be "manual" or a duration such as 10m');

export const StepObjectSchema = z.strictObject({ weight, pause: PauseSchema.optional() });
export const StepSchema = z.union([weight, StepObjectSchema]);

export const StrategySchema = z.strictObject({
  steps: z.array(StepSchema, { error: 'must be a list of weights' })
    .min(1, 'must have at least one step').max(MAX_STEPS, `must have at most ${MAX_STEPS} steps`).optional(),
  stepWeight: z.number().int('must be an integer').min(1, 'must be between 1 and 100').max(100, 'must be between 1 and 100').optional(),
  maxWeight: z.number().int('must be an integer').min(1, 'must be between 1 and 100').max(100, 'must be between 1 and 100').optional(),
  interval: duration('interval').optional(),
});

export const MetricSchema = z.strictObject({
  name: dnsLabel('metric name'),
  template: z.enum(METRIC_TEMPLATES, { error: `unknown template (known: ${METRIC_TEMPLATES.join(', ')})` }).optional(),
  query: z.string().min(1, 'must not be empty').max(4096, 'must be at most 4096 characters').optional(),
  max: z.number({ error: 'must be a number' }).optional(),
  min: z.number({ error: 'must be a number' }).optional(),
});

export const SecretKeyRefSchema = z.strictObject({
  name: dnsSubdomain('secret name'),
  key: z.string().min(1, 'must not be empty').max(253).regex(/^[-._a-zA-Z0-9]+$/, 'must be a Secret data key'),
});

export const PrometheusAuthSchema = z.strictObject({
  type: z.enum(['bearer', 'basic'], { error: 'must be bearer or basic' }),
  /** bearer: the token; basic: `user:password`. Read at each query, so a rotated file is picked up. */
  file: z.string().min(1).max(4096).optional(),
  secretRef: SecretKeyRefSchema.optional(),
});

export const PrometheusSchema = z.strictObject({
  address: z.string({ error: 'must be the URL of a Prometheus server' })
    .max(2048, 'must be at most 2048 characters')
    .regex(/^https?:\/\/[^\s/@]+(\/\S*)?$/, 'must be an http:// or https:// URL, without credentials (use auth)'),
  timeout: duration('timeout').optional(),
  auth: PrometheusAuthSchema.optional(),
});

const probability = (what: string) => z.number({ error: `${what} must be a number` })
  .gt(0, `${what} must be between 0 and 1`).lt(1, `${what} must be between 0 and 1`);

/** The statistical judge of the release: canary against stable, sequentially (README "How a step is judged"). */
export const ComparisonSchema = z.strictObject({
  enabled: z.boolean({ error: 'must be true or false' }).optional(),
  /**
   * Roll back when the evidence that the canary is worse than tolerated reaches odds of
   * 1 / (1 - confidence) (a Bayes factor, at any check, over the release so far or the step).
   * A canary within tolerance is rolled back with probability about 1 - confidence per release.
   */
  confidence: probability('confidence').optional(),
  /**
   * Promote only when P(canary worse than tolerated) <= 1 - passConfidence; a step that moves the
   * canary to weight w needs P(worse) <= (1 - passConfidence) * 100 / w.
   */
  passConfidence: probability('passConfidence').optional(),
  /** Absolute error-rate margin the canary is allowed above stable (0.005 = half a percentage point). */
  tolerance: z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1').optional(),
  /** Relative margin: 0.5 lets the canary reach 1.5 times the stable's error rate. The larger margin applies. */
  relativeTolerance: z.number().min(0, 'must not be negative').max(100, 'must be at most 100').optional(),
  /**
   * Stable's error rate is read over at least this long: stable is the known quantity, more of
   * its history makes the comparison sharper, and it still has data when the canary takes 100 %.
   */
  baselineWindow: duration('baselineWindow').optional(),
});

export const AnalysisSchema = z.strictObject({
  prometheus: PrometheusSchema.optional(),
  metrics: z.array(MetricSchema, { error: 'must be a list of metrics' }).max(32, 'must have at most 32 metrics').optional(),
  /**
   * Failed threshold-metric judgements tolerated before rolling back (each restarts the step's
   * window). A failure of the comparison is never tolerated: its error rate is already per release.
   */
  failureLimit: z.number().int('must be an integer').min(0, 'must be between 0 and 100').max(100, 'must be between 0 and 100').optional(),
  /**
   * Canary requests needed before the release is promoted, and in a step before its threshold
   * metrics are judged. Never needed to roll back: the comparison fails on evidence alone.
   */
  minRequests: z.number().int('must be an integer').min(0, 'must not be negative').max(1_000_000_000).optional(),
  /** Extra holds a step may wait for conclusive evidence before the Rollout is Paused for a person. */
  inconclusiveLimit: z.number().int('must be an integer').min(0, 'must be between 0 and 1000').max(1000, 'must be between 0 and 1000').optional(),
  /** How often the release is re-judged, so a bad canary is caught early. */
  checkInterval: duration('checkInterval').optional(),
  comparison: ComparisonSchema.optional(),
});

export const RolloutSpecSchema = z.strictObject({
  service: ServiceSchema,
  stable: SubsetSchema,
  canary: SubsetSchema,
  trafficRouting: z.strictObject({
    virtualService: VirtualServiceRefSchema.optional(),
    destinationRule: DestinationRuleRefSchema.optional(),
  }).optional(),
  strategy: StrategySchema,
  analysis: AnalysisSchema.optional(),
});

export const RolloutMetadataSchema = z.object({
  name: dnsSubdomain('name'),
  namespace: dnsLabel('namespace').optional(),
  uid: z.string().optional(),
  generation: z.number().optional(),
  resourceVersion: z.string().optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  labels: z.record(z.string(), z.string()).optional(),
}).loose();

export const PHASES = ['Pending', 'Progressing', 'Paused', 'Promoted', 'RolledBack', 'Invalid'] as const;
export type Phase = (typeof PHASES)[number];

export const ConditionSchema = z.object({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string(),
  message: z.string(),
  lastTransitionTime: z.string(),
  observedGeneration: z.number().int().optional(),
});

export const MetricResultSchema = z.object({
  name: z.string(),
  verdict: z.enum(['pass', 'fail', 'inconclusive']),
  value: z.number().optional(),
  threshold: z.string().optional(),
  reason: z.string(),
});

export const TrafficCountsSchema = z.object({ requests: z.number().min(0), errors: z.number().min(0) });

export const AnalysisResultSchema = z.object({
  verdict: z.enum(['pass', 'fail', 'inconclusive']),
  reason: z.string(),
  at: z.string(),
  stepIndex: z.number().int(),
  /** True when the step's hold had elapsed: the judgement that can advance the step. */
  final: z.boolean().optional(),
  windowSeconds: z.number().int().min(0).optional(),
  canary: TrafficCountsSchema.optional(),
  stable: TrafficCountsSchema.optional(),
  /**
   * A failure on the comparison's evidence, whose false-rollback rate is already bounded per
   * release: it rolls back at once, whatever failureLimit says (which is for threshold metrics).
   */
  decisive: z.boolean().optional(),
  /** P(canary error rate exceeds stable's by more than the tolerance), over the release so far. */
  probabilityWorse: z.number().min(0).max(1).optional(),
  /** Length of the release's window (since the canary started, or its last tolerated failure). */
  releaseSeconds: z.number().int().min(0).optional(),
  /** The evidence against the canary over the release so far: a Bayes factor (1 = none). */
  bayesFactor: z.number().min(1).optional(),
  metrics: z.array(MetricResultSchema),
});

export const RolloutStatusSchema = z.object({
  phase: z.enum(PHASES).optional(),
  message: z.string().optional(),
  observedGeneration: z.number().int().optional(),
  /** Identity of the release (stable + canary labels) the fields below describe. */
  release: z.string().optional(),
  canaryWeight: z.number().int().min(0).max(100).optional(),
  stableWeight: z.number().int().min(0).max(100).optional(),
  stepIndex: z.number().int().min(-1).optional(),
  stepStartedAt: z.string().optional(),
  /** The labels traffic is routed to now; they can lag the spec while a release is held. */
  stableLabels: z.record(z.string(), z.string()).optional(),
  canaryLabels: z.record(z.string(), z.string()).optional(),
  failedChecks: z.number().int().min(0).optional(),
  inconclusiveChecks: z.number().int().min(0).optional(),
  /** Who paused: `fledge pause`, a manual step, or the analysis after inconclusiveLimit. */
  pausedBy: z.enum(['user', 'step', 'analysis']).optional(),
  /** Start of the release's evidence: the canary's first step, or its last tolerated failure. */
  analysisStartedAt: z.string().optional(),
  /** While Invalid, or Pending on a missing object: the phase to carry on from afterwards. */
  previousPhase: z.enum(PHASES).optional(),
  lastAnalysis: AnalysisResultSchema.optional(),
  conditions: z.array(ConditionSchema).optional(),
});

export const RolloutSchema = z.object({
  apiVersion: z.literal(API_VERSION, { error: `must be ${API_VERSION}` }),
  kind: z.literal(KIND, { error: `must be ${KIND}` }),
  metadata: RolloutMetadataSchema,
  spec: RolloutSpecSchema,
  status: RolloutStatusSchema.optional(),
});

export type Labels = Record<string, string>;
export type RolloutSpec = z.infer<typeof RolloutSpecSchema>;
export type Rollout = z.infer<typeof RolloutSchema>;
export type RolloutStatus = z.infer<typeof RolloutStatusSchema>;
export type Condition = z.infer<typeof ConditionSchema>;
export type MetricResult = z.infer<typeof MetricResultSchema>;
export type AnalysisResult = z.infer<typeof AnalysisResultSchema>;
export type Verdict = AnalysisResult['verdict'];
export type Step = z.infer<typeof StepSchema>;
export type TrafficCounts = z.infer<typeof TrafficCountsSchema>;
