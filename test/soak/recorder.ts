/**
 * Records every write to Rollouts, VirtualServices and DestinationRules of a namespace, from the
 * test process, by watching them (a watch delivers every resourceVersion, unless it is broken
 * off and has to relist; that is reported as a gap, never silently papered over).
 *
 * resourceVersions are etcd revisions: one global counter over all resources, so events of the
 * three watches can be put in the exact order the API server committed them.
 */
import { CustomObjectsApi, KubeConfig, Watch } from '@kubernetes/client-node';

export type Kind = 'Rollout' | 'VirtualService' | 'DestinationRule';

export interface RecordedEvent {
  kind: Kind;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  name: string;
  rv: bigint;
  /** Wall clock of the test process when the event arrived. */
  at: number;
  obj: WatchedObject;
}

export interface WatchedObject {
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[];
    managedFields?: { manager?: string; operation?: string }[];
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export const REFS: Record<Kind, { group: string; version: string; plural: string }> = {
  Rollout: { group: 'fledge.dev', version: 'v1alpha1', plural: 'rollouts' },
  VirtualService: { group: 'networking.istio.io', version: 'v1', plural: 'virtualservices' },
  DestinationRule: { group: 'networking.istio.io', version: 'v1', plural: 'destinationrules' },
};

export class WriteRecorder {
  readonly events: RecordedEvent[] = [];
  /** Anything that makes the record incomplete (a watch that had to relist). */
  readonly gaps: string[] = [];
  private readonly kc: KubeConfig;
  private readonly namespace: string;
  private readonly aborts: AbortController[] = [];
  private stopped = false;

  constructor(kubeconfigPath: string, namespace: string) {
    this.kc = new KubeConfig();
    this.kc.loadFromFile(kubeconfigPath);
    this.namespace = namespace;
  }

  /** Lists each kind (recording what exists as ADDED) and watches from there. */
  async start(): Promise<void> {
    await Promise.all((Object.keys(REFS) as Kind[]).map((kind) => this.startKind(kind)));
  }

  private async startKind(kind: Kind): Promise<void> {
    const ref = REFS[kind];
    const path = `/apis/${ref.group}/${ref.version}/namespaces/${this.namespace}/${ref.plural}`;
    const co = this.kc.makeApiClient(CustomObjectsApi);
    const watch = new Watch(this.kc);
    let rv: string | undefined;
    let first = true;
    const list = async (): Promise<void> => {
      for (let attempt = 0; ; attempt++) {
        try {
          const l = (await co.listNamespacedCustomObject({ ...ref, namespace: this.namespace })) as { items: WatchedObject[]; metadata: { resourceVersion: string } };
          // After a relist, only the current state is known: what happened in between is lost.
          for (const obj of l.items) this.push(kind, first ? 'ADDED' : 'MODIFIED', obj);
          rv = l.metadata.resourceVersion;
          first = false;
          return;
        } catch (err) {
          // 429 "storage is (re)initializing" (a CRD's watch cache right after it is established,
          // or an API server restarting), or the API server down: try again.
          if (this.stopped || attempt > 600) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    };
    const connect = async (): Promise<void> => {
      if (this.stopped) return;
      try {
        if (rv === undefined) await list();
      } catch (err) {
        if (!this.stopped) this.gaps.push(`${kind} watch: could not relist: ${(err as Error).message}`);
        return;
      }
      const ctl = await watch.watch(path, { resourceVersion: rv, allowWatchBookmarks: true }, (type, obj: WatchedObject & { code?: number }) => {
        if (type === 'BOOKMARK') {
          rv = obj.metadata.resourceVersion ?? rv;
          return;
        }
        if (type === 'ERROR') {
          this.gaps.push(`${kind} watch: ${obj.code === 410 ? `410 Gone at ${rv}: relisted` : JSON.stringify(obj).slice(0, 300)}`);
          if (obj.code === 410) rv = undefined;
          return;
        }
        rv = obj.metadata.resourceVersion ?? rv;
        this.push(kind, type as RecordedEvent['type'], obj);
      }, (err: unknown) => {
        // Idle timeouts and closed connections: resume from the last revision seen, losing nothing.
        if (this.stopped) return;
        const e = err as { statusCode?: number; name?: string } | null;
        if (e?.statusCode === 410) {
          this.gaps.push(`${kind} watch: 410 Gone at ${rv}: relisted`);
          rv = undefined;
        }
        setTimeout(() => void connect(), e && e.name !== 'TimeoutError' ? 250 : 0);
      });
      this.aborts.push(ctl);
    };
    await list();
    await connect();
  }

  private push(kind: Kind, type: RecordedEvent['type'], obj: WatchedObject): void {
    this.events.push({ kind, type, name: obj.metadata.name, rv: BigInt(obj.metadata.resourceVersion ?? '0'), at: Date.now(), obj });
  }

  /** Every event so far, in the order etcd committed them. */
  ordered(): RecordedEvent[] {
    return [...this.events].sort((a, b) => (a.rv < b.rv ? -1 : a.rv > b.rv ? 1 : 0));
  }

  stop(): void {
    this.stopped = true;
    for (const a of this.aborts) a.abort();
  }
}
