/**
 * The Istio CRD schema vendored in src/router/istio/istio-crd-schema.json must be what the CRD
 * file test/cluster/build.sh copies from the istio.io/api module holds; after a bump of
 * ISTIO_API_VERSION, regenerate it: `node --experimental-strip-types scripts/istio-schema-file.ts
 * ~/.cache/fledge/k8s-<version>/istio-crds.yaml`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ISTIO_SCHEMA_PATH, pinnedIstioApiVersion, renderIstioSchemaFile } from '../../scripts/istio-schema-file.ts';
import { istioCrdsPath } from '../../src/devenv/cluster.ts';

describe('the vendored Istio CRD schema', () => {
  it('is current with the CRDs build.sh installs', () => {
    const crds = istioCrdsPath();
    if (!existsSync(crds)) throw new Error(`${crds} is missing: run \`bash test/cluster/build.sh\``);
    const want = renderIstioSchemaFile(readFileSync(crds, 'utf8'), pinnedIstioApiVersion());
    expect(readFileSync(ISTIO_SCHEMA_PATH, 'utf8') === want, `${ISTIO_SCHEMA_PATH} is stale: node --experimental-strip-types scripts/istio-schema-file.ts ${crds}`).toBe(true);
  });
});
