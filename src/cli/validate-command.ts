import { loadRollouts, readInput } from './documents.ts';

/** Exit 0 when every Rollout in the file is valid; else print each problem with its field path. */
export async function validateCommand(file: string, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const docs = loadRollouts(file, await readInput(file));
  let problems = 0;
  for (const d of docs) {
    for (const p of d.problems) {
      err(`${d.label}: ${p.path}: ${p.message}`);
      problems++;
    }
    if (d.problems.length === 0) out(`${d.label}: Rollout ${d.rollout!.metadata.name} is valid`);
  }
  return problems === 0 ? 0 : 1;
}
