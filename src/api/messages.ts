/**
 * The messages of the cross-field rules, one table for `fledge validate` (validate.ts) and the
 * CRD's CEL rules (cel.ts): a message with a value in it is a function, and cel.ts turns the same
 * function into a CEL messageExpression, so the API server and the CLI say the same words.
 * A value the API server's cost estimator cannot turn into text (a number: `string(int)` is
 * costed as unbounded) is left out of the message rather than said differently by the two.
 */

/** Pod labels that Istio copies into its metrics, so a subset's traffic can be counted. */
export const VERSION_LABELS = ['version', 'app.kubernetes.io/version', 'service.istio.io/canonical-revision'] as const;

const CREDENTIALS_FIX = 'credentials belong to a Prometheus provider the platform team configures (providers[].auth.file in the controller\'s --prometheus-config, mounted from a Secret); name that provider with spec.analysis.prometheus.provider';

export const MESSAGES = {
  subsetSameName: (stable: string) => `must differ from the stable subset name "${stable}"`,
  labelsSame: 'must differ from spec.stable.labels',
  labelsOverlap: 'must set a label that spec.stable.labels also sets, to a different value; otherwise one pod can match both subsets',
  stepsAndStepWeight: 'set either steps or stepWeight, not both',
  noSteps: 'set steps (a list of weights) or stepWeight',
  maxWeightNeedsStepWeight: 'needs stepWeight',
  maxWeightBelowStepWeight: (stepWeight: string) => `must not be lower than stepWeight (${stepWeight})`,
  stepsDescend: (previous: number | string) => `must not be lower than the step before (${previous}): steps ascend`,
  pauseZero: 'must be "manual" or a duration longer than 0s',
  atLeast1s: 'must be at least 1s',
  atMost1m: 'must be at most 60s',
  virtualServiceRefField: 'cannot be set with ref: an adopted VirtualService keeps its own',
  routesNeedRef: 'only applies to an adopted VirtualService (set ref)',
  routesRepeat: 'must not repeat a route',
  virtualServicesWithSingular: 'cannot be set with virtualService: name one VirtualService there, or list them all here',
  virtualServiceRepeats: (ref: string) => `repeats VirtualService ${ref}: list each VirtualService once`,
  affinityNeedsGeneratedRef: 'needs a generated VirtualService: Fledge adds its cookie routes ahead of the weighted one, and in an adopted VirtualService (virtualService.ref) it changes weights only, never routes; leave out ref, or keep sticky routes in your own VirtualService',
  affinityNeedsGeneratedList: 'needs a generated VirtualService: the VirtualServices of virtualServices are adopted, and in those Fledge changes weights only, never routes; keep sticky routes in your own VirtualServices',
  cookieNamesSame: 'must differ from cookieName: one cookie cannot pin users to both versions',
  cookieHeaderOverride: 'cannot set or remove Set-Cookie with sessionAffinity: Envoy applies route headers after the per-destination ones that carry Fledge\'s sticky cookies, so it would replace or drop them; add headers instead (headers.response.add), or leave out sessionAffinity',
  cookiePrefix: 'must not start with __Secure- or __Host-: browsers keep such cookies only with the Secure attribute, which plain-HTTP callers inside the mesh would never send back',
  destinationRuleRefField: 'cannot be set with ref: an adopted DestinationRule keeps its own',
  versionLabelMissing: `Istio metrics tell versions apart by a label (${VERSION_LABELS.join(', ')}); set one, or judge by your own queries alone: metrics with query (no template) and comparison.enabled: false (minRequests then defaults to 0)`,
  sameVersion: (canaryKey: string, value: string, stableKey: string) => `${canaryKey}: ${value} is stable's version too (${stableKey}); Istio metrics could not tell the canary's traffic from stable's: give the canary its own version`,
  minRequestsWithoutVersion: `must be 0 (its default here) when the subsets have no version label (${VERSION_LABELS.join(', ')}): Istio's request counts cannot be told apart by subset`,
  metricNameRepeats: (name: string) => `repeats the metric name "${name}"`,
  templateOrQuery: 'set exactly one of template or query',
  maxOrMin: 'set max, min or both',
  minAboveMax: 'must not be greater than max',
  slowRequestsMin: 'does not apply to istio-slow-requests: max is the latency bound in ms, and the canary is compared with stable',
  slowRequestsMax: 'must be the latency bound in ms (> 0): requests slower than it are compared, canary against stable',
  serviceNameShape: 'must be a Service name, name.namespace, or name.namespace.svc.<cluster domain>',
  meshWildcard: (host: string) => `the wildcard ${host} on the mesh would steer other Services' traffic (with the cluster domain, *.cluster.local is every Service); name this Service's host, or bind wildcards to a Gateway only`,
  clusterHostShape: 'a cluster host must be name.namespace.svc.<cluster domain>, of this namespace',
  providerAndAddress: 'set provider or address, not both',
  authFile: `a Rollout may not name a credential file: ${CREDENTIALS_FIX}`,
  authSecret: `a Rollout's Secret is no longer read for Prometheus: ${CREDENTIALS_FIX}`,
  auth: `is not accepted: ${CREDENTIALS_FIX}`,
} as const;
