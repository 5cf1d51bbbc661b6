/**
 * The cross-field rules of validate.ts that the API server can enforce itself, as CEL
 * (x-kubernetes-validations, https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#validation-rules),
 * so that `kubectl apply`, Argo CD and Flux refuse such a Rollout at once instead of the
 * controller marking it Invalid later. crd.ts places each rule at its path in the schema
 * generated from schema.ts; the messages come from messages.ts, the table validate.ts uses, so
 * both say the same words (test/integration/cel.test.ts compares them on the same inputs).
 *
 * Not here, and why (the controller's offline check still judges them):
 * - anything about spec.strategy.steps (ascending weights, pause > 0s, steps vs stepWeight, a
 *   step's own shape): a step is a number or an object, a union a structural schema can only
 *   keep untyped, and a CRD's CEL cannot see an untyped field. A ValidatingAdmissionPolicy can
 *   (it sees it as dyn): stepsAdmissionPolicy() below, shipped beside the CRD, enforces the
 *   first three; a step's shape stays with the controller;
 * - hosts and Service names of another namespace: CEL sees metadata.name, not metadata.namespace;
 * - the Prometheus provider or address: allowed or not by the controller's --prometheus-config;
 * - PromQL placeholders, and Istio's validation of the routing: parsers CEL does not have;
 * - the keys of virtualService.http, and the passthrough size limit: untyped objects, as above.
 * A message with a number in it names no number (the cost estimator prices `string(int)` as
 * unbounded), except stepWeight, read from a table of its 100 values.
 */
import { VERSION_LABELS, MESSAGES } from './messages.ts';
import { DURATION_PATTERN } from './duration.ts';
import { DEFAULT_SUBSETS, GROUP, PLURAL } from './constants.ts';

/** One x-kubernetes-validations entry (apiextensions.k8s.io/v1 ValidationRule). */
export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  /** Relative to the schema node the rule sits on; static (CEL cannot name a list index). */
  fieldPath?: string;
}

/** A CEL string literal (CEL accepts JSON's escapes). */
const lit = (s: string) => JSON.stringify(s);

/**
 * A messageExpression that says exactly what `message(...values)` says in validate.ts: the
 * function is called with markers, and each marker is replaced by its CEL expression.
 */
export function celMessage<A extends unknown[]>(message: (...args: A) => string, ...exprs: { [K in keyof A]: string }): string {
  const markers = exprs.map((_, i) => `\uE000${i}\uE000`) as unknown as A;
  const text = message(...markers);
  const parts = text.split(/\uE000(\d+)\uE000/);
  const out: string[] = [];
  parts.forEach((part, i) => {
    if (i % 2 === 0) { if (part !== '') out.push(lit(part)); } else out.push(`(${exprs[Number(part)]})`);
  });
  return out.join(' + ');
}

/** `(has(self.a.b) ? self.a.b : 'x')` */
const orDefault = (field: string, fallback: string) => `(has(${field}) ? ${field} : ${lit(fallback)})`;

/**
 * At least 1s, for a string that matches DURATION_PATTERN, without `duration()` (which fails on
 * overflow): some h, m or s group is not zero, or the ms group is 1000 or more.
 */
const AT_LEAST_1S = `!self.matches(${lit(DURATION_PATTERN)}) || self.matches('[1-9][0-9]*(h|m([0-9]|$)|s)') || self.matches('[1-9][0-9]{3,}ms$')`;

const hasVersionLabel = (labels: string) => `(${VERSION_LABELS.map((k) => `${lit(k)} in ${labels}`).join(' || ')})`;
/** The version label validate.ts's versionLabel() picks (the first present), or ''. */
const versionKey = (labels: string) => VERSION_LABELS.reduceRight<string>((rest, k) => `(${lit(k)} in ${labels} ? ${lit(k)} : ${rest})`, "''");
/** checkAnalysis: the comparison (on unless disabled) or a template metric needs version labels. */
const NEEDS_VERSION_LABEL = 'has(self.analysis) && (!has(self.analysis.comparison) || !has(self.analysis.comparison.enabled) || self.analysis.comparison.enabled'
  + ' || (has(self.analysis.metrics) && self.analysis.metrics.exists(m, has(m.template))))';
