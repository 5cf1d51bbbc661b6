import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { CRD_PATH, renderCrdYaml } from '../../scripts/crd-file.ts';
import { parseRollout } from '../../src/api/validate.ts';
import { EXAMPLES, exampleObject } from './fixtures.ts';

type Node = Record<string, unknown>;

const committed = readFileSync(CRD_PATH, 'utf8');
const crd = parse(committed) as {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; singular: string; shortNames: string[] };
    versions: {
      name: string; served: boolean; storage: boolean;
      subresources?: { status?: unknown };
      additionalPrinterColumns: { name: string; type: string; jsonPath: string }[];
      schema: { openAPIV3Schema: Node };
    }[];
  };
};
const version = crd.spec.versions[0]!;
const root = version.schema.openAPIV3Schema;

/** Every schema node with its path: the root, each property, additionalProperties and items. */
function walk(node: Node, path = '', out: [string, Node][] = []): [string, Node][] {
  out.push([path || '(root)', node]);
  for (const [k, v] of Object.entries((node.properties ?? {}) as Record<string, Node>)) walk(v, `${path}.${k}`, out);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') walk(node.additionalProperties as Node, `${path}{}`, out);
  if (node.items && typeof node.items === 'object') walk(node.items as Node, `${path}[]`, out);
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    (node[key] as Node[] | undefined)?.forEach((n, i) => walk(n, `${path}<${key}${i}>`, out));
  }
  if (node.not) walk(node.not as Node, `${path}<not>`, out);
  return out;
}
const nodes = walk(root);

