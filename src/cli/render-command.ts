import { parseAllDocuments, stringify } from 'yaml';
import type { KubeObject } from '../api/object.ts';
import { atVirtualService, resolveRollout, withVirtualService } from '../api/resolve.ts';
import { readRequests } from '../api/requests.ts';
import { plan } from '../plan/plan.ts';
import { istioRouter } from '../router/istio/render.ts';
import { checkRollout } from '../check/rollout.ts';
import { loadRollouts, readInput, UsageError } from './documents.ts';

/** `virtualService`: the files holding the adopted VirtualServices (`--virtual-service`, repeatable: one file each or one file holding all). */
export interface RenderOptions { file: string; weight?: string; virtualService?: readonly string[]; destinationRule?: string; argocdIgnore?: boolean }

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
  // Each file read once, however many Rollouts and entries look into it (`-` is standard input).
  let vsFiles: Promise<LoadedFile[]> | undefined;
  const virtualServiceFiles = (files: readonly string[]) => (vsFiles ??= Promise.all(files.map(loadFile)));
  for (const d of docs) {
    const r = resolveRollout(d.rollout!);
    const first = plan({ rollout: r, status: undefined, requests: readRequests(undefined), now: new Date(0) }).routing;
    const routing = weight === undefined ? first : { ...first, canaryWeight: weight };
    for (const obj of istioRouter.desiredObjects(r, routing)) yamlDocs.push(stringify(obj, { lineWidth: 0 }));
    if (r.virtualService.mode !== 'adopted') continue;
    const names = r.virtualServices.map((vs) => vs.name).join(', ');
    if (!opts.virtualService || opts.virtualService.length === 0) {
      err(r.virtualServicesListed
        ? `${d.label}: VirtualServices ${names} are adopted: Fledge changes only their weights; pass --virtual-service FILE for each of them (or one file holding them all) to see the patches`
        : `${d.label}: VirtualService ${names} is adopted: Fledge changes only its weights; pass --virtual-service FILE to see the patch`);
      continue;
    }
    const dr = opts.destinationRule ? findObject([await loadFile(opts.destinationRule)], 'DestinationRule', r.destinationRule.name) : undefined;
    const vsIn = await virtualServiceFiles(opts.virtualService);
    const ignore: Record<string, unknown>[] = [];
    for (const [i, entry] of r.virtualServices.entries()) {
      const ri = withVirtualService(r, i);
      // A list's VirtualServices are told apart by name: one FILE may hold them all, or one each.
      const vs = findObject(vsIn, 'VirtualService', entry.name, r.virtualServicesListed === true);
      const problems = atVirtualService(r, i, istioRouter.checkAdopted(ri, { virtualService: vs, ...(dr ? { destinationRule: dr } : {}) }));
      if (problems.length > 0) {
        for (const p of problems) err(`${d.label}: ${p.path}: ${p.message}`);
        return 1;
      }
      if (opts.argocdIgnore) {
        // Exactly the weights Fledge steers, so Argo CD ignores those and still syncs the rest.
        ignore.push(...istioRouter.argoCdIgnoreDifferences(ri, vs));
        continue;
      }
      // The JSON patch (RFC 6902) Fledge would send, test operations included.
      const patch = JSON.stringify(istioRouter.adoptedWeightPatch(ri, vs, routing), null, 2);
      patches.push(r.virtualServicesListed ? `# VirtualService ${entry.name}\n${patch}` : patch);
    }
    if (opts.argocdIgnore) patches.push(stringify({ ignoreDifferences: ignore }, { lineWidth: 0 }).trimEnd());
  }
  if (patches.length > 0) {
    out(patches.join('\n'));
    return 0;
  }
  out(yamlDocs.map((y) => `---\n${y}`).join(''));
  return 0;
}

interface LoadedFile { file: string; objects: KubeObject[] }

/** The objects of a YAML file the user keeps in git (one or several documents). */
async function loadFile(file: string): Promise<LoadedFile> {
  const objects = parseAllDocuments(await readInput(file)).map((d) => d.toJS() as KubeObject | null).filter((o): o is KubeObject => o !== null && typeof o === 'object');
  return { file, objects };
}

/**
 * The object of that kind and name in the files, else (unless `byName`) the first of that kind.
 * @throws UsageError naming the files when there is none.
 */
function findObject(files: readonly LoadedFile[], kind: string, name: string, byName = false): KubeObject {
  const all = files.flatMap((f) => f.objects);
  const found = all.find((o) => o.kind === kind && o.metadata?.name === name) ?? (byName ? undefined : all.find((o) => o.kind === kind));
  if (!found) {
    const where = files.length === 1 ? `${files[0]!.file}: no ${kind}${byName ? ` ${name}` : ''} in the file` : `${files.map((f) => f.file).join(', ')}: no ${kind}${byName ? ` ${name}` : ''} in these files`;
    throw new UsageError(where);
  }
  return found;
}

function parseWeight(text: string): number {
  if (!/^[0-9]+$/.test(text) || Number(text) > 100) throw new UsageError(`--weight: must be an integer between 0 and 100 (got ${JSON.stringify(text)})`);
  return Number(text);
}
