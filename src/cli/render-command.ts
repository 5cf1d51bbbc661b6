import { stringify } from 'yaml';
import { resolveRollout } from '../api/resolve.ts';
import { readRequests } from '../api/requests.ts';
import { plan } from '../plan/plan.ts';
import { istioRouter } from '../router/istio/render.ts';
import { loadRollouts, readInput, UsageError } from './documents.ts';

export interface RenderOptions { file: string; weight?: string }

/** Prints the Istio objects of each Rollout in the file, at its first step or at `--weight`. */
export async function renderCommand(opts: RenderOptions, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const weight = opts.weight === undefined ? undefined : parseWeight(opts.weight);
  const docs = loadRollouts(opts.file, await readInput(opts.file));
  const bad = docs.filter((d) => d.problems.length > 0);
  if (bad.length > 0) {
    for (const d of bad) for (const p of d.problems) err(`${d.label}: ${p.path}: ${p.message}`);
    return 1;
  }
  const yamlDocs: string[] = [];
  for (const d of docs) {
    const r = resolveRollout(d.rollout!);
    const first = plan({ rollout: r, status: undefined, requests: readRequests(undefined), now: new Date(0) }).routing;
    const routing = weight === undefined ? first : { ...first, canaryWeight: weight };
    for (const obj of istioRouter.desiredObjects(r, routing)) yamlDocs.push(stringify(obj, { lineWidth: 0 }));
    if (r.virtualService.mode === 'adopted') err(`${d.label}: the VirtualService ${r.virtualService.name} is adopted: Fledge changes only its weights`);
  }
  out(yamlDocs.map((y) => `---\n${y}`).join(''));
  return 0;
}

function parseWeight(text: string): number {
  if (!/^[0-9]+$/.test(text) || Number(text) > 100) throw new UsageError(`--weight: must be an integer between 0 and 100 (got ${JSON.stringify(text)})`);
  return Number(text);
}
