import { readFileSync } from 'node:fs';
import { renderCommand } from './render-command.ts';
import { validateCommand } from './validate-command.ts';
import { UsageError } from './documents.ts';
import { parse } from './args.ts';

const USAGE = `fledge: canary releases on Istio

Usage:
  fledge render -f FILE [--weight N]   print the DestinationRule and VirtualService of a Rollout
        [--virtual-service FILE]       for an adopted VirtualService: the JSON patch of its weights
        [--argocd-ignore-differences]  ...or the Argo CD ignoreDifferences for exactly those weights
  fledge validate -f FILE              check a Rollout; print every problem with its field path
  fledge controller [--namespace NS]   run the operator against the current kubeconfig
  fledge list [-n NS | -A]             list Rollouts
  fledge status NAME [-n NS] [-o json] phase, weights, step, last analysis, recent events
  fledge promote NAME [-n NS]          send 100 % to the canary now
  fledge abort NAME [-n NS]            send 100 % back to stable now
  fledge pause NAME [-n NS]            hold the current weights
  fledge resume NAME [-n NS]           undo pause; release a {pause: manual} step
  fledge demo [--no-tty] [--fast]      two canary releases on a local control plane, start to finish
  fledge --version

FILE may be - for standard input.`;

type Handler = (args: string[]) => Promise<number>;

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const err = (s: string) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);

function requireFile(file: unknown): string {
  if (typeof file !== 'string' || file === '') throw new UsageError('-f FILE is required');
  return file;
}

export const commands: Record<string, Handler> = {
  async render(args) {
    const { values } = parse(args, {
      file: { type: 'string', short: 'f' }, weight: { type: 'string', short: 'w' },
      'virtual-service': { type: 'string' }, 'destination-rule': { type: 'string' },
      'argocd-ignore-differences': { type: 'boolean', default: false },
    });
    return renderCommand({
      file: requireFile(values.file),
      ...(values.weight !== undefined ? { weight: values.weight } : {}),
      ...(values['virtual-service'] ? { virtualService: values['virtual-service'] } : {}),
      ...(values['destination-rule'] ? { destinationRule: values['destination-rule'] } : {}),
      argocdIgnore: values['argocd-ignore-differences'],
    }, out, err);
  },
  async validate(args) {
    const { values } = parse(args, { file: { type: 'string', short: 'f' } });
    return validateCommand(requireFile(values.file), out, err);
  },
  ...Object.fromEntries(['status', 'list', 'promote', 'abort', 'pause', 'resume'].map((verb) => [verb, async (args: string[]) => {
    const { opsCommand } = await import('./ops-command.ts');
    return opsCommand(verb, args, out);
  }])),
  async controller(args) {
    const { runControllerCommand } = await import('./controller-command.ts');
    return runControllerCommand(args);
  },
  async demo(args) {
    const { demoCommand } = await import('./demo-command.ts');
    return demoCommand(args);
  },
};

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    out(USAGE);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === 'version') {
    out(version());
    return 0;
  }
  const handler = commands[name];
  if (!handler) {
    err(`fledge: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  try {
    return await handler(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`fledge ${name}: ${e.message}`);
      return 2;
    }
    // A user should never see a stack trace; FLEDGE_DEBUG=1 shows it to us.
    err(`fledge ${name}: ${e instanceof Error ? e.message : String(e)}`);
    if (process.env.FLEDGE_DEBUG) err(String((e as Error).stack));
    return 1;
  }
}
