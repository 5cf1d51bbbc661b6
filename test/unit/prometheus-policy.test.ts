/**
 * Which Prometheus a Rollout may make the controller query (src/api/prometheus-policy.ts), and
 * the provider configuration it is judged against (src/metrics/provider-config.ts).
 */
import { describe, expect, it } from 'vitest';
import { choosePrometheus, normalizeAddress, prometheusProblems, type PrometheusPolicy } from '../../src/api/prometheus-policy.ts';
import type { RolloutSpec } from '../../src/api/schema.ts';
import { parseRollout } from '../../src/api/validate.ts';
import { policyOf, prometheusConfig, ProviderConfigError } from '../../src/metrics/provider-config.ts';
import { minimalRollout } from './fixtures.ts';

const POLICY: PrometheusPolicy = {
  providers: [
    { name: 'default', address: 'http://prometheus.istio-system:9090' },
    { name: 'thanos', address: 'https://thanos.example.com/prom' },
    { name: 'team-a', address: 'http://prometheus.team-a:9090', namespaces: ['team-a'] },
  ],
  allowedAddresses: ['http://prometheus.legacy:9090'],
};
const NO_DEFAULT: PrometheusPolicy = { providers: POLICY.providers.slice(1), allowedAddresses: [] };
const NOTHING: PrometheusPolicy = { providers: [], allowedAddresses: [] };

describe('normalizeAddress', () => {
  it.each<[string, string | undefined]>([
    ['http://p:9090', 'http://p:9090'],
    ['http://p:9090/', 'http://p:9090'],
    ['http://P.Example.COM:9090//', 'http://p.example.com:9090'],
    ['http://p:80/prom/', 'http://p/prom'],
    ['https://p:443', 'https://p'],
    ['http://127.0.0.1:18999/latest/meta-data', 'http://127.0.0.1:18999/latest/meta-data'],
    ['http://user:pw@p:9090', undefined],
    ['http://p:9090/?x=1', undefined],
    ['http://p:9090/#x', undefined],
    ['file:///etc/passwd', undefined],
    ['gopher://p', undefined],
    ['p:9090', undefined],
  ])('%s -> %s', (address, expected) => {
    expect(normalizeAddress(address)).toBe(expected);
  });
});

