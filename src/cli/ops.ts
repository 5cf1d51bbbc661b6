/**
 * What `fledge list|status|promote|abort|pause|resume|retry` do (their flags and help are in
 * ops-command.ts). Requests are annotations the controller reads on its next reconcile
 * (level-triggered): the CLI never writes status or routing itself.
 */
import { stringify } from 'yaml';
import { ANNOTATIONS, GROUP, PLURAL, VERSION } from '../api/constants.ts';
import { resumeValue, retryValue } from '../api/requests.ts';
import { asRolloutObject } from '../api/rollout-object.ts';
import { RETRY_QUIET_MS } from '../plan/retry.ts';
import { KubeApiError } from '../kube/errors.ts';
import type { Io, KubeFlags } from './flags.ts';
import { cliKube, type CliKube } from './kube-context.ts';
import { viewOf, type LiveRollout } from './live.ts';
import { statusObject, statusText, toStatusEvents } from './status-view.ts';
import { formatTable } from './table.ts';

export const ROLLOUT_REF = { group: GROUP, version: VERSION, plural: PLURAL };

/** A named object that does not exist: exit 1, as kubectl's "not found" does (2 is for usage). */
export class NotFoundError extends Error {}

export function connect(flags: KubeFlags): CliKube {
  return cliKube(flags);
}

export async function getRollout(k: CliKube, name: string): Promise<LiveRollout> {
  try {
    return await k.client.get<LiveRollout>(ROLLOUT_REF, k.namespace, name);
  } catch (err) {
    if (err instanceof KubeApiError && err.isNotFound) throw new NotFoundError(`Rollout ${k.namespace}/${name} not found (rollouts.fledge.dev)`);
    throw err;
  }
}

export async function rolloutEvents(k: CliKube, name: string) {
  const events = await k.client.listEvents(k.namespace, `regarding.name=${name},regarding.kind=Rollout`).catch(() => []);
  return toStatusEvents(events);
}

type Out = (s: string) => void;

async function annotate(k: CliKube, r: LiveRollout, set: Record<string, string | null>, out: Out): Promise<void> {
  await k.client.mergePatch(ROLLOUT_REF, k.namespace, r.metadata.name, { metadata: { annotations: set } });
  for (const [key, value] of Object.entries(set)) {
    const was = r.metadata.annotations?.[key];
    if (value === null) { if (was !== undefined) out(`removed ${key} (was ${was})`); }
    else out(`set ${key}=${value}`);
  }
}

export async function statusCommand(k: CliKube, name: string, output: string | undefined, out: Out): Promise<number> {
  const view = viewOf(await getRollout(k, name));
  const events = await rolloutEvents(k, name);
  if (output === 'json') out(JSON.stringify(statusObject(view, events), null, 2));
  else if (output === 'yaml') out(stringify(statusObject(view, events), { lineWidth: 0 }).trimEnd());
  else out(statusText(view, events, { wide: output === 'wide' }));
  return 0;
}

export async function requestCommand(verb: string, k: CliKube, r: LiveRollout, io: Io): Promise<number> {
  const v = viewOf(r);
  const { release } = v;
  const st = r.status ?? {};
  const id = `Rollout ${k.namespace}/${r.metadata.name}`;
  const settled = v.current && (st.phase === 'Promoted' || st.phase === 'RolledBack');
  switch (verb) {
    case 'promote':
      if (v.current && st.phase === 'Promoted') {
        io.out(`${id}: release ${release} is already Promoted; nothing to do`);
        return 0;
      }
      await annotate(k, r, { [ANNOTATIONS.promote]: release, [ANNOTATIONS.abort]: null }, io.out);
      io.out(`${id}: promotion of release ${release} requested; the controller sends 100 % to the canary`);
      return 0;
    case 'abort':
      if (v.current && st.phase === 'RolledBack') {
        io.out(`${id}: release ${release} is already RolledBack; nothing to do`);
        return 0;
      }
      await annotate(k, r, { [ANNOTATIONS.abort]: release, [ANNOTATIONS.promote]: null }, io.out);
      io.out(`${id}: abort of release ${release} requested; the controller sends 100 % to stable`);
      return 0;
    case 'pause':
      await annotate(k, r, { [ANNOTATIONS.paused]: 'true' }, io.out);
      io.out(settled
        ? `${id}: paused; release ${release} has already ended ${st.phase}, so the pause holds the next release at its first step until \`fledge resume\``
        : `${id}: paused; weights hold (analysis still rolls back a failing canary)`);
      return 0;
    case 'retry':
      return retry(k, r, v, io);
    default:
      return resume(k, r, v, io);
  }
}

/**
 * Only a release that ended RolledBack starts again; anything else is said and nothing written.
 * The abort request goes with it: left on the object, it would roll the retried release back.
 */
async function retry(k: CliKube, r: LiveRollout, v: ReturnType<typeof viewOf>, io: Io): Promise<number> {
  const st = r.status ?? {};
  const id = `Rollout ${k.namespace}/${r.metadata.name}`;
  if (!v.current) {
    io.err(`${id}: the controller has not yet seen release ${v.release} of the latest spec (generation ${r.metadata.generation ?? '?'}); nothing to retry, nothing was changed`);
    return 1;
  }
  if (st.phase !== 'RolledBack') {
    const where = st.phase === 'Promoted' ? 'is Promoted' : `is ${st.phase ?? 'Pending'}${v.step ? ` at step ${v.step}` : ''}`;
    io.err(`${id}: release ${v.release} ${where}, not RolledBack; nothing to retry, nothing was changed (only a rolled-back release starts again)`);
    return 1;
  }
  const set: Record<string, string | null> = { [ANNOTATIONS.retry]: retryValue(v.release, new Date()) };
  if (r.metadata.annotations?.[ANNOTATIONS.abort] !== undefined) set[ANNOTATIONS.abort] = null;
  await annotate(k, r, set, io.out);
  const first = v.steps[0]?.weight;
  const paused = r.metadata.annotations?.[ANNOTATIONS.paused] === 'true';
  // plan/retry.ts: the canary takes traffic again once its failed requests are out of every analysis window.
  io.out(`${id}: retry of release ${v.release} requested; the controller starts it again from step 1${first === undefined ? '' : ` (${v.canarySubset} ${first} %)`} with fresh analysis, ` +
    `no sooner than ${RETRY_QUIET_MS / 1000} s after the rollback` +
    (paused ? '; it is paused (`fledge pause`), so it holds at step 1 until `fledge resume`' : ''));
  return 0;
}

