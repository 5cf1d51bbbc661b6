/**
 * `fledge status NAME --watch [--timeout D]`: follow a Rollout until its release ends, the CI gate
 * `kubectl argo rollouts status --timeout` gives. On a terminal the status view is redrawn in place
 * (log-update); in a pipe or a CI log, one timestamped line per change. The Rollout is read once a
 * second: one GET, cheap for the API server and simpler to keep right than a watch that must be
 * re-established.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { formatDuration } from '../api/duration.ts';
import type { Io } from './flags.ts';
import type { CliKube } from './kube-context.ts';
import { viewOf, type RolloutView } from './live.ts';
import { NotFoundError, getRollout, rolloutEvents } from './ops.ts';
import { statusLine, statusText, type StatusEvent } from './status-view.ts';

const POLL_MS = 1000;
/** A duration to the second: a clock that ticks once a second shows no milliseconds. */
const seconds = (ms: number) => formatDuration(Math.round(ms / 1000) * 1000);
const EVENTS_EVERY = 3;

export interface WatchOptions {
  timeoutMs?: number;
  wide?: boolean;
  io: Io;
  /** Defaults to process.stdout; the view is redrawn in place only when it is a terminal. */
  stream?: NodeJS.WriteStream;
}

/** The verdict of a view: undefined while the release is still under way. */
export function watchVerdict(v: RolloutView): { code: 0 | 1; why: string } | undefined {
  if (!v.current) return undefined;
  const st = v.rollout.status ?? {};
  if (st.phase === 'Promoted') return { code: 0, why: `Promoted: 100 % on ${v.canarySubset}` };
  if (st.phase === 'RolledBack') return { code: 1, why: `RolledBack: 100 % on ${v.stableSubset}${st.message ? `: ${st.message.replace(/^rolled back: /, '')}` : ''}` };
  if (st.phase === 'Invalid') return { code: 1, why: `Invalid: ${st.message ?? 'the spec is invalid'}` };
  return undefined;
}

export async function watchStatus(k: CliKube, name: string, opts: WatchOptions): Promise<number> {
  const stream = opts.stream ?? process.stdout;
  const tty = stream.isTTY === true && process.env.TERM !== 'dumb';
  const id = `Rollout ${k.namespace}/${name}`;
  const began = Date.now();
  const deadline = opts.timeoutMs === undefined ? Infinity : began + opts.timeoutMs;
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  // on, not once: a once listener is gone by the time signal-exit (log-update's cursor restorer)
  // counts the listeners, and it would then kill the process with the signal.
  process.on('SIGINT', onSigint);
  const { createLogUpdate } = tty ? await import('log-update') : { createLogUpdate: undefined };
  const frame = createLogUpdate?.(stream, { showCursor: false });
  const stamp = () => new Date().toTimeString().slice(0, 8);
  let lastLine = '';
  let events: StatusEvent[] = [];
  try {
    for (let tick = 0; ; tick++) {
      let view: RolloutView | undefined;
      let problem = '';
      try {
        view = viewOf(await getRollout(k, name));
        // The last frame shows the Event of the ending too.
        if (tick % EVENTS_EVERY === 0 || watchVerdict(view)) events = await rolloutEvents(k, name);
      } catch (e) {
        if (e instanceof NotFoundError) throw e;
        // An API server that blinks is no verdict: say so, keep trying until the deadline.
        problem = `cannot read the Rollout: ${e instanceof Error ? e.message : String(e)}`;
      }
      const verdict = view ? watchVerdict(view) : undefined;
      const left = deadline - Date.now();
      if (frame) {
        const footer = verdict ? '' : `\n\n${problem ? `${problem}\n` : ''}Watching ${id} (${seconds(Date.now() - began)}${Number.isFinite(left) ? `, timeout in ${seconds(Math.max(0, left))}` : ''}); Ctrl-C stops watching, not the release.`;
        frame(`${view ? statusText(view, events, { wide: opts.wide === true }) : ''}${footer}`);
      } else {
        const line = view ? statusLine(view) : problem;
        if (line !== lastLine) opts.io.out(`${stamp()} ${id}: ${line}`);
        lastLine = line;
      }
      if (verdict) {
        frame?.done();
        (verdict.code === 0 ? opts.io.out : opts.io.err)(`${id}: ${verdict.why}`);
        return verdict.code;
      }
      if (left <= 0) {
        frame?.done();
        const st = view?.rollout.status;
        opts.io.err(`${id}: timed out after ${formatDuration(opts.timeoutMs ?? 0)} while ${st?.phase ?? 'not reconciled'}${view?.step ? ` at step ${view.step}` : ''}${view && !view.current ? ' (the controller has not yet acted on the latest change)' : ''}`);
        return 1;
      }
      try {
        await sleep(Math.min(POLL_MS, left), undefined, { signal: stop.signal });
      } catch {
        frame?.done();
        opts.io.err(`${id}: stopped watching (the release goes on)`);
        return 130;
      }
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}
