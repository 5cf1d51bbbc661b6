import { canonicalHost } from '../router/istio/hosts.ts';

/**
 * Which objects name which host (canonical: short names resolved in each object's namespace),
 * kept current from informer events: the VirtualServices, for the overlap check every reconcile
 * makes, and the Rollouts, to wake those whose hosts a VirtualService starts or stops naming.
 * A lookup instead of a scan of every object of the cluster (O(N²) at startup with thousands).
 */
export class HostIndex {
  private readonly byHost = new Map<string, Set<string>>();
  private readonly byKey = new Map<string, string[]>();

  /** Sets the hosts `key` names (in `namespace`); returns the canonical hosts it named before. */
  update(key: string, namespace: string, hosts: readonly string[]): string[] {
    const before = this.delete(key);
    const canonical = [...new Set(hosts.map((h) => canonicalHost(h, namespace)))];
    for (const h of canonical) {
      let s = this.byHost.get(h);
      if (!s) this.byHost.set(h, (s = new Set()));
      s.add(key);
    }
    this.byKey.set(key, canonical);
    return before;
  }

  /** Forgets `key`; returns the canonical hosts it named. */
  delete(key: string): string[] {
    const before = this.byKey.get(key) ?? [];
    for (const h of before) {
      const s = this.byHost.get(h);
      s?.delete(key);
      if (s?.size === 0) this.byHost.delete(h);
    }
    this.byKey.delete(key);
    return before;
  }

  /** The canonical hosts `key` names now. */
  hostsOf(key: string): readonly string[] {
    return this.byKey.get(key) ?? [];
  }

  /** Every key naming one of these canonical hosts. */
  naming(canonicalHosts: readonly string[]): string[] {
    return [...new Set(canonicalHosts.flatMap((h) => [...(this.byHost.get(h) ?? [])]))];
  }
}

/** The hosts a VirtualService names, read leniently. */
export function virtualServiceHosts(spec: Record<string, unknown> | undefined): string[] {
  const hosts = spec?.hosts;
  return Array.isArray(hosts) ? hosts.filter((h): h is string => typeof h === 'string') : [];
}

/**
 * The hosts a Rollout's generated VirtualService names, read leniently (the Rollout may be
 * invalid): `virtualService.hosts`, else the Service's name. An adopted VirtualService's hosts
 * are its own, and its changes wake the Rollout through the claim index.
 */
export function rolloutHosts(spec: unknown): string[] {
  const s = spec as { service?: { name?: unknown }; trafficRouting?: { virtualService?: { ref?: unknown; hosts?: unknown } } } | undefined;
  const vs = s?.trafficRouting?.virtualService;
  if (vs?.ref !== undefined) return [];
  if (Array.isArray(vs?.hosts)) return vs.hosts.filter((h): h is string => typeof h === 'string');
  return typeof s?.service?.name === 'string' ? [s.service.name] : [];
}
