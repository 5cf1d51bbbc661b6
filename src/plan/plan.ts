/**
 * The rollout state machine, as a pure function. The controller reads the world, calls `plan`,
 * and writes what it returns; status is the only memory, so a controller killed at any instant
 * resumes from what the last write recorded.
 */
import { CONDITION_TYPES, findCondition, removeCondition, setCondition } from '../api/conditions.ts';
import { REASONS, type PlannedEvent } from '../api/events.ts';
import { releaseId } from '../api/release.ts';
import type { OperatorRequests } from '../api/requests.ts';
import type { ResolvedRollout } from '../api/resolve.ts';
import type { AnalysisCheck } from '../api/check.ts';
import type { AnalysisResult, Labels, Phase, RolloutStatus } from '../api/schema.ts';
import { stepDisplay } from '../api/step.ts';
import { sameLabels } from '../api/validate.ts';
import { analysisCheckAt, elapsedMs, holdMs, msUntilCheck, pastInconclusiveLimit, stepClock } from './clock.ts';
import { withHealth } from './health.ts';
import { isHeld } from './invalid.ts';
import { describeStep, markMirrored, statusExtras } from './step-routing.ts';
import { retryDecision, type RetryDecision } from './retry.ts';
import type { PlanInput, PlanResult, Routing } from './types.ts';

/** What a plan's steps share: the inputs, and the Events they emit in order. */
interface Ctx {
  r: ResolvedRollout;
  release: string;
  now: Date;
  events: PlannedEvent[];
}

type Status = RolloutStatus;

/**
 * When to reconcile again, said by the branch that decides it and computed once (`requeueAfter`):
 * - `none`: only a change wakes it (a finished or held-back release, a rollback);
 * - `at`: after `ms` (a step just entered, a restart);
 * - `check`: when the analysis clock says the step is judged next (undefined without analysis);
 * - `hold`: when the hold ends after `leftMs`, or the next check if that comes first;
 * - `retry`: the hold is over and no passing judgement came: the next check interval after a
 *   judgement, else RETRY_JUDGEMENT_MS (no judgement was made this time: none was due yet).
 */
type Wake =
  | { kind: 'none' }
  | { kind: 'at'; ms: number }
  | { kind: 'check' }
  | { kind: 'hold'; leftMs: number }
  | { kind: 'retry'; judged: boolean };

/** A branch's result: the next status, when to look again, and whether the guard held the release back. */
interface Outcome {
  status: Status;
  wake: Wake;
  /** A new release held back by the guard: the phase stays what it was, Ready says why. */
  unsafe?: boolean;
}

/** How soon to look again when the hold is over and no judgement was due yet (the clock's next check is imminent). */
const RETRY_JUDGEMENT_MS = 1000;

const NONE: Wake = { kind: 'none' };

export function plan(input: PlanInput): PlanResult {
  const { rollout: r, requests: q, now } = input;
  const prev = carryOnFromHold(input.status ?? {});
  const ctx: Ctx = { r, release: releaseId(r.stable.labels, r.canary.labels), now, events: [] };

  const retry = retryDecision(prev, q, ctx.release, now);
  let out: Outcome;
  if (prev.release === undefined || prev.stableLabels === undefined || prev.canaryLabels === undefined) {
    out = enterStep(ctx, freshRelease(ctx, prev), 0, REASONS.started);
  } else if (retry?.kind === 'act') {
    out = retried(ctx, prev);
  } else if (prev.release !== ctx.release) {
    out = newRelease(ctx, prev, q);
  } else {
    out = sameRelease(ctx, prev, q, input.analysis);
  }
  out = withRetry(ctx, out, retry);
  const status = finish(ctx, prev, out.status, out.unsafe === true);
  const requeueAfterMs = requeueAfter(r, out.wake, out.status, now);
  return {
    status,
    routing: routingOf(status, r),
    events: ctx.events,
    ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}),
  };
}

