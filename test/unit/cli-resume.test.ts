/**
 * `fledge resume` on each kind of pause, with the API server's merge patch recorded: a manual
 * step and a step the analysis paused for want of evidence (past inconclusiveLimit) are both
 * released for their own release and step; a user pause only loses its annotation.
 */
import { describe, expect, it } from 'vitest';
import { releaseId } from '../../src/api/release.ts';
import type { CliKube } from '../../src/cli/kube-context.ts';
import type { LiveRollout } from '../../src/cli/live.ts';
import { requestCommand } from '../../src/cli/ops.ts';

const stable = { version: 'v1' };
const canary = { version: 'v2' };
const RELEASE = releaseId(stable, canary);

function live(status: Record<string, unknown>, annotations: Record<string, string> = {}): LiveRollout {
  return {
    apiVersion: 'fledge.dev/v1alpha1', kind: 'Rollout',
    metadata: { name: 'web', namespace: 'shop', generation: 3, annotations },
    spec: { service: { name: 'web' }, stable: { labels: stable }, canary: { labels: canary }, strategy: { steps: [10, 50, 100] } },
    status: { observedGeneration: 3, release: RELEASE, stepIndex: 1, ...status },
  } as LiveRollout;
}

async function resume(r: LiveRollout) {
  const patches: unknown[] = [];
  const k = { namespace: 'shop', client: { mergePatch: (...args: unknown[]) => { patches.push(args[3]); return Promise.resolve({}); } } } as unknown as CliKube;
  const out: string[] = [];
  const code = await requestCommand('resume', k, r, { out: (s) => out.push(s), err: (s) => out.push(s) });
  return { code, patches, out: out.join('\n') };
}

describe('fledge resume', () => {
  it.each([
    ['a manual step', 'step', 'step 2/3 is released'],
    ['a step the analysis paused (Inconclusive)', 'analysis', 'step 2/3 goes on without conclusive analysis'],
  ])('releases %s for this release and step', async (_what, pausedBy, says) => {
    const r = await resume(live({ phase: 'Paused', pausedBy }));
    expect(r.code).toBe(0);
    expect(r.patches).toEqual([{ metadata: { annotations: { 'fledge.dev/resume-step': `${RELEASE}/1` } } }]);
    expect(r.out).toContain(says);
  });

  it('only removes the pause annotation of a user pause', async () => {
    const r = await resume(live({ phase: 'Paused', pausedBy: 'user' }, { 'fledge.dev/paused': 'true' }));
    expect(r.patches).toEqual([{ metadata: { annotations: { 'fledge.dev/paused': null } } }]);
  });
});
