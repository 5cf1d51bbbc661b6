/**
 * The fields Fledge passes to Istio verbatim (`virtualService.match`, `virtualService.http`,
 * `destinationRule.trafficPolicy`), checked offline against Istio's published CRD schema: the
 * structural OpenAPI v3 schema of istio.io/api's kubernetes/customresourcedefinitions.gen.yaml,
 * vendored in istio-crd-schema.json (the version is in the file; a test fails when it differs
 * from what test/cluster/build.sh installs). What the API server would refuse, or silently prune,
 * is refused here, naming the Rollout's field.
 *
 * Judged: type (nullable, int-or-string), format int32/uint32 ranges, properties (an unknown
 * field is refused: server-side apply refuses it too), additionalProperties, required, enum,
 * minimum/maximum, maxItems/maxLength/maxProperties, oneOf/anyOf/allOf/not (Istio uses them for
 * "at most one of"), and the one CEL rule these schemas use on durations
 * (`duration(self) >= duration('1ms')`). Istio's Go validation goes further (regex syntax, retry
 * conditions...): that is the server's dry run and `istioctl validate`.
 */
import schemas from './istio-crd-schema.json' with { type: 'json' };

/** An OpenAPI v3 schema node as CRDs use it. */
export interface SchemaNode {
  type?: string;
  format?: string;
  nullable?: boolean;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  required?: string[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  maxItems?: number;
  maxLength?: number;
  maxProperties?: number;
  oneOf?: SchemaNode[];
  anyOf?: SchemaNode[];
  allOf?: SchemaNode[];
  not?: SchemaNode;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-validations'?: { rule: string; message?: string }[];
}

interface VendoredSchemas { source: string; istioApiVersion: string; version: string; virtualService: SchemaNode; destinationRule: SchemaNode }

export const ISTIO_SCHEMAS = schemas as unknown as VendoredSchemas;

/** The istio.io/api version whose CRD schema is vendored. */
export const ISTIO_SCHEMA_VERSION = ISTIO_SCHEMAS.istioApiVersion;

/** Schema of one entry of VirtualService `spec.http` (an HTTPRoute). */
export const HTTP_ROUTE_SCHEMA: SchemaNode = ISTIO_SCHEMAS.virtualService.properties!['http']!.items!;
/** Schema of one HTTPMatchRequest. */
export const HTTP_MATCH_SCHEMA: SchemaNode = HTTP_ROUTE_SCHEMA.properties!['match']!.items!;
/** Schema of DestinationRule `spec.trafficPolicy`. */
export const TRAFFIC_POLICY_SCHEMA: SchemaNode = ISTIO_SCHEMAS.destinationRule.properties!['trafficPolicy']!;

export interface SchemaError { path: string; message: string }

const INT32 = [-(2 ** 31), 2 ** 31 - 1] as const;
const UINT32 = [0, 2 ** 32 - 1] as const;

/** Every way `value` breaks `node`, with paths below `path` (`.a.b[2]`). */
export function schemaErrors(node: SchemaNode, value: unknown, path: string): SchemaError[] {
  const errors: SchemaError[] = [];
  const add = (message: string, at = path) => errors.push({ path: at, message });
  if (value === null) {
    if (!node.nullable) add('must not be null');
    return errors;
  }
  if (node['x-kubernetes-int-or-string']) {
    if (!(typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value)))) add('must be an integer or a string');
    return errors;
  }
  const typeError = checkType(node, value);
  if (typeError) {
    add(typeError);
    return errors;
  }
  if (node.enum && !node.enum.some((e) => e === value)) add(`must be one of ${node.enum.map((e) => JSON.stringify(e)).join(', ')}`);
  if (typeof value === 'number') {
    if (node.minimum !== undefined && value < node.minimum) add(`must be at least ${node.minimum}`);
    if (node.maximum !== undefined && value > node.maximum) add(`must be at most ${node.maximum}`);
    const range = node.format === 'int32' ? INT32 : node.format === 'uint32' ? UINT32 : undefined;
    if (range && (value < range[0] || value > range[1])) add(`must be a ${node.format} (${range[0]}..${range[1]})`);
  }
  if (typeof value === 'string') {
    if (node.maxLength !== undefined && [...value].length > node.maxLength) add(`must be at most ${node.maxLength} characters`);
    for (const v of node['x-kubernetes-validations'] ?? []) {
      const problem = celProblem(v.rule, value);
      if (problem) add(v.message ?? problem);
    }
  }
  if (Array.isArray(value)) {
    if (node.maxItems !== undefined && value.length > node.maxItems) add(`must have at most ${node.maxItems} items`);
    if (node.items) value.forEach((item, i) => errors.push(...schemaErrors(node.items!, item, `${path}[${i}]`)));
  } else if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (node.maxProperties !== undefined && keys.length > node.maxProperties) add(`must have at most ${node.maxProperties} fields`);
    for (const r of node.required ?? []) if (!(r in obj)) add('is required', `${path}.${r}`);
    for (const k of keys) {
      const child = node.properties?.[k];
      const at = `${path}${/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`}`;
      if (child) errors.push(...schemaErrors(child, obj[k], at));
      else if (typeof node.additionalProperties === 'object') errors.push(...schemaErrors(node.additionalProperties, obj[k], at));
      else if (node.properties && node.additionalProperties !== true && !node['x-kubernetes-preserve-unknown-fields']) {
        add(`is not a field of Istio's schema here (known: ${Object.keys(node.properties).join(', ')})`, at);
      }
    }
  }
  errors.push(...combinatorErrors(node, value, path));
  return errors;
}