/** The one place a plan's requeue is computed (see Wake); never negative. */
function requeueAfter(r: ResolvedRollout, wake: Wake, st: Status, now: Date): number | undefined {
  switch (wake.kind) {
    case 'none': return undefined;
    case 'at': return Math.max(0, wake.ms);
    case 'check': {
      const next = msUntilCheck(r, st, now);
      return next === undefined ? undefined : Math.max(0, next);
    }
    case 'hold': {
      const next = msUntilCheck(r, st, now);
      return Math.max(0, next === undefined ? wake.leftMs : Math.min(wake.leftMs, Math.max(0, next)));
    }
    case 'retry': return wake.judged && r.analysis ? r.analysis.checkIntervalMs : RETRY_JUDGEMENT_MS;
  }
}

/** After a hold (Invalid, or Pending on a missing object) the rollout resumes the phase it had. */
function carryOnFromHold(status: Status): Status {
  if (!isHeld(status)) return status;
  const { previousPhase, ...rest } = status;
  return { ...rest, phase: previousPhase ?? 'Pending' };
}

/** The routing a status implies: its labels and weight, and the current step's match or mirror. */
export function routingOf(status: Status, r: ResolvedRollout): Routing {
  return {
    stableLabels: status.stableLabels ?? {},
    canaryLabels: status.canaryLabels ?? {},
    canaryWeight: status.canaryWeight ?? 0,
    ...statusExtras(r, status),
  };
}

/**
 * The check the controller must run before calling `plan`, or undefined when none is due: the
 * planner's analysis clock (windows, whether the hold is over, what a pass does). `paused` is
 * whether `fledge pause` is requested.
 */
export function analysisCheck(r: ResolvedRollout, status: Status | undefined, now: Date, paused = false): AnalysisCheck | undefined {
  if (!r.analysis || !status?.release || status.release !== releaseId(r.stable.labels, r.canary.labels)) return undefined;
  if (status.phase !== 'Progressing' && status.phase !== 'Paused') return undefined;
  if ((status.stepIndex ?? -1) < 0) return undefined;
  if ((msUntilCheck(r, status, now) ?? 1) > 0) return undefined;
  return analysisCheckAt(r, status, now, paused);
}

/** True when the controller must judge the current step before calling `plan`. */
export function analysisDue(r: ResolvedRollout, status: Status | undefined, now: Date): boolean {
  return analysisCheck(r, status, now) !== undefined;
}

function freshRelease(ctx: Ctx, prev: Status): Status {
  return {
    ...prev,
    release: ctx.release,
    stableLabels: ctx.r.stable.labels,
    canaryLabels: ctx.r.canary.labels,
    failedChecks: 0,
    inconclusiveChecks: 0,
    pausedBy: undefined,
    analysisStartedAt: undefined,
    lastAnalysis: undefined,
  };
}

/** `fledge retry` of a RolledBack release: its first step again, with nothing of the last attempt's evidence. */
function retried(ctx: Ctx, prev: Status): Outcome {
  ctx.events.push({ type: 'Normal', reason: REASONS.retried, message: `release ${ctx.release} starts again from step 1 (\`fledge retry\`)` });
  return enterStep(ctx, freshRelease(ctx, prev), 0, REASONS.started);
}

/**
 * The retry request's mark on the outcome: handled (acted on, or ignored with a Warning), so it
 * never acts again; or, while it waits for the failed attempt's requests to leave every analysis
 * window, a wake when they have (the release is RolledBack then: nothing else wakes it).
 */
function withRetry(ctx: Ctx, out: Outcome, retry: RetryDecision | undefined): Outcome {
  if (!retry) return out;
  if (retry.kind === 'wait') return out.wake.kind === 'none' ? { ...out, wake: { kind: 'at', ms: retry.waitMs } } : out;
  if (retry.kind === 'ignore') ctx.events.push({ type: 'Warning', reason: REASONS.retryIgnored, message: retry.why });
  return { ...out, status: { ...out.status, handledRetry: retry.value } };
}

function servingLabels(prev: Status): Labels[] {
  const w = prev.canaryWeight ?? 0;
  const out: Labels[] = [];
  if (w < 100 && prev.stableLabels) out.push(prev.stableLabels);
  if (w > 0 && prev.canaryLabels) out.push(prev.canaryLabels);
  return out;
}