const sameLabels = (a: string, b: string) => `(size(${a}) == size(${b}) && ${a}.all(k, k in ${b} && ${b}[k] == ${a}[k]))`;
const WEIGHT_TEXT = `[${Array.from({ length: 101 }, (_, i) => `'${i}'`).join(',')}]`;

const subsetName = (side: 'stable' | 'canary') => orDefault(`self.${side}.subset`, DEFAULT_SUBSETS[side]);

/**
 * The rules, by the path of the schema node they sit on, relative to spec: `a.b` is a property,
 * `a[]` the items of a list. crd.ts fails the generation when a path does not exist.
 */
export const CEL_RULES: Record<string, CelRule[]> = {
  '': [
    { rule: `${subsetName('stable')} != ${subsetName('canary')}`, messageExpression: celMessage(MESSAGES.subsetSameName, subsetName('stable')), fieldPath: '.canary.subset' },
    {
      rule: 'self.stable.labels.exists(k, k in self.canary.labels && self.canary.labels[k] != self.stable.labels[k])',
      messageExpression: `${sameLabels('self.stable.labels', 'self.canary.labels')} ? ${lit(MESSAGES.labelsSame)} : ${lit(MESSAGES.labelsOverlap)}`,
      fieldPath: '.canary.labels',
    },
    ...(['stable', 'canary'] as const).map((side) => ({
      rule: `!(${NEEDS_VERSION_LABEL}) || ${hasVersionLabel(`self.${side}.labels`)}`, message: MESSAGES.versionLabelMissing, fieldPath: `.${side}.labels`,
    })),
    {
      rule: `!(${NEEDS_VERSION_LABEL}) || ${versionKey('self.stable.labels')} == '' || ${versionKey('self.canary.labels')} == ''`
        + ` || self.stable.labels[${versionKey('self.stable.labels')}] != self.canary.labels[${versionKey('self.canary.labels')}]`,
      messageExpression: celMessage(MESSAGES.sameVersion, versionKey('self.canary.labels'), `self.canary.labels[${versionKey('self.canary.labels')}]`, versionKey('self.stable.labels')),
      fieldPath: '.canary.labels',
    },
    {
      rule: `!has(self.analysis) || !has(self.analysis.minRequests) || self.analysis.minRequests == 0 || (${hasVersionLabel('self.stable.labels')} && ${hasVersionLabel('self.canary.labels')})`,
      message: MESSAGES.minRequestsWithoutVersion, fieldPath: '.analysis.minRequests',
    },
  ],
  'service.name': [
    { rule: "size(self.split('.')) <= 2 || self.split('.')[2] == 'svc'", message: MESSAGES.serviceNameShape },
  ],
  strategy: [
    { rule: '!has(self.maxWeight) || has(self.stepWeight)', message: MESSAGES.maxWeightNeedsStepWeight, fieldPath: '.maxWeight' },
    {
      rule: '!has(self.maxWeight) || !has(self.stepWeight) || self.maxWeight >= self.stepWeight',
      messageExpression: celMessage(MESSAGES.maxWeightBelowStepWeight, `${WEIGHT_TEXT}[self.stepWeight]`), fieldPath: '.maxWeight',
    },
  ],
  'strategy.interval': [{ rule: AT_LEAST_1S, message: MESSAGES.atLeast1s }],
  'trafficRouting.virtualService': [
    ...(['name', 'hosts', 'gateways', 'match', 'http'] as const).map((f) => ({
      rule: `!has(self.ref) || !has(self.${f})`, message: MESSAGES.virtualServiceRefField, fieldPath: `.${f}`,
    })),
    { rule: 'has(self.ref) || !has(self.routes)', message: MESSAGES.routesNeedRef, fieldPath: '.routes' },
    {
      rule: "!has(self.hosts) || (has(self.gateways) && size(self.gateways) > 0 && !('mesh' in self.gateways)) || !self.hosts.exists(h, h.startsWith('*'))",
      messageExpression: celMessage(MESSAGES.meshWildcard, "self.hosts.filter(h, h.startsWith('*'))[0]"), fieldPath: '.hosts',
    },
  ],
  trafficRouting: [
    { rule: '!has(self.virtualService) || !has(self.virtualServices)', message: MESSAGES.virtualServicesWithSingular, fieldPath: '.virtualServices' },
    { rule: '!has(self.sessionAffinity) || !has(self.virtualService) || !has(self.virtualService.ref)', message: MESSAGES.affinityNeedsGeneratedRef, fieldPath: '.sessionAffinity' },
    { rule: '!has(self.sessionAffinity) || !has(self.virtualServices)', message: MESSAGES.affinityNeedsGeneratedList, fieldPath: '.sessionAffinity' },
  ],
  'trafficRouting.virtualServices': [
    {
      rule: 'self.all(v, self.exists_one(x, x.ref == v.ref))',
      messageExpression: celMessage(MESSAGES.virtualServiceRepeats, 'self.map(v, v.ref).filter(n, self.filter(x, x.ref == n).size() > 1)[0]'),
    },
  ],
  'trafficRouting.virtualServices[].routes': [
    { rule: 'self.all(r, self.exists_one(x, x == r))', message: MESSAGES.routesRepeat },
  ],
  'trafficRouting.sessionAffinity': [
    { rule: '!has(self.stableCookieName) || self.stableCookieName != self.cookieName', message: MESSAGES.cookieNamesSame, fieldPath: '.stableCookieName' },
    { rule: "!self.cookieName.matches('(?i)^__(secure|host)-')", message: MESSAGES.cookiePrefix, fieldPath: '.cookieName' },
    { rule: "!has(self.stableCookieName) || !self.stableCookieName.matches('(?i)^__(secure|host)-')", message: MESSAGES.cookiePrefix, fieldPath: '.stableCookieName' },
  ],
  'trafficRouting.virtualService.routes': [
    { rule: 'self.all(r, self.exists_one(x, x == r))', message: MESSAGES.routesRepeat },
  ],
  'trafficRouting.destinationRule': (['name', 'trafficPolicy'] as const).map((f) => ({
    rule: `!has(self.ref) || !has(self.${f})`, message: MESSAGES.destinationRuleRefField, fieldPath: `.${f}`,
  })),
  'analysis.checkInterval': [{ rule: AT_LEAST_1S, message: MESSAGES.atLeast1s }],
  'analysis.comparison.baselineWindow': [{ rule: AT_LEAST_1S, message: MESSAGES.atLeast1s }],
  'analysis.prometheus': [
    { rule: '!has(self.provider) || !has(self.address)', message: MESSAGES.providerAndAddress },
    { rule: '!has(self.auth) || !has(self.auth.file)', message: MESSAGES.authFile, fieldPath: '.auth.file' },
    { rule: '!has(self.auth) || has(self.auth.file) || !has(self.auth.secretRef)', message: MESSAGES.authSecret, fieldPath: '.auth.secretRef' },
    { rule: '!has(self.auth) || has(self.auth.file) || has(self.auth.secretRef)', message: MESSAGES.auth, fieldPath: '.auth' },
  ],
  'analysis.prometheus.timeout': [
    { rule: AT_LEAST_1S, message: MESSAGES.atLeast1s },
    // duration() fails on a number past int64 nanoseconds; ten digits are past 60s anyway, and
    // left to the controller, which says "must be at most 60s".
    { rule: `!self.matches(${lit(DURATION_PATTERN)}) || self.matches('[0-9]{10,}') || duration(self) <= duration('60s')`, message: MESSAGES.atMost1m },
  ],
  'analysis.metrics': [
    {
      rule: 'self.all(m, self.exists_one(x, x.name == m.name))',
      messageExpression: celMessage(MESSAGES.metricNameRepeats, 'self.map(m, m.name).filter(n, self.filter(x, x.name == n).size() > 1)[0]'),
    },
  ],
  'analysis.metrics[]': [
    { rule: 'has(self.template) != has(self.query)', message: MESSAGES.templateOrQuery },
    { rule: 'has(self.max) || has(self.min)', message: MESSAGES.maxOrMin },
    { rule: '!has(self.max) || !has(self.min) || self.min <= self.max', message: MESSAGES.minAboveMax, fieldPath: '.min' },
    { rule: "!has(self.template) || self.template != 'istio-slow-requests' || !has(self.min)", message: MESSAGES.slowRequestsMin, fieldPath: '.min' },
    { rule: "!has(self.template) || self.template != 'istio-slow-requests' || (has(self.max) && self.max > 0.0)", message: MESSAGES.slowRequestsMax, fieldPath: '.max' },
  ],
};

