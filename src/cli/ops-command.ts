/**
 * `fledge list|status|promote|abort|pause|resume|retry`. Requests are annotations the controller
 * reads on its next reconcile (level-triggered): the CLI never writes status or routing itself.
 */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { ANNOTATIONS, GROUP, PLURAL, VERSION } from '../api/constants.ts';
import { resumeValue } from '../api/requests.ts';
import { KubeApiError } from '../kube/errors.ts';
import { UsageError } from './documents.ts';
import type { CliKube } from './kube-context.ts';
import { viewOf, type LiveRollout } from './live.ts';
import { examples, kubeFlags, outputOption, type Io, type KubeFlags, type Outcome } from './flags.ts';
import { statusObject, statusText, toStatusEvents } from './status-view.ts';
import { formatTable } from './table.ts';

export const ROLLOUT_REF = { group: GROUP, version: VERSION, plural: PLURAL };

/** A named object that does not exist: exit 1, as kubectl's "not found" does (2 is for usage). */
export class NotFoundError extends Error {}

export async function connect(flags: KubeFlags): Promise<CliKube> {
  const { cliKube } = await import('./kube-context.ts');
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

const STATUS_EXIT = `
Exit status with --watch or --timeout:
  0  the release is Promoted
  1  it was RolledBack or is Invalid, or --timeout passed first (also: not found, an API error)
  2  a usage error
  130  interrupted (Ctrl-C)
Without them: 0 once the status is printed, 1 when the Rollout is not found.
A phase counts only once the controller has seen the Rollout's latest generation and release:
a Promoted left over from the previous release does not end the wait for the new one.`;

const NAME_VERBS: { verb: string; summary: string; description: string; example: string }[] = [
  { verb: 'promote', summary: 'send 100 % to the canary now', description: 'Ask the controller to promote the current release now: 100 % to the canary, skipping the remaining steps and analysis. Written as the annotation fledge.dev/promote=RELEASE, so it never acts on a later release.', example: 'skip the remaining steps' },
  { verb: 'abort', summary: 'send 100 % back to stable now', description: 'Ask the controller to roll the current release back now: 100 % to stable. Written as the annotation fledge.dev/abort=RELEASE. A fixed canary is a new release: commit new spec.canary.labels.', example: 'roll back at once' },
  { verb: 'pause', summary: 'hold the current weights', description: 'Hold the current weights until `fledge resume`. Analysis still runs and still rolls back a failing canary. Written as the annotation fledge.dev/paused=true, which a GitOps sync leaves alone.', example: 'hold where it is' },
  { verb: 'resume', summary: 'undo pause; release a {pause: manual} step', description: 'Undo `fledge pause`, and release a step that waits for a person ({weight: N, pause: manual}). A release that has ended (Promoted or RolledBack) has nothing to resume: the command says so and what to do instead.', example: 'carry on' },
];

export function defineOpsCommands(program: Command, io: Io, outcome: Outcome): void {
  kubeFlags(program.command('list')
    .alias('ls')
    .summary('list Rollouts: phase, weight, step')
    .description('List Rollouts (rollouts.fledge.dev) with their phase, canary weight and step (counted from 1, of the schedule).')
    .usage('[-n NAMESPACE | -A] [-o json|yaml|wide]')
    .addOption(outputOption(['json', 'yaml', 'wide'])), { allNamespaces: true })
    .addHelpText('after', examples(
      ['fledge list -A', 'every namespace'],
      ['fledge list -n shop -o wide', 'with release, subsets and message'],
      ['fledge list -o json', 'a v1 List, as kubectl prints it'],
    ))
    .action(async (o: KubeFlags & { output?: string }) => {
      outcome.code = await listCommand(await connect(o), o, io.out, io.err);
    });

  kubeFlags(program.command('status')
    .summary('phase, weights, step, last analysis, recent events; --watch to follow')
    .description('Show a Rollout: phase, weights, the step of its schedule (counted from 1), the last analysis per metric and recent Events. With --watch, follow it until the release ends (redrawn in place on a terminal, one line per change otherwise); with --timeout, fail when it has not ended in time: a CI gate.')
    .usage('NAME [-n NAMESPACE] [-o json|yaml|wide] [--watch] [--timeout DURATION]')
    .argument('<NAME>', 'the Rollout')
    .addOption(outputOption(['json', 'yaml', 'wide']))
    .option('-w, --watch', 'follow the Rollout until its release is Promoted or RolledBack')
    .option('-t, --timeout <duration>', 'with --watch: give up after this long (e.g. 30s, 10m); implies --watch'))
    .addHelpText('after', `${STATUS_EXIT}\n${examples(
      ['fledge status web -n shop', 'once'],
      ['fledge status web -n shop --watch', 'follow the release'],
      ['fledge status web --timeout 15m', 'CI: exit 0 when promoted, 1 when rolled back or late'],
      ['fledge status web -o yaml', 'the status and events, for a script'],
    )}`)
    .action(async (name: string, o: KubeFlags & { output?: string; watch?: boolean; timeout?: string }) => {
      const { parseDuration } = await import('../api/duration.ts');
      let timeoutMs: number | undefined;
      if (o.timeout !== undefined) {
        timeoutMs = parseDuration(o.timeout);
        if (timeoutMs === undefined || timeoutMs <= 0) throw new UsageError(`--timeout: must be a duration such as 30s, 10m or 1h (got ${JSON.stringify(o.timeout)})`);
      }
      const k = await connect(o);
      if (o.watch || timeoutMs !== undefined) {
        if (o.output === 'json' || o.output === 'yaml') throw new UsageError('--watch: prints text; -o json|yaml print once');
        const { watchStatus } = await import('./watch.ts');
        outcome.code = await watchStatus(k, name, { ...(timeoutMs !== undefined ? { timeoutMs } : {}), wide: o.output === 'wide', io });
        return;
      }
      outcome.code = await statusCommand(k, name, o.output, io.out);
    });

  for (const { verb, summary, description, example } of NAME_VERBS) {
    kubeFlags(program.command(verb)
      .summary(summary)
      .description(description)
      .usage('NAME [-n NAMESPACE]')
      .argument('<NAME>', 'the Rollout'))
      .addHelpText('after', examples([`fledge ${verb} web -n shop`, example]))
      .action(async (name: string, o: KubeFlags) => {
        const k = await connect(o);
        outcome.code = await requestCommand(verb, k, await getRollout(k, name), io);
      });
  }

  kubeFlags(program.command('retry')
    .summary('(reserved) start a rolled-back release again; not available yet')
    .description('Reserved for starting a rolled-back release again from its first step. It is not implemented yet and changes nothing. Today a rolled-back release moves on with a new commit of spec.canary.labels (a fixed canary starts from the first step), or with `fledge promote NAME` to send 100 % to this canary anyway.')
    .usage('NAME [-n NAMESPACE]')
    .argument('<NAME>', 'the Rollout'))
    .action((name: string) => {
      io.err(`fledge retry: not available yet; nothing was changed. To release again, commit new spec.canary.labels (the new canary starts from the first step), or send 100 % to this canary with \`fledge promote ${name}\`.`);
      outcome.code = 1;
    });
}

async function statusCommand(k: CliKube, name: string, output: string | undefined, out: Out): Promise<number> {
  const view = viewOf(await getRollout(k, name));
  const events = await rolloutEvents(k, name);
  if (output === 'json') out(JSON.stringify(statusObject(view, events), null, 2));
  else if (output === 'yaml') out(stringify(statusObject(view, events), { lineWidth: 0 }).trimEnd());
  else out(statusText(view, events, { wide: output === 'wide' }));
  return 0;
}

async function requestCommand(verb: string, k: CliKube, r: LiveRollout, io: Io): Promise<number> {
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
    default:
      return resume(k, r, v, io);
  }
}

