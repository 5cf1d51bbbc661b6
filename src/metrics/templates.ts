/**
 * PromQL for canary analysis, rendered from a Rollout. Pure: no I/O.
 *
 * Series: Istio's standard metrics as reported by the destination sidecar (reporter="destination"),
 * selected by the Service's short name and namespace and by the subset's version label, which
 * Istio copies from the pod labels `version` / `app.kubernetes.io/version` (destination_version)
 * or `service.istio.io/canonical-revision` (destination_canonical_revision).
 *
 * Windows are whole seconds and at least MIN_WINDOW_SECONDS (10 s). increase()/rate() need two
 * samples inside the window: the local test Prometheus scrapes every 1 s, so 10 s is plenty there,
 * but production Prometheus usually scrapes Envoy every 15-30 s, where a window shorter than two
 * scrape intervals (30-60 s) often holds one sample and gives no data. No data is inconclusive,
 * never a failure, so a short window only delays a verdict; prefer windows of >= 4 scrape intervals.
 *
 * Every value put into a query is escaped as the body of a PromQL double-quoted string, and user
 * queries may place label/service/namespace variables only inside double-quoted strings, so a
 * value can never end the string and add PromQL of its own, even if it got past validation.
 */
import type { ResolvedRollout } from '../api/resolve.ts';
import type { Labels, MetricTemplate } from '../api/schema.ts';
import { versionLabel, type Problem } from '../api/validate.ts';

export const MIN_WINDOW_SECONDS = 10;

export interface QueryContext {
  /** The Service's short name: the first DNS label of spec.service.name. */
  service: string;
  namespace: string;
  stableLabels: Record<string, string>;
  canaryLabels: Record<string, string>;
  /** Integer seconds, >= MIN_WINDOW_SECONDS; see queryWindowSeconds(). */
  windowSeconds: number;
}

export type Subset = 'canary' | 'stable';

export interface MetricQuerySpec { name: string; template?: MetricTemplate; query?: string }

/** A query cannot be rendered: unknown variable, missing label, bad window... */
export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** The context for a Rollout's queries over a window of `windowSeconds`. */
export function queryContext(rollout: Pick<ResolvedRollout, 'service' | 'namespace' | 'stable' | 'canary'>, windowSeconds: number): QueryContext {
  return {
    service: rollout.service.name.split('.')[0] ?? rollout.service.name,
    namespace: rollout.namespace,
    stableLabels: rollout.stable.labels,
    canaryLabels: rollout.canary.labels,
    windowSeconds,
  };
}

/** A window for `elapsedSeconds` of a step: rounded up to whole seconds, never below the floor. */
export function queryWindowSeconds(elapsedSeconds: number): number {
  if (!Number.isFinite(elapsedSeconds)) return MIN_WINDOW_SECONDS;
  return Math.max(MIN_WINDOW_SECONDS, Math.ceil(elapsedSeconds));
}

