/**
 * What the person running the demo sees: a live view redrawn in place (a TTY), or plain
 * timestamped lines printed only when something changes (a pipe, a CI log, `--no-tty`).
 */
import cliTruncate from 'cli-truncate';
import { createLogUpdate } from 'log-update';
import { createColors } from 'picocolors';
import stringWidth from 'string-width';
import wrapAnsi from 'wrap-ansi';
import type { Counts, StoryRun } from './stories.ts';
import { RECENT_MS } from './stories.ts';

export interface Reporter {
  /** A line about the demo itself (setup, cleanup); printed above the live view. */
  info(line: string): void;
  /** Called about 4 times a second while stories play. */
  update(runs: readonly StoryRun[]): void;
  /** The live view is over: leave its last frame and the cursor in a sane state. */
  close(): void;
}

type Write = (s: string) => void;

// ---- formatting shared by both views -------------------------------------------------------

export const clock = (d: Date) => d.toTimeString().slice(0, 8);

export function duration(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${String(Math.round(s - m * 60)).padStart(2, '0')} s`;
}

const num = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (part: number, whole: number) => (whole > 0 ? `${((part / whole) * 100).toFixed(1)} %` : '-');

export function weightsText(run: StoryRun): string {
  const c = run.status?.canaryWeight;
  if (c === undefined) return 'v1 100 / v2 0 (no VirtualService yet)';
  return `v1 ${run.status?.stableWeight ?? 100 - c} / v2 ${c}`;
}

export function stepText(run: StoryRun): string {
  const n = run.def.steps.length;
  const i = run.status?.stepIndex;
  if (i === undefined || i < 0) return `step -/${n}`;
  return `step ${Math.min(i + 1, n)}/${n}`;
}

export function servedText(c: Counts): string {
  return Object.entries(c).map(([v, x]) => `${v} ${num(x.requests)} requests (${num(x.errors)} 5xx, ${pct(x.errors, x.requests)})`).join(', ');
}

/** Where in the step the last judgement fell, e.g. "step 2/4 at 25 %, 3 s into its 5 s hold". */
export function whenText(run: StoryRun): string {
  const a = run.analysis;
  if (!a) return '';
  const n = run.def.steps.length;
  const weight = run.def.steps[a.stepIndex];
  const where = `step ${a.stepIndex + 1}/${n}${weight !== undefined ? ` at ${weight} %` : ''}`;
  const start = run.stepStarts.get(a.stepIndex);
  const into = start === undefined ? undefined : Math.max(0, (Date.parse(a.at) - start) / 1000);
  const hold = run.def.intervalSeconds;
  if (a.final) return `${where}, when its ${hold} s hold was over`;
  if (into === undefined) return `${where}, mid-step`;
  if (into <= hold) return `${where}, mid-step (${into.toFixed(1)} s of its ${hold} s hold)`;
  return `${where}, ${into.toFixed(1)} s after the step began (a failed check restarts the ${hold} s hold)`;
}

// ---- the live view ---------------------------------------------------------------------------

type Style = 'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'blue' | 'magenta' | 'cyan';

/**
 * Redrawn in place by log-update (which also hides the cursor and gives it back, even on a second
 * Ctrl-C); colours by picocolors, lines fitted to the terminal by cli-truncate and wrap-ansi.
 */
export class LiveView implements Reporter {
  readonly #stream: NodeJS.WriteStream;
  readonly #frameOut: ReturnType<typeof createLogUpdate>;
  readonly #colors: ReturnType<typeof createColors>;
  readonly #color: boolean;
  readonly #startedAt = Date.now();
  #last: readonly StoryRun[] = [];
  #closed = false;

  constructor(stream: NodeJS.WriteStream, opts: { color: boolean }) {
    this.#stream = stream;
    this.#color = opts.color;
    this.#colors = createColors(opts.color);
    this.#frameOut = createLogUpdate(stream);
  }

  #columns(): number {
    return this.#stream.columns ?? 100;
  }

  #s(style: Style | Style[], text: string): string {
    return (Array.isArray(style) ? style : [style]).reduce((t, st) => this.#colors[st](t), text);
  }

  /** A frame taller than the screen cannot be redrawn in place: keep its head, each line cut to the width. */
  #fit(lines: string[]): string {
    const width = Math.max(20, this.#columns() - 1);
    const max = Math.max(3, (this.#stream.rows ?? 40) - 1);
    return lines.slice(0, max).map((l) => cliTruncate(l, width)).join('\n');
  }

  info(line: string): void {
    const text = `${clock(new Date())} ${line}`;
    if (this.#closed) {
      this.#stream.write(`${text}\n`);
      return;
    }
    this.#frameOut.persist(text);
    if (this.#last.length > 0) this.#frameOut(this.#fit(this.#frame(this.#last, false)));
  }

  update(runs: readonly StoryRun[]): void {
    if (this.#closed) return;
    this.#last = runs;
    this.#frameOut(this.#fit(this.#frame(runs, false)));
  }

  /** Leaves the last frame on screen, without the Ctrl-C hint, and gives the cursor back. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#last.length > 0) this.#frameOut(this.#fit(this.#frame(this.#last, true)));
    this.#frameOut.done();
  }

  #frame(runs: readonly StoryRun[], final: boolean): string[] {
    const width = Math.min(100, Math.max(40, this.#columns() - 1));
    const lines = [''];
    const elapsed = duration(Date.now() - this.#startedAt);
    lines.push(this.#spread(this.#s('bold', 'Fledge demo: canary releases on a local control plane'), this.#s('dim', elapsed), width));
    for (const run of runs) lines.push('', ...this.#story(run, width));
    if (!final) lines.push('', this.#s('dim', 'Ctrl-C stops the demo and removes everything it started.'));
    return lines;
  }

  #spread(left: string, right: string, width: number): string {
    const gap = Math.max(1, width - stringWidth(left) - stringWidth(right));
    return `${left}${' '.repeat(gap)}${right}`;
  }

  #phase(run: StoryRun): string {
    const p = run.phase;
    if (run.state === 'waiting') return this.#s('dim', 'waiting');
    if (p === 'Promoted') return this.#s(['bold', 'green'], 'Promoted');
    if (p === 'RolledBack') return this.#s(['bold', 'red'], 'RolledBack');
    if (p === 'Invalid') return this.#s(['bold', 'red'], 'Invalid');
    return this.#s(['bold', 'cyan'], p ?? 'Pending');
  }

  #story(run: StoryRun, width: number): string[] {
    const d = run.def;
    const head = `${this.#s('bold', `${d.index}  ${d.service}`)}: ${d.title}`;
    const right = run.state === 'waiting' ? this.#phase(run) : `${this.#phase(run)} ${this.#s('dim', duration(run.durationMs()))}`;
    const out = [this.#spread(head, right, width), `   ${this.#s('dim', d.detail)}`];
    if (run.state === 'waiting') {
      out.push(`   ${this.#s('dim', `starts when story ${d.index - 1} is over`)}`);
      return out;
    }
    const label = (s: string) => `   ${this.#s('dim', s.padEnd(9))}`;
    const st = run.status;

    // step and hold
    let step = stepText(run).replace(/^step /, '');
    const w = st?.canaryWeight;
    if (w !== undefined) step += ` (canary ${w} %)`;
    if (st?.phase === 'Progressing' && st.stepStartedAt) {
      const held = Math.max(0, (Date.now() - Date.parse(st.stepStartedAt)) / 1000);
      step += this.#s('dim', `  held ${Math.min(held, 999).toFixed(0)} s of ${d.intervalSeconds} s`);
    }
    if (run.pollError) step += `  ${this.#s('yellow', `(cannot read the Rollout: ${run.pollError})`)}`;
    out.push(`${label('step')}${step}`);

    // weights bar
    const canary = w ?? 0;
    const barWidth = Math.max(10, Math.min(40, width - 40));
    const cw = Math.round((canary / 100) * barWidth);
    const bar = this.#color
      ? `${this.#s('blue', '█'.repeat(barWidth - cw))}${this.#s('magenta', '█'.repeat(cw))}`
      : `${'█'.repeat(barWidth - cw)}${'░'.repeat(cw)}`;
    out.push(`${label('weights')}${this.#s('blue', `v1 stable ${String(100 - canary).padStart(3)}`)} ${bar} ${this.#s('magenta', `${String(canary).padEnd(3)} v2 canary`)}`);

    // observed traffic
    const { counts, seconds } = run.recent();
    const total = Object.values(counts).reduce((a, c) => a + c.requests, 0);
    const per = Object.entries(counts).map(([v, c]) => `${v} ${num(c.requests)} (${pct(c.errors, c.requests)} 5xx)`).join(' · ');
    const split = total > 0 ? Object.values(counts).map((c) => Math.round((c.requests / total) * 100)).join('/') : '-';
    out.push(`${label('served')}${per} ${this.#s('dim', `· split ${split} in the last ${Math.min(seconds, RECENT_MS / 1000).toFixed(0)} s`)}`);

    // verdict
    const a = run.analysis;
    if (a) {
      const v = a.verdict === 'pass' ? this.#s(['bold', 'green'], 'PASS') : a.verdict === 'fail' ? this.#s(['bold', 'red'], 'FAIL') : this.#s(['bold', 'yellow'], 'INCONCLUSIVE');
      const reasonWidth = Math.max(20, width - 3 - 9 - 14);
      const reason = wrap(a.reason, reasonWidth, 3);
      out.push(`${label('verdict')}${v}  ${reason[0] ?? ''}`);
      const indent = ' '.repeat(12 + (a.verdict === 'inconclusive' ? 12 : 4) + 2);
      for (const more of reason.slice(1)) out.push(`${indent}${more}`);
      out.push(`${' '.repeat(12)}${this.#s('dim', `${clock(new Date(a.at))} ${whenText(run)}`)}`);
    } else {
      out.push(`${label('verdict')}${this.#s('dim', 'no analysis yet')}`);
    }

    // events
    const events = run.events.slice(-3);
    if (events.length === 0) out.push(`${label('events')}${this.#s('dim', 'none yet')}`);
    events.forEach((e, i) => {
      const reason = e.type === 'Warning' ? this.#s('yellow', e.reason.padEnd(14)) : e.reason.padEnd(14);
      out.push(`${i === 0 ? label('events') : ' '.repeat(12)}${this.#s('dim', clock(e.time))} ${reason} ${e.note}`);
    });
    if (run.state === 'done' && run.phase === 'RolledBack' && st?.message) {
      wrap(st.message, width - 12, 3).forEach((l, i) => out.push(`${i === 0 ? label('why') : ' '.repeat(12)}${this.#s('red', l)}`));
    }
    return out;
  }
}

/** Word-wrapped to `width`, at most `maxLines` lines, the last cut with an ellipsis when there is more. */
function wrap(text: string, width: number, maxLines: number): string[] {
  const lines = wrapAnsi(text, width, { hard: true }).split('\n');
  if (lines.length <= maxLines) return lines;
  const kept = lines.slice(0, maxLines);
  kept[maxLines - 1] = cliTruncate(`${kept[maxLines - 1]!} …`, width);
  return kept;
}

/** No TTY: one timestamped line per change of phase, weight or verdict. */
export class PlainLog implements Reporter {
  readonly #write: Write;
  readonly #seen = new Map<number, { state: string; phase?: string; weight?: number; verdict?: string; step?: number }>();

  constructor(write: Write) {
    this.#write = write;
  }

  #line(s: string): void {
    this.#write(`${clock(new Date())} ${s}\n`);
  }

  info(line: string): void {
    this.#line(line);
  }

  update(runs: readonly StoryRun[]): void {
    for (const run of runs) {
      if (run.state === 'waiting') continue;
      const tag = `[${run.def.index} ${run.def.service}]`;
      const st = run.status;
      const was = this.#seen.get(run.def.index) ?? { state: 'waiting' };
      const now = { state: run.state, ...(st?.phase ? { phase: st.phase } : {}), ...(st?.canaryWeight !== undefined ? { weight: st.canaryWeight } : {}), ...(run.analysis ? { verdict: run.analysis.verdict } : {}), ...(st?.stepIndex !== undefined ? { step: st.stepIndex } : {}) };
      this.#seen.set(run.def.index, now);
      if (run.state === 'done' && was.state !== 'done') {
        this.#line(`${tag} ${run.phase} after ${duration(run.durationMs())}: weights ${weightsText(run)}${run.phase === 'Promoted' ? '' : `; ${st?.message ?? ''}`}`);
        continue;
      }
      if (now.phase !== was.phase && now.phase !== undefined) {
        this.#line(`${tag} phase ${now.phase}: ${stepText(run)}, weights ${weightsText(run)}`);
      } else if (now.weight !== was.weight || now.step !== was.step) {
        this.#line(`${tag} ${stepText(run)}: weights ${weightsText(run)}`);
      }
      const a = run.analysis;
      if (a && now.verdict !== was.verdict) {
        this.#line(`${tag} analysis ${a.verdict.toUpperCase()} (${whenText(run)}): ${a.reason}`);
      }
    }
  }

  close(): void {}
}