/** The CEL rules Istio's CRDs put on strings; an unknown rule is left to the API server. */
function celProblem(rule: string, value: string): string | undefined {
  const m = /^duration\(self\) >= duration\('([^']+)'\)$/.exec(rule.trim());
  if (!m) return undefined;
  const v = goDurationMs(value);
  const min = goDurationMs(m[1]!);
  if (v === undefined) return `must be a duration such as 1s, 500ms or 1m30s`;
  if (min !== undefined && v < min) return `must be at least ${m[1]}`;
  return undefined;
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration as CEL's duration() reads it (Go's syntax: 1h2m3.5s, 300ms); undefined if malformed. */
export function goDurationMs(text: string): number | undefined {
  if (text === '0') return 0;
  const m = /^([+-]?)((?:[0-9]*\.?[0-9]+(?:ns|us|µs|ms|s|m|h))+)$/.exec(text);
  if (!m) return undefined;
  let total = 0;
  for (const part of m[2]!.matchAll(/([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)/g)) total += Number(part[1]) * UNIT_MS[part[2]!]!;
  return m[1] === '-' ? -total : total;
}

function checkType(node: SchemaNode, value: unknown): string | undefined {
  switch (node.type) {
    case 'string': return typeof value === 'string' ? undefined : 'must be a string';
    case 'integer': return typeof value === 'number' && Number.isInteger(value) ? undefined : 'must be an integer';
    case 'number': return typeof value === 'number' && Number.isFinite(value) ? undefined : 'must be a number';
    case 'boolean': return typeof value === 'boolean' ? undefined : 'must be true or false';
    case 'array': return Array.isArray(value) ? undefined : 'must be a list';
    case 'object': return typeof value === 'object' && !Array.isArray(value) ? undefined : 'must be an object';
    default: return undefined;
  }
}

/** Istio's oneOf/anyOf blocks say "at most one of these fields"; they are judged as a whole. */
function combinatorErrors(node: SchemaNode, value: unknown, path: string): SchemaError[] {
  const errors: SchemaError[] = [];
  if (node.oneOf && node.oneOf.filter((n) => matches(n, value)).length !== 1) errors.push({ path, message: `must set at most one of ${alternatives(node.oneOf)}` });
  if (node.anyOf && !node.anyOf.some((n) => matches(n, value))) errors.push({ path, message: `must match one of ${alternatives(node.anyOf)}` });
  for (const n of node.allOf ?? []) errors.push(...combinatorErrors(n, value, path));
  if (node.not && matches(node.not, value)) errors.push({ path, message: 'has a combination of fields Istio refuses' });
  return errors;
}

function matches(node: SchemaNode, value: unknown): boolean {
  return schemaErrors(node, value, '').length === 0;
}

function alternatives(nodes: SchemaNode[]): string {
  const names = [...new Set(nodes.flatMap((n) => n.required ?? []))];
  return names.length > 0 ? names.join(', ') : 'the alternatives of the schema';
}
