// Writes the CRD from the zod schema (`npm run gen`): crds/, and the copies kustomize and Helm
// need inside their own directories (tests fail when any of them is stale).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderCrdYaml, CRD_PATH } from './crd-file.ts';

const COPIES = ['../deploy/base/crd.yaml', '../deploy/helm/fledge/crds/rollouts.fledge.dev.yaml'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
const yaml = renderCrdYaml();
for (const path of [CRD_PATH, ...COPIES]) {
  writeFileSync(path, yaml);
  console.log(`wrote ${path}`);
}
