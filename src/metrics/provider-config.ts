/**
 * The Prometheus providers the platform team configures on the controller: `--prometheus-address`
 * (the provider named "default") and `--prometheus-config FILE`, a YAML file mounted from a
 * ConfigMap, whose credential files are mounted from Secrets:
 *
 * ```yaml
 * providers:
 *   - name: default
 *     address: http://prometheus.istio-system:9090
 *   - name: thanos
 *     address: https://thanos.example.com/prometheus
 *     timeout: 10s
 *     auth: {type: bearer, file: /etc/fledge/prometheus/thanos/token}
 *     namespaces: [shop, payments]       # default: every namespace
 * allowedAddresses:                      # addresses Rollouts may name themselves, no credentials
 *   - http://prometheus.team-a:9090
 * ```
 *
 * Why a file and not a cluster-scoped resource: docs/security.md.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DEFAULT_PROMETHEUS_TIMEOUT } from '../api/constants.ts';
import { parseDuration } from '../api/duration.ts';
import { DEFAULT_PROVIDER, normalizeAddress, type PrometheusPolicy } from '../api/prometheus-policy.ts';

export interface ProviderSettings {
  name: string;
  /** As configured, without trailing slashes. */
  address: string;
  timeoutMs: number;
  /** bearer: the file holds the token; basic: `user:password`. Read at every query (rotation). */
  auth?: { type: 'bearer' | 'basic'; file: string };
  namespaces?: string[];
}

export interface PrometheusConfig {
  providers: ProviderSettings[];
  /** normalizeAddress() forms. */
  allowedAddresses: string[];
}

/** A configuration the controller must not start with. The message names the setting. */
export class ProviderConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProviderConfigError';
  }
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const address = z.string().max(2048).refine((a) => normalizeAddress(a) !== undefined, 'must be an http:// or https:// URL without credentials, query or fragment');
const FileSchema = z.strictObject({
  providers: z.array(z.strictObject({
    name: z.string().max(63).regex(NAME, 'must be a DNS label: lowercase letters, digits and \'-\''),
    address,
    timeout: z.string().refine((t) => (parseDuration(t) ?? 0) >= 1000, 'must be a duration of at least 1s, such as 5s').optional(),
    auth: z.strictObject({
      type: z.enum(['bearer', 'basic']),
      file: z.string().min(1).refine((f) => f.startsWith('/'), 'must be an absolute path'),
    }).optional(),
    namespaces: z.array(z.string().regex(NAME, 'must be a namespace name')).min(1).optional(),
  })).optional(),
  allowedAddresses: z.array(address).optional(),
});

/** The configuration of `--prometheus-address` and the text of `--prometheus-config` (YAML or JSON). */
export function prometheusConfig(opts: { address?: string; file?: { path: string; text: string } }): PrometheusConfig {
  const config: PrometheusConfig = { providers: [], allowedAddresses: [] };
  if (opts.file) {
    let doc: unknown;
    try {
      doc = parseYaml(opts.file.text) ?? {};
    } catch (err) {
      throw new ProviderConfigError(`--prometheus-config ${opts.file.path}: not YAML: ${(err as Error).message.split('\n')[0]}`);
    }
    const parsed = FileSchema.safeParse(doc);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(file)'}: ${i.message}`);
      throw new ProviderConfigError(`--prometheus-config ${opts.file.path}: ${issues.join('; ')}`);
    }
    for (const p of parsed.data.providers ?? []) {
      config.providers.push({
        name: p.name,
        address: p.address.replace(/\/+$/, ''),
        timeoutMs: parseDuration(p.timeout ?? DEFAULT_PROMETHEUS_TIMEOUT)!,
        ...(p.auth ? { auth: p.auth } : {}),
        ...(p.namespaces ? { namespaces: p.namespaces } : {}),
      });
    }
    config.allowedAddresses.push(...(parsed.data.allowedAddresses ?? []).map((a) => normalizeAddress(a)!));
  }
  if (opts.address !== undefined) {
    if (normalizeAddress(opts.address) === undefined) throw new ProviderConfigError('--prometheus-address: must be an http:// or https:// URL without credentials, query or fragment');
    if (config.providers.some((p) => p.name === DEFAULT_PROVIDER)) {
      throw new ProviderConfigError(`--prometheus-address and --prometheus-config both configure the provider "${DEFAULT_PROVIDER}": use one`);
    }
    config.providers.unshift({ name: DEFAULT_PROVIDER, address: opts.address.replace(/\/+$/, ''), timeoutMs: parseDuration(DEFAULT_PROMETHEUS_TIMEOUT)! });
  }
  const names = new Set<string>();
  for (const p of config.providers) {
    if (names.has(p.name)) throw new ProviderConfigError(`--prometheus-config: the provider name "${p.name}" is used twice`);
    names.add(p.name);
  }
  return config;
}

/** prometheusConfig() with the file read from disk. */
export function loadPrometheusConfig(opts: { address?: string; configPath?: string }): PrometheusConfig {
  let file: { path: string; text: string } | undefined;
  if (opts.configPath !== undefined) {
    try {
      file = { path: opts.configPath, text: readFileSync(opts.configPath, 'utf8') };
    } catch (err) {
      throw new ProviderConfigError(`--prometheus-config ${opts.configPath}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return prometheusConfig({ ...(opts.address !== undefined ? { address: opts.address } : {}), ...(file ? { file } : {}) });
}

/** What validation needs of the configuration: names, addresses and namespaces, no credentials. */
export function policyOf(config: PrometheusConfig): PrometheusPolicy {
  return {
    providers: config.providers.map((p) => ({ name: p.name, address: normalizeAddress(p.address)!, ...(p.namespaces ? { namespaces: p.namespaces } : {}) })),
    allowedAddresses: config.allowedAddresses,
  };
}
