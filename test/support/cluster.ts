import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startLocalCluster, type LocalCluster, type LocalClusterOptions } from '../../src/devenv/cluster.ts';

export const ROLLOUT_CRD = fileURLToPath(new URL('../../crds/rollouts.fledge.dev.yaml', import.meta.url));
const DIST_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** A fresh API server with Istio's and Fledge's CRDs, for one test file. */
export async function startTestCluster(opts: LocalClusterOptions = {}): Promise<LocalCluster> {
  if (!existsSync(DIST_MAIN)) throw new Error('dist/ is missing: run `npm run build` (npm test does) before the integration tests');
  return startLocalCluster({ crdFiles: [ROLLOUT_CRD], ...(process.env.FLEDGE_TEST_LOGS ? { log: (l) => process.stderr.write(`${l}\n`) } : {}), ...opts });
}
