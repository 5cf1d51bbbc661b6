/**
 * Shell completion. The scripts for bash, zsh and fish are thin: each calls
 * `fledge __complete WORD... CURRENT` and offers what it prints. That is cobra's protocol (one
 * candidate a line, `name<TAB>description` allowed, then `:DIRECTIVE`), which kubectl (1.26+)
 * also speaks to a plugin's `kubectl_complete-fledge` executable: one answer for all shells and
 * for `kubectl fledge`. The candidates come from the commander definitions (commands, flags,
 * choices) and, for a Rollout NAME, from the live API server, read with the --kubeconfig,
 * --context and -n already typed on the line.
 */
import type { Command, Option } from 'commander';
import type { Io, Outcome } from './flags.ts';
import { buildProgram } from './program.ts';

/** cobra's ShellCompDirective bits (spf13/cobra completions.go). */
export const DIRECTIVE = { default: 0, error: 1, noSpace: 2, noFileComp: 4 } as const;

export interface Completion { candidates: string[]; directive: number }

/** Reads what only a cluster knows: Rollout names, namespaces, and the kubeconfig's contexts. */
export interface CompletionSource {
  rollouts(flags: Record<string, string>): Promise<string[]>;
  namespaces(flags: Record<string, string>): Promise<string[]>;
  contexts(flags: Record<string, string>): Promise<string[]>;
}

/** Commands that take a Rollout NAME as their one argument. */
const NAMED = new Set(['status', 'promote', 'abort', 'pause', 'resume', 'retry']);
const FILE_FLAGS = new Set(['--file', '--kubeconfig', '--virtual-service', '--destination-rule']);

function optionFor(cmd: Command, word: string): Option | undefined {
  const flag = word.split('=')[0]!;
  return cmd.options.find((o) => o.long === flag || o.short === flag);
}

const takesValue = (o: Option) => o.required || o.optional;

/**
 * What to offer for the last word, given the words before it. Pure but for `source`, so that
 * tests can table it; every failure of the source is no candidates, never an error on the terminal.
 */
export async function complete(program: Command, words: readonly string[], source: CompletionSource): Promise<Completion> {
  const current = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  const visible = program.commands;
  const prefixed = (xs: readonly string[]) => xs.filter((x) => x.startsWith(current));
  if (before.length === 0) {
    if (current.startsWith('-')) return { candidates: prefixed(['--help', '--version']), directive: DIRECTIVE.noFileComp };
    const all = [...visible.map((c) => `${c.name()}\t${c.summary() || c.description()}`), 'help\thelp for a command'];
    return { candidates: all.filter((c) => c.startsWith(current)), directive: DIRECTIVE.noFileComp };
  }
  if (before[0] === 'help') return { candidates: before.length === 1 ? prefixed(visible.map((c) => c.name())) : [], directive: DIRECTIVE.noFileComp };
  const cmd = visible.find((c) => c.name() === before[0] || c.aliases().includes(before[0]!));
  if (!cmd) return { candidates: [], directive: DIRECTIVE.noFileComp };

  // The flags already typed (the cluster to ask) and the positional arguments.
  const flags: Record<string, string> = {};
  const positionals: string[] = [];
  for (let i = 1; i < before.length; i++) {
    const w = before[i]!;
    const opt = w.startsWith('-') ? optionFor(cmd, w) : undefined;
    if (opt && takesValue(opt)) {
      const value = w.includes('=') ? w.slice(w.indexOf('=') + 1) : before[++i];
      if (value !== undefined) flags[opt.attributeName()] = value;
    } else if (!w.startsWith('-')) positionals.push(w);
  }

  const last = before.length > 1 ? before.at(-1)! : '';
  const pending = last.startsWith('-') && !last.includes('=') ? optionFor(cmd, last) : undefined;
  if (pending && takesValue(pending)) return valuesOf(pending, current, flags, source);
  if (current.startsWith('--') && current.includes('=')) {
    const opt = optionFor(cmd, current);
    if (opt && takesValue(opt)) {
      const head = current.slice(0, current.indexOf('=') + 1);
      const values = await valuesOf(opt, current.slice(head.length), flags, source);
      return { candidates: values.candidates.map((c) => `${head}${c}`), directive: values.directive };
    }
  }
  if (current.startsWith('-')) {
    const names = cmd.options.flatMap((o) => [o.long, o.short].filter((n): n is string => n !== undefined).map((n) => `${n}\t${o.description}`));
    return { candidates: [...names, '--help\thelp for this command'].filter((n) => n.startsWith(current)), directive: DIRECTIVE.noFileComp };
  }
  if (cmd.name() === 'completion' && positionals.length === 0) return { candidates: prefixed(['bash', 'zsh', 'fish']), directive: DIRECTIVE.noFileComp };
  if (NAMED.has(cmd.name()) && positionals.length === 0) {
    return { candidates: prefixed(await source.rollouts(flags).catch(() => [])), directive: DIRECTIVE.noFileComp };
  }
  return { candidates: [], directive: DIRECTIVE.noFileComp };
}