describe('crds/rollouts.fledge.dev.yaml', () => {
  it('is what `npm run gen` writes from src/api/schema.ts today', () => {
    expect(committed, 'the committed CRD is stale: run `npm run gen`').toBe(renderCrdYaml());
  });

  it('names the Rollout resource of group fledge.dev, version v1alpha1, shortName fro', () => {
    expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
    expect(crd.kind).toBe('CustomResourceDefinition');
    expect(crd.metadata.name).toBe('rollouts.fledge.dev');
    expect(crd.spec.group).toBe('fledge.dev');
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names).toMatchObject({ kind: 'Rollout', plural: 'rollouts', singular: 'rollout' });
    expect(crd.spec.names.shortNames).toContain('fro');
    expect(crd.spec.versions).toHaveLength(1);
    expect(version).toMatchObject({ name: 'v1alpha1', served: true, storage: true });
  });

  it('has the status subresource', () => {
    expect(version.subresources?.status).toEqual({});
  });

  it('has the printer columns Phase, Weight, Step and Age, pointing at the right fields', () => {
    const cols = Object.fromEntries(version.additionalPrinterColumns.map((c) => [c.name, c]));
    expect(cols.Phase).toMatchObject({ type: 'string', jsonPath: '.status.phase' });
    expect(cols.Weight).toMatchObject({ type: 'integer', jsonPath: '.status.canaryWeight' });
    expect(cols.Step).toMatchObject({ type: 'string', jsonPath: '.status.step' });
    expect(cols.Age).toMatchObject({ type: 'date', jsonPath: '.metadata.creationTimestamp' });
    const names = version.additionalPrinterColumns.map((c) => c.name);
    expect(names.indexOf('Phase')).toBeLessThan(names.indexOf('Weight'));
    expect(names.indexOf('Weight')).toBeLessThan(names.indexOf('Step'));
  });

  describe('is a structural schema', () => {
    it('walks a schema of some size (guards the checks below against walking nothing)', () => {
      expect(nodes.length).toBeGreaterThan(50);
      expect(root.type).toBe('object');
      expect(Object.keys(root.properties as Node)).toEqual(expect.arrayContaining(['apiVersion', 'kind', 'metadata', 'spec', 'status']));
    });

    it('gives every node a type unless it preserves unknown fields', () => {
      const untyped = nodes.filter(([path, n]) => !path.includes('<') && typeof n.type !== 'string' && n['x-kubernetes-preserve-unknown-fields'] !== true);
      expect(untyped.map(([p]) => p)).toEqual([]);
    });

    it('uses only types Kubernetes knows', () => {
      const bad = nodes.filter(([, n]) => n.type !== undefined && !['object', 'array', 'string', 'integer', 'number', 'boolean'].includes(n.type as string));
      expect(bad.map(([p, n]) => `${p}: ${String(n.type)}`)).toEqual([]);
    });

    it('has no type, description or default under anyOf/oneOf/allOf/not', () => {
      const inLogic = nodes.filter(([path]) => path.includes('<'));
      for (const [path, n] of inLogic) {
        for (const key of ['type', 'default', 'description', 'nullable', 'additionalProperties', 'x-kubernetes-preserve-unknown-fields']) {
          expect(n, `${path} sets ${key}`).not.toHaveProperty(key);
        }
      }
    });

    it.each(['default', '$ref', 'definitions', '$defs', 'nullable', 'uniqueItems', 'const', 'propertyNames', '$schema', 'id', '$id'])('has no %s anywhere', (key) => {
      const found = nodes.filter(([, n]) => key in n && !(key === 'uniqueItems' && n[key] === false) && !(key === 'nullable' && n[key] === false));
      expect(found.map(([p]) => p)).toEqual([]);
    });

    it('has no additionalProperties: false, and never additionalProperties beside properties', () => {
      expect(nodes.filter(([, n]) => n.additionalProperties === false).map(([p]) => p)).toEqual([]);
      expect(nodes.filter(([, n]) => n.properties && n.additionalProperties !== undefined).map(([p]) => p)).toEqual([]);
    });

    it('lists only declared properties as required', () => {
      for (const [path, n] of nodes) {
        for (const req of (n.required as string[] | undefined) ?? []) {
          expect(Object.keys((n.properties ?? {}) as Node), `${path} requires ${req}`).toContain(req);
        }
      }
    });

    it('gives every array items, and every typed object properties, additionalProperties or preserve-unknown-fields', () => {
      for (const [path, n] of nodes) {
        if (n.type === 'array') expect(n.items, `${path} has no items`).toBeDefined();
        if (n.type === 'object' && path !== '.metadata') {
          const open = n.properties !== undefined || n.additionalProperties !== undefined || n['x-kubernetes-preserve-unknown-fields'] === true;
          expect(open, `${path} would prune every field`).toBe(true);
        }
      }
    });

    it('keeps pass-through objects (match, http, trafficPolicy) and union steps unpruned', () => {
      const byPath = Object.fromEntries(nodes);
      for (const p of [
        '.spec.trafficRouting.virtualService.match[]',
        '.spec.trafficRouting.virtualService.http',
        '.spec.trafficRouting.destinationRule.trafficPolicy',
        '.spec.strategy.steps[]',
      ]) {
        expect(byPath[p], p).toBeDefined();
        expect(byPath[p]!['x-kubernetes-preserve-unknown-fields'], p).toBe(true);
      }
    });
  });

  it('gives every spec and status field a description, for kubectl explain', () => {
    const fields = nodes.filter(([path]) => /^\.(spec|status)(\.|$)/.test(path) && !path.includes('[]') && !path.includes('{}') && !path.includes('<'));
    expect(fields.length).toBeGreaterThan(40);
    const bare = fields.filter(([, n]) => typeof n.description !== 'string' || n.description.length < 10)
      .map(([p]) => p)
      // Inside lastAnalysis and conditions the types speak for themselves (metav1.Condition, the judge's result).
      .filter((p) => !/^\.status\.(lastAnalysis|conditions)\./.test(p));
    expect(bare).toEqual([]);
  });

  it('describes every field the seed examples use (nothing of theirs would be pruned)', () => {
    const byPath = Object.fromEntries(nodes);
    /** Paths of leaves and objects in a value, in the walk's notation, stopping at unpruned nodes. */
    const check = (value: unknown, path: string) => {
      const node = byPath[path];
      expect(node, `${path} is not in the schema`).toBeDefined();
      if (node!['x-kubernetes-preserve-unknown-fields'] === true && !node!.properties && !node!.additionalProperties) return;
      if (Array.isArray(value)) value.forEach((v) => check(v, `${path}[]`));
      else if (value && typeof value === 'object') {
        for (const [k, v] of Object.entries(value)) check(v, node!.additionalProperties ? `${path}{}` : `${path}.${k}`);
      }
    };
    for (const name of EXAMPLES) {
      const doc = exampleObject(name) as { spec: unknown };
      expect(parseRollout(doc).ok).toBe(true);
      check(doc.spec, '.spec');
    }
  });
});
