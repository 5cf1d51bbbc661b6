/**
 * Host names as Istio reads them in a VirtualService or DestinationRule.
 *
 * Istio resolves a short name (no dot) in the namespace of the object that holds it, not of the
 * Service: `reviews` in a VirtualService of namespace `books` is `reviews.books.svc.<domain>`
 * (pilot/pkg/model/config.go, ResolveShortnameToFQDN). Within the cluster `reviews.books` and
 * `reviews.books.svc` name the same Service (Kubernetes DNS search paths; Istio's sidecar answers
 * all these spellings on the Service's virtual host), so Fledge treats all four spellings as one
 * Service when it decides whether a destination or a host is the Rollout's own.
 */

/** A Kubernetes Service, by name and namespace. */
export interface ServiceRef { name: string; namespace: string }

/**
 * The Service a host names, resolved in `namespace` (the namespace of the object holding the
 * host): `name` -> (name, namespace); `name.ns`, `name.ns.svc`, `name.ns.svc.<cluster domain>`
 * -> (name, ns). Undefined for a wildcard, an IP address or a name of another shape (an external
 * host such as `shop.example.com` has three labels and no `svc`).
 */
export function serviceOfHost(host: string, namespace: string): ServiceRef | undefined {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === '' || h.includes('*') || /^[0-9.]+$/.test(h) || h.includes(':')) return undefined;
  const parts = h.split('.');
  if (parts.length === 1) return { name: parts[0]!, namespace };
  if (parts.length === 2) return { name: parts[0]!, namespace: parts[1]! };
  if (parts[2] === 'svc') return { name: parts[0]!, namespace: parts[1]! };
  return undefined;
}

/** Whether two hosts, each resolved in its own object's namespace, name the same Service or the same external name. */
export function sameHost(a: string, aNamespace: string, b: string, bNamespace: string): boolean {
  return canonicalHost(a, aNamespace) === canonicalHost(b, bNamespace);
}

/**
 * One spelling per destination: `name.ns.svc` for a Service (any cluster domain), the lower-cased
 * name otherwise. Two hosts overlap on a gateway when their canonical forms are equal.
 */
export function canonicalHost(host: string, namespace: string): string {
  const svc = serviceOfHost(host, namespace);
  return svc ? `${svc.name}.${svc.namespace}.svc` : host.toLowerCase().replace(/\.$/, '');
}

/** Whether `host` (in an object of `namespace`) names the Service `service` of the Rollout's namespace. */
export function isServiceHost(host: string | undefined, namespace: string, service: ServiceRef): boolean {
  if (host === undefined) return false;
  const s = serviceOfHost(host, namespace);
  return s !== undefined && s.name === service.name && s.namespace === service.namespace;
}

/** The gateway `mesh` stands for every sidecar; it is what an empty gateways list means. */
export const MESH_GATEWAY = 'mesh';

/**
 * One spelling per gateway, as Istio resolves a VirtualService's `gateways`: `mesh`, `ns/name`,
 * `./name` and `name` (in the VirtualService's namespace) and the legacy `name.ns.svc.<domain>`
 * all become `ns/name` (pilot/pkg/model/config.go, resolveGatewayName).
 */
export function canonicalGateway(gateway: string, namespace: string): string {
  if (gateway === MESH_GATEWAY) return MESH_GATEWAY;
  const slash = gateway.indexOf('/');
  if (slash >= 0) return `${gateway.slice(0, slash) === '.' ? namespace : gateway.slice(0, slash)}/${gateway.slice(slash + 1)}`;
  const parts = gateway.split('.');
  if (parts.length >= 2) return `${parts[1]}/${parts[0]}`;
  return `${namespace}/${gateway}`;
}

/** The gateways a VirtualService binds to, canonical; none listed means the mesh. */
export function gatewaysOf(gateways: readonly string[] | undefined, namespace: string): string[] {
  return gateways && gateways.length > 0 ? [...new Set(gateways.map((g) => canonicalGateway(g, namespace)))] : [MESH_GATEWAY];
}