type Json = Record<string, unknown>;

/** Adds CEL_RULES to the spec's structural schema; throws when a rule's path is not in it. */
export function withCelRules(spec: Json, rules: Record<string, CelRule[]> = CEL_RULES): Json {
  for (const [path, list] of Object.entries(rules)) {
    let node: Json = spec;
    for (const part of path === '' ? [] : path.split('.')) {
      const items = part.endsWith('[]');
      const name = items ? part.slice(0, -2) : part;
      const next = (node.properties as Record<string, Json> | undefined)?.[name];
      if (!next) throw new Error(`CEL rules for spec.${path}: no such field in the schema`);
      node = items ? (next.items as Json) : next;
      if (!node) throw new Error(`CEL rules for spec.${path}: ${name} is not a list`);
    }
    node['x-kubernetes-validations'] = [...((node['x-kubernetes-validations'] as CelRule[] | undefined) ?? []), ...list];
  }
  return spec;
}

/**
 * spec.strategy.steps, seen by a ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1), to
 * which an untyped field is CEL's dyn: steps ascend, a pause is longer than 0s, steps or
 * stepWeight and not both. Its messages carry their field path (a policy names no field), as
 * `path: message` of fledge validate. Judged only when the spec changes (matchConditions), so a
 * Rollout stored before the policy can still be paused, annotated or deleted: the controller
 * marks it Invalid meanwhile. Steps of another shape (a string, a fraction) are left to the
 * controller too, whose messages depend on zod's.
 */
