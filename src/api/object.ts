/** Where the API server serves a kind: /apis/{group}/{version}/{plural}. */
export interface ResourceRef { group: string; version: string; plural: string }

/** The shape every Kubernetes object shares, as much of it as Fledge reads or writes. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  managedFields?: { manager?: string; operation?: string; fieldsV1?: unknown; time?: string }[];
  deletionTimestamp?: string;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

/** RFC 6902 operations, as far as Fledge uses them on objects it does not own. */
export type JsonPatchOp =
  | { op: 'test'; path: string; value: unknown }
  | { op: 'replace' | 'add'; path: string; value: unknown }
  | { op: 'remove'; path: string };
