/**
 * Makes the fake mesh obey the live VirtualService: every few hundred milliseconds it reads the
 * weights Fledge wrote and the DestinationRule's subset labels, and routes the synthetic traffic
 * to versions accordingly. What the mesh serves is then the controller's real output.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { isStickyRoute } from '../router/istio/affinity.ts';
import type { MeshWorkload } from './mesh.ts';

interface Route { name?: string; route?: { destination?: { subset?: string }; weight?: number }[] }
interface Subset { name: string; labels?: Record<string, string> }

export interface DataPlaneOptions {
  namespace: string;
  virtualService: string;
  destinationRule: string;
  /** The pod label whose value names a mesh version (default `version`). */
  versionLabel?: string;
  periodMs?: number;
  /** Called whenever the split changes, with weights per version. */
  onChange?: (weights: Record<string, number>) => void;
}

export interface DataPlane {
  current(): Record<string, number>;
  stop(): void;
}

export function followVirtualService(kc: KubeConfig, mesh: MeshWorkload, opts: DataPlaneOptions): DataPlane {
  const co = kc.makeApiClient(CustomObjectsApi);
  const ref = { group: 'networking.istio.io', version: 'v1', namespace: opts.namespace };
  const label = opts.versionLabel ?? 'version';
  let weights: Record<string, number> = {};
  let stopped = false;
  let busy = false;

  const tick = async () => {
    if (busy || stopped) return;
    busy = true;
    try {
      const [vs, dr] = await Promise.all([
        co.getNamespacedCustomObject({ ...ref, plural: 'virtualservices', name: opts.virtualService }),
        co.getNamespacedCustomObject({ ...ref, plural: 'destinationrules', name: opts.destinationRule }),
      ]) as [{ spec?: { http?: Route[] } }, { spec?: { subsets?: Subset[] } }];
      const versionOf = new Map((dr.spec?.subsets ?? []).map((s) => [s.name, s.labels?.[label]]));
      const next: Record<string, number> = {};
      // The weighted route: the first one but sessionAffinity's cookie routes (the synthetic
      // requests carry no cookies); a catch-all to stable follows it when there is a match.
      const weighted = (vs.spec?.http ?? []).find((h) => !isStickyRoute(h.name));
      for (const d of weighted?.route ?? []) {
        const version = versionOf.get(d.destination?.subset ?? '');
        if (version) next[version] = (next[version] ?? 0) + (d.weight ?? 0);
      }
      if (JSON.stringify(next) !== JSON.stringify(weights) && Object.keys(next).length > 0) {
        weights = next;
        mesh.setWeights(next);
        opts.onChange?.(next);
      }
    } catch {
      // Not created yet, or the API server is restarting: keep the last split, as Envoy would.
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), opts.periodMs ?? 200);
  void tick();
  return {
    current: () => ({ ...weights }),
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