async function valuesOf(opt: Option, current: string, flags: Record<string, string>, source: CompletionSource): Promise<Completion> {
  const prefixed = (xs: readonly string[]) => xs.filter((x) => x.startsWith(current));
  if (opt.argChoices) return { candidates: prefixed(opt.argChoices), directive: DIRECTIVE.noFileComp };
  if (opt.long !== undefined && FILE_FLAGS.has(opt.long)) return { candidates: [], directive: DIRECTIVE.default }; // the shell's own file names
  if (opt.long === '--context') return { candidates: prefixed(await source.contexts(flags).catch(() => [])), directive: DIRECTIVE.noFileComp };
  if (opt.long === '--namespace') return { candidates: prefixed(await source.namespaces(flags).catch(() => [])), directive: DIRECTIVE.noFileComp };
  return { candidates: [], directive: DIRECTIVE.noFileComp };
}

/** A completion must never hang a shell: an API server that does not answer in time offers nothing. */
const LOOKUP_TIMEOUT_MS = 5000;

function withTimeout<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), LOOKUP_TIMEOUT_MS); });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** The real source: the kubeconfig and API server the completed command would use. */
export const liveSource: CompletionSource = {
  async rollouts(flags) {
    const { connect, ROLLOUT_REF } = await import('./ops.ts');
    const k = connect(flags);
    const list = await withTimeout(k.client.list<{ metadata: { name: string } }>(ROLLOUT_REF, k.namespace));
    return list.items.map((r) => r.metadata.name).sort();
  },
  async namespaces(flags) {
    const { connect } = await import('./ops.ts');
    const k = connect(flags);
    const list = await withTimeout(k.client.list<{ metadata: { name: string } }>({ group: '', version: 'v1', plural: 'namespaces' }));
    return list.items.map((n) => n.metadata.name).sort();
  },
  async contexts(flags) {
    const { loadKubeConfig } = await import('../kube/kubeconfig.ts');
    return loadKubeConfig({ file: flags.kubeconfig }).getContexts().map((c) => c.name).sort();
  },
};

export async function completeCommand(words: string[], io: Io): Promise<number> {
  const sink: Io = { out: () => {}, err: () => {} };
  const outcome: Outcome = { code: 0 };
  const { candidates, directive } = await complete(buildProgram(sink, outcome), words.length === 0 ? [''] : words, liveSource);
  for (const c of candidates) io.out(c);
  io.out(`:${directive}`);
  return 0;
}

// ---- the scripts -------------------------------------------------------------------------------

const BASH = `# bash completion for fledge: source <(fledge completion bash)
_fledge_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" out directive line
  out=$("\${COMP_WORDS[0]}" __complete "\${COMP_WORDS[@]:1:COMP_CWORD-1}" "$cur" 2>/dev/null) || return 0
  directive="\${out##*:}"
  COMPREPLY=()
  while IFS= read -r line; do
    case "$line" in :*|'') continue ;; esac
    COMPREPLY+=("\${line%%$'\\t'*}")
  done <<< "$out"
  if (( \${#COMPREPLY[@]} == 0 && (directive & 4) == 0 )); then
    compopt -o default 2>/dev/null
  fi
  return 0
}
complete -F _fledge_complete fledge kubectl-fledge
`;

const ZSH = `#compdef fledge kubectl-fledge
# zsh completion for fledge: fledge completion zsh > "\${fpath[1]}/_fledge" (or source <(fledge completion zsh) after compinit)
_fledge() {
  local out directive line
  local -a lines described
  out=$(\${words[1]} __complete "\${(@)words[2,CURRENT]}" 2>/dev/null) || return 1
  lines=("\${(@f)out}")
  directive=\${lines[-1]#:}
  for line in "\${(@)lines[1,-2]}"; do
    [[ -z $line ]] && continue
    if [[ $line == *$'\\t'* ]]; then
      described+=("\${\${line%%$'\\t'*}//:/\\\\:}:\${line#*$'\\t'}")
    else
      described+=("\${line//:/\\\\:}")
    fi
  done
  if (( \${#described} == 0 )); then
    (( directive & 4 )) || _files
    return
  fi
  _describe 'fledge' described
}
if [[ $funcstack[1] == _fledge ]]; then _fledge "$@"; else compdef _fledge fledge kubectl-fledge; fi
`;

const FISH = `# fish completion for fledge: fledge completion fish > ~/.config/fish/completions/fledge.fish
function __fledge_complete
    set -l args (commandline -opc)
    set -l prog $args[1]
    set -e args[1]
    set -l out ($prog __complete $args (commandline -ct) 2>/dev/null)
    or return
    set -l directive (string replace -r '^:' '' -- $out[-1])
    set -e out[-1]
    if test (count $out) -eq 0; and test (math "bitand($directive, 4)") -eq 0
        __fish_complete_path (commandline -ct)
        return
    end
    printf '%s\\n' $out
end
complete -c fledge -f -a '(__fledge_complete)'
complete -c kubectl-fledge -f -a '(__fledge_complete)'
`;

export function completionScript(shell: string): string | undefined {
  return ({ bash: BASH, zsh: ZSH, fish: FISH } as Record<string, string>)[shell];
}
