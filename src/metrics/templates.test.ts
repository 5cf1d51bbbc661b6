import { describe, expect, it } from 'vitest';
import {
  MIN_WINDOW_SECONDS, TemplateError, escapePromQLString, metricQuery, queryContext, queryWindowSeconds, trafficSelector, windowOf,
  type QueryContext,
} from './templates.ts';
import { reviewsContext } from '../../test/support/query-context.ts';

const ctx: QueryContext = reviewsContext(90);
const SEL_V2 = 'reporter="destination",destination_service_name="reviews",destination_service_namespace="shop",destination_version="v2"';
const SEL_V1 = 'reporter="destination",destination_service_name="reviews",destination_service_namespace="shop",destination_version="v1"';
describe('trafficSelector and windowOf', () => {
  it.each([
    ['canary', SEL_V2],
    ['stable', SEL_V1],
  ] as const)('select the %s subset', (subset, sel) => {
    expect(trafficSelector(ctx, subset)).toBe(sel);
    expect(windowOf(ctx)).toBe('90s');
  });

  it.each([
    [{ 'app.kubernetes.io/version': '1.2.3' }, 'destination_version="1.2.3"'],
    [{ 'service.istio.io/canonical-revision': 'rev-7' }, 'destination_canonical_revision="rev-7"'],
    // versionLabel() prefers `version` when several are set
    [{ 'service.istio.io/canonical-revision': 'rev-7', version: 'v9' }, 'destination_version="v9"'],
  ])('selects the version from %j', (canaryLabels, matcher) => {
    expect(trafficSelector({ ...ctx, canaryLabels }, 'canary')).toContain(matcher);
  });

  it('refuses a subset without a version label', () => {
    expect(() => trafficSelector({ ...ctx, stableLabels: { app: 'reviews' } }, 'stable')).toThrow(/stable labels have none of version/);
  });

  it.each([0, 9, 10.5, Number.NaN, -10])('refuses the window %s', (windowSeconds) => {
    expect(() => windowOf({ ...ctx, windowSeconds })).toThrow(TemplateError);
  });
});

describe('metricQuery templates', () => {
  it.each([
    ['istio-latency-p99', `histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{${SEL_V2}}[90s])))`],
  ] as const)('%s', (template, expected) => {
    expect(metricQuery(ctx, { name: 'm', template })).toBe(expected);
  });

  it.each(['istio-slow-requests', 'istio-error-rate', 'istio-request-count'] as const)('%s has no query of its own: it comes with the traffic query', (template) => {
    expect(() => metricQuery(ctx, { name: 'm', template })).toThrow(/traffic query/);
  });

  it('needs exactly one of template or query', () => {
    expect(() => metricQuery(ctx, { name: 'm' })).toThrow(/exactly one/);
    expect(() => metricQuery(ctx, { name: 'm', template: 'istio-request-count', query: 'up' })).toThrow(/exactly one/);
  });
});

