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
  private readonly inFlight = new Map<string, { writers: number; held: { type: ChangeType; obj: T }[] }>();
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
   * Called for each event held while a write to its object was in flight (see `track`), once the
   * write is done: `echo` says whether it was that write's own version.
   */
  onReleased: (type: ChangeType, obj: T, echo: boolean) => void = () => {};

  /**
   * Feed every informer event through here. `echo`: the very version we wrote and remembered,
   * no news to the reconcile that wrote it. `held`: a write to this object is in flight, so whose
   * version it is will be known when the response comes (on one HTTP/2 connection the watch
   * event often beats it); `onReleased` gets it then. `news`: anything else.
   */
  observe(type: ChangeType, obj: T): 'news' | 'echo' | 'held' {
    const m = obj.metadata;
    if (!m?.name) return 'news';
    const k = keyOf(m.name, m.namespace);
    const mine = this.recent.get(k);
    const rv = m.resourceVersion ?? '';
    if (mine) {
      const ours = mine.obj.metadata?.resourceVersion ?? '';
      if (type === 'delete' || !isOlder(rv, ours)) this.recent.delete(k);
      if (type !== 'delete' && rv !== '' && rv === ours) return 'echo';
    }
    const flight = type === 'delete' ? undefined : this.inFlight.get(k);
    if (!flight) return 'news';
    flight.held.push({ type, obj });
    return 'held';
  }

  /**
   * Runs a write of the object `name` and remembers what it wrote. Events for that object that
   * arrive meanwhile are held and handed to `onReleased` afterwards, marked as the echo of this
   * write or not; if the write fails, none is an echo.
   */
  async track(name: string, namespace: string | undefined, write: () => Promise<T>): Promise<T> {
    const k = keyOf(name, namespace);
    let flight = this.inFlight.get(k);
    if (!flight) {
      flight = { writers: 0, held: [] };
      this.inFlight.set(k, flight);
    }
    flight.writers++;
    let ours: string | undefined;
    try {
      const written = await write();
      ours = written.metadata?.resourceVersion;
      this.remember(written);
      return written;
    } finally {
      // Two writes at once to one object (two Rollouts racing for it): only the last one's echo
      // is recognised; the other's is news, which costs a reconcile, nothing more.
      if (--flight.writers === 0) {
        this.inFlight.delete(k);
        for (const h of flight.held) this.onReleased(h.type, h.obj, ours !== undefined && h.obj.metadata?.resourceVersion === ours);
      }
    }
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
