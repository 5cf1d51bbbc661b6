/**
 * The one offline check of a Rollout, shared by `fledge validate`, `fledge render` and the
 * controller, so that CI refuses exactly what the controller would refuse without a cluster:
 * the schema and cross-field rules (api/validate.ts), the custom queries' placeholders
 * (metrics/templates.ts), Istio's validation of the fields Fledge writes and Istio's CRD schema
 * for the fields it passes through (router/istio/offline.ts). Warnings are true but not fatal
 * (routing that leaves the Service's in-mesh callers unsteered): validate prints them, the
 * controller sets a condition and emits an Event. What needs the cluster (ownership, overlapping
 * VirtualServices, adopted objects, the server's dry run) is checked by the controller alone.
 */
import { resolveRollout, type ResolvedRollout } from '../api/resolve.ts';
import type { Rollout } from '../api/schema.ts';
import { parseRollout, type ParseOptions, type Problem } from '../api/validate.ts';
import { queryProblems } from '../metrics/templates.ts';
import { coverageWarnings, generatedFieldProblems, passthroughProblems, sessionAffinityProblems, stepMatchProblems } from '../router/istio/offline.ts';

export type CheckResult =
  | { ok: true; rollout: Rollout; resolved: ResolvedRollout; warnings: Problem[] }
  | { ok: false; problems: Problem[]; warnings: Problem[] };

/**
 * Checks a Rollout object as read from YAML or the API server; never throws on bad input.
 * `namespace` overrides metadata.namespace (the controller knows it from the object's key);
 * `opts.prometheus` is the controller's provider configuration (offline: the default one).
 */
export function checkRollout(input: unknown, namespace?: string, opts: ParseOptions = {}): CheckResult {
  const parsed = parseRollout(input, opts);
  if (!parsed.ok) return { ok: false, problems: parsed.problems, warnings: [] };
  const rollout = namespace === undefined ? parsed.rollout : { ...parsed.rollout, metadata: { ...parsed.rollout.metadata, namespace } };
  const resolved = resolveRollout(rollout);
  const problems = [...queryProblems(resolved), ...generatedFieldProblems(resolved), ...passthroughProblems(resolved), ...stepMatchProblems(resolved)];
  // Only once the rest is sound: it renders the VirtualService, whose other fields are judged above.
  if (problems.length === 0) problems.push(...sessionAffinityProblems(resolved));
  const warnings = coverageWarnings(resolved);
  return problems.length > 0 ? { ok: false, problems, warnings } : { ok: true, rollout, resolved, warnings };
}
