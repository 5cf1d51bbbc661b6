/**
 * The short crash soak (the long one is `test/soak/soak.ts`): 10 SIGKILLs of the real controller
 * at random, seeded moments while 18 rollouts run, some aborted or given a new canary
 * mid-way. Every VirtualService, DestinationRule and Rollout write is recorded by a watch and
 * checked (test/soak/invariants.ts); every rollout must end as dictated with its objects.
 * FLEDGE_SOAK_SEED replays a schedule.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { startTestCluster } from '../support/cluster.ts';
import { runCrashSoak } from '../soak/crash-soak.ts';

let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await startTestCluster();
});

afterAll(async () => {
  await cluster?.stop();
});

it('survives 10 SIGKILLs mid-rollout without a bad weight, a step backwards or a lost object', async () => {
  const seed = Number(process.env.FLEDGE_SOAK_SEED ?? 20_251_125);
  const report = await runCrashSoak({
    kubeconfig: cluster.kubeconfigPath, kills: 10, rollouts: 18, concurrency: 6, maxLifeMs: 4000, seed, settleTimeoutMs: 120_000,
    ...(process.env.FLEDGE_TEST_LOGS ? { log: (l: string) => process.stderr.write(`[soak] ${l}\n`) } : {}),
  });
  const { violations, ...figures } = report;
  process.stderr.write(`crash soak (seed ${seed}): ${JSON.stringify(figures)}\n`);
  expect(violations).toEqual([]);
  expect(report.killsSurvived).toBe(10);
  expect(report.promoted + report.rolledBack).toBe(18);
  expect(report.recorded.vsEvents).toBeGreaterThan(18);
}, 300_000);
