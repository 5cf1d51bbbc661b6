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

export const METRIC_TEMPLATES = ['istio-error-rate', 'istio-request-count', 'istio-latency-p99', 'istio-slow-requests'] as const;
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
// At most 32 characters: the API server prices a CEL rule by the longest string it may see.
const duration = (what: string) =>
  z.string().regex(new RegExp(DURATION_PATTERN), `${what} must be a duration such as 30s, 1m or 1h30m`)
    .min(2, `${what} must be a duration such as 30s, 1m or 1h30m`).max(32, `${what} must be a duration such as 30s, 1m or 1h30m`);
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
      .regex(new RegExp(LABEL_VALUE), 'label value must be at most 63 letters, digits, "-", "_" or "."')
      .max(63, 'label value must be at most 63 letters, digits, "-", "_" or "."'),
    { error: 'must be a map of pod labels' },
  )
  .refine((l) => Object.keys(l).length > 0, 'must name at least one pod label')
  .refine((l) => Object.keys(l).length <= 16, 'must have at most 16 labels')
  .meta({ minProperties: 1, maxProperties: 16 });

export const SubsetSchema = z.strictObject({
  subset: dnsLabel('subset name').optional()
    .describe('Name of the DestinationRule subset for these pods. Default: stable or canary.'),
  labels: LabelsSchema.describe('Pod labels that select this version\'s pods (e.g. version: v2): the subset\'s labels, and the release\'s identity. 1 to 16 labels.'),
});

export const ServiceSchema = z.strictObject({
  name: dnsSubdomain('service name').describe('Name of the Kubernetes Service in the Rollout\'s namespace; the default VirtualService host.'),
  port: z.number().int('must be an integer').min(1, 'must be between 1 and 65535')
    .max(65535, 'must be between 1 and 65535').optional()
    .describe('Service port the routes send to (destination.port.number). Default: none, Istio picks the Service\'s port.'),
});

export const HTTP_EXTRA_FIELDS = [
  'timeout', 'retries', 'fault', 'mirror', 'mirrors', 'mirrorPercentage', 'headers', 'corsPolicy', 'rewrite',
] as const;

export const VirtualServiceRefSchema = z.strictObject({
  name: dnsSubdomain('name').optional().describe('Name of the generated VirtualService. Default: the Rollout\'s name.'),
  hosts: z.array(z.string().min(1, 'host must not be empty').max(253)
    .regex(new RegExp(HOST), 'must be a DNS name, *.domain or *'), { error: 'must be a list of hosts' })
    .min(1, 'must list at least one host').max(64).optional()
    .describe('Hosts of the generated VirtualService (Istio VirtualService.hosts). Default: [spec.service.name].'),
  gateways: z.array(z.string().min(1, 'gateway must not be empty').max(253)
    .regex(new RegExp(GATEWAY), 'must be a Gateway name, namespace/name, or mesh'), { error: 'must be a list of gateways' })
    .max(64).optional()
    .describe('Gateways the routes apply to: [namespace/]name, or mesh for traffic inside the mesh. Default: Istio\'s, mesh only.'),
  match: z.array(passthrough, { error: 'must be a list of Istio HTTPMatchRequest objects' }).max(64).optional()
    .describe('Istio HTTPMatchRequest conditions of the weighted route, passed through verbatim. Default: every request.'),
  http: passthrough.optional()
    .describe('Extra fields of the weighted Istio HTTPRoute (timeout, retries, fault, mirror, headers, corsPolicy, rewrite), passed through verbatim.'),
  /** Adopt a VirtualService the user keeps in git instead of generating one. */
  ref: dnsSubdomain('ref').optional()
    .describe('Adopt this existing VirtualService instead of generating one: Fledge changes only the weights of the stable and canary destinations of its routes.'),
  routes: z.array(z.string().min(1).max(253), { error: 'must be a list of route names' }).min(1).max(64).optional()
    .describe('With ref: the names of the HTTP routes whose weights Fledge steers. Default: every route that sends to both subsets.'),
});

/** At most this many VirtualServices in `trafficRouting.virtualServices` (each is patched at every step). */
export const MAX_VIRTUAL_SERVICES = 8;

