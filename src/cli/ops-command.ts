/**
 * `fledge status|list|promote|abort|pause|resume`. Requests are annotations the controller reads
 * on its next reconcile (level-triggered): the CLI never writes status or routing itself.
 */
import { ANNOTATIONS, GROUP, PLURAL, VERSION } from '../api/constants.ts';
import { releaseId } from '../api/release.ts';
import { resumeValue } from '../api/requests.ts';
import type { RolloutStatus } from '../api/schema.ts';
import { KubeApiError } from '../kube/errors.ts';
import { parse } from './args.ts';
import { UsageError } from './documents.ts';
import { cliKube, type CliKube } from './kube-context.ts';
import { formatTable } from './table.ts';

const REF = { group: GROUP, version: VERSION, plural: PLURAL };
type Out = (s: string) => void;

interface LiveRollout {
  metadata: { name: string; namespace: string; annotations?: Record<string, string>; generation?: number };
  spec: { stable?: { labels?: Record<string, string>; subset?: string }; canary?: { labels?: Record<string, string>; subset?: string }; strategy?: { steps?: unknown[] } };
  status?: RolloutStatus;
}

const COMMON = {
  namespace: { type: 'string', short: 'n' },
  kubeconfig: { type: 'string' },
} as const;

async function getRollout(k: CliKube, name: string): Promise<LiveRollout> {
  try {
    return await k.client.get<LiveRollout>(REF, k.namespace, name);
  } catch (err) {
    if (err instanceof KubeApiError && err.isNotFound) throw new UsageError(`Rollout ${k.namespace}/${name} not found`);
    throw err;
  }
}

function nameArg(positionals: string[], verb: string): string {
  const [name, ...extra] = positionals;
  if (!name || extra.length > 0) throw new UsageError(`usage: fledge ${verb} NAME [-n NAMESPACE]`);
  return name;
}

function liveRelease(r: LiveRollout): string {
  return releaseId(r.spec.stable?.labels ?? {}, r.spec.canary?.labels ?? {});
}

async function annotate(k: CliKube, r: LiveRollout, set: Record<string, string | null>, out: Out): Promise<void> {
  await k.client.mergePatch(REF, k.namespace, r.metadata.name, { metadata: { annotations: set } });
  for (const [key, value] of Object.entries(set)) {
    const was = r.metadata.annotations?.[key];
    if (value === null) { if (was !== undefined) out(`removed ${key} (was ${was})`); }
    else out(`set ${key}=${value}`);
  }
}

