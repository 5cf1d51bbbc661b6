/**
 * Which objects name which host (canonical: short names resolved in each object's namespace),
 * kept current from informer events: the VirtualServices, for the overlap check every reconcile
 * makes, and the Rollouts, to wake those whose hosts a VirtualService starts or stops naming.
 * A lookup instead of a scan of every object of the cluster (O(N²) at startup with thousands).
 */
export class HostIndex {
  private readonly byHost = new Map<string, Set<string>>();
  private readonly byKey = new Map<string, string[]>();
  /** The mesh's canonical form of a host named in `namespace` (the router's). */
  private readonly canonical: (host: string, namespace: string) => string;

  constructor(canonical: (host: string, namespace: string) => string) {
    this.canonical = canonical;
  }

  /** Sets the hosts `key` names (in `namespace`); returns the canonical hosts it named before. */
  update(key: string, namespace: string, hosts: readonly string[]): string[] {
    const before = this.delete(key);
    const canonical = [...new Set(hosts.map((h) => this.canonical(h, namespace)))];
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
