/**
 * Which Prometheus a Rollout may make the controller query: only what the platform team
 * configured on the controller (docs/security.md). A Rollout names a provider, or gets the one
 * named `default`; an address of its own is used only when it is a configured provider's address
 * or on the platform's allowlist; credentials only ever come from a provider's configuration.
 * Pure: the controller passes its configuration as a PrometheusPolicy, `fledge validate` passes
 * none (offline), and both give the same messages.
 */
import { parseDuration } from './duration.ts';
import { MESSAGES } from './messages.ts';
import type { RolloutSpec } from './schema.ts';

/** The provider a Rollout gets when it names none. `--prometheus-address` configures it. */
export const DEFAULT_PROVIDER = 'default';
/** The longest per-attempt timeout a Rollout may ask for: it holds one of the controller's connections that long. */
export const MAX_ROLLOUT_TIMEOUT_MS = 60_000;

/** What the controller's configuration allows, without the credentials. */
export interface PrometheusPolicy {
  providers: readonly PolicyProvider[];
  /** Addresses (normalized by normalizeAddress) a Rollout may name itself; queried without credentials. */
  allowedAddresses: readonly string[];
}

export interface PolicyProvider {
  name: string;
  /** normalizeAddress() of the provider's address. */
  address: string;
  /** Namespaces whose Rollouts may use it; absent: every namespace. */
  namespaces?: readonly string[];
}

/** The Prometheus a Rollout will be judged from: a configured provider, or an allowed address. */
export type PrometheusChoice = { provider: string } | { address: string };

export interface PrometheusProblem {
  path: string;
  message: string;
}

type RolloutPrometheus = NonNullable<NonNullable<RolloutSpec['analysis']>['prometheus']>;

const CONFIG_HINT = 'allowedAddresses in the controller\'s --prometheus-config (Helm: prometheus.allowedAddresses)';
const PROVIDER_HINT = 'name a provider the platform team configured (spec.analysis.prometheus.provider), or leave spec.analysis.prometheus out to use the default provider';

/**
 * The canonical form two addresses are compared in: scheme, lowercased host, port only when not
 * the scheme's default, path without trailing slashes. undefined for anything that is not a
 * plain http(s) URL: credentials, a query or a fragment are never part of a Prometheus address.
 */
export function normalizeAddress(address: string): string | undefined {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username || url.password || url.search || url.hash || !url.hostname) return undefined;
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * Problems of a Rollout's Prometheus settings, as field paths and messages. With no policy
 * (offline, `fledge validate`), what the controller's configuration decides is judged by the
 * default configuration: a provider name is taken on trust, no address of the Rollout's own is
 * allowed, and no block at all means the default provider.
 */
export function prometheusProblems(spec: RolloutSpec, namespace: string, policy: PrometheusPolicy | undefined): PrometheusProblem[] {
  const p = spec.analysis?.prometheus;
  const problems: PrometheusProblem[] = [];
  if (p?.auth) problems.push(authProblem(p.auth));
  if (p?.timeout !== undefined && (parseDuration(p.timeout) ?? 0) > MAX_ROLLOUT_TIMEOUT_MS) {
    problems.push({ path: 'spec.analysis.prometheus.timeout', message: MESSAGES.atMost1m });
  }
  if (p?.provider !== undefined && p.address !== undefined) {
    problems.push({ path: 'spec.analysis.prometheus', message: MESSAGES.providerAndAddress });
    return problems;
  }
  const a = spec.analysis;
  // Analysis with neither metrics nor the comparison queries nothing: no Prometheus is needed.
  const queries = a !== undefined && ((a.metrics ?? []).length > 0 || a.comparison?.enabled !== false);
  if (!queries && p?.provider === undefined && p?.address === undefined) return problems;
  if (policy === undefined) {
    if (p?.address !== undefined) {
      problems.push({
        path: 'spec.analysis.prometheus.address',
        message: `a Rollout's own address is queried only where the platform team allows it (a configured provider's address, or ${CONFIG_HINT}); by default nothing is allowed: ${PROVIDER_HINT}`,
      });
    }
    return problems;
  }
  const chosen = choosePrometheus(p, namespace, policy);
  if ('problem' in chosen) problems.push(chosen.problem);
  return problems;
}

/** The Prometheus a Rollout in `namespace` is judged from under `policy`, or why there is none. */
export function choosePrometheus(p: Pick<RolloutPrometheus, 'provider' | 'address'> | undefined, namespace: string, policy: PrometheusPolicy): PrometheusChoice | { problem: PrometheusProblem } {
  const usable = (x: PolicyProvider) => x.namespaces === undefined || x.namespaces.includes(namespace);
  if (p?.provider !== undefined) {
    const found = policy.providers.find((x) => x.name === p.provider);
    const path = 'spec.analysis.prometheus.provider';
    if (!found) {
      const known = policy.providers.filter(usable).map((x) => x.name);
      return { problem: { path, message: `no Prometheus provider "${p.provider}" is configured on the controller (${known.length ? `available here: ${known.join(', ')}` : 'none is available here'}); the platform team adds providers in the controller's --prometheus-config` } };
    }
    if (!usable(found)) return { problem: { path, message: `the Prometheus provider "${p.provider}" is not available to namespace "${namespace}" (its namespaces are set in the controller's --prometheus-config)` } };
    return { provider: found.name };
  }
  if (p?.address !== undefined) {
    const address = normalizeAddress(p.address);
    const path = 'spec.analysis.prometheus.address';
    if (address === undefined) return { problem: { path, message: 'must be an http:// or https:// URL without credentials, query or fragment' } };
    const provider = policy.providers.find((x) => x.address === address && usable(x));
    if (provider) return { provider: provider.name };
    if (policy.allowedAddresses.includes(address)) return { address };
    return { problem: { path, message: `${address} is not a Prometheus this controller may query: ${PROVIDER_HINT}; only the platform team can allow an address (${CONFIG_HINT})` } };
  }
  const fallback = policy.providers.find((x) => x.name === DEFAULT_PROVIDER);
  if (fallback && usable(fallback)) return { provider: fallback.name };
  const why = fallback ? `its default provider is not available to namespace "${namespace}"` : 'the controller has no default Prometheus provider';
  return { problem: { path: 'spec.analysis.prometheus', message: `is not set and ${why}: the platform team sets --prometheus-address on the controller (Helm: prometheus.address), or the Rollout names a provider (spec.analysis.prometheus.provider)` } };
}

function authProblem(auth: NonNullable<RolloutPrometheus['auth']>): PrometheusProblem {
  if (auth.file !== undefined) return { path: 'spec.analysis.prometheus.auth.file', message: MESSAGES.authFile };
  if (auth.secretRef !== undefined) return { path: 'spec.analysis.prometheus.auth.secretRef', message: MESSAGES.authSecret };
  return { path: 'spec.analysis.prometheus.auth', message: MESSAGES.auth };
}
