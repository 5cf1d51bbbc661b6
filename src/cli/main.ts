import { CommanderError } from 'commander';
import { KubeConfigError } from '../kube/errors.ts';
import { UsageError } from './usage-error.ts';
import type { Io, Outcome } from './flags.ts';
import { buildProgram } from './program.ts';

export { version } from './program.ts';

const line = (write: (s: string) => void) => (s: string) => write(s.endsWith('\n') ? s : `${s}\n`);
const stdio: Io = { out: line((s) => process.stdout.write(s)), err: line((s) => process.stderr.write(s)) };

/**
 * Runs one command line and returns its exit status: 0 done, 1 failed (an invalid file, a Rollout
 * not found, an API error, a rolled-back release with --watch), 2 a usage error. A user never sees
 * a stack trace; FLEDGE_DEBUG=1 shows it to us.
 */
export async function main(argv: string[], io: Io = stdio): Promise<number> {
  if (argv[0] === '__complete') {
    // The shell scripts of `fledge completion` and kubectl's kubectl_complete-fledge call this.
    const { completeCommand } = await import('./completion.ts');
    return completeCommand(argv.slice(1), io);
  }
  const outcome: Outcome = { code: 0 };
  const program = buildProgram(io, outcome);
  let command = '';
  program.hook('preAction', (_root, action) => { command = action.name(); });
  if (argv.length === 0) {
    io.err(program.helpInformation());
    return 2;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return outcome.code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and --version end in a CommanderError too (exit code 0); commander has printed what
      // it had to. Every other one is a usage error.
      return e.exitCode === 0 ? 0 : 2;
    }
    const prefix = command ? `fledge ${command}` : 'fledge';
    if (e instanceof UsageError) {
      io.err(`${prefix}: ${e.message}`);
      return 2;
    }
    io.err(`${prefix}: ${e instanceof Error ? e.message : String(e)}`);
    // A kubeconfig problem or a missing Rollout is the user's setup, not a fault worth a trace.
    if (process.env.FLEDGE_DEBUG && !(e instanceof KubeConfigError)) io.err(String((e as Error).stack));
    return 1;
  }
}
