/** What every command definition shares: its output, its exit status, kubectl's flags, examples. */
import { Option, type Command } from 'commander';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

/**
 * Where an action leaves its exit status: commander's actions return nothing, and process.exit
 * inside one would cut the output of a pipe short.
 */
export interface Outcome { code: number }

/** Help text after the flags: examples, one per line, each with what it does. */
export function examples(...lines: [string, string][]): string {
  const width = Math.max(...lines.map(([cmd]) => cmd.length));
  return `\nExamples:\n${lines.map(([cmd, what]) => `  ${cmd.padEnd(width)}  # ${what}`).join('\n')}\n`;
}

/** kubectl's flags for choosing the cluster and namespace, on every command that talks to one. */
export function kubeFlags(cmd: Command, { allNamespaces = false, namespaceHelp = "the namespace (default: the kubeconfig context's, else default)" } = {}): Command {
  cmd
    .option('-n, --namespace <namespace>', namespaceHelp)
    .option('--context <name>', 'the kubeconfig context to use (default: its current context)')
    .option('--kubeconfig <file>', 'the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)');
  if (allNamespaces) cmd.option('-A, --all-namespaces', 'every namespace (ignores -n)');
  return cmd;
}

export interface KubeFlags { namespace?: string; context?: string; kubeconfig?: string; allNamespaces?: boolean }

/** The output formats a command accepts with -o, kubectl's names. */
export function outputOption(formats: readonly string[]): Option {
  return new Option('-o, --output <format>', 'output format').choices(formats);
}

