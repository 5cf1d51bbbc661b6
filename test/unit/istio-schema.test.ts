/**
 * The Istio CRD schema Fledge vendors for its offline check is the one the test cluster (and
 * `fledge demo`) installs: same istio.io/api version as test/cluster/build.sh and test/cluster/go.mod
 * pin. The content itself is compared with build.sh's copy in test/integration/istio-schema.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pinnedIstioApiVersion } from '../../scripts/istio-schema-file.ts';
import { HTTP_MATCH_SCHEMA, HTTP_ROUTE_SCHEMA, ISTIO_SCHEMA_VERSION, ISTIO_SCHEMAS, TRAFFIC_POLICY_SCHEMA, goDurationMs, schemaErrors } from '../../src/router/istio/crd-schema.ts';
import { ISTIO_VERSION } from '../../src/router/istio/resources.ts';
import { HTTP_EXTRA_FIELDS } from '../../src/api/schema.ts';

describe('the vendored Istio CRD schema', () => {
  it('is of the istio.io/api version build.sh installs and go.mod pins', () => {
    expect(ISTIO_SCHEMA_VERSION).toBe(pinnedIstioApiVersion());
    const goMod = readFileSync(new URL('../cluster/go.mod', import.meta.url), 'utf8');
    expect(goMod).toMatch(new RegExp(`^\\s*istio\\.io/api ${ISTIO_SCHEMA_VERSION.replace(/\./g, '\\.')}$`, 'm'));
  });

  it('is of the API version Fledge writes', () => {
    expect(ISTIO_SCHEMAS.version).toBe(ISTIO_VERSION);
  });

  it('declares every http extra Fledge passes through, and match and trafficPolicy', () => {
    for (const f of HTTP_EXTRA_FIELDS) expect(HTTP_ROUTE_SCHEMA.properties, f).toHaveProperty(f);
    expect(HTTP_MATCH_SCHEMA.properties).toHaveProperty('uri');
    expect(TRAFFIC_POLICY_SCHEMA.properties).toHaveProperty('loadBalancer');
  });
});

describe('schemaErrors', () => {
  it.each<[string, number | undefined]>([
    ['1ms', 1], ['1.5s', 1500], ['1h2m3s', 3_723_000], ['300us', 0.3], ['0', 0], ['-1s', -1000], ['10', undefined], ['1d', undefined], ['', undefined],
  ])('reads the duration %j as CEL does: %s ms', (text, ms) => {
    expect(goDurationMs(text)).toBe(ms);
  });

  it('names every problem at its own path, and nothing for a valid value', () => {
    const node = { type: 'object', properties: { a: { type: 'integer', format: 'int32' }, b: { type: 'array', items: { type: 'string' } } }, required: ['a'] };
    expect(schemaErrors(node, { a: 2 ** 31, b: ['x', 1], c: true }, 'x')).toEqual([
      { path: 'x.a', message: 'must be a int32 (-2147483648..2147483647)' },
      { path: 'x.b[1]', message: 'must be a string' },
      { path: 'x.c', message: 'is not a field of Istio\'s schema here (known: a, b)' },
    ]);
    expect(schemaErrors(node, { a: 1, b: ['x'] }, 'x')).toEqual([]);
    expect(schemaErrors(node, {}, 'x')).toEqual([{ path: 'x.a', message: 'is required' }]);
  });
});
