/**
 * The parts of Istio's VirtualService and DestinationRule (networking.istio.io/v1) the router
 * reads from live objects, declared once, and their lenient readers: a live object may hold
 * anything its authors (or another tool) wrote, so a field of the wrong shape reads as absent.
 */
import type { KubeObject } from '../../api/object.ts';
import type { Labels } from '../../api/schema.ts';

/** HTTPRouteDestination. */
export interface Destination { destination?: { host?: string; subset?: string; port?: { number?: number } }; weight?: number }
/** HTTPRoute (and, for what Fledge reads, TCPRoute and TLSRoute). */
export interface HttpRoute { name?: string; route?: Destination[] }
/** Subset of a DestinationRule. */
export interface Subset { name?: string; labels?: Labels }

/** `spec.http` (or `spec.tcp`, `spec.tls`) of a VirtualService. */
export function routesOf(vs: Pick<KubeObject, 'spec'>, kind: 'http' | 'tcp' | 'tls' = 'http'): HttpRoute[] {
  const routes = vs.spec?.[kind];
  return Array.isArray(routes) ? (routes as HttpRoute[]) : [];
}

/** `spec.subsets` of a DestinationRule. */
export function subsetsOf(dr: KubeObject | undefined): Subset[] {
  const subsets = dr?.spec?.subsets;
  return Array.isArray(subsets) ? (subsets as Subset[]) : [];
}