function newRelease(ctx: Ctx, prev: Status, q: OperatorRequests): Outcome {
  const { r, release } = ctx;
  if (q.abort === release) return done(rolledBack(ctx, freshRelease(ctx, prev), REASONS.aborted, 'aborted by `fledge abort`'));
  if (q.promote === release) return done(promoted(ctx, freshRelease(ctx, prev), 'promoted by `fledge promote`'));

  const serving = servingLabels(prev);
  if (!serving.some((l) => sameLabels(l, r.stable.labels))) {
    // Starting this release would move (nearly) all traffic onto pods that serve none of it.
    const fix = serving.map(fmtLabels).join(' or ');
    const message = `spec.stable.labels ${fmtLabels(r.stable.labels)} select pods that serve no traffic now; ` +
      `set spec.stable.labels to ${fix} (the labels serving now), or override with \`fledge promote\` or \`fledge abort\``;
    if (prev.message !== message) ctx.events.push({ type: 'Warning', reason: REASONS.unsafeRelease, message });
    return { status: { ...prev, message }, wake: NONE, unsafe: true };
  }
  if ((prev.phase === 'Progressing' || prev.phase === 'Paused') && (prev.canaryWeight ?? 0) > 0) {
    // The canary changed under a running rollout: take traffic off the old canary first, then
    // start the schedule again for the new one on the next reconcile.
    ctx.events.push({ type: 'Normal', reason: REASONS.restarted, message: `release changed mid-rollout: all traffic back to ${r.stable.subset}, schedule restarts` });
    return {
      status: {
        ...freshRelease(ctx, prev), phase: 'Progressing', stepIndex: -1, canaryWeight: 0,
        stepStartedAt: ctx.now.toISOString(), message: 'restarting: all traffic on stable',
      },
      wake: { kind: 'at', ms: 0 },
    };
  }
  return enterStep(ctx, freshRelease(ctx, prev), 0, REASONS.started);
}

/**
 * The release the status works on is the spec's: an operator's request, else the judgement of
 * the current step, then a pause (the user's or the analysis'), then the step's schedule.
 */
function sameRelease(ctx: Ctx, prev: Status, q: OperatorRequests, analysis: AnalysisResult | undefined): Outcome {
  const requested = operatorRequest(ctx, prev, q);
  if (requested) return requested;
  const idx = Math.min(prev.stepIndex ?? 0, ctx.r.steps.length - 1);
  if (idx < 0) return enterStep(ctx, prev, 0, REASONS.stepAdvanced);

  const current: Status = { ...prev, stepIndex: idx, canaryWeight: ctx.r.steps[idx]!.weight };
  // A mirror step's judgement says it measured mirrored requests (no user saw the canary's answers).
  if (analysis) analysis = markMirrored(ctx.r.steps[idx], analysis);
  const judged = judge(ctx, current, idx, q, analysis);
  if ('wake' in judged) return judged;
  return paused(ctx, judged.st, idx, q, analysis, judged.passedFinal) ?? onSchedule(ctx, judged, idx, q, analysis !== undefined);
}

/** `fledge abort` and `fledge promote` of this release; a finished release stays finished. */
function operatorRequest(ctx: Ctx, prev: Status, q: OperatorRequests): Outcome | undefined {
  if (q.abort === ctx.release) {
    return done(prev.phase === 'RolledBack' ? settled(prev) : rolledBack(ctx, prev, REASONS.aborted, 'aborted by `fledge abort`'));
  }
  if (q.promote === ctx.release) {
    return done(prev.phase === 'Promoted' ? settled(prev) : promoted(ctx, prev, 'promoted by `fledge promote`'));
  }
  if (prev.phase === 'Promoted' || prev.phase === 'RolledBack') return done(settled(prev));
  return undefined;
}

interface Judged {
  st: Status;
  /** The judgement passed at the end of the hold: it may advance the step. */
  passedFinal: boolean;
}

