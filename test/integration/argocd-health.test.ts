/**
 * Argo CD's health check for fledge.dev/Rollout (deploy/argocd/health.lua) run by a real Lua 5.1
 * against the statuses the real planner writes, and against Rollouts captured from the Flux
 * end-to-end run (test/fixtures/gitops-status); the copies users install (docs/gitops.md, the
 * kustomize component deploy/argocd) are checked to be that script, verbatim.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { kstatusOf } from '../support/kstatus.ts';
import { HEALTH_LUA, argoHealth } from '../support/lua.ts';
import { standings } from '../unit/standings.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const KUBECTL = process.env.KUBECTL ?? 'kubectl';
const SCRIPT = readFileSync(HEALTH_LUA, 'utf8');
const CAPTURED = join(REPO, 'test', 'fixtures', 'gitops-status');

describe('Argo CD health check (Lua 5.1) on the planner\'s statuses', () => {
  it.each<[string, string, RegExp]>([
    ['progressing', 'Progressing', /^step 1\/2: stable 50 \/ canary 50$/],
    ['paused at a manual step', 'Suspended', /waits for `fledge resume`/],
    ['paused by fledge pause', 'Suspended', /paused by user/],
    ['promoted', 'Healthy', /^promoted: all steps passed$/],
    ['rolled back', 'Degraded', /^rolled back: aborted by `fledge abort`$/],
    ['stable not serving (the guard)', 'Degraded', /select pods that serve no traffic now; set spec.stable.labels to \{version: v2\}/],
    ['invalid', 'Degraded', /^spec.strategy.steps\[2\]: must not be below/],
    ['waiting for an adopted object', 'Progressing', /waiting for VirtualService reviews-route/],
    ['routing write refused', 'Degraded', /refused a routing write/],
    ['a new generation not yet observed', 'Progressing', /observe generation 2$/],
    ['no status yet', 'Progressing', /observe the Rollout$/],
  ])('%s: %s', (name, status, message) => {
    const s = standings().find((x) => x.name === name);
    expect(s, name).toBeDefined();
    const hs = argoHealth(s!.object);
    expect(hs.status).toBe(status);
    expect(hs.message).toMatch(message);
  });

  it('passes any message through intact (quotes, backslashes, newlines, UTF-8)', () => {
    const message = 'rolled back: "p99" > 500 ms \\ at step 1\nnext line ✓';
    const obj = { metadata: { generation: 1 }, status: { observedGeneration: 1, phase: 'RolledBack', message, conditions: [{ type: 'Stalled', status: 'True', reason: 'RolledBack', message }] } };
    expect(argoHealth(obj)).toEqual({ status: 'Degraded', message });
  });
});

describe('Argo CD health check on Rollouts from the real Flux run', () => {
  const files = readdirSync(CAPTURED).filter((f) => f.endsWith('.json')).sort();

  it('covers every Argo CD health status and both kstatus outcomes Flux stops on', () => {
    const seen = files.map((f) => JSON.parse(readFileSync(join(CAPTURED, f), 'utf8')) as { argo: string; kstatus: string });
    expect(new Set(seen.map((s) => s.argo))).toEqual(new Set(['Progressing', 'Suspended', 'Healthy', 'Degraded']));
    expect(new Set(seen.map((s) => s.kstatus))).toEqual(new Set(['Current', 'Failed']));
  });

  it.each(files)('%s', (file) => {
    const fixture = JSON.parse(readFileSync(join(CAPTURED, file), 'utf8')) as { argo: string; kstatus: string; object: Record<string, unknown> };
    expect(argoHealth(fixture.object).status).toBe(fixture.argo);
    expect(kstatusOf(fixture.object)).toBe(fixture.kstatus);
  });
});

describe('the copies users install are deploy/argocd/health.lua, verbatim', () => {
  it('docs/gitops.md shows it in the argocd-cm snippet and in the Argo CD Helm chart values', () => {
    const doc = readFileSync(join(REPO, 'docs', 'gitops.md'), 'utf8');
    const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.includes('resource.customizations.health.fledge.dev_Rollout'));
    expect(blocks).toHaveLength(2);
    const cm = parse(blocks[0]!) as { kind: string; metadata: { name: string }; data: Record<string, string> };
    expect(cm).toMatchObject({ kind: 'ConfigMap', metadata: { name: 'argocd-cm' } });
    expect(cm.data['resource.customizations.health.fledge.dev_Rollout']).toBe(SCRIPT);
    const values = parse(blocks[1]!) as { configs: { cm: Record<string, string> } };
    expect(values.configs.cm).toEqual({ 'resource.customizations.health.fledge.dev_Rollout': SCRIPT });
  });

  it('the kustomize component deploy/argocd merges it into argocd-cm (real `kubectl kustomize`)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fledge-argocd-'));
    try {
      // As Argo CD's own install manifests ship it: no namespace; the user's kustomization sets one.
      writeFileSync(join(dir, 'argocd-cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm}\ndata: {url: "https://argocd.example.com"}\n');
      writeFileSync(join(dir, 'kustomization.yaml'), `namespace: argocd\nresources: [argocd-cm.yaml]\ncomponents: [${JSON.stringify(relative(dir, join(REPO, 'deploy', 'argocd')))}]\n`);
      const res = spawnSync(KUBECTL, ['kustomize', dir], { encoding: 'utf8', timeout: 30_000 });
      if (res.error) throw new Error(`${KUBECTL} could not run (${res.error.message}): this test renders deploy/argocd with \`kubectl kustomize\` (set KUBECTL=/path/to/kubectl)`);
      expect(res.status, res.stderr).toBe(0);
      const objects = parseAllDocuments(res.stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace?: string }; data: Record<string, string> });
      expect(objects).toHaveLength(1);
      expect(objects[0]!.metadata).toEqual({ name: 'argocd-cm', namespace: 'argocd' });
      expect(objects[0]!.data).toEqual({ url: 'https://argocd.example.com', 'resource.customizations.health.fledge.dev_Rollout': SCRIPT });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
