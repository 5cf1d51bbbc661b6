/**
 * What `fledge status` prints, as pure functions of a live Rollout and its Events: the same text
 * once, redrawn in place by `--watch` on a terminal, or one line per change in a pipe.
 */
import type { EventsV1Event } from '@kubernetes/client-node';
import { formatDuration } from '../api/duration.ts';
import { scheduleText, type RolloutView } from './live.ts';
import { formatTable } from './table.ts';

export interface StatusEvent { type: string; reason: string; note: string; time?: string }

export function toStatusEvents(events: readonly EventsV1Event[]): StatusEvent[] {
  const time = (e: EventsV1Event) => String(e.eventTime ?? e.metadata?.creationTimestamp ?? '');
  return [...events]
    .sort((a, b) => time(a).localeCompare(time(b)))
    .map((e) => ({ type: e.type ?? '', reason: e.reason ?? '', note: e.note ?? '', ...(time(e) ? { time: new Date(time(e)).toISOString() } : {}) }));
}

function weights(v: RolloutView): string {
  const w = v.rollout.status?.canaryWeight ?? 0;
  const bar = `${'#'.repeat(Math.round((100 - w) / 5))}${'.'.repeat(Math.round(w / 5))}`;
  return `${v.stableSubset} ${100 - w} / ${v.canarySubset} ${w}  [${bar}]`;
}

/** The human view: phase, weights, step of the resolved schedule, last analysis, recent Events. */
export function statusText(v: RolloutView, events: readonly StatusEvent[], { wide = false } = {}): string {
  const r = v.rollout;
  const st = r.status ?? {};
  const out: string[] = [];
  const phase = st.phase ?? '(not reconciled yet)';
  out.push(formatTable([
    ['Name', `${r.metadata.namespace}/${r.metadata.name}`],
    ['Phase', v.current || st.phase === undefined ? phase : `${phase} (the controller has not yet acted on the latest change)`],
    ['Message', st.message ?? ''],
    ['Weights', weights(v)],
    ['Step', v.step],
    ['Schedule', v.resolved ? `${scheduleText(v.steps)}, each held ${formatDuration(v.resolved.intervalMs)}, then promoted` : ''],
    ['Release', st.release ?? ''],
    ['Failed checks', String(st.failedChecks ?? 0)],
  ].filter(([k, val]) => k !== 'Schedule' || val !== '')));
  for (const p of v.problems) out.push(`  invalid: ${p.path}: ${p.message}`);
  if (st.lastAnalysis) {
    const a = st.lastAnalysis;
    out.push('', `Last analysis (${a.at}, step ${a.stepIndex + 1}${a.final ? ', final' : ''}): ${a.verdict.toUpperCase()}: ${a.reason}`);
    if (a.metrics.length > 0) out.push(formatTable([['METRIC', 'VERDICT', 'VALUE', 'THRESHOLD'], ...a.metrics.map((m) => [m.name, m.verdict, m.value === undefined ? '' : String(m.value), m.threshold ?? ''])]));
  }
  if (wide && (st.conditions ?? []).length > 0) {
    out.push('', 'Conditions:');
    out.push(formatTable([['TYPE', 'STATUS', 'REASON', 'SINCE', 'MESSAGE'], ...(st.conditions ?? []).map((c) => [c.type, c.status, c.reason, c.lastTransitionTime, c.message])]));
  }
  const shown = wide ? events : events.slice(-10);
  if (shown.length > 0) {
    out.push('', 'Events:');
    out.push(formatTable([['TYPE', 'REASON', ...(wide ? ['TIME'] : []), 'MESSAGE'], ...shown.map((e) => [e.type, e.reason, ...(wide ? [e.time ?? ''] : []), e.note])]));
  }
  return out.join('\n');
}

/** One line for a log: what `--watch` prints in a pipe each time something changes. */
export function statusLine(v: RolloutView): string {
  const st = v.rollout.status ?? {};
  const w = st.canaryWeight ?? 0;
  const step = v.step ? ` step ${v.step}` : '';
  const pending = v.current || st.phase === undefined ? '' : ' (not yet reconciled)';
  return `${st.phase ?? 'Pending'}${pending}${step}: ${v.stableSubset} ${100 - w} / ${v.canarySubset} ${w}${st.message ? `: ${st.message}` : ''}`;
}

/** The machine-readable status (-o json|yaml): the status as stored, plus the step as people count it. */
export function statusObject(v: RolloutView, events: readonly StatusEvent[]): Record<string, unknown> {
  const r = v.rollout;
  return {
    name: r.metadata.name,
    namespace: r.metadata.namespace,
    step: v.step,
    steps: v.steps.map((s) => s.weight),
    current: v.current,
    status: r.status ?? {},
    events,
  };
}