/**
 * One entry of `trafficRouting.virtualServices` (Argo Rollouts' `virtualServices: [{name, routes}]`,
 * whose `name` is Fledge's `ref`): an existing VirtualService whose routes get the release's
 * weights. Only adopted ones: each generated VirtualService would be a copy of one spec.
 */
export const AdoptedVirtualServiceSchema = z.strictObject({
  ref: dnsSubdomain('ref').describe('Name of an existing VirtualService in the Rollout\'s namespace: Fledge changes only the weights of the stable and canary destinations of its routes.'),
  routes: z.array(z.string().min(1).max(253), { error: 'must be a list of route names' }).min(1).max(64).optional()
    .describe('The names of its HTTP routes whose weights Fledge steers. Default: every route that sends to both subsets.'),
});

/**
 * A cookie name: RFC 6265 section 4.1.1 `cookie-name = token`, and a token (RFC 2616 section 2.2)
 * is one or more CHARs other than controls and separators. It also keeps the name safe inside the
 * Set-Cookie value and the cookie-header regex Fledge writes (regex characters are escaped there).
 */
export const COOKIE_NAME = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";
/** Set-Cookie's Max-Age is in seconds; RFC 6265bis caps what browsers keep at 400 days. */
export const MAX_COOKIE_AGE_SECONDS = 400 * 24 * 3600;
export const DEFAULT_COOKIE_AGE_SECONDS = 24 * 3600;

const cookieName = (what: string) => z.string({ error: `${what} must be a cookie name` })
  .min(1, `${what} must not be empty`).max(64, `${what} must be at most 64 characters`)
  .regex(new RegExp(COOKIE_NAME), `${what} must be a cookie name (an RFC 6265 token): letters, digits and !#$%&'*+-.^_\`|~`);

export const SessionAffinitySchema = z.strictObject({
  cookieName: cookieName('cookieName')
    .describe('Name of the cookie set on responses from the canary during a release; requests that carry it go to the canary until it expires (Flagger\'s sessionAffinity.cookieName).'),
  stableCookieName: cookieName('stableCookieName').optional()
    .describe('Name of the cookie set on responses from stable during a release, so users on stable stay there too. Default: cookieName followed by -stable.'),
  maxAge: z.number({ error: 'must be a number of seconds' }).int('must be a whole number of seconds')
    .min(1, `must be between 1 and ${MAX_COOKIE_AGE_SECONDS} seconds`).max(MAX_COOKIE_AGE_SECONDS, `must be between 1 and ${MAX_COOKIE_AGE_SECONDS} seconds (400 days)`).optional()
    .describe(`Lifetime of both cookies in seconds (Set-Cookie Max-Age). Default: ${DEFAULT_COOKIE_AGE_SECONDS} (a day).`),
}).describe('Sticky sessions during a release: a user who reached the canary stays on it, one who reached stable stays there; the step\'s weights split new sessions. Needs a generated VirtualService.');

export const DestinationRuleRefSchema = z.strictObject({
  name: dnsSubdomain('name').optional().describe('Name of the generated DestinationRule. Default: the Rollout\'s name.'),
  trafficPolicy: passthrough.optional().describe('Istio TrafficPolicy of the generated DestinationRule (e.g. loadBalancer), passed through verbatim.'),
  ref: dnsSubdomain('ref').optional()
    .describe('Adopt this existing DestinationRule: Fledge checks that its subsets select the stable and canary labels and never writes it.'),
});

export const PauseSchema = z.string({ error: 'must be "manual" or a duration such as 10m' })
  .regex(new RegExp(`^manual$|${DURATION_PATTERN}`), 'must be "manual" or a duration such as 10m')
  .min(2, 'must be "manual" or a duration such as 10m');

export const StepObjectSchema = z.strictObject({
  weight: weight.describe('Percent of traffic on the canary at this step, 0..100.'),
  pause: PauseSchema.optional().describe('manual: wait at this step for `fledge resume`; a duration (10m): hold it that long instead of the interval.'),
});
/** Most HTTPMatchRequests a match step may list (each becomes one condition of its route). */
export const MAX_STEP_MATCHES = 16;
/**
 * A/B step: requests matching any of the Istio HTTPMatchRequests go to the canary (route
 * `fledge-match`, ahead of the weighted one); the others keep the weight of the step before.
 */
