/**
 * Makes the fake mesh obey the live VirtualService: every few hundred milliseconds it reads the
 * weights Fledge wrote and the DestinationRule's subset labels, and routes the synthetic traffic
 * to versions accordingly. What the mesh serves is then the controller's real output.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { isStickyRoute } from '../router/istio/affinity.ts';
import { MATCH_ROUTE } from '../router/istio/step-routes.ts';
import type { MeshWorkload } from './mesh.ts';

interface Route { name?: string; match?: Record<string, unknown>[]; route?: { destination?: { subset?: string }; weight?: number }[]; mirror?: { subset?: string }; mirrorPercentage?: { value?: number } }
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
  let mirroring = '';
  let matched: string | undefined;
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
      // requests carry no cookies) and a match step's (only the testers' requests take it, below);
      // a catch-all to stable follows it when there is a match.
      const weighted = (vs.spec?.http ?? []).find((h) => !isStickyRoute(h.name) && h.name !== MATCH_ROUTE);
      const mirrorVersion = weighted?.mirror ? versionOf.get(weighted.mirror.subset ?? '') : undefined;
      const mirror = mirrorVersion ? `${mirrorVersion}:${weighted?.mirrorPercentage?.value ?? 100}` : '';
      if (mirror !== mirroring) {
        mirroring = mirror;
        mesh.setMirror(mirrorVersion, weighted?.mirrorPercentage?.value ?? 100);
      }
      const matchRoute = (vs.spec?.http ?? []).find((h) => h.name === MATCH_ROUTE);
      const matchedVersion = matchRoute && matchesTesters(matchRoute.match ?? [], mesh.testerHeaders) ? versionOf.get(matchRoute.route?.[0]?.destination?.subset ?? '') : undefined;
      if (matchedVersion !== matched) {
        matched = matchedVersion;
        mesh.setMatched(matchedVersion);
      }
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

/**
 * Whether the testers' requests (`GET /` with `headers`) meet one of a route's HTTPMatchRequests,
 * as Envoy would judge them: header exact, prefix or regex (a full match), uri on the path `/`.
 * Conditions on anything else (queryParams, sourceLabels...) are not simulated: no match.
 */
export function matchesTesters(match: readonly Record<string, unknown>[], headers: Readonly<Record<string, string>>): boolean {
  type StringMatch = { exact?: string; prefix?: string; regex?: string } | undefined;
  const meets = (value: string | undefined, m: StringMatch): boolean => {
    if (value === undefined || !m) return false;
    if (m.exact !== undefined) return value === m.exact;
    if (m.prefix !== undefined) return value.startsWith(m.prefix);
    if (m.regex !== undefined) {
      try {
        return new RegExp(`^(?:${m.regex})$`).test(value);
      } catch {
        return false;
      }
    }
    return true;
  };
  return match.some((entry) => Object.entries(entry).every(([field, cond]) => {
    if (field === 'headers') return Object.entries(cond as Record<string, StringMatch>).every(([name, m]) => meets(headers[name], m));
    if (field === 'uri') return meets('/', cond as StringMatch);
    return false;
  }));
}
