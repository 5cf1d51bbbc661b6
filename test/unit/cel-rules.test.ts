import { describe, expect, it } from 'vitest';
import { CEL_RULES, celMessage, withCelRules } from '../../src/api/cel.ts';
import { rolloutCrd } from '../../src/api/crd.ts';
import { MESSAGES } from '../../src/api/messages.ts';
import { readFileSync } from 'node:fs';
import { CHART_POLICY_PATH, POLICY_PATH, renderChartPolicyTemplate, renderPolicyYaml } from '../../scripts/crd-file.ts';

type Json = Record<string, unknown>;

describe('CEL rules of the CRD (src/api/cel.ts)', () => {
  it.each([
    ['a fixed message', () => 'needs stepWeight', [], '"needs stepWeight"'],
    ['a value inside', MESSAGES.subsetSameName, ['self.x'], '"must differ from the stable subset name \\"" + (self.x) + "\\""'],
    ['values at both ends', (a: string, b: string) => `${a} and ${b}`, ['x', 'y'], '(x) + " and " + (y)'],
  ] as [string, (...a: string[]) => string, string[], string][])('celMessage: %s', (_what, message, exprs, expected) => {
    expect(celMessage(message, ...exprs)).toBe(expected);
  });

  it('every rule sits on a field of the generated schema, and a rule for a missing field fails the generation', () => {
    const spec = ((rolloutCrd().spec as Json).versions as Json[])[0]!;
    const text = JSON.stringify(spec);
    for (const rules of Object.values(CEL_RULES)) for (const r of rules) expect(text).toContain(JSON.stringify(r.rule));
    expect(() => withCelRules({ type: 'object', properties: {} }, { 'strategy.nope': [{ rule: 'true' }] })).toThrow('CEL rules for spec.strategy.nope: no such field');
    expect(() => withCelRules({ type: 'object', properties: { a: { type: 'string' } } }, { 'a[]': [{ rule: 'true' }] })).toThrow('a is not a list');
  });

  it('every rule has a message from the shared table (messages.ts), fixed or as an expression', () => {
    const fixed = new Set<unknown>(Object.values(MESSAGES).filter((m) => typeof m === 'string'));
    for (const [path, rules] of Object.entries(CEL_RULES)) {
      for (const r of rules) {
        expect(r.message !== undefined || r.messageExpression !== undefined, `${path}: ${r.rule}`).toBe(true);
        if (r.message !== undefined) expect(fixed.has(r.message), `${path}: ${r.message}`).toBe(true);
      }
    }
  });

  it.each([
    ['deploy/base/admission-policy.yaml', POLICY_PATH, renderPolicyYaml],
    ['deploy/helm/fledge/templates/admission-policy.yaml', CHART_POLICY_PATH, renderChartPolicyTemplate],
  ])('%s is what npm run gen writes', (name, path, render) => {
    expect(readFileSync(path, 'utf8') === render(), `${name} is stale: run npm run gen`).toBe(true);
  });
});