export async function opsCommand(verb: string, args: string[], out: Out): Promise<number> {
  if (verb === 'list') return listCommand(args, out);
  const { values, positionals } = parse(args, { ...COMMON, output: { type: 'string', short: 'o' } });
  const name = nameArg(positionals, verb);
  const k = cliKube(values);
  const r = await getRollout(k, name);
  const release = liveRelease(r);
  switch (verb) {
    case 'status':
      return statusCommand(k, r, values.output, out);
    case 'promote':
      await annotate(k, r, { [ANNOTATIONS.promote]: release, [ANNOTATIONS.abort]: null }, out);
      out(`Rollout ${k.namespace}/${name}: promotion of release ${release} requested; the controller sends 100 % to the canary`);
      return 0;
    case 'abort':
      await annotate(k, r, { [ANNOTATIONS.abort]: release, [ANNOTATIONS.promote]: null }, out);
      out(`Rollout ${k.namespace}/${name}: abort of release ${release} requested; the controller sends 100 % to stable`);
      return 0;
    case 'pause':
      await annotate(k, r, { [ANNOTATIONS.paused]: 'true' }, out);
      out(`Rollout ${k.namespace}/${name}: paused; weights hold (analysis still rolls back a failing canary)`);
      return 0;
    case 'resume': {
      const set: Record<string, string | null> = { [ANNOTATIONS.paused]: null };
      const st = r.status;
      // A manual step, or a step the analysis paused for want of evidence: go on to the next.
      if (st?.phase === 'Paused' && (st.pausedBy === 'step' || st.pausedBy === 'analysis') && st.stepIndex !== undefined) set[ANNOTATIONS.resume] = resumeValue(release, st.stepIndex);
      await annotate(k, r, set, out);
      out(`Rollout ${k.namespace}/${name}: resumed`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command ${verb}`);
  }
}

async function statusCommand(k: CliKube, r: LiveRollout, output: string | undefined, out: Out): Promise<number> {
  const st = r.status ?? {};
  const events = await k.client.listEvents(k.namespace, `regarding.name=${r.metadata.name},regarding.kind=Rollout`).catch(() => []);
  const recent = events
    .sort((a, b) => String(a.eventTime ?? a.metadata?.creationTimestamp ?? '').localeCompare(String(b.eventTime ?? b.metadata?.creationTimestamp ?? '')))
    .slice(-10);
  if (output === 'json') {
    out(JSON.stringify({ name: r.metadata.name, namespace: r.metadata.namespace, status: st, events: recent.map((e) => ({ type: e.type, reason: e.reason, note: e.note, time: e.eventTime })) }, null, 2));
    return 0;
  }
  if (output !== undefined) throw new UsageError('-o: only json is supported');
  const steps = r.spec.strategy?.steps?.length;
  const stable = r.spec.stable?.subset ?? 'stable';
  const canary = r.spec.canary?.subset ?? 'canary';
  const w = st.canaryWeight ?? 0;
  const bar = `${'#'.repeat(Math.round((100 - w) / 5))}${'.'.repeat(Math.round(w / 5))}`;
  out(formatTable([
    ['Name', `${r.metadata.namespace}/${r.metadata.name}`],
    ['Phase', st.phase ?? '(not reconciled yet)'],
    ['Message', st.message ?? ''],
    ['Weights', `${stable} ${100 - w} / ${canary} ${w}  [${bar}]`],
    ['Step', st.stepIndex === undefined ? '' : `${Math.min(st.stepIndex + 1, steps ?? 0)}/${steps ?? '?'}`],
    ['Release', st.release ?? ''],
    ['Failed checks', String(st.failedChecks ?? 0)],
  ]));
  if (st.lastAnalysis) {
    const a = st.lastAnalysis;
    out(`\nLast analysis (${a.at}, step ${a.stepIndex + 1}${a.final ? ', final' : ''}): ${a.verdict.toUpperCase()}: ${a.reason}`);
    out(formatTable([['METRIC', 'VERDICT', 'VALUE', 'THRESHOLD'], ...a.metrics.map((m) => [m.name, m.verdict, m.value === undefined ? '' : String(m.value), m.threshold ?? ''])]));
  }
  if (recent.length > 0) {
    out('\nEvents:');
    out(formatTable([['TYPE', 'REASON', 'MESSAGE'], ...recent.map((e) => [e.type ?? '', e.reason ?? '', e.note ?? ''])]));
  }
  return 0;
}

async function listCommand(args: string[], out: Out): Promise<number> {
  const { values } = parse(args, { ...COMMON, 'all-namespaces': { type: 'boolean', short: 'A' } });
  const k = cliKube(values);
  const list = await k.client.list<LiveRollout & { apiVersion?: string; kind?: string }>(REF, values['all-namespaces'] ? undefined : k.namespace);
  const rows = list.items.map((r) => [
    r.metadata.namespace ?? '', r.metadata.name ?? '', r.status?.phase ?? '', String(r.status?.canaryWeight ?? ''),
    r.status?.stepIndex === undefined ? '' : String(r.status.stepIndex), r.status?.message ?? '',
  ]);
  out(formatTable([['NAMESPACE', 'NAME', 'PHASE', 'WEIGHT', 'STEP', 'MESSAGE'], ...rows]));
  return 0;
}