export const MatchStepSchema = z.strictObject({
  match: z.array(passthrough, { error: 'must be a list of Istio HTTPMatchRequest objects' })
    .min(1, 'must list at least one HTTPMatchRequest').max(MAX_STEP_MATCHES, `must list at most ${MAX_STEP_MATCHES} HTTPMatchRequests`)
    .describe('Istio HTTPMatchRequests (any one matches), e.g. [{headers: {x-canary: {exact: "true"}}}]: matching requests go to the canary from this step until the release ends (a later match step replaces them); the others keep the weight of the step before (0 at first).'),
  pause: PauseSchema.optional().describe('manual: wait at this step for `fledge resume`; a duration (10m): hold it that long instead of the interval.'),
});
/** Mirror step: a copy of a share of the (all stable-bound) requests goes to the canary, responses discarded. */
export const MirrorStepSchema = z.strictObject({
  mirror: z.number({ error: 'must be a percentage between 1 and 100' }).int('must be an integer between 1 and 100')
    .min(1, 'must be between 1 and 100').max(100, 'must be between 1 and 100')
    .describe('Percent of the requests, all served by stable at this step, copied to the canary (Istio mirror and mirrorPercentage); the canary\'s responses are discarded. Only before any step that sends the canary live requests.'),
  pause: PauseSchema.optional().describe('manual: wait at this step for `fledge resume`; a duration (10m): hold it that long instead of the interval.'),
});
export const StepSchema = z.union([weight, StepObjectSchema, MatchStepSchema, MirrorStepSchema])
  .describe('A canary weight (0..100), {weight, pause}, {match: [HTTPMatchRequest...], pause} (A/B: matching requests to the canary) or {mirror: percent, pause} (a copy of stable\'s requests to the canary).');

export const StrategySchema = z.strictObject({
  steps: z.array(StepSchema, { error: 'must be a list of weights' })
    .min(1, 'must have at least one step').max(MAX_STEPS, `must have at most ${MAX_STEPS} steps`).optional()
    .describe('The steps, in order: a canary weight (ascending), or a match or mirror step, e.g. [{mirror: 20}, {match: [{headers: {x-canary: {exact: "true"}}}]}, 10, {weight: 50, pause: manual}, 100]. Set either steps or stepWeight.'),
  stepWeight: z.number().int('must be an integer').min(1, 'must be between 1 and 100').max(100, 'must be between 1 and 100').optional()
    .describe('Instead of steps: add this much canary weight at each step (Flagger\'s stepWeight), up to maxWeight.'),
  maxWeight: z.number().int('must be an integer').min(1, 'must be between 1 and 100').max(100, 'must be between 1 and 100').optional()
    .describe('With stepWeight: the last step\'s canary weight; promotion follows it. Default: 100.'),
  interval: duration('interval').optional()
    .describe('How long each step is held and judged, a duration such as 30s, 1m or 1h30m. Default: 1m.'),
});

export const MetricSchema = z.strictObject({
  name: dnsLabel('metric name').describe('Name of the metric in status and Events (a DNS label).'),
  template: z.enum(METRIC_TEMPLATES, { error: `unknown template (known: ${METRIC_TEMPLATES.join(', ')})` }).optional()
    .describe('A built-in Istio query: istio-error-rate (fraction of failed requests), istio-request-count, istio-latency-p99 (ms). Set template or query.'),
  query: z.string().min(1, 'must not be empty').max(4096, 'must be at most 4096 characters').optional()
    .describe('A PromQL query returning one number for the canary; placeholders such as {{canary.labels.version}} and {{namespace}} are filled in.'),
  max: z.number({ error: 'must be a number' }).optional().describe('The check fails when the value is above this.'),
  min: z.number({ error: 'must be a number' }).optional().describe('The check fails when the value is below this.'),
});

