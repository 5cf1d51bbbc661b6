/**
 * kstatus's status of a custom resource that is none of the built-in kinds: a port of
 * `Compute` in sigs.k8s.io/cli-utils pkg/kstatus/status (status.go, generic.go; Flux's fork
 * fluxcd/cli-utils v1.2.3 has the same rules), for unit tests. The Flux end-to-end test checks
 * the same standings against the real kustomize-controller.
 */
export type KStatus = 'Current' | 'InProgress' | 'Failed' | 'Terminating';

interface Obj { metadata?: { generation?: number; deletionTimestamp?: string }; status?: { observedGeneration?: number; conditions?: { type: string; status: string }[] } }

export function kstatusOf(obj: Obj): KStatus {
  if (obj.metadata?.deletionTimestamp) return 'Terminating';
  const generation = obj.metadata?.generation;
  const observed = obj.status?.observedGeneration;
  if (generation !== undefined && observed !== undefined && observed !== generation) return 'InProgress';
  const conditions = obj.status?.conditions ?? [];
  for (const c of conditions) {
    if (c.type === 'Reconciling' && c.status === 'True') return 'InProgress';
    if (c.type === 'Stalled' && c.status === 'True') return 'Failed';
  }
  const ready = conditions.find((c) => c.type === 'Ready');
  if (ready?.status === 'True') return 'Current';
  if (ready?.status === 'False' || ready?.status === 'Unknown') return 'InProgress';
  return 'Current';
}
