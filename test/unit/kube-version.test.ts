/**
 * The oldest Kubernetes Fledge's manifests install on, stated once in docs/install.md and as the
 * chart's kubeVersion, is no older than the newest API they use: a manifest that moves to a newer
 * API group version must raise both (a chart that claims 1.22 while rendering a
 * ValidatingAdmissionPolicy of admissionregistration.k8s.io/v1 fails at install on 1.22-1.29).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The Kubernetes minor version each API group version became GA (served by default) in. */
const GA_SINCE: Record<string, number> = {
  'v1': 0,
  'apps/v1': 9,
  'rbac.authorization.k8s.io/v1': 8,
  'policy/v1': 21,
  'apiextensions.k8s.io/v1': 16,
  'coordination.k8s.io/v1': 14,
  'admissionregistration.k8s.io/v1': 30, // ValidatingAdmissionPolicy; its webhooks' kinds are older, the policy is not
  'kustomize.config.k8s.io/v1beta1': 0, // kustomize's own file, never sent to the API server
  'kustomize.config.k8s.io/v1alpha1': 0,
};

/** The CRD's CEL rules use `messageExpression` and `fieldPath`, GA with CRD validation rules in 1.29. */
const CRD_CEL_SINCE = 29;

function apiVersionsUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => [...readFileSync(join(ROOT, dir, f), 'utf8').matchAll(/^apiVersion: (\S+)$/gm)].map((m) => m[1]!));
}

const chart = parse(readFileSync(join(ROOT, 'deploy/helm/fledge/Chart.yaml'), 'utf8')) as { kubeVersion: string };
const install = readFileSync(join(ROOT, 'docs/install.md'), 'utf8');

describe('the oldest Kubernetes supported', () => {
  const used = [...new Set([...apiVersionsUnder('deploy/base'), ...apiVersionsUnder('deploy/namespaced'), ...apiVersionsUnder('deploy/helm/fledge/templates')])]
    .filter((v) => !v.includes('{{') && v !== 'argoproj.io/v1alpha1' && !v.startsWith('monitoring.coreos.com/'));
  const needed = Math.max(CRD_CEL_SINCE, ...used.map((v) => {
    const since = GA_SINCE[v];
    if (since === undefined) throw new Error(`no GA version known for ${v}: add it to GA_SINCE`);
    return since;
  }));

  it('the manifests use the ValidatingAdmissionPolicy API, which sets the minimum', () => {
    expect(used).toContain('admissionregistration.k8s.io/v1');
    expect(needed).toBe(30);
  });

  it("the chart's kubeVersion is that minimum", () => {
    expect(chart.kubeVersion).toBe(`>=1.${needed}.0-0`);
  });

  it('docs/install.md states the same minimum', () => {
    expect(install).toContain(`You need Kubernetes 1.${needed} or newer`);
    expect(install).toContain(`\`kubeVersion\` says \`>=1.${needed}.0-0\``);
  });
});