export const SecretKeyRefSchema = z.strictObject({
  name: dnsSubdomain('secret name').describe('A Secret in the Rollout\'s namespace that the platform team granted Fledge to read.'),
  key: z.string().min(1, 'must not be empty').max(253).regex(/^[-._a-zA-Z0-9]+$/, 'must be a Secret data key').describe('The key of that Secret\'s data.'),
});

/**
 * Kept in the schema only so that an old Rollout carrying it is Invalid with a message saying
 * what to do (prometheus-policy.ts), rather than having it pruned in silence: credentials come
 * from the controller's provider configuration, never from a Rollout.
 */
export const PrometheusAuthSchema = z.strictObject({
  type: z.enum(['bearer', 'basic'], { error: 'must be bearer or basic' }).describe('Kept only to name the migration: not accepted.'),
  file: z.string().min(1).max(4096).optional().describe('Not accepted: a Rollout never names a file the controller reads; configure providers[].auth.file in --prometheus-config.'),
  secretRef: SecretKeyRefSchema.optional().describe('Not accepted: a Rollout never names a Secret for the controller; configure a provider in --prometheus-config.'),
}).describe('Not accepted: credentials belong to a Prometheus provider the platform team configures on the controller (--prometheus-config providers[].auth.file); name it with provider.');