describe('choosePrometheus', () => {
  it.each<[string, Parameters<typeof choosePrometheus>[0], string, PrometheusPolicy, unknown]>([
    ['no block: the default provider', undefined, 'shop', POLICY, { provider: 'default' }],
    ['a provider by name', { provider: 'thanos' }, 'shop', POLICY, { provider: 'thanos' }],
    ['a namespaced provider, in its namespace', { provider: 'team-a' }, 'team-a', POLICY, { provider: 'team-a' }],
    ['a provider\'s own address: that provider, with its credentials', { address: 'https://THANOS.example.com/prom/' }, 'shop', POLICY, { provider: 'thanos' }],
    ['an allowed address: no provider, no credentials', { address: 'http://prometheus.legacy:9090/' }, 'shop', POLICY, { address: 'http://prometheus.legacy:9090' }],
  ])('%s', (_what, p, ns, policy, expected) => {
    expect(choosePrometheus(p, ns, policy)).toEqual(expected);
  });

  it.each<[string, Parameters<typeof choosePrometheus>[0], string, PrometheusPolicy, string, RegExp]>([
    ['an address outside the allowed set', { address: 'http://127.0.0.1:18999/latest/meta-data' }, 'shop', POLICY, 'spec.analysis.prometheus.address', /is not a Prometheus this controller may query.*allowedAddresses in the controller's --prometheus-config/],
    ['a path below an allowed address', { address: 'http://prometheus.legacy:9090/admin' }, 'shop', POLICY, 'spec.analysis.prometheus.address', /not a Prometheus this controller may query/],
    ['another port of an allowed host', { address: 'http://prometheus.legacy:9091' }, 'shop', POLICY, 'spec.analysis.prometheus.address', /not a Prometheus this controller may query/],
    ['a namespaced provider\'s address from another namespace', { address: 'http://prometheus.team-a:9090' }, 'shop', POLICY, 'spec.analysis.prometheus.address', /not a Prometheus/],
    ['a namespaced provider from another namespace', { provider: 'team-a' }, 'shop', POLICY, 'spec.analysis.prometheus.provider', /not available to namespace "shop"/],
    ['an unknown provider', { provider: 'nope' }, 'shop', POLICY, 'spec.analysis.prometheus.provider', /no Prometheus provider "nope".*available here: default, thanos/],
    ['no block and no default provider', undefined, 'shop', NO_DEFAULT, 'spec.analysis.prometheus', /no default Prometheus provider: the platform team sets --prometheus-address/],
    ['no block and nothing configured', {}, 'shop', NOTHING, 'spec.analysis.prometheus', /--prometheus-address/],
    ['any address when nothing is configured', { address: 'http://prometheus.istio-system:9090' }, 'shop', NOTHING, 'spec.analysis.prometheus.address', /only the platform team can allow an address/],
  ])('%s is a problem', (_what, p, ns, policy, path, message) => {
    const chosen = choosePrometheus(p, ns, policy);
    expect(chosen).toHaveProperty('problem');
    const { problem } = chosen as { problem: { path: string; message: string } };
    expect(problem.path).toBe(path);
    expect(problem.message).toMatch(message);
  });
});

describe('choosePrometheus against URL tricks', () => {
  // An allowed address with a path: the prefix a trick would try to escape or extend.
  const TRICKS: PrometheusPolicy = { ...POLICY, allowedAddresses: ['http://prom.x:9090/base'] };
  // What the controller then queries is the chosen provider's own address or this normalized
  // form, never the Rollout's text: a trick either lands on exactly an allowed target or is refused.
  it.each<[string, string, unknown]>([
    ['upper case, a port with a leading zero, a trailing slash', 'HTTP://PROM.X:09090/base/', { address: 'http://prom.x:9090/base' }],
    ['a dot segment below the allowed path', 'http://prom.x:9090/base/.', { address: 'http://prom.x:9090/base' }],
    ['a percent-encoded dot segment', 'http://prom.x:9090/base/%2e', { address: 'http://prom.x:9090/base' }],
    ['a backslash for the slash', 'http:\\prom.x:9090\\base', { address: 'http://prom.x:9090/base' }],
    ['a fullwidth letter in the host (IDNA maps it)', 'http://ｐrom.x:9090/base', { address: 'http://prom.x:9090/base' }],
    ['a provider\'s address with its default port', 'https://thanos.example.com:443/prom', { provider: 'thanos' }],
  ])('%s: %s is the allowed target itself', (_what, address, expected) => {
    expect(choosePrometheus({ address }, 'shop', TRICKS)).toEqual(expected);
  });

  it.each([
    ['../ out of the allowed path', 'http://prom.x:9090/base/../admin'],
    ['percent-encoded ../ out of the allowed path', 'http://prom.x:9090/base/.%2e/admin'],
    ['encoded slashes (another path to the server)', 'http://prom.x:9090/base%2f..%2fadmin'],
    ['a path below the allowed one', 'http://prom.x:9090/base/api/v1/admin'],
    ['a path that only starts like it', 'http://prom.x:9090/basement'],
    ['another case of the path', 'http://prom.x:9090/BASE'],
    ['a trailing dot on the host', 'http://prom.x.:9090/base'],
    ['userinfo before the allowed host', 'http://evil@prom.x:9090/base'],
    ['the allowed host as userinfo', 'http://prom.x:9090@127.0.0.1/base'],
    ['a backslash before @', 'http://127.0.0.1\\@prom.x:9090/base'],
    ['a query string', 'http://prom.x:9090/base?x=/base'],
    ['a fragment', 'http://prom.x:9090/base#/base'],
    ['an IPv6 loopback', 'http://[::1]:9090/base'],
    ['an IPv4-mapped IPv6 loopback', 'http://[::ffff:127.0.0.1]:9090/base'],
    ['a CR LF in the path', 'http://prom.x:9090/base%0d%0aHost:%20evil'],
    ['a namespaced provider\'s address with its default port, from another namespace', 'http://prometheus.team-a:9090/'],
  ])('%s (%s) is refused', (_what, address) => {
    expect(choosePrometheus({ address }, 'shop', TRICKS)).toHaveProperty('problem.path', 'spec.analysis.prometheus.address');
  });
});

describe('prometheusProblems', () => {
  const spec = (analysis: Record<string, unknown>): RolloutSpec => ({ ...minimalRollout().spec, analysis } as RolloutSpec);

  it('needs no Prometheus where analysis queries nothing', () => {
    expect(prometheusProblems(spec({ comparison: { enabled: false } }), 'shop', NOTHING)).toEqual([]);
    expect(prometheusProblems(minimalRollout().spec as RolloutSpec, 'shop', NOTHING)).toEqual([]);
  });

  it('refuses a credential file or a Secret whatever the configuration, offline too', () => {
    for (const policy of [undefined, POLICY]) {
      const file = prometheusProblems(spec({ prometheus: { auth: { type: 'bearer', file: '/var/run/secrets/kubernetes.io/serviceaccount/token' } } }), 'shop', policy);
      expect(file.map((p) => p.path)).toEqual(['spec.analysis.prometheus.auth.file']);
      const secret = prometheusProblems(spec({ prometheus: { provider: 'thanos', auth: { type: 'basic', secretRef: { name: 's', key: 'k' } } } }), 'shop', policy);
      expect(secret.map((p) => p.path)).toEqual(['spec.analysis.prometheus.auth.secretRef']);
    }
  });

  it('bounds the per-attempt timeout a Rollout may ask for', () => {
    expect(prometheusProblems(spec({ prometheus: { timeout: '1m' } }), 'shop', POLICY)).toEqual([]);
    expect(prometheusProblems(spec({ prometheus: { timeout: '1m1s' } }), 'shop', undefined)).toEqual([{ path: 'spec.analysis.prometheus.timeout', message: 'must be at most 60s' }]);
  });

  it('offline, takes a provider name on trust and no block as the default, and refuses an address with the same advice', () => {
    expect(prometheusProblems(spec({ prometheus: { provider: 'thanos' } }), 'shop', undefined)).toEqual([]);
    expect(prometheusProblems(spec({}), 'shop', undefined)).toEqual([]);
    const [problem, ...rest] = prometheusProblems(spec({ prometheus: { address: 'http://prometheus.legacy:9090' } }), 'shop', undefined);
    expect(rest).toEqual([]);
    expect(problem?.path).toBe('spec.analysis.prometheus.address');
    expect(problem?.message).toMatch(/allowedAddresses in the controller's --prometheus-config.*spec.analysis.prometheus.provider/);
  });

  it('is what parseRollout reports, with the controller\'s policy or offline', () => {
    const doc = minimalRollout();
    doc.spec.analysis = { prometheus: { address: 'http://prometheus.legacy:9090' } };
    expect(parseRollout(doc, { prometheus: POLICY }).ok).toBe(true);
    expect(parseRollout(doc).ok).toBe(false);
    doc.spec.analysis = {};
    expect(parseRollout(doc, { prometheus: NO_DEFAULT })).toMatchObject({ ok: false, problems: [{ path: 'spec.analysis.prometheus' }] });
  });
});

describe('prometheusConfig', () => {
  const file = (text: string) => ({ path: '/etc/fledge/prometheus.yaml', text });

  it('--prometheus-address is the provider named default, timeout 5s, no credentials', () => {
    expect(prometheusConfig({ address: 'http://prometheus.istio-system:9090/' })).toEqual({
      providers: [{ name: 'default', address: 'http://prometheus.istio-system:9090', timeoutMs: 5000 }], allowedAddresses: [],
    });
  });

  it('reads providers, their credential files and namespaces, and the allowlist', () => {
    const config = prometheusConfig({
      address: 'http://prometheus.istio-system:9090',
      file: file(`
providers:
  - name: thanos
    address: https://thanos.example.com/prom/
    timeout: 10s
    auth: {type: bearer, file: /etc/fledge/prometheus/thanos/token}
    namespaces: [shop]
allowedAddresses: ['http://Prometheus.Legacy:9090/']
`),
    });
    expect(config).toEqual({
      providers: [
        { name: 'default', address: 'http://prometheus.istio-system:9090', timeoutMs: 5000 },
        { name: 'thanos', address: 'https://thanos.example.com/prom', timeoutMs: 10_000, auth: { type: 'bearer', file: '/etc/fledge/prometheus/thanos/token' }, namespaces: ['shop'] },
      ],
      allowedAddresses: ['http://prometheus.legacy:9090'],
    });
    expect(policyOf(config)).toEqual({
      providers: [
        { name: 'default', address: 'http://prometheus.istio-system:9090' },
        { name: 'thanos', address: 'https://thanos.example.com/prom', namespaces: ['shop'] },
      ],
      allowedAddresses: ['http://prometheus.legacy:9090'],
    });
  });

  it('an empty file configures nothing', () => {
    expect(prometheusConfig({ file: file('') })).toEqual({ providers: [], allowedAddresses: [] });
  });

  it.each<[string, Parameters<typeof prometheusConfig>[0], RegExp]>([
    ['a bad --prometheus-address', { address: 'prometheus:9090' }, /--prometheus-address: must be an http/],
    ['credentials in --prometheus-address', { address: 'http://u:p@prometheus:9090' }, /--prometheus-address: must be an http/],
    ['default twice', { address: 'http://a:9090', file: file('providers: [{name: default, address: "http://b:9090"}]') }, /both configure the provider "default"/],
    ['a name used twice', { file: file('providers: [{name: a, address: "http://a:9090"}, {name: a, address: "http://b:9090"}]') }, /"a" is used twice/],
    ['a relative credential file', { file: file('providers: [{name: a, address: "http://a:9090", auth: {type: bearer, file: token}}]') }, /providers.0.auth.file: must be an absolute path/],
    ['an unknown field', { file: file('providers: [{name: a, address: "http://a:9090", headers: {x: y}}]') }, /providers.0/],
    ['an allowed address with a query', { file: file('allowedAddresses: ["http://a:9090/?x=1"]') }, /allowedAddresses.0: must be an http/],
    ['a timeout under 1s', { file: file('providers: [{name: a, address: "http://a:9090", timeout: 10ms}]') }, /providers.0.timeout/],
    ['not YAML', { file: file('providers: [') }, /not YAML/],
  ])('refuses %s, naming the setting', (_what, input, message) => {
    expect(() => prometheusConfig(input)).toThrow(ProviderConfigError);
    expect(() => prometheusConfig(input)).toThrow(message);
  });
});