export function stepsAdmissionPolicy(name: string): Json[] {
  const steps = 'variables.steps';
  const weights = 'variables.weights';
  const firstDrop = `${weights}.transformList(i, w, i > 0 && w < ${weights}[i - 1], i)[0]`;
  const zeroPause = `type(s) == map && 'pause' in s && type(s.pause) == string && s.pause != 'manual' && s.pause.matches(${lit(DURATION_PATTERN)}) && !s.pause.matches('[1-9]')`;
  const firstZeroPause = `${steps}.transformList(i, s, ${zeroPause}, i)[0]`;
  const strategy = 'object.spec.strategy';
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: [{ apiGroups: [GROUP], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: [PLURAL] }] },
        matchConditions: [{ name: 'spec-changed', expression: 'oldObject == null || object.spec != oldObject.spec' }],
        variables: [
          { name: 'steps', expression: `has(${strategy}.steps) && type(${strategy}.steps) == list ? ${strategy}.steps : []` },
          { name: 'weights', expression: `${steps}.map(s, type(s) == int ? s : (type(s) == map && 'weight' in s && type(s.weight) == int ? s.weight : -1))` },
        ],
        validations: [
          {
            expression: `${weights}.exists(w, w < 0 || w > 100) || ${weights}.all(i, w, i == 0 || w >= ${weights}[i - 1])`,
            messageExpression: `'spec.strategy.steps[' + string(${firstDrop}) + ']: ' + ${celMessage(MESSAGES.stepsDescend, `string(${weights}[${firstDrop} - 1])`)}`,
          },
          { expression: `${steps}.all(s, !(${zeroPause}))`, messageExpression: `'spec.strategy.steps[' + string(${firstZeroPause}) + '].pause: ' + ${lit(MESSAGES.pauseZero)}` },
          { expression: `!(has(${strategy}.steps) && has(${strategy}.stepWeight))`, message: `spec.strategy: ${MESSAGES.stepsAndStepWeight}` },
          { expression: `has(${strategy}.steps) || has(${strategy}.stepWeight)`, message: `spec.strategy: ${MESSAGES.noSteps}` },
        ],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name },
      spec: { policyName: name, validationActions: ['Deny'] },
    },
  ];
}
