import type { z } from 'zod';
import { DEFAULT_SUBSETS } from './constants.ts';
import { parseDuration } from './duration.ts';
import { prometheusProblems, type PrometheusPolicy } from './prometheus-policy.ts';
import { MESSAGES, VERSION_LABELS } from './messages.ts';
import { stepKindProblems } from './step-kinds.ts';
import { HTTP_EXTRA_FIELDS, RolloutSchema, type Labels, type Rollout, type RolloutSpec } from './schema.ts';

export interface Problem {
  /** Field path as users write it: `spec.strategy.steps[2]`. */
  path: string;
  message: string;
}

export type ParseResult = { ok: true; rollout: Rollout } | { ok: false; problems: Problem[] };

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out;
}

export interface ParseOptions {
  /** The controller's Prometheus configuration; absent (offline), the default one is assumed. */
  prometheus?: PrometheusPolicy;
}

/** Parse and check a Rollout object; never throws on bad input. */
export function parseRollout(input: unknown, opts: ParseOptions = {}): ParseResult {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, problems: [{ path: '(document)', message: 'must be a Rollout object' }] };
  }
  // reportInput: without it zod leaves `issue.input` unset, and every wrong type read as missing.
  const parsed = RolloutSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) return { ok: false, problems: dedupe(parsed.error.issues.flatMap((i) => issueProblems(i, []))) };
  const problems = crossFieldProblems(parsed.data, opts);
  return problems.length ? { ok: false, problems } : { ok: true, rollout: parsed.data };
}

/**
 * A union reports the errors of every branch; only the branch whose shape the value has is
 * useful to a person (a number step is judged as a number, an object step as an object).
 */
function issueProblems(issue: z.core.$ZodIssue, prefix: readonly PropertyKey[]): Problem[] {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // A branch of the wrong base type is no candidate; one that failed only `.int()` is (zod 4
    // reports that as invalid_type too, with expected 'int').
    // An object branch that does not know one of the object's keys is another kind of step.
    const branches = issue.errors.filter((b) => !b.some((i) => (i.code === 'invalid_type' && i.path.length === 0 && i.expected !== 'int') || (i.code === 'unrecognized_keys' && i.path.length === 0)));
    // Several left (an object naming none of weight, match, mirror): the first, the plain weight step.
    const chosen = branches[0];
    if (chosen) return chosen.flatMap((i) => issueProblems(i, path));
    return [{ path: formatPath(path), message: 'must be a weight (0..100), {weight, pause}, {match: [...], pause} or {mirror: percent, pause}' }];
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return [{ path: formatPath(path), message: 'is required' }];
  }
  if (issue.code === 'invalid_key' && issue.issues.length > 0) {
    // A bad map key: say what is wrong with the key, not with the map.
    return issue.issues.map((i) => ({ path: formatPath(path), message: i.message }));
  }
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => ({ path: formatPath([...path, k]), message: 'is not a known field' }));
  }
  return [{ path: formatPath(path), message: issue.message }];
}

/** The problems without repeats (same path and message), in their first order. */
export function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\0${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function crossFieldProblems(rollout: Rollout, opts: ParseOptions = {}): Problem[] {
  const spec = rollout.spec;
  const problems: Problem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });

  checkSubsets(spec, add);
  checkStrategy(spec, add);
  checkRouting(spec, rollout.metadata.namespace ?? 'default', add);
  checkSessionAffinity(spec, add);
  checkAnalysis(spec, add);
  problems.push(...prometheusProblems(spec, rollout.metadata.namespace ?? 'default', opts.prometheus));
  checkServiceNamespace(spec.service.name, rollout.metadata.namespace ?? 'default', add);
  return problems;
}

type Add = (path: string, message: string) => void;

function checkSubsets(spec: RolloutSpec, add: Add): void {
  const stableName = spec.stable.subset ?? DEFAULT_SUBSETS.stable;
  const canaryName = spec.canary.subset ?? DEFAULT_SUBSETS.canary;
  if (stableName === canaryName) add('spec.canary.subset', MESSAGES.subsetSameName(stableName));
  if (!labelsDisjoint(spec.stable.labels, spec.canary.labels)) {
    add('spec.canary.labels', sameLabels(spec.stable.labels, spec.canary.labels)
      ? MESSAGES.labelsSame
      : MESSAGES.labelsOverlap);
  }
}

