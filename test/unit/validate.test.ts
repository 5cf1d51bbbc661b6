import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { resolveRollout } from '../../src/api/resolve.ts';
import { parseRollout, type Problem } from '../../src/api/validate.ts';
import { plan } from '../../src/plan/plan.ts';
import { istioRouter } from '../../src/router/istio/render.ts';
import { EXAMPLES, clone, exampleObject, minimalRollout } from './fixtures.ts';

type Doc = ReturnType<typeof minimalRollout>;
// Mutations poke at arbitrary depths of an untyped document; `any` keeps the table readable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Mutate = (r: any) => void;

const PROM = { provider: 'thanos' };
const metric = (extra: Record<string, unknown> = {}) => ({ name: 'error-rate', template: 'istio-error-rate', max: 0.01, ...extra });

function problemsOf(mutate: Mutate): Problem[] {
  const doc: Doc = minimalRollout();
  mutate(doc);
  const result = parseRollout(doc);
  return result.ok ? [] : result.problems;
}

describe('parseRollout accepts', () => {
  it.each(EXAMPLES)('the example %s', (name) => {
    const result = parseRollout(exampleObject(name));
    expect(result.ok ? [] : result.problems).toEqual([]);
    expect(result.ok && result.rollout.kind).toBe('Rollout');
  });

  it('a minimal Rollout', () => {
    const result = parseRollout(minimalRollout());
    expect(result.ok ? [] : result.problems).toEqual([]);
    expect(result.ok && result.rollout.spec.service.name).toBe('web');
  });

  const valid: [string, Mutate][] = [
    ['stepWeight alone', (r) => { r.spec.strategy = { stepWeight: 25 }; }],
    ['stepWeight with maxWeight', (r) => { r.spec.strategy = { stepWeight: 10, maxWeight: 90, interval: '30s' }; }],
    ['steps that repeat a weight', (r) => { r.spec.strategy.steps = [10, 10, 100]; }],
    ['a step of weight 0 and one of 100', (r) => { r.spec.strategy.steps = [0, 100]; }],
    ['a manual and a timed pause', (r) => { r.spec.strategy.steps = [{ weight: 0, pause: 'manual' }, { weight: 20, pause: '10m' }, 100]; }],
    ['100 steps', (r) => { r.spec.strategy.steps = Array.from({ length: 100 }, (_, i) => i + 1); }],
    ['an FQDN in its own namespace', (r) => { r.spec.service.name = 'web.default.svc.cluster.local'; }],
    ['name.namespace in its own namespace', (r) => { r.spec.service.name = 'web.default'; }],
    ['an FQDN when the namespace is omitted (default)', (r) => { delete r.metadata.namespace; r.spec.service.name = 'web.default.svc.cluster.local'; }],
    ['several labels that differ on one key', (r) => { r.spec.stable.labels = { app: 'web', version: 'v1' }; r.spec.canary.labels = { app: 'web', version: 'v2' }; }],
    ['an adopted VirtualService with routes', (r) => { r.spec.trafficRouting = { virtualService: { ref: 'reviews-route', routes: ['primary'] } }; }],
    ['an adopted DestinationRule', (r) => { r.spec.trafficRouting = { destinationRule: { ref: 'reviews' } }; }],
    ['http extras', (r) => { r.spec.trafficRouting = { virtualService: { http: { timeout: '5s', retries: { attempts: 3 } } } }; }],
    ['analysis with a template, a query and a min', (r) => {
      r.spec.analysis = { prometheus: PROM, metrics: [metric(), { name: 'custom', query: 'sum(rate(x[1m]))', min: 1 }], failureLimit: 0, minRequests: 0 };
    }],
    ['analysis with only a Prometheus address (the comparison, on by default)', (r) => { r.spec.analysis = { prometheus: PROM }; }],
    ['analysis with the comparison turned off and no metrics (no Prometheus needed)', (r) => { r.spec.analysis = { comparison: { enabled: false }, failureLimit: 3 }; }],
    ['comparison off with only query metrics: no version label needed', (r) => {
      r.spec.stable.labels = { app: 'web', track: 'stable' };
      r.spec.canary.labels = { app: 'web', track: 'canary' };
      r.spec.analysis = { prometheus: PROM, comparison: { enabled: false }, metrics: [{ name: 'custom', query: 'sum(rate(x[1m]))', max: 1 }] };
    }],
    ['the version label app.kubernetes.io/version', (r) => {
      r.spec.stable.labels = { 'app.kubernetes.io/version': '1.0' };
      r.spec.canary.labels = { 'app.kubernetes.io/version': '1.1' };
      r.spec.analysis = { prometheus: PROM };
    }],
    ['the version label service.istio.io/canonical-revision', (r) => {
      r.spec.stable.labels = { app: 'web', 'service.istio.io/canonical-revision': 'r1' };
      r.spec.canary.labels = { app: 'web', 'service.istio.io/canonical-revision': 'r2' };
      r.spec.analysis = { prometheus: PROM, metrics: [metric()] };
    }],
    ['the same version on both sides without analysis (nothing to measure)', (r) => {
      r.spec.stable.labels = { version: 'v1', track: 'stable' };
      r.spec.canary.labels = { version: 'v1', track: 'canary' };
    }],
    ['the same version on both sides, comparison off, only query metrics', (r) => {
      r.spec.stable.labels = { version: 'v1', track: 'stable' };
      r.spec.canary.labels = { version: 'v1', track: 'canary' };
      r.spec.analysis = { prometheus: PROM, comparison: { enabled: false }, metrics: [{ name: 'custom', query: 'sum(rate(x{track="{{canary.labels.track}}"}[1m]))', max: 1 }] };
    }],
    ['a version label next to a label that tells the subsets apart', (r) => {
      r.spec.stable.labels = { version: 'v1', track: 'stable' };
      r.spec.canary.labels = { version: 'v2', track: 'canary' };
      r.spec.analysis = { prometheus: PROM };
    }],
    ['every analysis setting', (r) => {
      r.spec.analysis = {
        prometheus: { ...PROM, timeout: '2s' },
        metrics: [metric()],
        comparison: { enabled: true, confidence: 0.95, tolerance: 0, relativeTolerance: 0 },
        failureLimit: 2, minRequests: 100, inconclusiveLimit: 0, checkInterval: '1s',
      };
    }],
    ['metrics without a Prometheus block (the default provider)', (r) => { r.spec.analysis = { metrics: [metric()] }; }],
    ['a Prometheus block with only a timeout', (r) => { r.spec.analysis = { prometheus: { timeout: '2s' }, metrics: [metric()] }; }],
    ['an empty analysis (the comparison, from the default provider)', (r) => { r.spec.analysis = {}; }],
    ['a Prometheus timeout of exactly 1s', (r) => { r.spec.analysis = { prometheus: { ...PROM, timeout: '1s' } }; }],
    // hosts: the Service's own spellings on the mesh; external names and wildcards on a Gateway
    ['the Service as name.namespace of its own namespace on the mesh', (r) => { r.spec.trafficRouting = { virtualService: { hosts: ['web.default', 'web.default.svc.cluster.local'] } }; }],
    ['an external host beside the Service on the mesh and a Gateway', (r) => { r.spec.trafficRouting = { virtualService: { hosts: ['web.example.com', 'web'], gateways: ['istio-system/public', 'mesh'] } }; }],
    ['a wildcard and a two-label name on a Gateway only', (r) => { r.spec.trafficRouting = { virtualService: { hosts: ['*.example.com', 'example.org'], gateways: ['istio-system/public'] } }; }],
    ['an unknown field in metadata (labels, creationTimestamp...)', (r) => { r.metadata.creationTimestamp = '2024-01-01T00:00:00Z'; r.metadata.uid = 'abc'; }],
  ];
  it.each(valid)('%s', (_name, mutate) => {
    expect(problemsOf(mutate)).toEqual([]);
  });
});

