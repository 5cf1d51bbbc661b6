/**
 * The slice of Istio's published CRDs that Fledge checks passthrough fields against: the `spec`
 * schemas of VirtualService and DestinationRule at the served version Fledge writes. Vendored in
 * the repo (src/router/istio/istio-crd-schema.json) so the check needs no cluster; a test compares
 * it with the CRD file test/cluster/build.sh copies from the istio.io/api module, and fails when
 * the two differ. Regenerate: `node --experimental-strip-types scripts/istio-schema-file.ts CRDS.yaml`
 * (the CRDs are kubernetes/customresourcedefinitions.gen.yaml of istio.io/api at ISTIO_API_VERSION).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const ISTIO_SCHEMA_PATH = fileURLToPath(new URL('../src/router/istio/istio-crd-schema.json', import.meta.url));
export const BUILD_SCRIPT_PATH = fileURLToPath(new URL('../test/cluster/build.sh', import.meta.url));

/** ISTIO_API_VERSION as test/cluster/build.sh pins it (the istio.io/api module version). */
export function pinnedIstioApiVersion(): string {
  const m = /^ISTIO_API_VERSION=(\S+)$/m.exec(readFileSync(BUILD_SCRIPT_PATH, 'utf8'));
  if (!m) throw new Error(`${BUILD_SCRIPT_PATH}: no ISTIO_API_VERSION=`);
  return m[1]!;
}

interface Crd { kind?: string; spec?: { names?: { kind?: string }; versions?: { name: string; schema?: { openAPIV3Schema?: { properties?: { spec?: unknown } } } }[] } }

/** The vendored document for the CRD file's text. */
export function extractIstioSchemas(crdYaml: string, istioApiVersion: string, servedVersion = 'v1'): Record<string, unknown> {
  const docs = parseAllDocuments(crdYaml).map((d) => d.toJS() as Crd | null).filter((d): d is Crd => d?.kind === 'CustomResourceDefinition');
  const spec = (kind: string) => {
    const crd = docs.find((d) => d.spec?.names?.kind === kind);
    const schema = crd?.spec?.versions?.find((v) => v.name === servedVersion)?.schema?.openAPIV3Schema?.properties?.spec;
    if (!schema) throw new Error(`no ${kind} ${servedVersion} spec schema in the CRD file`);
    return schema;
  };
  return {
    source: `istio.io/api@${istioApiVersion} kubernetes/customresourcedefinitions.gen.yaml`,
    istioApiVersion,
    version: servedVersion,
    virtualService: spec('VirtualService'),
    destinationRule: spec('DestinationRule'),
  };
}

export function renderIstioSchemaFile(crdYaml: string, istioApiVersion: string): string {
  return `${JSON.stringify(extractIstioSchemas(crdYaml, istioApiVersion), null, 1)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: scripts/istio-schema-file.ts ISTIO-CRDS.yaml\n');
    process.exit(2);
  }
  writeFileSync(ISTIO_SCHEMA_PATH, renderIstioSchemaFile(readFileSync(file, 'utf8'), pinnedIstioApiVersion()));
  process.stdout.write(`wrote ${ISTIO_SCHEMA_PATH}\n`);
}