async function resume(k: CliKube, r: LiveRollout, v: ReturnType<typeof viewOf>, io: Io): Promise<number> {
  const st = r.status ?? {};
  const id = `Rollout ${k.namespace}/${r.metadata.name}`;
  const name = r.metadata.name;
  const set: Record<string, string | null> = {};
  if (r.metadata.annotations?.[ANNOTATIONS.paused] !== undefined) set[ANNOTATIONS.paused] = null;
  // A manual step, or a step the analysis paused for want of evidence: go on to the next.
  const manualStep = v.current && st.phase === 'Paused' && (st.pausedBy === 'step' || st.pausedBy === 'analysis') && st.stepIndex !== undefined;
  if (manualStep) set[ANNOTATIONS.resume] = resumeValue(v.release, st.stepIndex!);
  if (Object.keys(set).length > 0) await annotate(k, r, set, io.out);

  if (v.current && st.phase === 'RolledBack') {
    // What is true, and what moves a rolled-back release on: nothing resumes it.
    io.err(`${id}: release ${v.release} was RolledBack${st.message ? ` (${st.message})` : ''}; it has nothing to resume and all traffic stays on ${v.stableSubset}. ` +
      `To release again, commit new spec.canary.labels (the new canary starts from the first step), start this release again from its first step with \`fledge retry ${name}\`, or send 100 % to this canary with \`fledge promote ${name}\`.`);
    return Object.keys(set).length > 0 ? 0 : 1;
  }
  if (v.current && st.phase === 'Promoted') {
    io.err(`${id}: release ${v.release} is Promoted; it has nothing to resume. The next release is a commit that moves spec.stable.labels to the promoted labels and spec.canary.labels to the new version.`);
    return Object.keys(set).length > 0 ? 0 : 1;
  }
  if (manualStep && st.pausedBy === 'analysis') io.out(`${id}: resumed; step ${v.step} goes on without conclusive analysis, the schedule carries on`);
  else if (manualStep) io.out(`${id}: resumed; step ${v.step} is released, the schedule carries on`);
  else if (set[ANNOTATIONS.paused] === null) io.out(`${id}: resumed; the schedule carries on${v.step ? ` from step ${v.step}` : ''}`);
  else io.out(`${id}: not paused (${st.phase ?? 'not reconciled yet'}${v.step ? `, step ${v.step}` : ''}); nothing to resume`);
  return 0;
}

/** One row per Rollout, kubectl's way: NAMESPACE only with -A, -o wide adds columns. */
export function listRows(items: readonly LiveRollout[], { allNamespaces = false, wide = false, now = Date.now() } = {}): string[][] {
  const head = [...(allNamespaces ? ['NAMESPACE'] : []), 'NAME', 'PHASE', 'WEIGHT', 'STEP', 'AGE', ...(wide ? ['RELEASE', 'STABLE', 'CANARY'] : []), 'MESSAGE'];
  const rows = items.map((r) => {
    const v = viewOf(r);
    const st = r.status ?? {};
    const created = r.metadata.creationTimestamp ? new Date(r.metadata.creationTimestamp).getTime() : undefined;
    return [
      ...(allNamespaces ? [r.metadata.namespace ?? ''] : []),
      r.metadata.name, st.phase ?? '', st.canaryWeight === undefined ? '' : String(st.canaryWeight), v.step,
      created === undefined ? '' : age(now - created),
      ...(wide ? [st.release ?? '', v.stableSubset, v.canarySubset] : []),
      st.message ?? '',
    ];
  });
  return [head, ...rows];
}

/** kubectl's AGE: the largest unit, or two below a day or so. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

export async function listCommand(k: CliKube, o: KubeFlags & { output?: string }, out: Out, err: Out): Promise<number> {
  const list = await k.client.list(ROLLOUT_REF, o.allNamespaces ? undefined : k.namespace);
  const items = list.items.map(asRolloutObject).map((r) => {
    const { managedFields: _drop, ...metadata } = r.metadata;
    return { ...r, apiVersion: r.apiVersion ?? `${GROUP}/${VERSION}`, kind: r.kind ?? 'Rollout', metadata };
  });
  if (o.output === 'json' || o.output === 'yaml') {
    const doc = { apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } };
    out(o.output === 'json' ? JSON.stringify(doc, null, 4) : stringify(doc, { lineWidth: 0 }).trimEnd());
    return 0;
  }
  if (o.output === 'name') {
    // kubectl's -o name: RESOURCE.GROUP/NAME, one a line, for xargs and scripts.
    for (const r of items) out(`rollout.${GROUP}/${r.metadata.name}`);
    return 0;
  }
  if (items.length === 0) {
    err(o.allNamespaces ? 'No resources found' : `No resources found in ${k.namespace} namespace.`);
    return 0;
  }
  out(formatTable(listRows(items, { allNamespaces: o.allNamespaces === true, wide: o.output === 'wide' })));
  return 0;
}
