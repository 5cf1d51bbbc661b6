/**
 * Informer caches keep every object as the API server sent it, managedFields included. These trim
 * them in place as objects enter a cache, keeping exactly what the controller reads. bench:scale
 * with 5,000 Rollouts: live heap at rest 99 MB before, 87 MB after (of which ~32 MB is code and
 * module source, whatever the number of Rollouts).
 */
import type { KubernetesObject } from '@kubernetes/client-node';

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  time?: string | Date;
  subresource?: string;
  fieldsV1?: unknown;
  [k: string]: unknown;
}

/** For objects whose managedFields nobody reads (the Rollouts: their spec and status are what count). */
export function dropManagedFields(obj: KubernetesObject): void {
  if (obj.metadata?.managedFields) delete obj.metadata.managedFields;
}

/**
 * Keeps, per entry, who (manager, operation, subresource, time) and the `spec` part of the field
 * set, verbatim: what drift detection (`applyWouldChange`, which reads owned spec paths down to
 * map keys) and the "changed by" reports (`otherManagers`) read. The metadata and status parts of
 * the field set, and apiVersion/fieldsType, go.
 */
export function slimManagedFields(obj: KubernetesObject): void {
  const entries = obj.metadata?.managedFields as ManagedFieldsEntry[] | undefined;
  if (!entries) return;
  obj.metadata!.managedFields = entries.map((e) => {
    const spec = (e.fieldsV1 as Record<string, unknown> | undefined)?.['f:spec'];
    const slim: ManagedFieldsEntry = {};
    if (e.manager !== undefined) slim.manager = e.manager;
    if (e.operation !== undefined) slim.operation = e.operation;
    if (e.subresource !== undefined) slim.subresource = e.subresource;
    if (e.time !== undefined) slim.time = e.time;
    if (spec !== undefined) slim.fieldsV1 = { 'f:spec': spec };
    return slim;
  }) as NonNullable<KubernetesObject['metadata']>['managedFields'];
}
