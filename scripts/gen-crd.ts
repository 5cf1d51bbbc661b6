// Writes the CRD from the zod schema (`npm run gen`): crds/, and the copies kustomize and Helm
// need inside their own directories; the ValidatingAdmissionPolicy of the steps rules (base and
// chart); and the Grafana dashboard's copy inside the chart (Helm
// reads no file outside it). Tests fail when any of them is stale.
import { copyFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CHART_POLICY_PATH, CRD_PATH, POLICY_PATH, renderChartPolicyTemplate, renderCrdYaml, renderPolicyYaml } from './crd-file.ts';

const at = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const COPIES = ['../deploy/base/crd.yaml', '../deploy/helm/fledge/crds/rollouts.fledge.dev.yaml'].map(at);
const yaml = renderCrdYaml();
for (const path of [CRD_PATH, ...COPIES]) {
  writeFileSync(path, yaml);
  console.log(`wrote ${path}`);
}
for (const [path, text] of [[POLICY_PATH, renderPolicyYaml()], [CHART_POLICY_PATH, renderChartPolicyTemplate()]] as const) {
  writeFileSync(path, text);
  console.log(`wrote ${path}`);
}
const dashboard = at('../deploy/helm/fledge/dashboards/fledge-dashboard.json');
copyFileSync(at('../deploy/grafana/fledge-dashboard.json'), dashboard);
console.log(`wrote ${dashboard}`);