describe('metricQuery user queries', () => {
  const q = (query: string, c: QueryContext = ctx) => metricQuery(c, { name: 'mine', query });

  it.each([
    ['plain PromQL passes through', 'sum(up)', 'sum(up)'],
    ['service, namespace, interval', 'sum(rate(x{svc="{{service}}",ns="{{namespace}}"}[{{interval}}]))', 'sum(rate(x{svc="reviews",ns="shop"}[90s]))'],
    ['spaces inside braces', 'x{a="{{ service }}"}[{{ interval }}]', 'x{a="reviews"}[90s]'],
    ['canary and stable labels', 'a{v="{{canary.labels.version}}"} / b{v="{{stable.labels.version}}"}', 'a{v="v2"} / b{v="v1"}'],
    ['a label key with dots and slash', 'x{v="{{canary.labels.app.kubernetes.io/version}}"}', 'x{v="1.0"}'],
    ['variables inside a regex matcher', 'x{s=~"{{service}}|{{service}}-.*"}', 'x{s=~"reviews|reviews-.*"}'],
    ['several in one string', 'x{w="{{namespace}}/{{service}}"}', 'x{w="shop/reviews"}'],
    ['an escaped quote before a variable', 'x{a="say \\"{{service}}\\""}', 'x{a="say \\"reviews\\""}'],
    ['a single-quoted string is copied as is', "x{a='{'}", "x{a='{'}"],
  ])('%s', (_what, query, expected) => {
    const c = { ...ctx, canaryLabels: { ...ctx.canaryLabels, 'app.kubernetes.io/version': '1.0' } };
    expect(q(query, c)).toBe(expected);
  });

  it.each([
    ['an unknown variable', 'x{a="{{servce}}"}', /unknown variable \{\{servce\}\}/],
    ['a label the canary does not have', 'x{a="{{canary.labels.track}}"}', /canary labels have no key "track" \(they have app, version\)/],
    ['a label the stable does not have', 'x{a="{{stable.labels.app.kubernetes.io/version}}"}', /stable labels have no key "app.kubernetes.io\/version"/],
    ['an unclosed variable', 'x{a="{{service"}', /unclosed "\{\{"/],
    ['a string variable outside quotes', 'sum(x_{{service}})', /must stand inside a double-quoted string/],
    ['a string variable in single quotes', "x{a='{{service}}'}", /must stand inside a double-quoted string/],
    ['a string variable in a comment', 'x # {{service}}', /must stand inside a double-quoted string/],
    ['interval inside a string', 'x{a="{{interval}}"}', /outside strings/],
    ['a backslash before a variable', 'x{a="\\{{service}}"}', /backslash must not precede/],
    ['an unterminated string', 'x{a="{{service}}}', /unterminated "-quoted string/],
  ])('refuses %s', (_what, query, message) => {
    expect(() => q(query)).toThrow(TemplateError);
    expect(() => q(query)).toThrow(message);
  });

  it('names the metric in errors', () => {
    expect(() => q('{{nope}}')).toThrow(/metric "mine"/);
  });
});

describe('injection attempts come out escaped', () => {
  const attack = '"}[1m])) or vector(1) #';
  const evil: QueryContext = {
    service: attack,
    namespace: 'a\\"b\nc',
    stableLabels: { version: 'v1' },
    canaryLabels: { version: attack, track: 'x"\\' },
    windowSeconds: 60,
  };

  it.each([
    ['escapes backslash, quote, newline', 'a\\"b\nc\r', 'a\\\\\\"b\\nc\\r'],
    ['leaves ordinary values alone', 'reviews-v1.2_3', 'reviews-v1.2_3'],
  ])('escapePromQLString %s', (_what, value, expected) => {
    expect(escapePromQLString(value)).toBe(expected);
  });

  it('in the templates', () => {
    const out = metricQuery(evil, { name: 'm', template: 'istio-latency-p99' });
    expect(out).toContain('destination_service_name="\\"}[1m])) or vector(1) #"');
    expect(out).toContain('destination_version="\\"}[1m])) or vector(1) #"');
    expect(out).toContain('destination_service_namespace="a\\\\\\"b\\nc"');
    expect(out).not.toContain('\n');
    expectStringsBalanced(out);
  });

  it('in user queries', () => {
    const out = metricQuery(evil, { name: 'm', query: 'sum(rate(x{s="{{service}}",v="{{canary.labels.version}}",t="{{canary.labels.track}}"}[{{interval}}]))' });
    expect(out).toBe('sum(rate(x{s="\\"}[1m])) or vector(1) #",v="\\"}[1m])) or vector(1) #",t="x\\"\\\\"}[60s]))');
    expectStringsBalanced(out);
  });
});

/** Outside double-quoted strings only the query's own structure remains: the values stay inside. */
function expectStringsBalanced(promql: string): void {
  let inString = false;
  let outside = '';
  for (let i = 0; i < promql.length; i++) {
    const c = promql[i];
    if (inString && c === '\\') {
      i++;
      continue;
    }
    if (c === '"') inString = !inString;
    else if (!inString) outside += c;
  }
  expect(inString).toBe(false);
  expect(outside).not.toContain('vector(1)');
  expect(outside).not.toContain('#');
}

describe('windows and context', () => {
  it.each([
    [0, MIN_WINDOW_SECONDS],
    [3.2, 10],
    [10, 10],
    [10.01, 11],
    [90, 90],
    [Number.NaN, 10],
  ])('queryWindowSeconds(%s) = %s', (elapsed, expected) => {
    expect(queryWindowSeconds(elapsed)).toBe(expected);
  });

  it.each([
    ['reviews', 'reviews'],
    ['reviews.shop', 'reviews'],
    ['reviews.shop.svc.cluster.local', 'reviews'],
  ])('the service %s is queried as %s', (name, short) => {
    const c = queryContext({
      service: { name }, namespace: 'shop',
      stable: { subset: 'stable', labels: { version: 'v1' } }, canary: { subset: 'canary', labels: { version: 'v2' } },
    }, 30);
    expect(c).toEqual({ service: short, namespace: 'shop', stableLabels: { version: 'v1' }, canaryLabels: { version: 'v2' }, windowSeconds: 30 });
  });
});
