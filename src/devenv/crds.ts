import { readFile } from 'node:fs/promises';
import {
  ApiextensionsV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  loadAllYaml,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';

const FIELD_MANAGER = 'fledge-test';

/** Server-side applies every object in the given YAML files; returns the names of the CRDs among them. */
export async function applyManifests(kc: KubeConfig, files: readonly string[]): Promise<string[]> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  const crdNames: string[] = [];
  for (const file of files) {
    const docs = loadAllYaml(await readFile(file, 'utf8')) as (KubernetesObject | null)[];
    for (const obj of docs) {
      if (!obj?.kind) continue;
      try {
        await client.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
      } catch (err) {
        throw new Error(`applying ${obj.kind} ${obj.metadata?.name ?? '?'} from ${file}: ${String(err)}`, { cause: err });
      }
      if (obj.kind === 'CustomResourceDefinition' && obj.metadata?.name) crdNames.push(obj.metadata.name);
    }
  }
  return crdNames;
}

/** Waits until every named CRD reports Established=True, i.e. its resources are served. */
export async function waitEstablished(kc: KubeConfig, names: readonly string[], timeoutMs = 30_000): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(names);
  while (pending.size > 0) {
    for (const name of [...pending]) {
      const crd = await api.readCustomResourceDefinition({ name });
      if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) pending.delete(name);
    }
    if (pending.size === 0) return;
    if (Date.now() > deadline) throw new Error(`CRDs not established after ${timeoutMs} ms: ${[...pending].join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