/** [what, mutation, exact field path, fragment of the message] */
const invalid: [string, Mutate, string, string][] = [
  // weights
  ['a number step above 100', (r) => { r.spec.strategy.steps = [10, 50, 150]; }, 'spec.strategy.steps[2]', 'between 0 and 100'],
  ['a negative number step', (r) => { r.spec.strategy.steps = [-5, 50]; }, 'spec.strategy.steps[0]', 'between 0 and 100'],
  ['an object step above 100', (r) => { r.spec.strategy.steps = [10, { weight: 101 }]; }, 'spec.strategy.steps[1].weight', 'between 0 and 100'],
  ['a negative object step', (r) => { r.spec.strategy.steps = [10, { weight: -1, pause: 'manual' }]; }, 'spec.strategy.steps[1].weight', 'between 0 and 100'],
  ['a non-integer number step', (r) => { r.spec.strategy.steps = [10.5, 50]; }, 'spec.strategy.steps[0]', 'integer'],
  ['a non-integer object step', (r) => { r.spec.strategy.steps = [{ weight: 2.5 }]; }, 'spec.strategy.steps[0].weight', 'integer'],
  ['a string step', (r) => { r.spec.strategy.steps = ['10']; }, 'spec.strategy.steps[0]', 'weight'],
  ['a null step', (r) => { r.spec.strategy.steps = [10, null]; }, 'spec.strategy.steps[1]', 'weight'],
  ['an object step without a weight', (r) => { r.spec.strategy.steps = [{ pause: 'manual' }]; }, 'spec.strategy.steps[0].weight', 'required'],
  ['steps that descend', (r) => { r.spec.strategy.steps = [50, 10, 100]; }, 'spec.strategy.steps[1]', 'ascend'],
  ['an object step lower than the one before', (r) => { r.spec.strategy.steps = [10, 40, { weight: 30, pause: 'manual' }]; }, 'spec.strategy.steps[2]', 'ascend'],
  ['101 steps', (r) => { r.spec.strategy.steps = Array.from({ length: 101 }, () => 100); }, 'spec.strategy.steps', 'at most 100'],
  ['no steps', (r) => { r.spec.strategy.steps = []; }, 'spec.strategy.steps', 'at least one'],
  ['steps that are a map', (r) => { r.spec.strategy.steps = { first: 10 }; }, 'spec.strategy.steps', 'must be a list'],
  // step styles
  ['both step styles', (r) => { r.spec.strategy.stepWeight = 10; }, 'spec.strategy', 'not both'],
  ['neither step style', (r) => { r.spec.strategy = { interval: '1m' }; }, 'spec.strategy', 'set steps'],
  ['maxWeight without stepWeight', (r) => { r.spec.strategy.maxWeight = 90; }, 'spec.strategy.maxWeight', 'needs stepWeight'],
  ['maxWeight below stepWeight', (r) => { r.spec.strategy = { stepWeight: 50, maxWeight: 10 }; }, 'spec.strategy.maxWeight', 'lower than stepWeight'],
  ['stepWeight 0', (r) => { r.spec.strategy = { stepWeight: 0 }; }, 'spec.strategy.stepWeight', 'between 1 and 100'],
  ['stepWeight 12.5', (r) => { r.spec.strategy = { stepWeight: 12.5 }; }, 'spec.strategy.stepWeight', 'integer'],
  // durations
  ['interval 5x', (r) => { r.spec.strategy.interval = '5x'; }, 'spec.strategy.interval', 'duration'],
  ['interval with units out of order', (r) => { r.spec.strategy.interval = '1m1h'; }, 'spec.strategy.interval', 'duration'],
  ['an empty interval', (r) => { r.spec.strategy.interval = ''; }, 'spec.strategy.interval', 'duration'],
  ['an interval below 1s', (r) => { r.spec.strategy.interval = '500ms'; }, 'spec.strategy.interval', 'at least 1s'],
  ['pause: soon', (r) => { r.spec.strategy.steps = [{ weight: 10, pause: 'soon' }]; }, 'spec.strategy.steps[0].pause', '"manual" or a duration'],
  ['pause: 0s', (r) => { r.spec.strategy.steps = [10, { weight: 20, pause: '0s' }]; }, 'spec.strategy.steps[1].pause', 'longer than 0s'],
  // subsets and labels
  ['empty stable labels', (r) => { r.spec.stable.labels = {}; }, 'spec.stable.labels', 'at least one pod label'],
  ['empty canary labels', (r) => { r.spec.canary.labels = {}; }, 'spec.canary.labels', 'at least one pod label'],
  ['stable and canary with identical labels', (r) => { r.spec.canary.labels = { version: 'v1' }; }, 'spec.canary.labels', 'must differ from spec.stable.labels'],
  ['selectors on different keys (one pod can match both)', (r) => { r.spec.stable.labels = { app: 'web' }; r.spec.canary.labels = { version: 'v2' }; }, 'spec.canary.labels', 'match both'],
  ['a canary selector that is a superset of stable', (r) => { r.spec.canary.labels = { version: 'v1', track: 'canary' }; }, 'spec.canary.labels', 'match both'],
  ['the same subset names', (r) => { r.spec.stable.subset = 'v1'; r.spec.canary.subset = 'v1'; }, 'spec.canary.subset', 'must differ'],
  ['a stable subset named like the default canary subset', (r) => { r.spec.stable.subset = 'canary'; }, 'spec.canary.subset', '"canary"'],
  ['an upper-case subset name', (r) => { r.spec.canary.subset = 'V2'; }, 'spec.canary.subset', 'DNS label'],
  ['17 labels', (r) => { r.spec.stable.labels = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])); }, 'spec.stable.labels', 'at most 16'],
  ['labels given as a string', (r) => { r.spec.stable.labels = 'version=v1'; }, 'spec.stable.labels', 'map of pod labels'],
  ['a label value that is a number', (r) => { r.spec.stable.labels = { version: 1 }; }, 'spec.stable.labels.version', 'must be a string'],
  // PromQL injection through label values and keys
  ['a label value with a double quote', (r) => { r.spec.canary.labels = { version: 'v2"} or vector(1) or x{a="' }; }, 'spec.canary.labels.version', 'label value'],
  ['a label value with a backslash', (r) => { r.spec.canary.labels = { version: 'v2\\' }; }, 'spec.canary.labels.version', 'label value'],
  ['a label value with a single quote and braces', (r) => { r.spec.stable.labels = { version: "v1'}" }; }, 'spec.stable.labels.version', 'label value'],
  ['a label value with a newline', (r) => { r.spec.stable.labels = { version: 'v1\n' }; }, 'spec.stable.labels.version', 'label value'],
  ['a label key with a double quote', (r) => { r.spec.canary.labels = { 'ver"sion': 'v2' }; }, 'spec.canary.labels["ver\\"sion"]', 'label key'],
  // analysis
  ['an unknown metric template', (r) => { r.spec.analysis = { prometheus: PROM, metrics: [metric({ template: 'istio-errors' })] }; }, 'spec.analysis.metrics[0].template', 'unknown template'],
  ['a Prometheus address that is not a URL', (r) => { r.spec.analysis = { prometheus: { address: 'prometheus:9090' }, metrics: [metric()] }; }, 'spec.analysis.prometheus.address', 'http://'],
  ['a Prometheus address of the Rollout\'s own (offline: the default configuration allows none)', (r) => { r.spec.analysis = { prometheus: { address: 'http://prometheus.istio-system:9090' }, metrics: [metric()] }; }, 'spec.analysis.prometheus.address', 'by default nothing is allowed'],
  ['the metadata service as Prometheus', (r) => { r.spec.analysis = { prometheus: { address: 'http://169.254.169.254/latest/meta-data' } }; }, 'spec.analysis.prometheus.address', 'platform team'],
  ['a Prometheus address with a query', (r) => { r.spec.analysis = { prometheus: { address: 'http://prom:9090/?x=1' } }; }, 'spec.analysis.prometheus.address', 'query or fragment'],
  ['a provider and an address', (r) => { r.spec.analysis = { prometheus: { provider: 'thanos', address: 'http://prom:9090' } }; }, 'spec.analysis.prometheus', 'not both'],
  ['a provider name that is not a DNS label', (r) => { r.spec.analysis = { prometheus: { provider: '../thanos' } }; }, 'spec.analysis.prometheus.provider', 'DNS label'],
  ['a metric with both template and query', (r) => { r.spec.analysis = { prometheus: PROM, metrics: [metric({ query: 'up' })] }; }, 'spec.analysis.metrics[0]', 'exactly one of template or query'],
  ['a metric with neither template nor query', (r) => { r.spec.analysis = { prometheus: PROM, metrics: [{ name: 'x', max: 1 }] }; }, 'spec.analysis.metrics[0]', 'exactly one of template or query'],
  ['a metric without max or min', (r) => { r.spec.analysis = { prometheus: PROM, metrics: [{ name: 'x', template: 'istio-error-rate' }] }; }, 'spec.analysis.metrics[0]', 'max, min'],
  ['a metric with min above max', (r) => { r.spec.analysis = { prometheus: PROM, metrics: [metric({ max: 1, min: 2 })] }; }, 'spec.analysis.metrics[0].min', 'greater than max'],
  ['a metric max that is a string', (r) => { r.spec.analysis = { prometheus: PROM, metrics: [metric({ max: '1%' })] }; }, 'spec.analysis.metrics[0].max', 'must be a number'],
  ['duplicate metric names', (r) => { r.spec.analysis = { prometheus: PROM, metrics: [metric(), metric({ max: 0.02 })] }; }, 'spec.analysis.metrics[1].name', 'repeats the metric name "error-rate"'],
  ['an upper-case metric name', (r) => { r.spec.analysis = { prometheus: PROM, metrics: [metric({ name: 'ErrorRate' })] }; }, 'spec.analysis.metrics[0].name', 'DNS label'],
  ['a negative failureLimit', (r) => { r.spec.analysis = { failureLimit: -1 }; }, 'spec.analysis.failureLimit', 'between 0 and 100'],
  ['a negative minRequests', (r) => { r.spec.analysis = { minRequests: -1 }; }, 'spec.analysis.minRequests', 'negative'],
  ['the comparison without a version label on the canary', (r) => {
    r.spec.stable.labels = { app: 'web', track: 'stable', version: 'v1' };
    r.spec.canary.labels = { app: 'web', track: 'canary' };
    r.spec.analysis = { prometheus: PROM };
  }, 'spec.canary.labels', 'version, app.kubernetes.io/version, service.istio.io/canonical-revision'],
  ['the comparison without a version label on stable', (r) => {
    r.spec.stable.labels = { app: 'web', track: 'stable' };
    r.spec.canary.labels = { app: 'web', track: 'canary', version: 'v2' };
    r.spec.analysis = { prometheus: PROM, comparison: { enabled: true } };
  }, 'spec.stable.labels', 'comparison.enabled: false'],
  ['a template metric without a version label, the comparison off', (r) => {
    r.spec.stable.labels = { app: 'web', track: 'stable', version: 'v1' };
    r.spec.canary.labels = { app: 'web', track: 'canary' };
    r.spec.analysis = { prometheus: PROM, comparison: { enabled: false }, metrics: [metric()] };
  }, 'spec.canary.labels', 'Istio metrics tell versions apart'],
  ['the same version on both sides, told apart by another label (the metrics could not be)', (r) => {
    r.spec.stable.labels = { version: 'v1', track: 'stable' };
    r.spec.canary.labels = { version: 'v1', track: 'canary' };
    r.spec.analysis = { prometheus: PROM };
  }, 'spec.canary.labels', "stable's version too"],
  ['the same version under two version labels (both become destination_version)', (r) => {
    r.spec.stable.labels = { version: '1.0', track: 'stable' };
    r.spec.canary.labels = { 'app.kubernetes.io/version': '1.0', track: 'canary' };
    r.spec.analysis = { prometheus: PROM, comparison: { enabled: false }, metrics: [metric()] };
  }, 'spec.canary.labels', "stable's version too"],
  ['a label named like a version label, in the wrong case', (r) => {
    r.spec.stable.labels = { Version: 'v1', track: 'stable' };
    r.spec.canary.labels = { version: 'v2', track: 'canary' };
    r.spec.analysis = { prometheus: PROM };
  }, 'spec.stable.labels', 'version'],
  ['a credential file (the ServiceAccount token)', (r) => {
    r.spec.analysis = { prometheus: { ...PROM, auth: { type: 'bearer', file: '/var/run/secrets/kubernetes.io/serviceaccount/token' } } };
  }, 'spec.analysis.prometheus.auth.file', 'may not name a credential file'],
  ['a credential file even where analysis queries nothing', (r) => { r.spec.analysis = { prometheus: { auth: { type: 'bearer', file: '/etc/token' } }, comparison: { enabled: false } }; }, 'spec.analysis.prometheus.auth.file', 'providers[].auth.file'],
  ['credentials from a Secret', (r) => { r.spec.analysis = { prometheus: { ...PROM, auth: { type: 'basic', secretRef: { name: 'prom-creds', key: 'user.pass' } } } }; }, 'spec.analysis.prometheus.auth.secretRef', 'no longer read'],
  ['auth with both file and secretRef', (r) => {
    r.spec.analysis = { prometheus: { ...PROM, auth: { type: 'bearer', file: '/token', secretRef: { name: 'prom', key: 'token' } } } };
  }, 'spec.analysis.prometheus.auth.file', 'credential file'],
  ['auth with neither file nor secretRef', (r) => { r.spec.analysis = { prometheus: { ...PROM, auth: { type: 'bearer' } } }; }, 'spec.analysis.prometheus.auth', 'is not accepted'],
  ['auth of an unknown type', (r) => { r.spec.analysis = { prometheus: { ...PROM, auth: { type: 'oauth', file: '/token' } } }; }, 'spec.analysis.prometheus.auth.type', 'bearer or basic'],
  ['a secretRef without a key', (r) => { r.spec.analysis = { prometheus: { ...PROM, auth: { type: 'basic', secretRef: { name: 'prom' } } } }; }, 'spec.analysis.prometheus.auth.secretRef.key', 'required'],
  ['confidence 1', (r) => { r.spec.analysis = { prometheus: PROM, comparison: { confidence: 1 } }; }, 'spec.analysis.comparison.confidence', 'between 0 and 1'],
  ['confidence 0', (r) => { r.spec.analysis = { prometheus: PROM, comparison: { confidence: 0 } }; }, 'spec.analysis.comparison.confidence', 'between 0 and 1'],
  ['a tolerance above 1', (r) => { r.spec.analysis = { prometheus: PROM, comparison: { tolerance: 1.5 } }; }, 'spec.analysis.comparison.tolerance', 'between 0 and 1'],
  ['a negative relativeTolerance', (r) => { r.spec.analysis = { prometheus: PROM, comparison: { relativeTolerance: -1 } }; }, 'spec.analysis.comparison.relativeTolerance', 'negative'],
  ['comparison.enabled as a string', (r) => { r.spec.analysis = { prometheus: PROM, comparison: { enabled: 'no' } }; }, 'spec.analysis.comparison.enabled', 'true or false'],
  ['an unknown comparison field', (r) => { r.spec.analysis = { prometheus: PROM, comparison: { confidnce: 0.9 } }; }, 'spec.analysis.comparison.confidnce', 'not a known field'],
  ['checkInterval 500ms', (r) => { r.spec.analysis = { prometheus: PROM, checkInterval: '500ms' }; }, 'spec.analysis.checkInterval', 'at least 1s'],
  ['checkInterval 0s', (r) => { r.spec.analysis = { prometheus: PROM, checkInterval: '0s' }; }, 'spec.analysis.checkInterval', 'at least 1s'],
  ['checkInterval 5x', (r) => { r.spec.analysis = { prometheus: PROM, checkInterval: '5x' }; }, 'spec.analysis.checkInterval', 'duration'],
  ['a Prometheus timeout of 500ms', (r) => { r.spec.analysis = { prometheus: { ...PROM, timeout: '500ms' } }; }, 'spec.analysis.prometheus.timeout', 'at least 1s'],
  ['a negative inconclusiveLimit', (r) => { r.spec.analysis = { prometheus: PROM, inconclusiveLimit: -1 }; }, 'spec.analysis.inconclusiveLimit', 'between 0 and 1000'],
  ['a fractional inconclusiveLimit', (r) => { r.spec.analysis = { prometheus: PROM, inconclusiveLimit: 1.5 }; }, 'spec.analysis.inconclusiveLimit', 'integer'],
  // traffic routing
  ['a VirtualService ref together with hosts', (r) => { r.spec.trafficRouting = { virtualService: { ref: 'reviews', hosts: ['reviews'] } }; }, 'spec.trafficRouting.virtualService.hosts', 'cannot be set with ref'],
  ['a VirtualService ref together with match', (r) => { r.spec.trafficRouting = { virtualService: { ref: 'reviews', match: [{ uri: { prefix: '/' } }] } }; }, 'spec.trafficRouting.virtualService.match', 'cannot be set with ref'],
  ['routes without ref', (r) => { r.spec.trafficRouting = { virtualService: { routes: ['primary'] } }; }, 'spec.trafficRouting.virtualService.routes', 'set ref'],
  ['a route named twice', (r) => { r.spec.trafficRouting = { virtualService: { ref: 'reviews', routes: ['a', 'a'] } }; }, 'spec.trafficRouting.virtualService.routes', 'repeat'],
  ['http.route (Fledge owns the destinations)', (r) => { r.spec.trafficRouting = { virtualService: { http: { route: [] } } }; }, 'spec.trafficRouting.virtualService.http.route', 'not a route field'],
  ['http.match (match has its own field)', (r) => { r.spec.trafficRouting = { virtualService: { http: { timeout: '1s', match: [] } } }; }, 'spec.trafficRouting.virtualService.http.match', 'not a route field'],
  ['a DestinationRule ref with a trafficPolicy', (r) => { r.spec.trafficRouting = { destinationRule: { ref: 'x', trafficPolicy: {} } }; }, 'spec.trafficRouting.destinationRule.trafficPolicy', 'cannot be set with ref'],
  ['a match that is not a list', (r) => { r.spec.trafficRouting = { virtualService: { match: { uri: { prefix: '/' } } } }; }, 'spec.trafficRouting.virtualService.match', 'HTTPMatchRequest'],
  // service
  ['a service FQDN in another namespace', (r) => { r.spec.service.name = 'web.other.svc.cluster.local'; }, 'spec.service.name', 'namespace "other"'],
  ['a service name.namespace in another namespace', (r) => { r.spec.service.name = 'web.other'; }, 'spec.service.name', 'namespace "other"'],
  ['a dotted service name that is no Service address', (r) => { r.spec.service.name = 'web.default.example.com'; }, 'spec.service.name', 'must be a Service name'],
  ['a service name with upper case', (r) => { r.spec.service.name = 'Web'; }, 'spec.service.name', 'lowercase'],
  ['a port above 65535', (r) => { r.spec.service.port = 70000; }, 'spec.service.port', 'between 1 and 65535'],
  ['missing spec.service', (r) => { delete r.spec.service; }, 'spec.service', 'is required'],
  ['missing spec.strategy', (r) => { delete r.spec.strategy; }, 'spec.strategy', 'is required'],
  ['missing spec.canary', (r) => { delete r.spec.canary; }, 'spec.canary', 'is required'],
  ['missing spec', (r) => { delete r.spec; }, 'spec', 'is required'],
  // hosts on the mesh steer every sidecar's calls to them: only this namespace's Services
  ['the wildcard *.cluster.local on the mesh (every Service of the cluster domain)', withHosts(['*.cluster.local']), 'spec.trafficRouting.virtualService.hosts[0]', 'every Service'],
  ['a wildcard of a custom cluster domain on the mesh', withHosts(['*.corp.example'], ['mesh', 'istio-system/public']), 'spec.trafficRouting.virtualService.hosts[0]', 'on the mesh would steer'],
  ['an external wildcard on the mesh', withHosts(['*.example.com']), 'spec.trafficRouting.virtualService.hosts[0]', 'bind wildcards to a Gateway only'],
  ['name.namespace of another namespace on the mesh', withHosts(['payments.other']), 'spec.trafficRouting.virtualService.hosts[0]', 'namespace "other"'],
  ['NAME.NAMESPACE of another namespace on the mesh, upper case', withHosts(['Payments.Other'], ['mesh']), 'spec.trafficRouting.virtualService.hosts[0]', 'namespace "other"'],
  ['name.namespace.svc of another namespace, upper case', withHosts(['PAYMENTS.OTHER.SVC.CLUSTER.LOCAL'], ['istio-system/public']), 'spec.trafficRouting.virtualService.hosts[0]', 'namespace "other"'],
  // the object itself
  ['a wrong apiVersion', (r) => { r.apiVersion = 'fledge.dev/v1'; }, 'apiVersion', 'must be fledge.dev/v1alpha1'],
  ['a wrong kind', (r) => { r.kind = 'Deployment'; }, 'kind', 'must be Rollout'],
  ['missing metadata', (r) => { delete r.metadata; }, 'metadata', 'is required'],
  ['an upper-case name', (r) => { r.metadata.name = 'Web'; }, 'metadata.name', 'lowercase'],
];

