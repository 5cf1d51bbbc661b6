/**
 * The CRD is generated from the zod schema so that the API server and `fledge validate` can never
 * disagree about a field. Kubernetes wants a structural schema, a subset of OpenAPI v3; the
 * conversion below maps what zod emits onto that subset.
 */
import { z } from 'zod';
import { GROUP, KIND, PLURAL, SHORT_NAME, SINGULAR, VERSION } from './constants.ts';
import { withCelRules } from './cel.ts';
import { RolloutSpecSchema, RolloutStatusSchema } from './schema.ts';

type Json = Record<string, unknown>;

const DROPPED = new Set(['$schema', 'default', 'propertyNames', 'id', '$id']);

export function toStructural(node: Json): Json {
  if (node.anyOf || node.oneOf) {
    // A union (a step is a number or an object) has no structural form; the API server keeps
    // it as given and the controller's validation judges it.
    return { 'x-kubernetes-preserve-unknown-fields': true, ...(node.description ? { description: node.description } : {}) };
  }
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED.has(key)) continue;
    if (key === 'const') out.enum = [value];
    else if (key === 'properties') {
      out.properties = Object.fromEntries(Object.entries(value as Record<string, Json>).map(([k, v]) => [k, toStructural(v)]));
    } else if (key === 'items') out.items = toStructural(value as Json);
    else if (key === 'additionalProperties') {
      if (value === false) continue;
      const schema = value === true ? {} : (value as Json);
      if (Object.keys(schema).length === 0) out['x-kubernetes-preserve-unknown-fields'] = true;
      else out.additionalProperties = toStructural(schema);
    } else out[key] = value;
  }
  if (out.type === 'object' && !out.properties && !out.additionalProperties) out['x-kubernetes-preserve-unknown-fields'] = true;
  return out;
}

function schemaOf(schema: z.ZodType): Json {
  return toStructural(z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }) as Json);
}

export function rolloutCrd(): Json {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: SINGULAR, shortNames: [SHORT_NAME] },
      scope: 'Namespaced',
      versions: [{
        name: VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
          { name: 'Weight', type: 'integer', jsonPath: '.status.canaryWeight', description: 'Percent of traffic on the canary' },
          { name: 'Step', type: 'string', jsonPath: '.status.step', description: 'The current step, counted from 1, of the number of steps (e.g. 2/4)' },
          { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', priority: 1 },
          { name: 'Message', type: 'string', jsonPath: '.status.message', priority: 1 },
          { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
        ],
        schema: {
          openAPIV3Schema: {
            type: 'object',
            description: 'A canary release of one Service on Istio, stepped by traffic weight and judged by Prometheus.',
            required: ['spec'],
            properties: {
              apiVersion: { type: 'string' },
              kind: { type: 'string' },
              metadata: { type: 'object' },
              spec: withCelRules(schemaOf(RolloutSpecSchema)),
              status: schemaOf(RolloutStatusSchema),
            },
          },
        },
      }],
    },
  };
}
