/**
 * Loading a kubeconfig the way kubectl does: `--kubeconfig`, else every file in `$KUBECONFIG`
 * (missing ones skipped, the first file's current context wins), else `~/.kube/config`, else the
 * in-cluster service account. `--context` picks another context of the loaded config. When none of
 * that yields a context, the error says so plainly instead of letting the client fall back to
 * http://localhost and fail deep inside a request.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeConfigError } from './errors.ts';

export { KubeConfigError };

export interface KubeConfigOptions {
  /** A kubeconfig file (kubectl's `--kubeconfig`); it must exist. */
  file?: string | undefined;
  /** A context of the loaded kubeconfig (kubectl's `--context`). */
  context?: string | undefined;
  /** Defaults to process.env; tests pass their own. */
  env?: NodeJS.ProcessEnv;
}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export const NO_KUBECONFIG = 'no kubeconfig found; set KUBECONFIG or --kubeconfig';

export function loadKubeConfig(opts: KubeConfigOptions = {}): KubeConfig {
  const env = opts.env ?? process.env;
  const kc = new KubeConfig();
  const files = opts.file
    ? [opts.file]
    : env.KUBECONFIG
      ? env.KUBECONFIG.split(delimiter).filter((f) => f !== '' && existsSync(f))
      : [join(env.HOME ?? homedir(), '.kube', 'config')].filter((f) => existsSync(f));
  if (opts.file && !existsSync(opts.file)) throw new KubeConfigError(`--kubeconfig ${opts.file}: no such file`);
  if (files.length > 0) {
    load(kc, files[0]!);
    for (const f of files.slice(1)) {
      const more = new KubeConfig();
      load(more, f);
      merge(kc, more);
    }
  } else if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT && existsSync(SERVICE_ACCOUNT_TOKEN)) {
    // As client-go's rest.InClusterConfig: the Service's address and a mounted token.
    kc.loadFromCluster();
  } else {
    throw new KubeConfigError(NO_KUBECONFIG);
  }
  const names = kc.getContexts().map((c) => c.name);
  if (opts.context !== undefined) {
    if (!names.includes(opts.context)) throw new KubeConfigError(`context "${opts.context}" is not in the kubeconfig (contexts: ${names.join(', ') || 'none'})`);
    kc.setCurrentContext(opts.context);
  } else if (!names.includes(kc.getCurrentContext())) {
    throw new KubeConfigError(names.length === 0
      ? `the kubeconfig ${files.join(delimiter)} has no context; ${NO_KUBECONFIG.split('; ')[1]}`
      : `the kubeconfig has no current context; pass --context (contexts: ${names.join(', ')})`);
  }
  return kc;
}

/**
 * kubectl's merge of $KUBECONFIG files: the first file to define a name wins, and the first
 * current-context set wins (client-node's mergeConfig throws on a name defined twice instead).
 */
function merge(kc: KubeConfig, more: KubeConfig): void {
  for (const c of more.clusters) if (!kc.clusters.some((x) => x.name === c.name)) kc.addCluster(c);
  for (const u of more.users) if (!kc.users.some((x) => x.name === u.name)) kc.addUser(u);
  for (const c of more.contexts) if (!kc.contexts.some((x) => x.name === c.name)) kc.addContext(c);
  if (!kc.getCurrentContext() && more.getCurrentContext()) kc.setCurrentContext(more.getCurrentContext());
}

function load(kc: KubeConfig, file: string): void {
  try {
    kc.loadFromFile(file);
  } catch (e) {
    throw new KubeConfigError(`${file}: not a kubeconfig (${(e instanceof Error ? e.message : String(e)).split('\n')[0]})`);
  }
}

/** The namespace kubectl would use: the flag, else the current context's, else `default`. */
export function contextNamespace(kc: KubeConfig): string {
  return kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
}