/** A mutation setting the generated VirtualService's hosts (and gateways). */
function withHosts(hosts: string[], gateways?: string[]): Mutate {
  return (r) => { r.spec.trafficRouting = { virtualService: { hosts, ...(gateways ? { gateways } : {}) } }; };
}

describe('parseRollout refuses', () => {
  it('with at least 30 cases in the table', () => {
    expect(invalid.length).toBeGreaterThanOrEqual(30);
  });

  it.each(invalid)('%s', (_name, mutate, path, fragment) => {
    const problems = problemsOf(mutate);
    // Exactly the one problem the mutation introduced, at the path a person would edit.
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe(path);
    expect(problems[0]!.message).toContain(fragment);
  });

  it('names both subsets when neither carries a version label, and the same labels pass without analysis', () => {
    const labels = (r: Doc) => {
      r.spec.stable = { labels: { app: 'web', track: 'stable' } };
      r.spec.canary = { labels: { app: 'web', track: 'canary' } };
    };
    const problems = problemsOf((r) => { labels(r); r.spec.analysis = { prometheus: PROM }; });
    expect(problems.map((p) => p.path)).toEqual(['spec.stable.labels', 'spec.canary.labels']);
    for (const p of problems) expect(p.message).toContain('comparison.enabled: false');
    expect(problemsOf(labels)).toEqual([]);
  });

  it('reports every problem at once, not only the first', () => {
    const problems = problemsOf((r) => {
      r.spec.strategy.steps = [10, 150];
      r.spec.canary.labels = { version: 'v1' };
      r.spec.service.port = 0;
    });
    expect(problems.map((p) => p.path).sort()).toEqual(['spec.service.port', 'spec.strategy.steps[1]']);
    // Cross-field rules run only on a well-formed object; fixing the fields reveals them next.
    const second = problemsOf((r) => {
      r.spec.strategy.steps = [50, 10];
      r.spec.canary.labels = { version: 'v1' };
      r.spec.service.name = 'web.other';
    });
    expect(second.map((p) => p.path).sort()).toEqual(['spec.canary.labels', 'spec.service.name', 'spec.strategy.steps[1]']);
  });

  it.each([
    ['null', null],
    ['undefined', undefined],
    ['a number', 42],
    ['a string', 'kind: Rollout'],
    ['an array', [minimalRollout()]],
    ['a boolean', true],
  ])('%s as the whole document, naming the document', (_name, input) => {
    const result = parseRollout(input);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems).toEqual([{ path: '(document)', message: 'must be a Rollout object' }]);
  });
});

