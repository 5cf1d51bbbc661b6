/**
 * Why a canary has no Istio series: told from the Service's series that the traffic query's
 * diagnosis part returns (by reporter and version). Pure: no I/O.
 *
 * Istio's standard metrics are exported by the Envoy proxies: each request by the caller's proxy
 * (reporter="source") and by the destination pod's sidecar (reporter="destination"). Fledge counts
 * the destination side, the only one that carries the pods' version label. Pods without a sidecar
 * export nothing; a gateway or caller in front of them still reports reporter="source" series,
 * with destination_version "unknown" as it cannot read the peer's labels (istio/istio#28387).
 */
import type { ServiceSeries, Traffic } from './traffic.ts';
import { serviceSelector, trafficSelector, type QueryContext } from './templates.ts';
import { versionLabel } from '../api/validate.ts';

/** Exactly what the user is asked in the sidecar case (README, "Prerequisites on the mesh"). */
export const SIDECAR_MISSING = "the canary's pods report no Istio metrics of their own: is the sidecar injected?";

/**
 * Below this window a canary without series is normal (its first requests are not scraped yet),
 * so only a final check or a window at least this long gets a diagnosis: about two scrape
 * intervals of a production Prometheus.
 */
export const DIAGNOSIS_AFTER_SECONDS = 60;

/**
 * A sentence for status.lastAnalysis.reason saying why the canary has no series, or undefined
 * when it has some, when the Service's series were not asked for, or when the canary's own series
 * exist and only the window holds none of its requests yet.
 */
export function diagnoseMissingSeries(t: Traffic, ctx: QueryContext): string | undefined {
  if (t.canary.series > 0 || t.service === undefined) return undefined;
  const version = versionLabel(ctx.canaryLabels)!;
  const present = t.service.filter((s) => s.series > 0);
  const destination = present.filter((s) => s.reporter === 'destination');
  const lookedFor = `istio_requests_total{${trafficSelector(ctx, 'canary')}}`;
  if (present.length === 0) {
    return `Prometheus has no Istio series for the Service at all: looked for istio_requests_total{${serviceSelector(ctx)}}, the canary's being ${lookedFor}: is the Service in the mesh, and does this Prometheus scrape its proxies?`;
  }
  if (destination.some((s) => s.version === version.value)) return undefined;
  if (destination.length === 0) {
    return `${SIDECAR_MISSING} (${serviceSelector(ctx)} has series only from callers and gateways, none with reporter="destination")`;
  }
  // Also what a canary that has had no request yet looks like: hence "if".
  return `no series ${lookedFor} yet, though the Service's pods report series ${count(destination)}: if the canary has had requests, do its pods carry ${version.key}: ${version.value} and a sidecar?`;
}

// Label values Prometheus returns are not echoed into status (they are the server's data, not
// ours): the diagnosis says how many there are.
function count(series: ServiceSeries[]): string {
  const n = new Set(series.map((s) => s.version)).size;
  return n === 1 ? 'for one other version' : `for ${n} other versions`;
}
