/**
 * The step a person reads, counted from 1 as messages and Events count it: "2/4" is the second of
 * four steps. `status.stepIndex` stays 0-based (it is what the controller resumes from); this is
 * what `status.step`, the CRD's Step column, `fledge list` and `fledge status` show.
 *
 * @param stepIndex status.stepIndex: -1 while a release restarts (before its first step), the
 *   number of steps once promoted.
 * @param steps the length of the resolved schedule (explicit steps, or stepWeight/maxWeight).
 * @returns "" when there is no step yet, else "N/M" with 0 <= N <= M.
 */
export function stepDisplay(stepIndex: number | undefined, steps: number): string {
  if (stepIndex === undefined || steps <= 0) return '';
  const n = Math.max(0, Math.min(stepIndex + 1, steps));
  return `${n}/${steps}`;
}
