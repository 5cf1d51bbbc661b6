/**
 * Istio's own validation of the fields Fledge writes itself (hosts, gateways, destination hosts,
 * subset names, ports), ported so that `fledge validate`, `fledge render` and the controller refuse
 * what istiod's admission webhook (and `istioctl validate`) would refuse, naming the Rollout's field,
 * instead of a write the API server refuses and the controller retries forever.
 *
 * Sources (istio/istio): pkg/config/validation/validation.go (ValidateVirtualService,
 * validateGatewayNames, validateDestination, validateSubsetName, ValidateDestinationRule),
 * pkg/config/validation/agent/validation.go (ValidateFQDN, ValidateWildcardDomain,
 * ValidateDNS1123Labels, CheckDNS1123Preconditions, ValidatePort), pkg/config/labels/instance.go
 * (IsDNS1123Label, IsWildcardDNS1123Label) and pkg/config/host/name.go (Name.Matches).
 * The fields passed through verbatim (match, the http extras, trafficPolicy) are judged by
 * Istio's CRD schema instead (crd-schema.ts).
 */

/** labels.DNS1123LabelMaxLength */
export const DNS1123_LABEL_MAX_LENGTH = 63;
const DNS1123_LABEL_FMT = '[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?';
const DNS1123_LABEL = new RegExp(`^${DNS1123_LABEL_FMT}$`);
const WILDCARD_PREFIX = new RegExp(`^(\\*|(\\*|\\*-)?${DNS1123_LABEL_FMT})$`);

/** labels.IsDNS1123Label */
export function isDNS1123Label(value: string): boolean {
  return value.length <= DNS1123_LABEL_MAX_LENGTH && DNS1123_LABEL.test(value);
}

/** labels.IsWildcardDNS1123Label: a label, `*`, or a label with a leading `*` (`*-foo`). */
export function isWildcardDNS1123Label(value: string): boolean {
  return value.length <= DNS1123_LABEL_MAX_LENGTH && WILDCARD_PREFIX.test(value);
}

/** agent.CheckDNS1123Preconditions */
function checkDNS1123Preconditions(name: string): string | undefined {
  if (name.length > 255) return `domain name "${name}" too long (max 255)`;
  if (name.length === 0) return 'empty domain name not allowed';
  return undefined;
}

/** Go's strconv.Atoi accepts an optional sign and decimal digits (within int64). */
function goAtoiAccepts(s: string): boolean {
  return /^[+-]?[0-9]+$/.test(s) && Math.abs(Number(s)) <= 2 ** 63;
}

/** agent.ValidateDNS1123Labels: every label a DNS-1123 label, the top-level domain not all-numeric. */
export function validateDNS1123Labels(domain: string): string | undefined {
  const parts = domain.split('.');
  const tld = parts[parts.length - 1]!;
  if (goAtoiAccepts(tld)) return `domain name "${domain}" invalid (top level domain "${tld}" cannot be all-numeric)`;
  for (let i = 0; i < parts.length; i++) {
    const label = parts[i]!;
    // A trailing dot is allowed: `istio.io.`
    if (i === parts.length - 1 && label === '') return undefined;
    if (!isDNS1123Label(label)) return `domain name "${domain}" invalid (label "${label}" invalid)`;
  }
  return undefined;
}

/** agent.ValidateFQDN */
export function validateFQDN(fqdn: string): string | undefined {
  return checkDNS1123Preconditions(fqdn) ?? validateDNS1123Labels(fqdn);
}

/** agent.ValidateWildcardDomain: a valid FQDN whose first label alone may be a wildcard. */
export function validateWildcardDomain(domain: string): string | undefined {
  const pre = checkDNS1123Preconditions(domain);
  if (pre) return pre;
  const dot = domain.indexOf('.');
  const first = dot < 0 ? domain : domain.slice(0, dot);
  if (!isWildcardDNS1123Label(first)) return `domain name "${domain}" invalid (label "${first}" invalid)`;
  return dot < 0 ? undefined : validateDNS1123Labels(domain.slice(dot + 1));
}

/** Whether the text is an IP address (Istio lets those pass as hosts). */
function isIPAddress(s: string): boolean {
  return /^(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}$/.test(s) || (s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s));
}

/** host.Name.Matches: equal names, or a wildcard covering the other. */
export function hostsMatch(a: string, b: string): boolean {
  const aw = a.startsWith('*');
  const bw = b.startsWith('*');
  if (aw && bw) return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
  if (aw) return b.endsWith(a.slice(1));
  if (bw) return a.endsWith(b.slice(1));
  return a === b;
}