/** The body of a PromQL double-quoted string holding `value`. */
export function escapePromQLString(value: string): string {
  return value.replace(/[\\"\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '"' ? '\\"' : c === '\n' ? '\\n' : '\\r'));
}

/** The PromQL for one metric of spec.analysis.metrics, for the canary. */
export function metricQuery(ctx: QueryContext, metric: MetricQuerySpec): string {
  if ((metric.template === undefined) === (metric.query === undefined)) {
    throw new TemplateError(`metric "${metric.name}": set exactly one of template or query`);
  }
  if (metric.query !== undefined) return renderUserQuery(ctx, metric.name, metric.query);
  const sel = trafficSelector(ctx, 'canary');
  const w = windowOf(ctx);
  switch (metric.template) {
    case 'istio-error-rate':
    case 'istio-request-count':
      // Shares of the traffic query's counts (derivedMetric in traffic.ts): no query of their own.
      throw new TemplateError(`metric "${metric.name}": ${metric.template} is read from the traffic query's counts, not a query of its own`);
    case 'istio-latency-p99':
      return `histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{${sel}}[${w}])))`;
    case 'istio-slow-requests':
      // A comparison of two subsets, not one number: its counts come with the traffic query.
      throw new TemplateError(`metric "${metric.name}": istio-slow-requests is judged from the traffic query's duration histograms, not a query of its own`);
    default:
      throw new TemplateError(`metric "${metric.name}": unknown template "${String(metric.template)}"`);
  }
}

/**
 * Problems with spec.analysis.metrics[].query that no data could ever fix (an unknown variable,
 * a variable outside its string, a backslash before one...), found by rendering each query once.
 * The controller marks such a Rollout Invalid instead of judging every step inconclusive.
 */
export function queryProblems(rollout: Pick<ResolvedRollout, 'service' | 'namespace' | 'stable' | 'canary' | 'analysis'>): Problem[] {
  const ctx = queryContext(rollout, MIN_WINDOW_SECONDS);
  return (rollout.analysis?.metrics ?? []).flatMap((m, i) => {
    if (m.query === undefined) return [];
    try {
      renderUserQuery(ctx, m.name, m.query);
      return [];
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      return [{ path: `spec.analysis.metrics[${i}].query`, message: err.message }];
    }
  });
}

const ISTIO_VERSION_LABEL = {
  'version': 'destination_version',
  'app.kubernetes.io/version': 'destination_version',
  'service.istio.io/canonical-revision': 'destination_canonical_revision',
} as const;

function labelsOf(ctx: QueryContext, subset: Subset): Labels {
  return subset === 'canary' ? ctx.canaryLabels : ctx.stableLabels;
}

/** The Istio metric label that carries a subset's version label; throws when it has none. */
export function istioVersionLabel(ctx: QueryContext, subset: Subset): string {
  const v = versionLabel(labelsOf(ctx, subset));
  if (!v) {
    throw new TemplateError(`the ${subset} labels have none of ${Object.keys(ISTIO_VERSION_LABEL).join(', ')}: Istio metrics cannot tell the ${subset} apart`);
  }
  return ISTIO_VERSION_LABEL[v.key];
}

const quoted = (s: string) => `"${escapePromQLString(s)}"`;

/** The label matchers of every Istio series of the Service, whoever reports them (no braces). */
export function serviceSelector(ctx: QueryContext): string {
  return `destination_service_name=${quoted(ctx.service)},destination_service_namespace=${quoted(ctx.namespace)}`;
}

/** The label matchers of a subset's Istio series (no braces), as its own sidecars report them. */
export function trafficSelector(ctx: QueryContext, subset: Subset): string {
  const label = istioVersionLabel(ctx, subset);
  const v = versionLabel(labelsOf(ctx, subset))!;
  return [`reporter="destination"`, serviceSelector(ctx), `${label}=${quoted(v.value)}`].join(',');
}

/** The context's window as a PromQL duration, e.g. `90s`; refuses a window that is not whole seconds >= the floor. */
export function windowOf(ctx: QueryContext): string {
  const s = ctx.windowSeconds;
  if (!Number.isInteger(s) || s < MIN_WINDOW_SECONDS) {
    throw new TemplateError(`the query window must be whole seconds, at least ${MIN_WINDOW_SECONDS}s (got ${s}); use queryWindowSeconds()`);
  }
  return `${s}s`;
}

const VARIABLES = ['service', 'namespace', 'interval', 'canary.labels.<key>', 'stable.labels.<key>'];

/**
 * Substitutes {{service}}, {{namespace}}, {{interval}}, {{canary.labels.KEY}} and
 * {{stable.labels.KEY}} (spaces inside the braces allowed). {{interval}} is the window, e.g. 90s,
 * and may stand anywhere outside a string (it goes in a range: [{{interval}}]); the others are
 * strings and must stand inside a double-quoted PromQL string, e.g. destination_version="{{canary.labels.version}}".
 */
function renderUserQuery(ctx: QueryContext, metric: string, template: string): string {
  const fail = (msg: string): never => {
    throw new TemplateError(`metric "${metric}": ${msg}`);
  };
  let out = '';
  // Where we are in PromQL's lexical structure: outside, in a "..", '..' or `..` string, or a # comment.
  let state: 'code' | '"' | "'" | '`' | 'comment' = 'code';
  let i = 0;
  while (i < template.length) {
    if (template.startsWith('{{', i)) {
      const end = template.indexOf('}}', i + 2);
      if (end < 0) fail(`unclosed "{{" at offset ${i}`);
      const name = template.slice(i + 2, end).trim();
      const value = variable(ctx, name, fail);
      if (name === 'interval') {
        if (state !== 'code') fail('{{interval}} must stand outside strings and comments, as in [{{interval}}]');
        out += value;
      } else {
        if (state !== '"') fail(`{{${name}}} must stand inside a double-quoted string, e.g. label="{{${name}}}"`);
        out += escapePromQLString(value);
      }
      i = end + 2;
      continue;
    }
    const c = template[i]!;
    out += c;
    i++;
    if (state === 'code') {
      if (c === '"' || c === "'" || c === '`') state = c;
      else if (c === '#') state = 'comment';
    } else if (state === 'comment') {
      if (c === '\n') state = 'code';
    } else if (c === state) {
      state = 'code';
    } else if (c === '\\' && state !== '`' && i < template.length) {
      // A backslash would escape the escaping of the value that follows: refuse it.
      if (template.startsWith('{{', i)) fail(`a backslash must not precede a variable (offset ${i - 1})`);
      out += template[i]; // an escaped character cannot end the string
      i++;
    }
  }
  if (state === '"' || state === "'" || state === '`') fail(`unterminated ${state}-quoted string`);
  return out;
}

function variable(ctx: QueryContext, name: string, fail: (msg: string) => never): string {
  if (name === 'service') return ctx.service;
  if (name === 'namespace') return ctx.namespace;
  if (name === 'interval') return windowOf(ctx);
  const m = /^(canary|stable)\.labels\.(.+)$/.exec(name);
  if (m) {
    const subset = m[1] as Subset;
    const key = m[2]!;
    const labels = labelsOf(ctx, subset);
    if (!Object.hasOwn(labels, key)) {
      const known = Object.keys(labels);
      fail(`{{${name}}}: the ${subset} labels have no key "${key}" (they have ${known.length > 0 ? known.join(', ') : 'none'})`);
    }
    return labels[key]!;
  }
  return fail(`unknown variable {{${name}}} (known: ${VARIABLES.map((v) => `{{${v}}}`).join(', ')})`);
}