export { VERSION_LABELS };

export function versionLabel(labels: Labels): { key: (typeof VERSION_LABELS)[number]; value: string } | undefined {
  for (const key of VERSION_LABELS) if (labels[key] !== undefined) return { key, value: labels[key]! };
  return undefined;
}

/** Two selectors can never match the same pod only if they disagree on a key both name. */
export function labelsDisjoint(a: Labels, b: Labels): boolean {
  return Object.entries(a).some(([k, v]) => k in b && b[k] !== v);
}

export function sameLabels(a: Labels, b: Labels): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
}

function checkStrategy(spec: RolloutSpec, add: Add): void {
  const s = spec.strategy;
  if (s.steps && s.stepWeight !== undefined) add('spec.strategy', MESSAGES.stepsAndStepWeight);
  if (!s.steps && s.stepWeight === undefined) add('spec.strategy', MESSAGES.noSteps);
  if (s.maxWeight !== undefined && s.stepWeight === undefined) add('spec.strategy.maxWeight', MESSAGES.maxWeightNeedsStepWeight);
  if (s.maxWeight !== undefined && s.stepWeight !== undefined && s.maxWeight < s.stepWeight) {
    add('spec.strategy.maxWeight', MESSAGES.maxWeightBelowStepWeight(String(s.stepWeight)));
  }
  let previous = -1;
  (s.steps ?? []).forEach((step, i) => {
    if (typeof step !== 'number' && !('weight' in step)) return;
    const w = typeof step === 'number' ? step : step.weight;
    if (w < previous) add(`spec.strategy.steps[${i}]`, MESSAGES.stepsDescend(previous));
    previous = Math.max(previous, w);
  });
  (s.steps ?? []).forEach((step, i) => {
    if (typeof step !== 'number' && step.pause !== undefined && step.pause !== 'manual' && !(parseDuration(step.pause)! > 0)) {
      add(`spec.strategy.steps[${i}].pause`, MESSAGES.pauseZero);
    }
  });
  for (const p of stepKindProblems(spec)) add(p.path, p.message);
  if (s.interval !== undefined && !(parseDuration(s.interval)! >= 1000)) add('spec.strategy.interval', MESSAGES.atLeast1s);
}

function checkRouting(spec: RolloutSpec, namespace: string, add: Add): void {
  const vs = spec.trafficRouting?.virtualService;
  const base = 'spec.trafficRouting.virtualService';
  if (vs?.ref !== undefined) {
    for (const field of ['name', 'hosts', 'gateways', 'match', 'http'] as const) {
      if (vs[field] !== undefined) add(`${base}.${field}`, MESSAGES.virtualServiceRefField);
    }
  } else if (vs?.routes !== undefined) {
    add(`${base}.routes`, MESSAGES.routesNeedRef);
  }
  for (const key of Object.keys(vs?.http ?? {})) {
    if (!(HTTP_EXTRA_FIELDS as readonly string[]).includes(key)) {
      add(`${base}.http.${key}`, `is not a route field Fledge passes through (allowed: ${HTTP_EXTRA_FIELDS.join(', ')})`);
    }
  }
  if (vs?.routes && new Set(vs.routes).size !== vs.routes.length) add(`${base}.routes`, MESSAGES.routesRepeat);
  const list = spec.trafficRouting?.virtualServices;
  if (list && vs) add('spec.trafficRouting.virtualServices', MESSAGES.virtualServicesWithSingular);
  const seen = new Set<string>();
  list?.forEach((e, i) => {
    if (seen.has(e.ref)) add(`spec.trafficRouting.virtualServices[${i}].ref`, MESSAGES.virtualServiceRepeats(e.ref));
    seen.add(e.ref);
    if (e.routes && new Set(e.routes).size !== e.routes.length) add(`spec.trafficRouting.virtualServices[${i}].routes`, MESSAGES.routesRepeat);
  });
  checkHosts(vs?.hosts ?? [], vs?.gateways, namespace, add);
  const dr = spec.trafficRouting?.destinationRule;
  if (dr?.ref !== undefined) {
    for (const field of ['name', 'trafficPolicy'] as const) {
      if (dr[field] !== undefined) add(`spec.trafficRouting.destinationRule.${field}`, MESSAGES.destinationRuleRefField);
    }
  }
}