/** One problem with a field of an object Fledge writes; `index` is the list position, if any. */
export interface IstioFieldError { field: 'hosts' | 'gateways' | 'destination.host' | 'subset' | 'port' | 'host'; index?: number; message: string }

/**
 * ValidateVirtualService, limited to the fields Fledge sets: hosts, gateways and the route
 * destinations' host, subset and port (route names and weights are Fledge's own constants).
 */
export function virtualServiceFieldErrors(spec: { hosts?: readonly string[]; gateways?: readonly string[]; http?: readonly { route?: readonly { destination?: { host?: string; subset?: string; port?: { number?: number } } }[] }[] }): IstioFieldError[] {
  const errors: IstioFieldError[] = [];
  const hosts = spec.hosts ?? [];
  const gateways = spec.gateways ?? [];
  gateways.forEach((g, index) => {
    const message = validateGatewayName(g);
    if (message) errors.push({ field: 'gateways', index, message });
  });
  // isGateway: bound to gateways and not to `mesh`.
  const appliesToMesh = gateways.length === 0 || gateways.includes('mesh');
  let allHostsValid = true;
  if (hosts.length === 0) errors.push({ field: 'hosts', message: 'a VirtualService must have at least one host' });
  hosts.forEach((h, index) => {
    const message = validateWildcardDomain(h);
    if (message && !isIPAddress(h)) {
      errors.push({ field: 'hosts', index, message });
      allHostsValid = false;
    } else if (!message && appliesToMesh && h === '*') {
      errors.push({ field: 'hosts', index, message: 'wildcard host * is not allowed for virtual services bound to the mesh gateway' });
      allHostsValid = false;
    }
  });
  if (allHostsValid) {
    for (let i = 0; i < hosts.length; i++) {
      for (let j = i + 1; j < hosts.length; j++) {
        if (hostsMatch(hosts[i]!, hosts[j]!)) errors.push({ field: 'hosts', index: j, message: `duplicate hosts in virtual service: ${hosts[i]} & ${hosts[j]}` });
      }
    }
  }
  const seen = new Set<string>();
  for (const route of spec.http ?? []) {
    for (const { destination: d } of route.route ?? []) {
      if (!d) continue;
      const key = JSON.stringify([d.host, d.subset, d.port?.number]);
      if (seen.has(key)) continue;
      seen.add(key);
      const host = d.host ?? '';
      const hostError = host === '*' ? `invalid destination host ${host}` : validateWildcardDomain(host);
      if (hostError) errors.push({ field: 'destination.host', message: hostError });
      if (d.subset !== undefined) {
        const subsetError = validateSubsetName(d.subset);
        if (subsetError) errors.push({ field: 'subset', message: subsetError });
      }
      if (d.port?.number !== undefined && !(Number.isInteger(d.port.number) && d.port.number >= 1 && d.port.number <= 65535)) {
        errors.push({ field: 'port', message: `port number ${d.port.number} must be in the range 1..65535` });
      }
    }
  }
  return dedupe(errors);
}

/** ValidateDestinationRule, limited to what Fledge sets: the host and the subset names. */
export function destinationRuleFieldErrors(spec: { host?: string; subsets?: readonly { name?: string }[] }): IstioFieldError[] {
  const errors: IstioFieldError[] = [];
  const hostError = validateWildcardDomain(spec.host ?? '');
  if (hostError) errors.push({ field: 'host', message: hostError });
  const names = new Set<string>();
  for (const s of spec.subsets ?? []) {
    const name = s.name ?? '';
    if (names.has(name)) errors.push({ field: 'subset', message: `duplicate subset names: ${name}` });
    names.add(name);
    const e = validateSubsetName(name);
    if (e) errors.push({ field: 'subset', message: e });
  }
  return dedupe(errors);
}

/** validateSubsetName */
export function validateSubsetName(name: string): string | undefined {
  if (name.length === 0) return 'subset name cannot be empty';
  if (!isDNS1123Label(name)) return `subset name is invalid: ${name}`;
  return undefined;
}

/**
 * validateGatewayNames, for one name: `namespace/name` with both parts DNS-1123 labels, or a name
 * without a slash that must be a valid FQDN (`mesh`, `public`, or the legacy `name.namespace.svc...`).
 */
