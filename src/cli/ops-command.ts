/**
 * The flags, help and examples of `fledge list|status|promote|abort|pause|resume|retry`; what they
 * do is in ops.ts, loaded when one runs (help and completion never load the Kubernetes client).
 */
import type { Command } from 'commander';
import { UsageError } from './usage-error.ts';
import { examples, kubeFlags, outputOption, type Io, type KubeFlags, type Outcome } from './flags.ts';

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
  { verb: 'resume', summary: 'undo pause; release a {pause: manual} step', description: 'Undo `fledge pause`, and release a step that waits for a person ({weight: N, pause: manual}) or that the analysis paused for want of evidence (past inconclusiveLimit). A release that has ended (Promoted or RolledBack) has nothing to resume: the command says so and what to do instead.', example: 'carry on' },
  { verb: 'retry', summary: 'start a rolled-back release again from its first step', description: 'Ask the controller to start the current release again from its first step, with fresh analysis, after it was RolledBack (a transient failure: a dependency was down). Written as the annotation fledge.dev/retry=RELEASE/TIME (and fledge.dev/abort removed), so it acts once and never on a later release. A release that is not RolledBack has nothing to retry: the command says so, writes nothing and exits 1.', example: 'after a rollback, start again' },
];

export function defineOpsCommands(program: Command, io: Io, outcome: Outcome): void {
  kubeFlags(program.command('list')
    .alias('ls')
    .summary('list Rollouts: phase, weight, step')
    .description('List Rollouts (rollouts.fledge.dev) with their phase, canary weight and step (counted from 1, of the schedule).')
    .usage('[-n NAMESPACE | -A] [-o json|yaml|wide|name]')
    .addOption(outputOption(['json', 'yaml', 'wide', 'name'])), { allNamespaces: true })
    .addHelpText('after', examples(
      ['fledge list -A', 'every namespace'],
      ['fledge list -n shop -o wide', 'with release, subsets and message'],
      ['fledge list -o json', 'a v1 List, as kubectl prints it'],
    ))
    .action(async (o: KubeFlags & { output?: string }) => {
      const { connect, listCommand } = await import('./ops.ts');
      outcome.code = await listCommand(connect(o), o, io.out, io.err);
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
      const { connect, statusCommand } = await import('./ops.ts');
      const k = connect(o);
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
        const { connect, getRollout, requestCommand } = await import('./ops.ts');
        const k = connect(o);
        outcome.code = await requestCommand(verb, k, await getRollout(k, name), io);
      });
  }
}

