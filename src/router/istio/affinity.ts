/**
 * Sticky sessions during a release (Flagger's `sessionAffinity`, with its recent stable-side
 * cookie): a response from the canary sets the canary cookie, one from stable the stable cookie,
 * and two routes ahead of the weighted one send a request carrying either cookie back to the
 * version that set it. The step's weights then split new sessions only, and a user no longer
 * bounces between versions from one request to the next (versioned assets, login flows).
 *
 * Rendered only while both versions take new sessions (0 < canary weight < 100): at 0 (rolled
 * back, or a release not started) and at 100 (promoted, or a last step of 100) the cookie routes
 * are gone, so a user still holding a canary cookie after a rollback is routed by the weighted
 * route, all to stable, and one holding a stable cookie after a promotion all to the canary.
 *
 * A cookie's value is the release id (the stable and canary labels, api/release.ts): a cookie of
 * an earlier release matches no route of a later one, so its holder is split again by weight.
 * Cookie headers are matched by Istio's StringMatch regex, which Envoy runs as RE2 over the whole
 * header value (RFC 6265 section 5.4: `name=value` pairs joined by "; ").
 */
import { releaseId } from '../../api/release.ts';
import type { ResolvedRollout, ResolvedSessionAffinity } from '../../api/resolve.ts';
import type { Routing } from '../../plan/types.ts';

/** Names of the routes Fledge adds ahead of the weighted one; recognisable in a live VirtualService. */
export const STICKY_CANARY_ROUTE = 'fledge-sticky-canary';
export const STICKY_STABLE_ROUTE = 'fledge-sticky-stable';

/** Whether a route of a live VirtualService is one of the cookie routes (it carries no weights of the step). */
export function isStickyRoute(name: unknown): boolean {
  return name === STICKY_CANARY_ROUTE || name === STICKY_STABLE_ROUTE;
}

/** The affinity to render at this routing, or undefined when the cookie routes must be gone. */
export function activeAffinity(r: ResolvedRollout, routing: Routing): ResolvedSessionAffinity | undefined {
  const w = routing.canaryWeight;
  return r.sessionAffinity && w > 0 && w < 100 ? r.sessionAffinity : undefined;
}

/** The value both cookies carry: the release the routing is for. */
export function cookieValue(routing: Routing): string {
  return releaseId(routing.stableLabels, routing.canaryLabels);
}

/**
 * Envoy reads `%...%` in a header value as a variable (Istio refuses a lone `%`); a literal `%`
 * is `%%`. A cookie name may contain `%` (it is a token character).
 */
export function envoyLiteral(text: string): string {
  return text.replace(/%/g, '%%');
}

/**
 * The Set-Cookie value: Max-Age in seconds; Path=/ so the cookie covers the whole site (without
 * it a browser scopes it to the directory of the page that set it, and /static/app.js would not
 * carry it).
 */
export function setCookie(name: string, value: string, maxAgeSeconds: number): string {
  return envoyLiteral(`${name}=${value}; Max-Age=${maxAgeSeconds}; Path=/`);
}

const RE2_SPECIAL = /[\\^$.|?*+()[\]{}]/g;

/** RE2 matching `name=value` as a whole pair anywhere in a Cookie header, and nothing else. */
export function cookieRegex(name: string, value: string): string {
  return `^(.*;\\s*)?${name.replace(RE2_SPECIAL, '\\$&')}=${value.replace(RE2_SPECIAL, '\\$&')}(\\s*;.*)?$`;
}

/** The response headers of a weighted destination: its side's Set-Cookie. */
export function destinationHeaders(name: string, routing: Routing, maxAge: number): Record<string, unknown> {
  return { headers: { response: { add: { 'Set-Cookie': setCookie(name, cookieValue(routing), maxAge) } } } };
}

/**
 * Each of the weighted route's match conditions (or every request) narrowed to requests carrying
 * the cookie: the cookie routes never reach beyond the weighted route's own traffic.
 */
export function cookieMatch(name: string, routing: Routing, match: readonly Record<string, unknown>[] | undefined): Record<string, unknown>[] {
  const cookie = { cookie: { regex: cookieRegex(name, cookieValue(routing)) } };
  if (!match || match.length === 0) return [{ headers: cookie }];
  return match.map((m) => ({ ...m, headers: { ...(m.headers as Record<string, unknown> | undefined), ...cookie } }));
}

/**
 * The routings whose objects the API server's dry run must judge before anything is written:
 * the release's start, and with sessionAffinity a step that carries the cookie routes too (a
 * shape the start never has).
 */
export function routingsToVet(r: ResolvedRollout): Routing[] {
  const start = { stableLabels: r.stable.labels, canaryLabels: r.canary.labels, canaryWeight: 0 };
  return r.sessionAffinity && r.virtualService.mode === 'generated' ? [start, { ...start, canaryWeight: 50 }] : [start];
}
