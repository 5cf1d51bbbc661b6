import { parseAllDocuments, stringify } from 'yaml';
import type { KubeObject } from '../api/object.ts';
import { resolveRollout } from '../api/resolve.ts';
import { readRequests } from '../api/requests.ts';
import { plan } from '../plan/plan.ts';
import { istioRouter } from '../router/istio/render.ts';
import { checkRollout } from '../check/rollout.ts';
import { loadRollouts, readInput, UsageError } from './documents.ts';

export interface RenderOptions { file: string; weight?: string; virtualService?: string; destinationRule?: string; argocdIgnore?: boolean }

/** Prints the Istio objects of each Rollout in the file, at its first step or at `--weight`. */
export async function renderCommand(opts: RenderOptions, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const weight = opts.weight === undefined ? undefined : parseWeight(opts.weight);
  const docs = loadRollouts(opts.file, await readInput(opts.file));
  for (const d of docs) {
    // The controller's own offline check: render never prints what it would refuse.
    const checked = d.rollout ? checkRollout(d.rollout) : undefined;
    if (checked && !checked.ok) d.problems.push(...checked.problems);
    for (const w of checked?.warnings ?? []) err(`${d.label}: warning: ${w.path}: ${w.message}`);
  }
  const bad = docs.filter((d) => d.problems.length > 0);
  if (bad.length > 0) {
    for (const d of bad) for (const p of d.problems) err(`${d.label}: ${p.path}: ${p.message}`);
    return 1;
  }
  const yamlDocs: string[] = [];
  const patches: string[] = [];
  for (const d of docs) {
    const r = resolveRollout(d.rollout!);
    const first = plan({ rollout: r, status: undefined, requests: readRequests(undefined), now: new Date(0) }).routing;
    const routing = weight === undefined ? first : { ...first, canaryWeight: weight };
    for (const obj of istioRouter.desiredObjects(r, routing)) yamlDocs.push(stringify(obj, { lineWidth: 0 }));
    if (r.virtualService.mode !== 'adopted') continue;
    if (!opts.virtualService) {
      err(`${d.label}: VirtualService ${r.virtualService.name} is adopted: Fledge changes only its weights; pass --virtual-service FILE to see the patch`);
      continue;
    }
    const vs = await loadObject(opts.virtualService, 'VirtualService', r.virtualService.name);
    const dr = opts.destinationRule ? await loadObject(opts.destinationRule, 'DestinationRule', r.destinationRule.name) : undefined;
    const problems = istioRouter.checkAdopted(r, { virtualService: vs, ...(dr ? { destinationRule: dr } : {}) });
    if (problems.length > 0) {
      for (const p of problems) err(`${d.label}: ${p.path}: ${p.message}`);
      return 1;
    }
    if (opts.argocdIgnore) {
      // Exactly the weights Fledge steers, so Argo CD ignores those and still syncs the rest.
      patches.push(stringify({ ignoreDifferences: istioRouter.argoCdIgnoreDifferences(r, vs) }, { lineWidth: 0 }).trimEnd());
      continue;
    }
    // The JSON patch (RFC 6902) Fledge would send, test operations included.
    patches.push(JSON.stringify(istioRouter.adoptedWeightPatch(r, vs, routing), null, 2));
  }
  if (patches.length > 0) {
    out(patches.join('\n'));
    return 0;
  }
  out(yamlDocs.map((y) => `---\n${y}`).join(''));
  return 0;
}

/** The object of that kind (and name) in a YAML file the user keeps in git. */
async function loadObject(file: string, kind: string, name: string): Promise<KubeObject> {
  const docs = parseAllDocuments(await readInput(file)).map((d) => d.toJS() as KubeObject | null).filter((o): o is KubeObject => o !== null && typeof o === 'object');
  const found = docs.find((o) => o.kind === kind && o.metadata?.name === name) ?? docs.find((o) => o.kind === kind);
  if (!found) throw new UsageError(`${file}: no ${kind} in the file`);
  return found;
}

function parseWeight(text: string): number {
  if (!/^[0-9]+$/.test(text) || Number(text) > 100) throw new UsageError(`--weight: must be an integer between 0 and 100 (got ${JSON.stringify(text)})`);
  return Number(text);
}