/**
 * Sticky sessions are routes Fledge adds ahead of the weighted one, matched on the Cookie header
 * (router/istio/affinity.ts): only in a VirtualService Fledge generates, and never beside a match
 * of the Rollout's own on that header (an HTTPMatchRequest holds one condition per header).
 */
function checkSessionAffinity(spec: RolloutSpec, add: Add): void {
  const a = spec.trafficRouting?.sessionAffinity;
  if (!a) return;
  const at = 'spec.trafficRouting.sessionAffinity';
  const vs = spec.trafficRouting?.virtualService;
  if (vs?.ref !== undefined) {
    add(at, MESSAGES.affinityNeedsGeneratedRef);
  }
  if (spec.trafficRouting?.virtualServices) {
    add(at, MESSAGES.affinityNeedsGeneratedList);
  }
  const stable = a.stableCookieName ?? `${a.cookieName}-stable`;
  if (stable === a.cookieName) add(`${at}.stableCookieName`, MESSAGES.cookieNamesSame);
  for (const [field, name] of [['cookieName', a.cookieName], ['stableCookieName', a.stableCookieName]] as const) {
    if (name !== undefined && /^__(secure|host)-/i.test(name)) {
      add(`${at}.${field}`, MESSAGES.cookiePrefix);
    }
  }
  const response = (vs?.http?.headers as { response?: { set?: unknown; remove?: unknown } } | undefined)?.response;
  const setCookie = (name: unknown) => typeof name === 'string' && name.toLowerCase() === 'set-cookie';
  for (const key of Object.keys(isObject(response?.set) ? response.set : {}).filter(setCookie)) {
    add(`spec.trafficRouting.virtualService.http.headers.response.set.${key}`, MESSAGES.cookieHeaderOverride);
  }
  (Array.isArray(response?.remove) ? response.remove : []).forEach((name, i) => {
    if (setCookie(name)) add(`spec.trafficRouting.virtualService.http.headers.response.remove[${i}]`, MESSAGES.cookieHeaderOverride);
  });
  (vs?.match ?? []).forEach((m, i) => {
    const headers = m.headers;
    if (headers && typeof headers === 'object' && Object.keys(headers).some((h) => h.toLowerCase() === 'cookie')) {
      add(`spec.trafficRouting.virtualService.match[${i}].headers.cookie`, 'cannot be matched with sessionAffinity: Fledge\'s sticky routes match the Cookie header themselves');
    }
  });
}

function checkAnalysis(spec: RolloutSpec, add: Add): void {
  const a = spec.analysis;
  if (!a) return;
  const metrics = a.metrics ?? [];
  for (const [path, text] of [['prometheus.timeout', a.prometheus?.timeout], ['checkInterval', a.checkInterval], ['comparison.baselineWindow', a.comparison?.baselineWindow]] as const) {
    if (text !== undefined && !(parseDuration(text)! >= 1000)) add(`spec.analysis.${path}`, MESSAGES.atLeast1s);
  }
  const needsVersionLabel = a.comparison?.enabled !== false || metrics.some((m) => m.template !== undefined);
  if (needsVersionLabel) {
    for (const side of ['stable', 'canary'] as const) {
      if (!versionLabel(spec[side].labels)) {
        add(`spec.${side}.labels`, MESSAGES.versionLabelMissing);
      }
    }
    // Equal versions select the same series: the canary would be measured on stable's traffic too.
    const s = versionLabel(spec.stable.labels);
    const c = versionLabel(spec.canary.labels);
    if (s && c && s.value === c.value) {
      add('spec.canary.labels', MESSAGES.sameVersion(c.key, c.value, s.key));
    }
  }
  checkRequestCountsWithoutVersionLabels(spec, add);
  checkSlowRequestsMetrics(spec, add);
  const names = new Set<string>();
  metrics.forEach((m, i) => {
    const at = `spec.analysis.metrics[${i}]`;
    if (names.has(m.name)) add(`${at}.name`, MESSAGES.metricNameRepeats(m.name));
    names.add(m.name);
    if ((m.template === undefined) === (m.query === undefined)) add(at, MESSAGES.templateOrQuery);
    if (m.max === undefined && m.min === undefined) add(at, MESSAGES.maxOrMin);
    if (m.max !== undefined && m.min !== undefined && m.min > m.max) add(`${at}.min`, MESSAGES.minAboveMax);
  });
}

