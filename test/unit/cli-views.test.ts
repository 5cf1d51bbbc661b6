/**
 * The CLI's pure parts, table-driven: the step as people count it, what a live Rollout's view says
 * (from the resolved schedule, and whether its status is current), the --watch verdict, kubectl's
 * list columns and AGE, and the completion candidates for a command line.
 */
import { describe, expect, it } from 'vitest';
import { releaseId } from '../../src/api/release.ts';
import { stepDisplay } from '../../src/api/step.ts';
import { DIRECTIVE, complete, type CompletionSource } from '../../src/cli/completion.ts';
import type { Outcome } from '../../src/cli/flags.ts';
import { viewOf, type LiveRollout } from '../../src/cli/live.ts';
import { age, listRows } from '../../src/cli/ops.ts';
import { buildProgram } from '../../src/cli/program.ts';
import { statusLine } from '../../src/cli/status-view.ts';
import { watchVerdict } from '../../src/cli/watch.ts';
import { minimalRollout } from './fixtures.ts';

describe('stepDisplay', () => {
  it.each<[number | undefined, number, string]>([
    [undefined, 4, ''],
    [-1, 4, '0/4'],
    [0, 4, '1/4'],
    [3, 4, '4/4'],
    [4, 4, '4/4'], // promoted: stepIndex is the number of steps
    [0, 0, ''],
  ])('stepIndex %s of %s steps reads %j', (index, steps, shown) => {
    expect(stepDisplay(index, steps)).toBe(shown);
  });
});

const RELEASE = releaseId({ version: 'v1' }, { version: 'v2' });

function live(strategy: Record<string, unknown>, status?: LiveRollout['status'], generation = 1): LiveRollout {
  const r = minimalRollout();
  r.spec.strategy = strategy;
  return { ...r, metadata: { name: 'web', namespace: 'shop', generation }, spec: r.spec as LiveRollout['spec'], ...(status ? { status } : {}) } as LiveRollout;
}

describe('viewOf: every view derives from the resolved Rollout', () => {
  it.each<[string, Record<string, unknown>, number, string]>([
    ['explicit steps', { steps: [10, 50, 100] }, 1, '2/3'],
    ['stepWeight and maxWeight (the case of `Step 0/?`)', { stepWeight: 10, maxWeight: 50 }, 2, '3/5'],
    ['stepWeight alone, up to 100', { stepWeight: 25 }, 0, '1/4'],
    ['manual pause steps', { steps: [{ weight: 0, pause: 'manual' }, 30, 100] }, 0, '1/3'],
  ])('%s', (_name, strategy, stepIndex, shown) => {
    const v = viewOf(live(strategy, { phase: 'Progressing', stepIndex, release: RELEASE, observedGeneration: 1 }));
    expect(v.step).toBe(shown);
    expect(v.current).toBe(true);
  });

  it('an invalid spec falls back to status.step and lists the problems', () => {
    const v = viewOf(live({ steps: [10, 150] }, { phase: 'Invalid', step: '2/3', observedGeneration: 1 }));
    expect(v.step).toBe('2/3');
    expect(v.problems.map((p) => p.path)).toEqual(['spec.strategy.steps[1]']);
  });
});

describe('watchVerdict: a phase counts only for the spec as it is now', () => {
  it.each<[string, LiveRollout['status'], number, 0 | 1 | undefined]>([
    ['Promoted, this release, this generation', { phase: 'Promoted', release: RELEASE, observedGeneration: 1 }, 1, 0],
    ['RolledBack', { phase: 'RolledBack', release: RELEASE, observedGeneration: 1 }, 1, 1],
    ['Invalid (whatever the release)', { phase: 'Invalid', release: 'older', observedGeneration: 1 }, 1, 1],
    ['Progressing', { phase: 'Progressing', release: RELEASE, observedGeneration: 1 }, 1, undefined],
    ['Paused at a manual step', { phase: 'Paused', release: RELEASE, observedGeneration: 1 }, 1, undefined],
    ['Promoted, but of the previous release', { phase: 'Promoted', release: '0123456789', observedGeneration: 2 }, 2, undefined],
    ['Promoted, but the controller has not seen generation 3', { phase: 'Promoted', release: RELEASE, observedGeneration: 2 }, 3, undefined],
    ['not reconciled yet', undefined, 1, undefined],
  ])('%s', (_name, status, generation, code) => {
    expect(watchVerdict(viewOf(live({ steps: [10, 100] }, status, generation)))?.code).toBe(code);
  });

  it('the plain line says when the status is not yet the spec\'s', () => {
    const v = viewOf(live({ steps: [10, 100] }, { phase: 'Promoted', release: '0123456789', canaryWeight: 100, stepIndex: 2, observedGeneration: 1 }, 2));
    expect(statusLine(v)).toBe('Promoted (not yet reconciled) step 2/2: stable 0 / canary 100');
  });
});

