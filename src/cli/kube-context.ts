import { KubeConfig } from '@kubernetes/client-node';
import { FIELD_MANAGER } from '../api/constants.ts';
import { KubeClient } from '../kube/client.ts';

export interface CliKube {
  client: KubeClient;
  namespace: string;
}

/** The kubeconfig and namespace kubectl would use, unless flags say otherwise. */
export function cliKube(opts: { kubeconfig?: string | undefined; namespace?: string | undefined }): CliKube {
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  const ctxNs = kc.getContextObject(kc.getCurrentContext())?.namespace;
  // The CLI writes only annotations, under its own manager, so the controller's fields stay its own.
  return { client: new KubeClient(kc, { fieldManager: `${FIELD_MANAGER}-cli` }), namespace: opts.namespace ?? ctxNs ?? 'default' };
}
