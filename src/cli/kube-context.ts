import { FIELD_MANAGER } from '../api/constants.ts';
import { KubeClient } from '../kube/client.ts';
import { contextNamespace, loadKubeConfig } from '../kube/kubeconfig.ts';

export interface CliKube {
  client: KubeClient;
  namespace: string;
}

/**
 * The cluster and namespace kubectl would use with the same `--kubeconfig`, `--context` and
 * `-n`. Throws KubeConfigError (exit 1, one line) when there is no kubeconfig to use.
 */
export function cliKube(opts: { kubeconfig?: string | undefined; context?: string | undefined; namespace?: string | undefined }): CliKube {
  const kc = loadKubeConfig({ file: opts.kubeconfig, context: opts.context });
  // The CLI writes only annotations, under its own manager, so the controller's fields stay its own.
  return { client: new KubeClient(kc, { fieldManager: `${FIELD_MANAGER}-cli` }), namespace: opts.namespace ?? contextNamespace(kc) };
}