export const PrometheusSchema = z.strictObject({
  provider: dnsLabel('provider name').optional()
    .describe('A Prometheus provider configured on the controller by the platform team (--prometheus-config); default: the provider named "default" (--prometheus-address).'),
  address: z.string({ error: 'must be the URL of a Prometheus server' })
    .max(2048, 'must be at most 2048 characters')
    .regex(/^https?:\/\/[^\s/@?#]+(\/[^\s?#]*)?$/, 'must be an http:// or https:// URL, without credentials, query or fragment')
    .optional()
    .describe('Queried only if the controller allows it: the address of a configured provider (its credentials then apply), or one of allowedAddresses in --prometheus-config (no credentials). By default no address of a Rollout\'s own is allowed. Prefer provider.'),
  timeout: duration('timeout').optional().describe('Per query attempt, 1s to 1m; default the provider\'s timeout (5s).'),
  auth: PrometheusAuthSchema.optional(),
}).describe('Where metrics come from: only Prometheus servers the platform team configured on the controller. Leave it out to use the default provider.');

const probability = (what: string) => z.number({ error: `${what} must be a number` })
  .gt(0, `${what} must be between 0 and 1`).lt(1, `${what} must be between 0 and 1`);

/** The statistical judge of the release: canary against stable, sequentially (README "How a step is judged"). */
export const ComparisonSchema = z.strictObject({
  enabled: z.boolean({ error: 'must be true or false' }).optional()
    .describe('Judge the canary against stable on their error rates (and istio-slow-requests shares), sequentially over the release. Default: true.'),
  /**
   * Roll back when the evidence that the canary is worse than tolerated reaches odds of
   * 1 / (1 - confidence) (a Bayes factor, at any check, over the release so far or the step).
   * A canary within tolerance is rolled back with probability about 1 - confidence per release.
   */
  confidence: probability('confidence').optional()
    .describe('Roll back when the evidence that the canary is worse than tolerated reaches a Bayes factor of 1 / (1 - confidence), over the release or the step; a canary within tolerance is rolled back with probability about 1 - confidence per release (0..1, exclusive). Default: 0.99.'),
  /**
   * Promote only when P(canary worse than tolerated) <= 1 - passConfidence; a step that moves the
   * canary to weight w needs P(worse) <= (1 - passConfidence) * 100 / w.
   */
  passConfidence: probability('passConfidence').optional()
    .describe('Promote only when P(canary worse than tolerated) <= 1 - passConfidence; a step that moves the canary to weight w needs P(worse) <= (1 - passConfidence) * 100 / w (0..1, exclusive). Default: 0.65.'),
  /** Absolute error-rate margin the canary is allowed above stable (0.005 = half a percentage point). */
  tolerance: z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1').optional()
    .describe('Absolute error-rate margin allowed above stable (0.005 = half a percentage point). Default: 0.005.'),
  /** Relative margin: 0.5 lets the canary reach 1.5 times the stable's error rate. The larger margin applies. */
  relativeTolerance: z.number().min(0, 'must not be negative').max(100, 'must be at most 100').optional()
    .describe('Relative margin: 0.5 lets the canary reach 1.5 times stable\'s error rate; the larger of the two margins applies. Default: 0.5.'),
  /**
   * Stable's error rate is read over at least this long: stable is the known quantity, more of
   * its history makes the comparison sharper, and it still has data when the canary takes 100 %.
   */
  baselineWindow: duration('baselineWindow').optional()
    .describe('Stable\'s error rate is read over at least this long, a duration. Default: 10m.'),
});

export const AnalysisSchema = z.strictObject({
  prometheus: PrometheusSchema.optional().describe('The Prometheus server the metrics are read from.'),
  metrics: z.array(MetricSchema, { error: 'must be a list of metrics' }).max(32, 'must have at most 32 metrics').optional()
    .describe('Threshold checks, each a template or a PromQL query with max and/or min; at most 32.'),
  /**
   * Failed threshold-metric judgements tolerated before rolling back (each restarts the step's
   * window). A failure of the comparison is never tolerated: its error rate is already per release.
   */
  failureLimit: z.number().int('must be an integer').min(0, 'must be between 0 and 100').max(100, 'must be between 0 and 100').optional()
    .describe('Failed threshold-metric checks tolerated in a release (each restarts the step\'s window); one more rolls it back. A failure on the comparison\'s evidence rolls back at once. Default: 1.'),
  /**
   * Canary requests needed before the release is promoted, and in a step before its threshold
   * metrics are judged. Never needed to roll back: the comparison fails on evidence alone.
   */
  minRequests: z.number().int('must be an integer').min(0, 'must not be negative').max(1_000_000_000).optional()
    .describe('Canary requests the release needs before it is promoted, and a step before its threshold metrics are judged; never needed to roll back. Default: 50 (0 when the subsets have no version label).'),
  /** Extra holds a step may wait for conclusive evidence before the Rollout is Paused for a person. */
  inconclusiveLimit: z.number().int('must be an integer').min(0, 'must be between 0 and 1000').max(1000, 'must be between 0 and 1000').optional()
    .describe('Extra holds a step may wait for conclusive evidence before the Rollout is Paused (reason Inconclusive) for a person to resume, promote or abort. Default: 10.'),
  /** How often the release is re-judged, so a bad canary is caught early. */
  checkInterval: duration('checkInterval').optional()
    .describe('How often the release is judged again, so a bad canary is caught early; a duration. Default: 10s.'),
  comparison: ComparisonSchema.optional().describe('The statistical judge of the release: canary against stable, sequentially.'),
});

export const RolloutSpecSchema = z.strictObject({
  service: ServiceSchema.describe('The Kubernetes Service whose traffic is split between the stable and canary pods.'),
  stable: SubsetSchema.describe('The version serving today: its pods\' labels and its DestinationRule subset.'),
  canary: SubsetSchema.describe('The new version: its pods\' labels and its DestinationRule subset. A new commit of these labels is a new release.'),
  trafficRouting: z.strictObject({
    virtualService: VirtualServiceRefSchema.optional()
      .describe('The VirtualService: generated (default, named after the Rollout) or adopted with ref.'),
    virtualServices: z.array(AdoptedVirtualServiceSchema, { error: 'must be a list of {ref, routes}' })
      .min(1, 'must list at least one VirtualService').max(MAX_VIRTUAL_SERVICES, `must list at most ${MAX_VIRTUAL_SERVICES} VirtualServices`).optional()
      .describe(`Instead of virtualService: several existing VirtualServices (say, an ingress gateway's and the mesh's) steered together to the same weights, each step written to every one in list order; the first one's live weights are what Fledge reads back. At most ${MAX_VIRTUAL_SERVICES}.`),
    destinationRule: DestinationRuleRefSchema.optional()
      .describe('The DestinationRule: generated (default, named after the Rollout) or adopted with ref.'),
    sessionAffinity: SessionAffinitySchema.optional(),
  }).optional().describe('The Istio objects that carry the split. Default: a generated VirtualService and DestinationRule.'),
  strategy: StrategySchema.describe('The schedule: the canary weight at each step and how long each is held.'),
  analysis: AnalysisSchema.optional()
    .describe('How each step is judged from Prometheus. Without it, steps advance on time alone.'),
}).describe('A canary release of one Service: the two versions, the Istio routing, the schedule and the judgement.');

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
  /** Length of the release's window (since the canary first took traffic in this release). */
  releaseSeconds: z.number().int().min(0).optional(),
  /** The evidence against the canary over the release so far: a Bayes factor (1 = none). */
  bayesFactor: z.number().min(1).optional(),
  /**
   * A mirror step's judgement: the canary's requests were mirrored copies, whose responses Istio
   * discards (no user saw them), judged against stable's live ones all the same.
   */
  mirrored: z.boolean().optional(),
  /** Why the canary has no Istio series (no sidecar, no series at all...); also in reason. */
  diagnosis: z.string().optional(),
  metrics: z.array(MetricResultSchema),
});

