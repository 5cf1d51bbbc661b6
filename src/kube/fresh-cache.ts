import type { KubernetesObject } from '@kubernetes/client-node';
import type { ChangeType } from './informer.ts';

interface Source<T> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
}

/**
 * An informer cache that also knows what we just wrote. The watch delivers our own write a few
 * milliseconds later; a reconcile that runs in between would otherwise see the old object, take
 * it for drift, and write again. The remembered copy is dropped as soon as the watch catches up
 * (same resourceVersion), and after a short TTL in case that event is never seen (relist).
 */
export class FreshCache<T extends KubernetesObject> implements Source<T> {
  private readonly source: Source<T>;
  private readonly recent = new Map<string, { obj: T; until: number }>();
  private readonly ttlMs: number;

  constructor(source: Source<T>, ttlMs = 10_000) {
    this.source = source;
    this.ttlMs = ttlMs;
  }

  remember(obj: T): void {
    const m = obj.metadata;
    if (!m?.name || !m.resourceVersion) return;
    // The watch can beat the write's own response; then the cache is already as new.
    const cached = this.source.get(m.name, m.namespace)?.metadata?.resourceVersion;
    if (cached !== undefined && !isOlder(cached, m.resourceVersion)) return;
    this.recent.set(keyOf(m.name, m.namespace), { obj, until: Date.now() + this.ttlMs });
  }

  /**
   * Feed every informer event through here. Returns true when the event is the echo of our own
   * write (the very version we remembered): nothing in it is news to the reconcile that wrote it,
   * so it need not wake anyone. Only an echo that arrives after our write's response is known
   * as one; on a shared HTTP/2 connection the watch event often comes first, and is news.
   */
  observe(type: ChangeType, obj: T): boolean {
    const m = obj.metadata;
    if (!m?.name) return false;
    const k = keyOf(m.name, m.namespace);
    const mine = this.recent.get(k);
    if (!mine) return false;
    const rv = m.resourceVersion ?? '';
    const ours = mine.obj.metadata?.resourceVersion ?? '';
    if (type === 'delete' || !isOlder(rv, ours)) this.recent.delete(k);
    return type !== 'delete' && rv !== '' && rv === ours;
  }

  get(name: string, namespace?: string): T | undefined {
    const k = keyOf(name, namespace);
    const mine = this.recent.get(k);
    if (mine) {
      if (mine.until > Date.now()) return mine.obj;
      this.recent.delete(k);
    }
    return this.source.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.source.list(namespace);
  }
}

/**
 * resourceVersions are opaque strings by contract, but every etcd-backed API server issues
 * increasing integers; compare them as such when they are, else only equality is known.
 */
function isOlder(a: string, b: string): boolean {
  if (a === b) return false;
  if (/^[0-9]+$/.test(a) && /^[0-9]+$/.test(b)) return BigInt(a) < BigInt(b);
  return true;
}

function keyOf(name: string, namespace?: string): string {
  return `${namespace ?? ''}/${name}`;
}