export function validateGatewayName(gateway: string): string | undefined {
  const slash = gateway.indexOf('/');
  if (slash < 0) return validateFQDN(gateway);
  const ns = gateway.slice(0, slash);
  const name = gateway.slice(slash + 1);
  if (ns.length === 0 || name.length === 0) return 'config namespace and gateway name cannot be empty';
  if (!isDNS1123Label(ns)) return `invalid value for namespace: "${ns}"`;
  if (!isDNS1123Label(name)) return `invalid value for gateway name: "${name}"`;
  return undefined;
}

function dedupe(errors: IstioFieldError[]): IstioFieldError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const k = `${e.field}\0${e.index ?? ''}\0${e.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** RFC 7230 token characters: Istio's validHeaderNameRegex (pkg/config/validation/validation.go). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~A-Za-z0-9]+$/;
/** HTTP/2 pseudo-headers a match may name (validation.go pseudoHeaders). */
const PSEUDO_HEADERS = new Set([':method', ':scheme', ':authority', ':path', ':status']);
/** The JWT claim form of a header match (`@request.auth.claims.groups`), pilot/pkg/security/authz/model/jwt. */
const JWT_CLAIM = /^@request\.auth\.claims(\.[^.]+|\[[^\]]+\])+$/;

/**
 * validateHTTPRouteMatchRequest for one HTTPMatchRequest, as istiod's webhook judges it, with
 * `path` as the prefix of each problem's field path: header names (ValidateHTTPHeaderNameOrJwtClaimRoute),
 * null header conditions, and regexes that RE2 cannot compile. One rule istiod does not enforce:
 * header names in lowercase, as Istio's API reference asks of HTTPMatchRequest.headers ("The
 * header keys must be lowercase and use hyphen as the separator"; istio.io/api
 * networking/v1alpha3/virtual_service.proto).
 * Regexes are judged approximately (JavaScript's engine, after RE2's inline flags; lookarounds
 * and backreferences, which RE2 lacks, refused): `istioctl validate` remains the exact gate.
 */
export function matchRequestProblems(m: Record<string, unknown>, path: string): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const at = (...parts: string[]) => `${path}${parts.map((p) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`)).join('')}`;
  for (const field of ['headers', 'withoutHeaders'] as const) {
    const headers = m[field];
    if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) continue;
    for (const [name, cond] of Object.entries(headers as Record<string, unknown>)) {
      if (cond === null && field === 'headers') out.push({ path: at(field, name), message: `Istio refuses it: header match ${name} cannot be null` });
      if (name === '') out.push({ path: at(field), message: 'Istio refuses it: header name cannot be empty' });
      else if (!JWT_CLAIM.test(name) && !PSEUDO_HEADERS.has(name) && !HEADER_NAME.test(name)) out.push({ path: at(field, name), message: `Istio refuses it: header name ${name} is not a valid header name` });
      else if (!JWT_CLAIM.test(name) && name !== name.toLowerCase()) out.push({ path: at(field, name), message: `header names must be lowercase (${name.toLowerCase()}): Istio's API asks for lowercase header keys in a match, and HTTP/2 carries only lowercase names` });
      const regex = (cond as { regex?: unknown } | null)?.regex;
      if (typeof regex === 'string' && !(field === 'withoutHeaders' && regex === '*')) {
        const problem = re2Problem(regex);
        if (problem) out.push({ path: at(field, name, 'regex'), message: `Istio refuses it: ${problem}` });
      }
    }
  }
  for (const field of ['uri', 'scheme', 'method', 'authority'] as const) {
    const regex = (m[field] as { regex?: unknown } | undefined)?.regex;
    if (typeof regex !== 'string') continue;
    const problem = re2Problem(regex);
    if (problem) out.push({ path: at(field, 'regex'), message: `Istio refuses it: ${problem}` });
  }
  return out;
}

