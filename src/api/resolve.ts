import {
  DEFAULT_CHECK_INTERVAL, DEFAULT_COMPARISON, DEFAULT_FAILURE_LIMIT, DEFAULT_INCONCLUSIVE_LIMIT, DEFAULT_INTERVAL, DEFAULT_MIN_REQUESTS,
  DEFAULT_SUBSETS,
} from './constants.ts';
import { parseDuration } from './duration.ts';
import { DEFAULT_COOKIE_AGE_SECONDS, type Labels, type MetricTemplate, type Rollout } from './schema.ts';
import { versionLabel, type Problem } from './validate.ts';

export interface ResolvedStep {
  /** The canary's share of the weighted route; a match or mirror step keeps the step before's (0 at first). */
  weight: number;
  /** A match step: Istio HTTPMatchRequests whose requests go to the canary from here on (see stepRouting). */
  match?: Record<string, unknown>[];
  /** A mirror step: percent of the (stable-bound) requests mirrored to the canary at this step. */
  mirror?: number;
  /** 'manual' waits for `fledge resume`; a number holds the step that long instead of the interval. */
  pause?: 'manual' | number;
}

export interface ResolvedSubset { subset: string; labels: Labels }

export type ResolvedVirtualService =
  | { mode: 'generated'; name: string; hosts: string[]; gateways?: string[]; match?: Record<string, unknown>[]; http?: Record<string, unknown> }
  | { mode: 'adopted'; name: string; routes?: string[] };

/** Sticky sessions: both cookie names and their lifetime (seconds), defaults filled in. */
export interface ResolvedSessionAffinity { cookieName: string; stableCookieName: string; maxAge: number }

export type ResolvedDestinationRule =
  | { mode: 'generated'; name: string; trafficPolicy?: Record<string, unknown> }
  | { mode: 'adopted'; name: string };

export interface ResolvedMetric {
  name: string;
  template?: MetricTemplate;
  query?: string;
  max?: number;
  min?: number;
}

/**
 * The Rollout's own words about Prometheus: a provider name, an address, or neither (the default
 * provider). What they may resolve to is the controller's configuration (prometheus-policy.ts).
 */
export interface ResolvedPrometheus {
  provider?: string;
  address?: string;
  /** Per attempt; absent: the provider's timeout. */
  timeoutMs?: number;
}

export interface ResolvedComparison {
  confidence: number;
  passConfidence: number;
  tolerance: number;
  relativeTolerance: number;
  baselineWindowMs: number;
}

export interface ResolvedAnalysis {
  prometheus: ResolvedPrometheus;
  metrics: ResolvedMetric[];
  /** Canary against stable error rates; absent when disabled. */
  comparison?: ResolvedComparison;
  failureLimit: number;
  minRequests: number;
  inconclusiveLimit: number;
  checkIntervalMs: number;
}

/** A valid Rollout with every default filled in: what the planner and the renderer read. */
export interface ResolvedRollout {
  name: string;
  namespace: string;
  uid?: string;
  generation: number;
  annotations: Record<string, string>;
  service: { name: string; port?: number };
  stable: ResolvedSubset;
  canary: ResolvedSubset;
  /** The VirtualService whose live weights are read back: `virtualServices[0]`. */
  virtualService: ResolvedVirtualService;
  /** Every VirtualService steered, in the order each step is written to them (adopted ones when more than one). */
  virtualServices: ResolvedVirtualService[];
  /** Whether the spec lists them (`trafficRouting.virtualServices`) rather than naming one. */
  virtualServicesListed?: boolean;
  destinationRule: ResolvedDestinationRule;
  sessionAffinity?: ResolvedSessionAffinity;
  steps: ResolvedStep[];
  intervalMs: number;
  analysis?: ResolvedAnalysis;
}

/** Fill in defaults. Only call on a Rollout that `parseRollout` accepted. */
export function resolveRollout(rollout: Rollout): ResolvedRollout {
  const { metadata, spec } = rollout;
  const vs = spec.trafficRouting?.virtualService ?? {};
  const list = spec.trafficRouting?.virtualServices;
  const virtualServices: ResolvedVirtualService[] = list
    ? list.map((e) => ({ mode: 'adopted', name: e.ref, ...(e.routes ? { routes: e.routes } : {}) }))
    : [vs.ref
        ? { mode: 'adopted', name: vs.ref, ...(vs.routes ? { routes: vs.routes } : {}) }
        : {
            mode: 'generated',
            name: vs.name ?? metadata.name,
            hosts: vs.hosts ?? [spec.service.name],
            ...(vs.gateways ? { gateways: vs.gateways } : {}),
            ...(vs.match && vs.match.length > 0 ? { match: vs.match } : {}),
            ...(vs.http && Object.keys(vs.http).length > 0 ? { http: vs.http } : {}),
          }];
  const dr = spec.trafficRouting?.destinationRule ?? {};
  const metrics = spec.analysis?.metrics ?? [];
  return {
    name: metadata.name,
    namespace: metadata.namespace ?? 'default',
    ...(metadata.uid ? { uid: metadata.uid } : {}),
    generation: metadata.generation ?? 0,
    annotations: metadata.annotations ?? {},
    service: { name: spec.service.name, ...(spec.service.port ? { port: spec.service.port } : {}) },
    stable: { subset: spec.stable.subset ?? DEFAULT_SUBSETS.stable, labels: spec.stable.labels },
    canary: { subset: spec.canary.subset ?? DEFAULT_SUBSETS.canary, labels: spec.canary.labels },
    virtualService: virtualServices[0]!,
    virtualServices,
    ...(list ? { virtualServicesListed: true } : {}),
    destinationRule: dr.ref
      ? { mode: 'adopted', name: dr.ref }
      : {
          mode: 'generated',
          name: dr.name ?? metadata.name,
          ...(dr.trafficPolicy && Object.keys(dr.trafficPolicy).length > 0 ? { trafficPolicy: dr.trafficPolicy } : {}),
        },
    ...resolveSessionAffinity(spec.trafficRouting?.sessionAffinity),
    steps: resolveSteps(spec.strategy),
    intervalMs: parseDuration(spec.strategy.interval ?? DEFAULT_INTERVAL) ?? 60_000,
    ...resolveAnalysis(spec.analysis, metrics, { stable: spec.stable.labels, canary: spec.canary.labels }),
  };
}