async function resume(k: CliKube, r: LiveRollout, v: ReturnType<typeof viewOf>, io: Io): Promise<number> {
  const st = r.status ?? {};
  const id = `Rollout ${k.namespace}/${r.metadata.name}`;
  const name = r.metadata.name;
  const set: Record<string, string | null> = {};
  if (r.metadata.annotations?.[ANNOTATIONS.paused] !== undefined) set[ANNOTATIONS.paused] = null;
  const manualStep = v.current && st.phase === 'Paused' && st.pausedBy === 'step' && st.stepIndex !== undefined;
  if (manualStep) set[ANNOTATIONS.resume] = resumeValue(v.release, st.stepIndex!);
  if (Object.keys(set).length > 0) await annotate(k, r, set, io.out);

  if (v.current && st.phase === 'RolledBack') {
    // What is true, and what moves a rolled-back release on: nothing resumes it.
    io.err(`${id}: release ${v.release} was RolledBack${st.message ? ` (${st.message})` : ''}; it has nothing to resume and all traffic stays on ${v.stableSubset}. ` +
      `To release again, commit new spec.canary.labels (the new canary starts from the first step), or send 100 % to this canary with \`fledge promote ${name}\`.`);
    return Object.keys(set).length > 0 ? 0 : 1;
  }
  if (v.current && st.phase === 'Promoted') {
    io.err(`${id}: release ${v.release} is Promoted; it has nothing to resume. The next release is a commit that moves spec.stable.labels to the promoted labels and spec.canary.labels to the new version.`);
    return Object.keys(set).length > 0 ? 0 : 1;
  }
  if (manualStep) io.out(`${id}: resumed; step ${v.step} is released, the schedule carries on`);
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
      ...(allNamespaces ? [r.metadata.namespace] : []),
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

async function listCommand(k: CliKube, o: KubeFlags & { output?: string }, out: Out, err: Out): Promise<number> {
  const list = await k.client.list(ROLLOUT_REF, o.allNamespaces ? undefined : k.namespace);
  const items = (list.items as unknown as LiveRollout[]).map((r) => {
    const { managedFields: _drop, ...metadata } = r.metadata;
    return { ...r, apiVersion: r.apiVersion ?? `${GROUP}/${VERSION}`, kind: r.kind ?? 'Rollout', metadata };
  });
  if (o.output === 'json' || o.output === 'yaml') {
    const doc = { apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } };
    out(o.output === 'json' ? JSON.stringify(doc, null, 4) : stringify(doc, { lineWidth: 0 }).trimEnd());
    return 0;
  }
  if (items.length === 0) {
    err(o.allNamespaces ? 'No resources found' : `No resources found in ${k.namespace} namespace.`);
    return 0;
  }
  out(formatTable(listRows(items, { allNamespaces: o.allNamespaces === true, wide: o.output === 'wide' })));
  return 0;
}
