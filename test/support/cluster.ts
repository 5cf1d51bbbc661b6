import { fileURLToPath } from 'node:url';
import { requireBuilt } from './built.ts';
import { startLocalCluster, type LocalCluster, type LocalClusterOptions } from '../../src/devenv/cluster.ts';

export const ROLLOUT_CRD = fileURLToPath(new URL('../../crds/rollouts.fledge.dev.yaml', import.meta.url));

/** A fresh API server with Istio's and Fledge's CRDs, for one test file. */
export async function startTestCluster(opts: LocalClusterOptions = {}): Promise<LocalCluster> {
  requireBuilt();
  return startLocalCluster({ crdFiles: [ROLLOUT_CRD], ...(process.env.FLEDGE_TEST_LOGS ? { log: (l) => process.stderr.write(`${l}\n`) } : {}), ...opts });
}
