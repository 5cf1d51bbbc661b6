import { createHash } from 'node:crypto';
import type { Labels } from './schema.ts';

/**
 * A release is the pair of pod label sets being compared. It changes with every GitOps commit
 * that points the canary (or the stable) at other pods, and only then: editing the interval or a
 * threshold mid-rollout must not restart it.
 */
export function releaseId(stable: Labels, canary: Labels): string {
  const canonical = JSON.stringify([sortedEntries(stable), sortedEntries(canary)]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 10);
}

/** A label set's entries in key order: the same set gives the same list, whatever order it was written in. */
export function sortedEntries(labels: Labels): [string, string][] {
  return Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