describe('listRows', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  const items = [{ ...live({ stepWeight: 20 }, { phase: 'Progressing', canaryWeight: 40, stepIndex: 1, release: RELEASE, message: 'step 2', observedGeneration: 1 }), metadata: { name: 'web', namespace: 'shop', generation: 1, creationTimestamp: '2026-01-01T11:00:00Z' } }];

  it('kubectl columns: NAMESPACE only with -A, wide adds release and subsets', () => {
    expect(listRows(items, { now })).toEqual([['NAME', 'PHASE', 'WEIGHT', 'STEP', 'AGE', 'MESSAGE'], ['web', 'Progressing', '40', '2/5', '60m', 'step 2']]);
    expect(listRows(items, { now, allNamespaces: true, wide: true })).toEqual([
      ['NAMESPACE', 'NAME', 'PHASE', 'WEIGHT', 'STEP', 'AGE', 'RELEASE', 'STABLE', 'CANARY', 'MESSAGE'],
      ['shop', 'web', 'Progressing', '40', '2/5', '60m', RELEASE, 'stable', 'canary', 'step 2'],
    ]);
  });

  it.each<[number, string]>([[5_000, '5s'], [119_000, '119s'], [150_000, '2m30s'], [3_600_000, '60m'], [5 * 3_600_000 + 60_000, '5h1m'], [30 * 3_600_000, '30h'], [3 * 86_400_000, '3d']])('age(%d) is %s', (ms, text) => {
    expect(age(ms)).toBe(text);
  });
});

describe('complete', () => {
  const seen: Record<string, string>[] = [];
  const source: CompletionSource = {
    rollouts: async (flags) => { seen.push(flags); return ['cart', 'checkout', 'web']; },
    namespaces: async () => ['default', 'shop'],
    contexts: async () => ['dev', 'prod'],
  };
  const program = buildProgram({ out: () => {}, err: () => {} }, { code: 0 } satisfies Outcome);
  const names = async (...words: string[]) => (await complete(program, words, source)).candidates.map((c) => c.split('\t')[0]);

  it.each<[string[], string[]]>([
    [['st'], ['status']],
    [['p'], ['promote', 'pause']],
    [['help', 're'], ['render', 'resume', 'retry']],
    [['status', 'c'], ['cart', 'checkout']],
    [['status', 'web', ''], []],
    [['list', '-o', ''], ['json', 'yaml', 'wide', 'name']],
    [['status', 'web', '--output=y'], ['--output=yaml']],
    [['list', '--context', 'p'], ['prod']],
    [['pause', '-n', ''], ['default', 'shop']],
    [['completion', ''], ['bash', 'zsh', 'fish']],
    [['status', '--wa'], ['--watch']],
    [['frobnicate', ''], []],
  ])('%j offers %j', async (words, expected) => {
    expect(await names(...words)).toEqual(expected);
  });

  it('asks for Rollouts with the cluster flags already on the line', async () => {
    seen.length = 0;
    await complete(program, ['abort', '--context', 'prod', '-n', 'shop', '--kubeconfig=/k.yaml', ''], source);
    expect(seen).toEqual([{ context: 'prod', namespace: 'shop', kubeconfig: '/k.yaml' }]);
  });

  it('leaves file names to the shell for -f and --kubeconfig; none elsewhere', async () => {
    expect((await complete(program, ['render', '-f', ''], source)).directive).toBe(DIRECTIVE.default);
    expect((await complete(program, ['list', '--kubeconfig', ''], source)).directive).toBe(DIRECTIVE.default);
    expect((await complete(program, ['status', ''], source)).directive).toBe(DIRECTIVE.noFileComp);
  });

  it('a source that fails offers nothing instead of an error', async () => {
    const broken: CompletionSource = { ...source, rollouts: async () => { throw new Error('connection refused'); } };
    expect(await complete(program, ['status', ''], broken)).toEqual({ candidates: [], directive: DIRECTIVE.noFileComp });
  });
});