export const RolloutStatusSchema = z.object({
  phase: z.enum(PHASES).optional().describe('Pending, Progressing, Paused, Promoted, RolledBack or Invalid.'),
  message: z.string().optional().describe('Why the Rollout is in its phase, in words; for Invalid, the field at fault.'),
  observedGeneration: z.number().int().optional().describe('The metadata.generation this status describes.'),
  /** Identity of the release (stable + canary labels) the fields below describe. */
  release: z.string().optional().describe('Identity of the release (a hash of the stable and canary labels) the fields below describe.'),
  canaryWeight: z.number().int().min(0).max(100).optional().describe('Percent of traffic on the canary now.'),
  stableWeight: z.number().int().min(0).max(100).optional().describe('Percent of traffic on stable now (100 - canaryWeight).'),
  stepIndex: z.number().int().min(-1).optional()
    .describe('Index of the current step, counted from 0: -1 while a release restarts, the number of steps once promoted. People read step.'),
  step: z.string().optional().describe('The current step as people count it, from 1, of the number of steps (e.g. 2/4).'),
  stepStartedAt: z.string().optional().describe('When the current step began (RFC 3339).'),
  /** The labels traffic is routed to now; they can lag the spec while a release is held. */
  stableLabels: z.record(z.string(), z.string()).optional().describe('The stable labels traffic is routed to now; they can lag the spec while a release is held.'),
  canaryLabels: z.record(z.string(), z.string()).optional().describe('The canary labels traffic is routed to now.'),
  failedChecks: z.number().int().min(0).optional().describe('Failed checks in this release so far.'),
  inconclusiveChecks: z.number().int().min(0).optional().describe('Checks of the current step that lacked evidence.'),
  /** Who paused: `fledge pause`, a manual step, or the analysis after inconclusiveLimit. */
  pausedBy: z.enum(['user', 'step', 'analysis']).optional()
    .describe('While Paused: user (`fledge pause`), step (a pause: manual step) or analysis (no conclusive evidence past inconclusiveLimit).'),
  /** Start of the release's evidence: the canary's first step. */
  analysisStartedAt: z.string().optional()
    .describe('Start of the release\'s evidence (RFC 3339): when the canary first took traffic in this release.'),
  /** While Invalid, or Pending on a missing object: the phase to carry on from afterwards. */
  previousPhase: z.enum(PHASES).optional().describe('While Invalid, or Pending on a missing object: the phase to carry on from afterwards.'),
  /** The last fledge.dev/retry request handled: each acts (or is reported ignored) once. */
  handledRetry: z.string().optional()
    .describe('The last `fledge retry` request (annotation fledge.dev/retry) the controller handled, acted on or ignored: each is handled once.'),
  lastAnalysis: AnalysisResultSchema.optional().describe('The last judgement of a step: verdict, reason, counts and each metric.'),
  conditions: z.array(ConditionSchema).optional().describe('Ready, Progressing and Analysis, in metav1.Condition shape.'),
}).describe('Written by the controller only; it is the controller\'s memory, so a restarted controller carries on from it.');

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
