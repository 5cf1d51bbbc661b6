/**
 * The `fledge` command line, on commander (docs/cli.md says why): every command's flags, help and
 * examples are declared here or in its own `*-command.ts`, so `--help`, the usage errors and the
 * shell completion all read one definition. Implementations are imported when a command runs:
 * `fledge render` never loads the Kubernetes client, `fledge status` never loads the controller.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { defineControllerCommand } from './controller-command.ts';
import { UsageError } from './usage-error.ts';
import { CONTROL_PLANE_BUILD_TIME, GO_NEEDED } from './demo/build-facts.ts';
import { examples, type Io, type Outcome } from './flags.ts';
import { defineOpsCommands } from './ops-command.ts';

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const FILE_HELP = 'a YAML file with one or more Rollouts; - reads standard input';

export function buildProgram(io: Io, outcome: Outcome): Command {
  const program = new Command('fledge')
    .description('Canary releases on Istio, driven by a Rollout (rollouts.fledge.dev, short name fro) you keep in git.')
    .usage('COMMAND [flags]')
    .version(version(), '--version', 'print the version')
    .helpOption('-h, --help', 'help for a command')
    .helpCommand('help [command]', 'help for a command')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showSuggestionAfterError(true)
    .addHelpText('after', `
Installed as kubectl-fledge too: \`kubectl fledge status NAME\` works with the package's bin directory on PATH.
Exit status: 0 on success, 1 when the command failed (a Rollout not found, an invalid file, a
rolled-back release with --watch), 2 on a usage error. \`fledge COMMAND --help\` for each command.`);

  program.command('render')
    .summary('print the DestinationRule and VirtualService of a Rollout (no cluster needed)')
    .description('Print the DestinationRule and VirtualService a Rollout gets, as multi-document YAML, at its first step or at canary weight --weight. For an adopted VirtualService (virtualService.ref): the JSON patch of its weights, or the Argo CD ignoreDifferences for exactly those weights.')
    .usage('-f FILE [flags]')
    .requiredOption('-f, --file <file>', FILE_HELP)
    .option('-w, --weight <percent>', 'the canary weight to render, 0..100 (default: the first step\'s)')
    .option('--virtual-service <file>', 'the adopted VirtualService (YAML): print the JSON patch Fledge would send; with virtualServices, repeat it once per file or pass one file holding them all', (f: string, files: string[]) => [...files, f], [] as string[])
    .option('--destination-rule <file>', 'the adopted DestinationRule (YAML), checked against the Rollout\'s subsets')
    .option('--argocd-ignore-differences', 'print the Argo CD ignoreDifferences for the weights Fledge steers', false)
    .addHelpText('after', examples(
      ['fledge render -f rollout.yaml', 'what Fledge writes at the first step'],
      ['fledge render -f rollout.yaml --weight 50', '...at 50 % canary'],
      ['fledge render -f r.yaml --virtual-service vs.yaml', 'the weight patch of an adopted VirtualService'],
      ['fledge render -f r.yaml --virtual-service ingress.yaml --virtual-service mesh.yaml', '...of each of virtualServices'],
    ))
    .action(async (o: { file: string; weight?: string; virtualService: string[]; destinationRule?: string; argocdIgnoreDifferences: boolean }) => {
      const { renderCommand } = await import('./render-command.ts');
      outcome.code = await renderCommand({
        file: o.file,
        ...(o.weight !== undefined ? { weight: o.weight } : {}),
        ...(o.virtualService.length > 0 ? { virtualService: o.virtualService } : {}),
        ...(o.destinationRule ? { destinationRule: o.destinationRule } : {}),
        argocdIgnore: o.argocdIgnoreDifferences,
      }, io.out, io.err);
    });

  program.command('validate')
    .summary('check Rollouts offline; print every problem with its field path')
    .description('Check every Rollout in a file without a cluster, as the controller would. Exit 0 when all are valid; else exit 1, printing each problem as FILE: field.path: message.')
    .usage('-f FILE')
    .requiredOption('-f, --file <file>', FILE_HELP)
    .addHelpText('after', examples(
      ['fledge validate -f rollout.yaml', 'in CI, before the GitOps tool applies it'],
      ['kustomize build . | fledge validate -f -', 'every Rollout a build renders'],
    ))
    .action(async (o: { file: string }) => {
      const { validateCommand } = await import('./validate-command.ts');
      outcome.code = await validateCommand(o.file, io.out, io.err);
    });

  defineOpsCommands(program, io, outcome);
  defineControllerCommand(program, outcome);

  program.command('demo')
    .summary('two canary releases on a local control plane, start to finish')
    .description(`Two canary releases, start to finish, on this machine: a local kube-apiserver with Istio's CRDs, a fake Istio mesh that routes by the VirtualServices Fledge writes, a real Prometheus, and the controller in this process. Story 1 promotes a healthy canary; story 2 rolls back a bad one. Nothing of yours is touched, and everything is removed at the end (also on Ctrl-C).

Needs Prometheus (apt-get install -y prometheus) and the local control plane, which the demo builds once with Go ${GO_NEEDED}+ (${CONTROL_PLANE_BUILD_TIME}) if it is not there.`)
    .option('--no-tty', 'plain timestamped lines instead of the live view (the default when not a terminal)')
    .option('--fast', 'both stories at once, with shorter steps (~20 s instead of ~35 s)', false)
    .addHelpText('after', `
Exit status: 0 when story 1 ends Promoted and story 2 RolledBack, 1 otherwise, 130/143 when interrupted.
${examples(['fledge demo', 'the live view'], ['fledge demo --no-tty --fast', 'plain lines, both stories at once'])}`)
    .action(async (o: { tty: boolean; fast: boolean }) => {
      const { demoCommand } = await import('./demo-command.ts');
      outcome.code = await demoCommand({ tty: o.tty, fast: o.fast });
    });

  program.command('completion')
    .summary('print a shell completion script (bash, zsh or fish)')
    .description('Print the completion script for a shell. It completes commands, flags, -o formats, kubeconfig contexts, namespaces and the names of live Rollouts (read with the same --kubeconfig, --context and -n as the command line being completed). For `kubectl fledge`, put the kubectl_complete-fledge executable of this package on PATH (kubectl 1.26+ runs it).')
    .usage('bash|zsh|fish')
    .argument('<shell>', 'bash, zsh or fish')
    .addHelpText('after', examples(
      ['source <(fledge completion bash)', 'bash, this shell; add it to ~/.bashrc to keep it'],
      ['fledge completion zsh > "${fpath[1]}/_fledge"', 'zsh (after compinit)'],
      ['fledge completion fish > ~/.config/fish/completions/fledge.fish', 'fish'],
    ))
    .action(async (shell: string) => {
      const { completionScript } = await import('./completion.ts');
      const script = completionScript(shell);
      if (script === undefined) throw new UsageError(`unknown shell "${shell}" (bash, zsh or fish)`);
      io.out(script);
      outcome.code = 0;
    });

  for (const cmd of [program, ...program.commands]) {
    const full = cmd === program ? 'fledge' : `fledge ${cmd.name()}`;
    cmd.configureOutput({ writeOut: io.out, writeErr: io.err, outputError: (s, write) => write(s.replace(/^error: /, `${full}: `)) });
    cmd.showHelpAfterError(`Run '${full} --help' for usage.`);
  }
  return program;
}
