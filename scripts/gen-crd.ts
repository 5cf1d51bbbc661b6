// Writes crds/rollouts.fledge.dev.yaml from the zod schema (`npm run gen`).
import { writeFileSync } from 'node:fs';
import { renderCrdYaml, CRD_PATH } from './crd-file.ts';

writeFileSync(CRD_PATH, renderCrdYaml());
console.log(`wrote ${CRD_PATH}`);
