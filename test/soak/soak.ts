/**
 * The long crash soak: `node --experimental-strip-types test/soak/soak.ts [--kills N]
 * [--rollouts N] [--concurrency N] [--seed N] [--verbose]` (`npm run build` first: it runs the
 * built controller). Starts its own kube-apiserver + etcd, prints what it did and every
 * violated invariant, and exits 1 if there was any. A failing seed replays the same schedule of
 * kills and rollouts (timing on the machine still varies).
 */
import { parseArgs } from 'node:util';
import { startTestCluster } from '../support/cluster.ts';
import { runCrashSoak } from './crash-soak.ts';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '50' },
    rollouts: { type: 'string', default: '40' },
    concurrency: { type: 'string', default: '6' },
    seed: { type: 'string', default: String(Date.now() % 100_000) },
    'max-life': { type: 'string', default: '3000' },
    verbose: { type: 'boolean', default: false },
  },
});
const int = (name: string, text: string): number => {
  if (!/^[0-9]+$/.test(text)) throw new Error(`--${name}: must be a non-negative integer`);
  return Number(text);
};

const started = Date.now();
const say = (line: string) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
const cluster = await startTestCluster();
let failed = true;
try {
  const seed = int('seed', values.seed);
  say(`crash soak: seed ${seed}, ${values.kills} kills, ${values.rollouts} rollouts`);
  const report = await runCrashSoak({
    kubeconfig: cluster.kubeconfigPath,
    kills: int('kills', values.kills),
    rollouts: int('rollouts', values.rollouts),
    concurrency: int('concurrency', values.concurrency),
    maxLifeMs: int('max-life', values['max-life']),
    seed,
    settleTimeoutMs: 300_000,
    log: values.verbose ? say : (line) => { if (line.startsWith('kill ')) say(line); },
  });
  const { violations, ...figures } = report;
  say(`report: ${JSON.stringify(figures, null, 2)}`);
  if (violations.length > 0) {
    say(`${violations.length} violation(s):`);
    for (const v of violations.slice(0, 200)) say(`  ${v}`);
  } else {
    say(`OK: ${report.killsSurvived} kills survived, ${report.rollouts} rollouts (${report.promoted} promoted, ${report.rolledBack} rolled back), ` +
      `${report.recorded.vsEvents} VirtualService writes checked, no invariant violated`);
    failed = false;
  }
} catch (err) {
  say(`soak failed: ${(err as Error).stack ?? String(err)}`);
} finally {
  await cluster.stop();
}
process.exit(failed ? 1 : 0);