function resolveSessionAffinity(a: NonNullable<Rollout['spec']['trafficRouting']>['sessionAffinity']): { sessionAffinity?: ResolvedSessionAffinity } {
  if (!a) return {};
  return { sessionAffinity: { cookieName: a.cookieName, stableCookieName: a.stableCookieName ?? `${a.cookieName}-stable`, maxAge: a.maxAge ?? DEFAULT_COOKIE_AGE_SECONDS } };
}

function resolveAnalysis(
  a: Rollout['spec']['analysis'], metrics: NonNullable<NonNullable<Rollout['spec']['analysis']>['metrics']>, subsets: { stable: Labels; canary: Labels },
): { analysis?: ResolvedAnalysis } {
  const comparisonOn = a?.comparison?.enabled !== false;
  if (!a || (metrics.length === 0 && !comparisonOn)) return {};
  const p = a.prometheus ?? {};
  return {
    analysis: {
      prometheus: {
        ...(p.provider !== undefined ? { provider: p.provider } : {}),
        ...(p.address !== undefined ? { address: p.address.replace(/\/+$/, '') } : {}),
        ...(p.timeout !== undefined ? { timeoutMs: parseDuration(p.timeout) ?? 5000 } : {}),
      },
      metrics: metrics.map((m) => ({ ...m })),
      ...(comparisonOn
        ? {
            comparison: {
              confidence: a.comparison?.confidence ?? DEFAULT_COMPARISON.confidence,
              passConfidence: a.comparison?.passConfidence ?? DEFAULT_COMPARISON.passConfidence,
              tolerance: a.comparison?.tolerance ?? DEFAULT_COMPARISON.tolerance,
              relativeTolerance: a.comparison?.relativeTolerance ?? DEFAULT_COMPARISON.relativeTolerance,
              baselineWindowMs: parseDuration(a.comparison?.baselineWindow ?? DEFAULT_COMPARISON.baselineWindow) ?? 600_000,
            },
          }
        : {}),
      failureLimit: a.failureLimit ?? DEFAULT_FAILURE_LIMIT,
      minRequests: a.minRequests ?? defaultMinRequests(subsets),
      inconclusiveLimit: a.inconclusiveLimit ?? DEFAULT_INCONCLUSIVE_LIMIT,
      checkIntervalMs: parseDuration(a.checkInterval ?? DEFAULT_CHECK_INTERVAL) ?? 10_000,
    },
  };
}

/**
 * minRequests counts each subset's requests in Istio's metrics, which needs a version label on
 * both subsets; without one (analysis by `query` metrics alone) nothing can be counted, so the
 * default is 0 and a query's NaN on no traffic is what holds a step (validate refuses more).
 */
function defaultMinRequests(subsets: { stable: Labels; canary: Labels }): number {
  return versionLabel(subsets.stable) && versionLabel(subsets.canary) ? DEFAULT_MIN_REQUESTS : 0;
}

export function resolveSteps(strategy: Rollout['spec']['strategy']): ResolvedStep[] {
  if (strategy.steps) {
    let weight = 0;
    return strategy.steps.map((s) => {
      if (typeof s === 'number') return { weight: (weight = s) };
      const pause = s.pause === undefined ? {} : { pause: s.pause === 'manual' ? 'manual' as const : (parseDuration(s.pause) ?? 0) };
      if ('match' in s) return { weight, match: s.match, ...pause };
      if ('mirror' in s) return { weight, mirror: s.mirror, ...pause };
      return { weight: (weight = s.weight), ...pause };
    });
  }
  const step = strategy.stepWeight ?? 100;
  const max = strategy.maxWeight ?? 100;
  const steps: ResolvedStep[] = [];
  for (let w = step; w < max; w += step) steps.push({ weight: w });
  steps.push({ weight: max });
  return steps;
}

/**
 * The Rollout as seen from its `index`th VirtualService: what the router's single-VirtualService
 * functions (ownership, adopted shape, weights patch) are given once per entry.
 */
export function withVirtualService(r: ResolvedRollout, index: number): ResolvedRollout {
  const vs = r.virtualServices[index];
  if (!vs) throw new RangeError(`no VirtualService ${index}`);
  return index === 0 ? r : { ...r, virtualService: vs };
}

/**
 * Problems the router found about the Rollout's `index`th VirtualService, named by the field that
 * holds it: `spec.trafficRouting.virtualServices[index]` in the list form (the router speaks of
 * `spec.trafficRouting.virtualService`, the singular form).
 */
export function atVirtualService(r: ResolvedRollout, index: number, problems: readonly Problem[]): Problem[] {
  if (!r.virtualServicesListed) return [...problems];
  const singular = 'spec.trafficRouting.virtualService';
  const entry = `spec.trafficRouting.virtualServices[${index}]`;
  return problems.map((p) => {
    const rest = p.path.slice(singular.length);
    if (!p.path.startsWith(singular) || (rest !== '' && !rest.startsWith('.'))) return p;
    return { ...p, path: entry + rest };
  });
}