/** The judgement of step `idx` applied to the status: recorded, counted, and a rollback when it fails for good. */
function judge(ctx: Ctx, current: Status, idx: number, q: OperatorRequests, analysis: AnalysisResult | undefined): Judged | Outcome {
  const { r, release } = ctx;
  if (!analysis || !r.analysis) return { st: current, passedFinal: false };
  const final = analysis.final ?? stepClock(r, current, ctx.now).final;
  const before = current.lastAnalysis;
  let st: Status = { ...current, lastAnalysis: { ...analysis, final } };
  // Once per step (status is the memory): every check of a step without series says the same.
  if (analysis.diagnosis && !(before?.stepIndex === idx && before.diagnosis === analysis.diagnosis)) {
    ctx.events.push({ type: 'Warning', reason: REASONS.metricsMissing, message: `step ${idx + 1}: ${analysis.diagnosis}` });
  }
  if (analysis.verdict === 'fail') {
    const failed = (st.failedChecks ?? 0) + 1;
    st = { ...st, failedChecks: failed };
    // The comparison's false-rollback rate is per release already: a second chance would only
    // double the time a bad canary serves. failureLimit is for noisy threshold metrics.
    if (analysis.decisive) return done(rolledBack(ctx, st, REASONS.rolledBack, `analysis failed on the evidence: ${analysis.reason}`));
    if (failed > r.analysis.failureLimit) {
      return done(rolledBack(ctx, st, REASONS.rolledBack, `analysis failed ${failed} time(s), limit ${r.analysis.failureLimit}: ${analysis.reason}`));
    }
    ctx.events.push({ type: 'Warning', reason: REASONS.analysisFailed, message: `step ${idx + 1}: ${analysis.reason} (${failed} of ${r.analysis.failureLimit} tolerated)` });
    // The step's window is spent: the next threshold failure must come from new traffic.
    return { st: { ...st, stepStartedAt: ctx.now.toISOString() }, passedFinal: false };
  }
  if (analysis.verdict === 'inconclusive' && final) {
    // The window keeps growing from the step's start, so a slow trickle of requests adds up.
    const again = before?.verdict === 'inconclusive' && before.final === true && before.stepIndex === idx && Date.parse(before.at) >= Date.parse(st.stepStartedAt ?? '');
    if (!again) ctx.events.push({ type: 'Normal', reason: REASONS.analysisInconclusive, message: `step ${idx + 1} held: ${analysis.reason}` });
    st = { ...st, inconclusiveChecks: (st.inconclusiveChecks ?? 0) + 1 };
    if (pastInconclusiveLimit(r, st, ctx.now, q.paused)) {
      // Neither a rollback nor a promotion on missing evidence: a person decides.
      const message = evidencePauseMessage(r, idx, analysis.reason);
      if (!(q.resume?.release === release && q.resume.stepIndex === idx)) ctx.events.push({ type: 'Warning', reason: REASONS.paused, message });
      st = { ...st, phase: 'Paused', pausedBy: 'analysis', message };
    }
    return { st, passedFinal: false };
  }
  return { st, passedFinal: analysis.verdict === 'pass' && final };
}

/**
 * `fledge pause`, or a pause by the analysis: the step holds, still judged. Undefined when neither
 * holds it (a user's pause that was lifted resumes the step's hold from now).
 */
function paused(ctx: Ctx, st: Status, idx: number, q: OperatorRequests, analysis: AnalysisResult | undefined, passedFinal: boolean): Outcome | undefined {
  const { r, release } = ctx;
  if (q.paused) {
    if (st.pausedBy !== 'user') ctx.events.push({ type: 'Normal', reason: REASONS.paused, message: `paused by \`fledge pause\` at canary weight ${st.canaryWeight}` });
    return {
      status: {
        // A final pass while paused starts a new window; otherwise it would be due again at once.
        ...st, ...(passedFinal ? { stepStartedAt: ctx.now.toISOString() } : {}),
        phase: 'Paused', pausedBy: 'user', message: `paused by user at step ${idx + 1}/${r.steps.length}`,
      },
      wake: { kind: 'check' },
    };
  }
  if (st.pausedBy !== 'analysis') return undefined;
  if (q.resume?.release === release && q.resume.stepIndex === idx) {
    ctx.events.push({ type: 'Normal', reason: REASONS.resumed, message: `step ${idx + 1} resumed by \`fledge resume\` without conclusive analysis` });
    return advance(ctx, { ...st, pausedBy: undefined }, idx);
  }
  // Still judged while paused: a canary that turns out bad is rolled back, and one whose
  // evidence arrives after all (traffic picked up) goes on, as it would have without the pause.
  if (passedFinal) {
    ctx.events.push({ type: 'Normal', reason: REASONS.resumed, message: `step ${idx + 1}: the analysis is conclusive now: ${analysis?.reason ?? ''}` });
    return advance(ctx, { ...st, pausedBy: undefined }, idx);
  }
  const message = analysis?.verdict === 'inconclusive' ? evidencePauseMessage(r, idx, analysis.reason) : (st.message ?? evidencePauseMessage(r, idx, 'no conclusive analysis'));
  return { status: { ...st, phase: 'Paused', message }, wake: { kind: 'check' } };
}

