import { checkRollout } from '../check/rollout.ts';
import { loadRollouts, readInput } from './documents.ts';

/** Exit 0 when every Rollout in the file is valid (warnings, printed, do not fail it); else print each problem with its field path. */
export async function validateCommand(file: string, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const docs = loadRollouts(file, await readInput(file));
  let problems = 0;
  for (const d of docs) {
    // The controller's own offline check: what it would refuse, CI refuses.
    const checked = d.rollout ? checkRollout(d.rollout) : undefined;
    if (checked && !checked.ok) d.problems.push(...checked.problems);
    for (const w of checked?.warnings ?? []) err(`${d.label}: warning: ${w.path}: ${w.message}`);
    for (const p of d.problems) {
      err(`${d.label}: ${p.path}: ${p.message}`);
      problems++;
    }
    if (d.problems.length === 0) out(`${d.label}: Rollout ${d.rollout!.metadata.name} is valid`);
  }
  return problems === 0 ? 0 : 1;
}