function expectWellFormed(result: ReturnType<typeof parseRollout>): void {
  if (result.ok) {
    expect(result.rollout.kind).toBe('Rollout');
    return;
  }
  expect(result.problems.length).toBeGreaterThan(0);
  for (const p of result.problems) {
    expect(typeof p.path).toBe('string');
    expect(p.path.length).toBeGreaterThan(0);
    expect(typeof p.message).toBe('string');
    expect(p.message.length).toBeGreaterThan(0);
  }
}

/** Every path into a JSON-like value, as arrays of keys. */
function pathsOf(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...prefix, i])));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...prefix, k]));
  return out;
}

type Mutation = { pick: number; op: 'set' | 'delete' | 'add'; key: string; value: unknown };

function applyMutation(doc: unknown, m: Mutation): unknown {
  const paths = pathsOf(doc);
  const path = paths[m.pick % paths.length]!;
  if (path.length === 0) return m.op === 'set' ? m.value : doc;
  let parent = doc as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (m.op === 'set') parent[last] = m.value;
  else if (m.op === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else {
    const target = parent[last];
    if (target && typeof target === 'object' && !Array.isArray(target)) (target as Record<string, unknown>)[m.key] = m.value;
  }
  return doc;
}

function nested(depth: number): unknown {
  let v: unknown = { leaf: [1, 'x', null] };
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { k: v };
  return v;
}

describe('parseRollout never throws', () => {
  it('on anything at all', () => {
    fc.assert(fc.property(fc.anything({ withNullPrototype: true, withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true }), (input) => {
      expectWellFormed(parseRollout(input));
    }), { numRuns: 500 });
  });

  it('on a Rollout-shaped object with junk in every field', () => {
    const junk = fc.anything({ maxDepth: 4, withNullPrototype: true });
    const doc = fc.record({
      apiVersion: fc.oneof(fc.constant('fledge.dev/v1alpha1'), junk),
      kind: fc.oneof(fc.constant('Rollout'), junk),
      metadata: fc.oneof(fc.record({ name: fc.oneof(fc.constant('web'), junk) }), junk),
      spec: fc.oneof(
        fc.record({ service: junk, stable: junk, canary: junk, strategy: junk, trafficRouting: junk, analysis: junk }, { requiredKeys: [] }),
        junk,
      ),
    }, { requiredKeys: [] });
    fc.assert(fc.property(doc, (input) => expectWellFormed(parseRollout(input))), { numRuns: 500 });
  });

  it.each(EXAMPLES.map((e) => [e] as const))('on mutated versions of %s, and what it accepts renders weights that sum to 100', (name) => {
    const mutation: fc.Arbitrary<Mutation> = fc.record({
      pick: fc.nat(),
      op: fc.constantFrom('set', 'delete', 'add'),
      key: fc.oneof(fc.constantFrom('weight', 'pause', 'labels', 'subset', 'ref', 'routes', 'http', 'steps', 'stepWeight', 'maxWeight', 'metrics', '__proto__', 'constructor'), fc.string()),
      value: fc.oneof(
        fc.anything({ maxDepth: 3 }),
        fc.integer({ min: -10, max: 200 }),
        fc.constantFrom('manual', '10m', '0s', '5x', 'v3', '', 'web.other', 'mesh'),
      ),
    });
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (mutations) => {
      let doc: unknown = clone(exampleObject(name));
      for (const m of mutations) doc = applyMutation(doc, m);
      const result = parseRollout(doc);
      expectWellFormed(result);
      if (result.ok) {
        // Whatever validation lets through, the rest of the pipeline must handle.
        const r = resolveRollout(result.rollout);
        const { routing } = plan({ rollout: r, status: undefined, requests: { paused: false }, now: new Date(0) });
        for (const obj of istioRouter.desiredObjects(r, routing)) {
          if (obj.kind !== 'VirtualService') continue;
          for (const route of (obj.spec as { http: { route: { weight: number }[] }[] }).http) {
            const weights = route.route.map((d) => d.weight);
            expect(weights.every((w) => Number.isInteger(w) && w >= 0 && w <= 100)).toBe(true);
            expect(weights.reduce((a, b) => a + b, 0)).toBe(100);
          }
        }
      }
    }), { numRuns: 300 });
  });

  it.each([
    ['deep junk as the spec', (r: Doc) => { r.spec = nested(2000) as Doc['spec']; }],
    ['deep junk as the metadata', (r: Doc) => { r.metadata = nested(2000) as Doc['metadata']; }],
    ['deep junk as a step', (r: Doc) => { (r.spec.strategy as { steps: unknown[] }).steps = [nested(2000)]; }],
    ['deep junk inside a passthrough field', (r: Doc) => { r.spec.trafficRouting = { virtualService: { http: { timeout: nested(2000) } } }; }],
    ['a huge list of steps', (r: Doc) => { (r.spec.strategy as { steps: unknown[] }).steps = Array.from({ length: 100_000 }, () => 50); }],
    ['a prototype-polluting key', (r: Doc) => { r.spec = JSON.parse('{"__proto__": {"service": {"name": "x"}}, "strategy": {"steps": [10]}}') as Doc['spec']; }],
  ])('on %s', (_name, mutate) => {
    const doc = minimalRollout();
    mutate(doc);
    const result = parseRollout(doc);
    expectWellFormed(result);
    expect(result.ok).toBe(_name === 'deep junk inside a passthrough field');
    expect(({} as Record<string, unknown>).service).toBeUndefined();
  });
});