/** The step's own schedule: a manual step waits for `fledge resume`, a timed one holds, then the step advances. */
function onSchedule(ctx: Ctx, judged: Judged, idx: number, q: OperatorRequests, wasJudged: boolean): Outcome {
  const { r, release } = ctx;
  let { st, passedFinal } = judged;
  if (st.pausedBy === 'user') {
    ctx.events.push({ type: 'Normal', reason: REASONS.resumed, message: `resumed at step ${idx + 1}/${r.steps.length}` });
    st = { ...st, pausedBy: undefined, stepStartedAt: ctx.now.toISOString() };
    passedFinal = false;
  }
  if (r.steps[idx]!.pause === 'manual') {
    if (q.resume?.release === release && q.resume.stepIndex === idx) return advance(ctx, st, idx);
    if (st.pausedBy !== 'step') ctx.events.push({ type: 'Normal', reason: REASONS.paused, message: `step ${idx + 1} waits for \`fledge resume\`` });
    return {
      status: {
        ...st, ...(passedFinal ? { stepStartedAt: ctx.now.toISOString() } : {}),
        phase: 'Paused', pausedBy: 'step', message: `step ${idx + 1}/${r.steps.length} waits for \`fledge resume\``,
      },
      wake: { kind: 'check' },
    };
  }
  const left = remaining(ctx, st, holdMs(r, idx));
  if (left > 0) return { status: progressing(st, r, idx), wake: { kind: 'hold', leftMs: left } };
  if (!r.analysis || passedFinal) return advance(ctx, st, idx);
  // The hold is over but no passing judgement yet: look again at the next check.
  return { status: progressing(st, r, idx), wake: { kind: 'retry', judged: wasJudged } };
}

/** A finished outcome: only a change wakes it. */
function done(status: Status): Outcome {
  return { status, wake: NONE };
}

/**
 * A finished release keeps its message, unless that message was about a spec that is gone: an
 * invalid one, or a new release the guard held back (the commit was reverted).
 */
function settled(prev: Status): Status {
  const reason = findCondition(prev.conditions, CONDITION_TYPES.ready)?.reason;
  if (reason !== REASONS.invalidSpec && reason !== REASONS.unsafeRelease && reason !== REASONS.waiting) return prev;
  return { ...prev, message: prev.phase === 'Promoted' ? 'promoted' : 'rolled back' };
}

function remaining(ctx: Ctx, st: Status, hold: number): number {
  const e = elapsedMs(st, ctx.now);
  return e === Infinity ? 0 : hold - e;
}

function progressing(st: Status, r: ResolvedRollout, idx: number): Status {
  return { ...st, phase: 'Progressing', pausedBy: undefined, message: stepMessage(r, idx) };
}

function evidencePauseMessage(r: ResolvedRollout, idx: number, reason: string): string {
  return `step ${idx + 1}/${r.steps.length} paused: no conclusive analysis after ${(r.analysis?.inconclusiveLimit ?? 0) + 1} hold(s): ${reason}; ` +
    '`fledge resume` to go on without it, `fledge promote` or `fledge abort`';
}

function stepMessage(r: ResolvedRollout, idx: number): string {
  return `step ${idx + 1}/${r.steps.length}: ${describeStep(r, idx)}`;
}

function advance(ctx: Ctx, st: Status, idx: number): Outcome {
  if (idx + 1 >= ctx.r.steps.length) return done(promoted(ctx, st, 'all steps passed'));
  return enterStep(ctx, st, idx + 1, REASONS.stepAdvanced);
}