/**
 * minRequests counts each subset's requests in Istio's metrics by its version label: without one
 * on both subsets there is nothing to count, and a step would wait for requests forever.
 */
function checkRequestCountsWithoutVersionLabels(spec: RolloutSpec, add: Add): void {
  const n = spec.analysis?.minRequests;
  if (n === undefined || n === 0 || (versionLabel(spec.stable.labels) && versionLabel(spec.canary.labels))) return;
  add('spec.analysis.minRequests', MESSAGES.minRequestsWithoutVersion);
}

/** istio-slow-requests: `max` is the latency bound in ms (requests slower than it are counted). */
function checkSlowRequestsMetrics(spec: RolloutSpec, add: Add): void {
  (spec.analysis?.metrics ?? []).forEach((m, i) => {
    if (m.template !== 'istio-slow-requests') return;
    const at = `spec.analysis.metrics[${i}]`;
    if (m.min !== undefined) add(`${at}.min`, MESSAGES.slowRequestsMin);
    if (m.max === undefined || !(m.max > 0)) add(`${at}.max`, MESSAGES.slowRequestsMax);
  });
}

/**
 * A VirtualService's hosts decide whose traffic it steers, mesh-wide: like spec.service.name, a
 * host naming a Service of another namespace (`name.ns.svc...`) is refused. On the mesh, so is
 * every wildcard (the cluster domain is not known offline: `*.cluster.local`, or `*.corp` for a
 * cluster domain `corp`, covers every Service, and any wildcard covers other workloads' external
 * names) and a two-label `name.ns` of another namespace (inside the mesh that is the Service's
 * name: Kubernetes DNS search paths, and the domains Istio's sidecars answer for it).
 * External hosts (`shop.example.com`) stay allowed, and wildcards on a Gateway only: a Gateway's
 * own `hosts` (namespace/host) say which namespaces may bind which names to it.
 */
function checkHosts(hosts: readonly string[], gateways: readonly string[] | undefined, namespace: string, add: Add): void {
  const onMesh = gateways === undefined || gateways.length === 0 || gateways.includes('mesh');
  hosts.forEach((host, i) => {
    const at = `spec.trafficRouting.virtualService.hosts[${i}]`;
    const parts = host.toLowerCase().split('.');
    const svc = parts.indexOf('svc');
    if (host.startsWith('*') && onMesh) {
      add(at, MESSAGES.meshWildcard(host));
    } else if (svc === 2 && parts[1] !== namespace) {
      add(at, `names a Service in namespace "${parts[1]}"; a Rollout in "${namespace}" may route only its own namespace`);
    } else if (svc >= 0 && (svc !== 2 || parts[0]!.includes('*'))) {
      add(at, MESSAGES.clusterHostShape);
    } else if (onMesh && parts.length === 2 && parts[1] !== namespace) {
      add(at, `on the mesh ${host} names Service "${parts[0]}" of namespace "${parts[1]}" (Kubernetes DNS and Istio's sidecars read name.namespace so); a Rollout in "${namespace}" may route only its own namespace (an external name of two labels can be bound to a Gateway only)`);
    }
  });
}

/** A Rollout may route only its own namespace's Service: a FQDN naming another one is refused. */
function checkServiceNamespace(name: string, namespace: string, add: Add): void {
  const parts = name.split('.');
  if (parts.length < 2) return;
  const [, ns, svc] = parts;
  if (parts.length > 2 && svc !== 'svc') {
    add('spec.service.name', MESSAGES.serviceNameShape);
    return;
  }
  if (ns !== namespace) add('spec.service.name', `names a Service in namespace "${ns}"; a Rollout in "${namespace}" may route only its own namespace`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
