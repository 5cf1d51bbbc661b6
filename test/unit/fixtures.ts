/** Shared inputs for the unit tests: the seed examples and a minimal Rollout to mutate. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { resolveRollout, type ResolvedRollout } from '../../src/api/resolve.ts';
import { parseRollout } from '../../src/api/validate.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const EXAMPLES = ['httpping-mesh.yaml', 'product-service.yaml', 'staff-safe-risky.yaml', 'ab-testers.yaml'] as const;
export type ExampleName = (typeof EXAMPLES)[number];

export function exampleText(name: ExampleName): string {
  return readFileSync(new URL(`../../examples/${name}`, import.meta.url), 'utf8');
}

/** The example as a plain object, as a YAML parser (or the API server) hands it over. */
export function exampleObject(name: ExampleName): Record<string, unknown> {
  return parse(exampleText(name)) as Record<string, unknown>;
}

/** A Rollout with nothing but the required fields. */
export function minimalRollout(): Record<string, unknown> & { metadata: Record<string, unknown>; spec: Record<string, unknown> } {
  return {
    apiVersion: 'fledge.dev/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      service: { name: 'web' },
      stable: { labels: { version: 'v1' } },
      canary: { labels: { version: 'v2' } },
      strategy: { steps: [10, 50, 100] },
    },
  };
}

/** Parse, insist that it is valid, and fill in the defaults. */
export function resolveValid(input: unknown): ResolvedRollout {
  const parsed = parseRollout(input);
  if (!parsed.ok) throw new Error(`expected a valid Rollout, got: ${JSON.stringify(parsed.problems)}`);
  return resolveRollout(parsed.rollout);
}

export function resolvedExample(name: ExampleName): ResolvedRollout {
  return resolveValid(exampleObject(name));
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}