/** Why RE2 (Go's regexp.Compile) would refuse the regex, approximately; undefined when it compiles. */
export function re2Problem(regex: string): string | undefined {
  if (regex === '') return 'regex string match should not be empty';
  if (/\(\?<?[=!]/.test(regex)) return `"${regex}" is not a valid RE2 regex: lookarounds are not supported`;
  if (/(^|[^\\])(\\\\)*\\[1-9]/.test(regex)) return `"${regex}" is not a valid RE2 regex: backreferences are not supported`;
  const repeat = repeatCountProblem(regex);
  if (repeat) return `"${regex}" is not a valid RE2 regex: invalid repeat count: ${repeat}`;
  // RE2's inline flags ((?i), (?s:...)) are no JavaScript syntax: drop them before compiling.
  const js = regex.replace(/\(\?[imsU-]+\)/g, '').replace(/\(\?[imsU-]+:/g, '(?:').replace(/\(\?P</g, '(?<');
  try {
    new RegExp(js);
    return undefined;
  } catch (err) {
    return `"${regex}" is not a valid RE2 regex: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`;
  }
}

/** RE2's and Go's limit on a counted repetition (regexp/syntax: "above 1000"), nested ones multiplied. */
const MAX_REPEAT = 1000;

/**
 * The counted repetition RE2 refuses (Go's regexp/syntax repeatIsValid, RE2's RepetitionWalker):
 * a count above 1000, or nested counts whose product is, such as `(a{100}){11}`. JavaScript
 * accepts both. Returns the offending `{...}`, or undefined.
 */
function repeatCountProblem(regex: string): string | undefined {
  // For each open group, the largest product of counts inside it so far.
  const inside: number[] = [1];
  let lastAtom = 1; // the product inside the atom just closed (a group's), 1 for a plain one
  for (let i = 0; i < regex.length; i++) {
    const c = regex[i]!;
    if (c === '\\') { i++; lastAtom = 1; continue; }
    if (c === '[') {
      // A class is one atom: skip to its closing bracket (a `]` right after `[` or `[^` is literal).
      i += regex[i + 1] === '^' ? 2 : 1;
      if (regex[i] === ']') i++;
      while (i < regex.length && regex[i] !== ']') i += regex[i] === '\\' ? 2 : 1;
      lastAtom = 1;
      continue;
    }
    if (c === '(') { inside.push(1); continue; }
    if (c === ')') {
      lastAtom = inside.length > 1 ? inside.pop()! : 1;
      inside[inside.length - 1] = Math.max(inside[inside.length - 1]!, lastAtom);
      continue;
    }
    const counted = c === '{' ? /^\{([0-9]+)(,([0-9]*))?\}/.exec(regex.slice(i)) : null;
    if (counted) {
      const min = Number(counted[1]);
      const max = counted[2] === undefined ? min : counted[3] === '' ? -1 : Number(counted[3]);
      const n = max < 0 ? min : max;
      const product = lastAtom * Math.max(n, 1);
      if (min > MAX_REPEAT || max > MAX_REPEAT || product > MAX_REPEAT) return counted[0];
      inside[inside.length - 1] = Math.max(inside[inside.length - 1]!, product);
      i += counted[0].length - 1;
      continue;
    }
    lastAtom = 1;
  }
  return undefined;
}

/** validation.go validHeaderNameRegex */
const VALID_HEADER_NAME = /^[-_A-Za-z0-9]+$/;

/**
 * ValidateHTTPHeaderOperationName and ValidateHTTPHeaderValue (validation.go), for a response
 * header Fledge adds. The `%` rule is stricter than Istio's (which accepts Envoy's `%VARIABLE%`
 * forms): Fledge writes literals only, each `%` doubled (router/istio/affinity.ts envoyLiteral).
 */
export function responseHeaderErrors(name: string, value: string): string[] {
  const errors: string[] = [];
  if (name === '') errors.push('header name cannot be empty');
  else if (name.toLowerCase() === 'host') errors.push(`invalid header "${name}": cannot set Host header`);
  else if (name.startsWith(':')) errors.push(`invalid header "${name}": header cannot have ":" prefix`);
  // eslint-disable-next-line no-control-regex
  if (!/^[^\u0000-\u0008\u000A-\u001F\u007F]*$/.test(value)) errors.push(`header value configuration ${value} is invalid`);
  if (value.replace(/%%/g, '').includes('%')) errors.push(`header value configuration: ${value} has a lone % (Envoy reads %...% as a variable)`);
  return errors;
}

/**
 * validateHTTPRouteMatchRequest for a header condition (ValidateHTTPHeaderNameOrJwtClaimRoute, and
 * the regex compiled: Envoy runs RE2; Fledge's own regexes use only syntax RE2 and JavaScript share).
 */
export function headerMatchErrors(name: string, match: { regex?: string }): string[] {
  const errors: string[] = [];
  if (!VALID_HEADER_NAME.test(name)) errors.push(`header name ${name} is not a valid header name`);
  if (match.regex !== undefined) {
    try {
      new RegExp(match.regex);
    } catch (err) {
      errors.push(`"${match.regex}" is not a valid regex: ${(err as Error).message}`);
    }
  }
  return errors;
}
