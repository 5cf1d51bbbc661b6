import type { KubeObject } from '../api/object.ts';
import { canonicalHost } from '../router/istio/hosts.ts';

/**
 * Which VirtualServices name which host (canonical: short names resolved in each object's
 * namespace), kept current from the VirtualService informer's events, so that the overlap check
 * on every reconcile looks up its hosts instead of scanning every VirtualService of the cluster
 * (O(N²) at startup with thousands of Rollouts).
 */
export class HostIndex {
  private readonly byHost = new Map<string, Set<string>>();
  private readonly byObject = new Map<string, string[]>();

  update(vs: KubeObject): void {
    this.delete(vs);
    const k = key(vs);
    const ns = vs.metadata.namespace ?? '';
    const hosts = Array.isArray(vs.spec?.hosts) ? (vs.spec.hosts as unknown[]).filter((h): h is string => typeof h === 'string') : [];
    const canonical = [...new Set(hosts.map((h) => canonicalHost(h, ns)))];
    for (const h of canonical) {
      let s = this.byHost.get(h);
      if (!s) this.byHost.set(h, (s = new Set()));
      s.add(k);
    }
    this.byObject.set(k, canonical);
  }

  delete(vs: KubeObject): void {
    const k = key(vs);
    for (const h of this.byObject.get(k) ?? []) {
      const s = this.byHost.get(h);
      s?.delete(k);
      if (s?.size === 0) this.byHost.delete(h);
    }
    this.byObject.delete(k);
  }

  /** `namespace/name` of every VirtualService naming one of these canonical hosts. */
  naming(canonicalHosts: readonly string[]): string[] {
    return [...new Set(canonicalHosts.flatMap((h) => [...(this.byHost.get(h) ?? [])]))];
  }
}

function key(vs: KubeObject): string {
  return `${vs.metadata.namespace ?? ''}/${vs.metadata.name}`;
}