/** Step `idx` begins: its weight, its clock; looked at again when its hold ends, or its first check is due. */
function enterStep(ctx: Ctx, st: Status, idx: number, reason: PlannedEvent['reason']): Outcome {
  const { r } = ctx;
  const step = r.steps[idx]!;
  ctx.events.push({ type: 'Normal', reason, message: stepMessage(r, idx) });
  const next: Status = {
    ...st, stepIndex: idx, canaryWeight: step.weight, stepStartedAt: ctx.now.toISOString(), pausedBy: undefined,
    // The release's evidence starts with its first step and accumulates over every later one.
    ...(idx === 0 ? { analysisStartedAt: ctx.now.toISOString() } : {}),
  };
  if (step.pause === 'manual') {
    ctx.events.push({ type: 'Normal', reason: REASONS.paused, message: `step ${idx + 1} waits for \`fledge resume\`` });
    return {
      status: { ...next, phase: 'Paused', pausedBy: 'step', message: `step ${idx + 1}/${r.steps.length} waits for \`fledge resume\`` },
      wake: r.analysis ? { kind: 'at', ms: Math.min(r.intervalMs, r.analysis.checkIntervalMs) } : NONE,
    };
  }
  return {
    status: { ...next, phase: 'Progressing', message: stepMessage(r, idx) },
    wake: { kind: 'at', ms: r.analysis ? Math.min(holdMs(r, idx), r.analysis.checkIntervalMs) : holdMs(r, idx) },
  };
}

function promoted(ctx: Ctx, st: Status, why: string): Status {
  ctx.events.push({ type: 'Normal', reason: REASONS.promoted, message: `${ctx.r.canary.subset} ${fmtLabels(ctx.r.canary.labels)} promoted: ${why}` });
  return { ...st, phase: 'Promoted', canaryWeight: 100, stepIndex: ctx.r.steps.length, pausedBy: undefined, message: `promoted: ${why}` };
}

function rolledBack(ctx: Ctx, st: Status, reason: PlannedEvent['reason'], why: string): Status {
  ctx.events.push({ type: 'Warning', reason, message: `all traffic back to ${ctx.r.stable.subset}: ${why}` });
  return { ...st, phase: 'RolledBack', canaryWeight: 0, pausedBy: undefined, message: `rolled back: ${why}` };
}

export function fmtLabels(labels: Labels): string {
  return `{${Object.entries(labels).map(([k, v]) => `${k}: ${v}`).join(', ')}}`;
}

/** Derived fields and conditions, recomputed from the phase so they can never disagree with it. */
function finish(ctx: Ctx, prev: Status, st: Status, unsafe: boolean): Status {
  const { r, now } = ctx;
  const g = r.generation;
  const phase: Phase = st.phase ?? 'Pending';
  let conditions = prev.conditions ?? [];
  conditions = withHealth(conditions, phase, unsafe ? REASONS.unsafeRelease : undefined, st.message ?? '', g, now);
  conditions = setCondition(conditions, {
    type: CONDITION_TYPES.progressing,
    status: phase === 'Progressing' ? 'True' : 'False',
    reason: phase === 'Paused' ? (st.pausedBy === 'user' ? 'PausedByUser' : st.pausedBy === 'analysis' ? 'Inconclusive' : 'ManualStep') : phase,
    message: st.message ?? '',
    observedGeneration: g,
  }, now);
  if (r.analysis && st.lastAnalysis) {
    const v = st.lastAnalysis.verdict;
    conditions = setCondition(conditions, {
      type: CONDITION_TYPES.analysis,
      status: v === 'pass' ? 'True' : v === 'fail' ? 'False' : 'Unknown',
      reason: v === 'pass' ? 'Passed' : v === 'fail' ? 'Failed' : 'Inconclusive',
      message: st.lastAnalysis.reason,
      observedGeneration: g,
    }, now);
  } else {
    conditions = removeCondition(conditions, CONDITION_TYPES.analysis);
  }
  const out: Status = {
    ...st,
    phase,
    observedGeneration: g,
    stableWeight: 100 - (st.canaryWeight ?? 0),
    step: stepDisplay(st.stepIndex, r.steps.length) || undefined,
    conditions,
  };
  // Undefined members would survive JSON round trips as absent anyway; drop them so that equal
  // states compare equal and an unchanged rollout never writes its status.
  for (const k of Object.keys(out) as (keyof Status)[]) if (out[k] === undefined) delete out[k];
  return out;
}
