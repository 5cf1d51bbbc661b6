/**
 * The reconcile's decision, table-driven: a snapshot in, the ordered actions out, compared as a
 * list of verbs the way sample-controller's tests compare a fake clientset's recorded actions.
 * The executor and the end-to-end behaviour are tested against a real API server
 * (test/integration/controller.test.ts and its neighbours).
 */
import { describe, expect, it } from 'vitest';
import { ANNOTATIONS, MANAGED_BY_LABEL, MANAGED_BY_VALUE, ROLLOUT_LABEL } from '../../src/api/constants.ts';
import type { KubeObject } from '../../src/api/object.ts';
import { readRequests } from '../../src/api/requests.ts';
import type { RolloutObject } from '../../src/api/rollout-object.ts';
import type { AnalysisResult, RolloutStatus } from '../../src/api/schema.ts';
import { releaseId } from '../../src/api/release.ts';
import { checkRollout } from '../../src/check/rollout.ts';
import { admission, decide, decideRefused, judgementDue, type Action, type Snapshot } from '../../src/controller/decide.ts';
import { istioRouter } from '../../src/router/istio/render.ts';
import type { TrafficRouter } from '../../src/router/types.ts';
import { minimalRollout } from './fixtures.ts';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0 + ms);
const S = 1000;
const M = 60 * S;

type Doc = ReturnType<typeof minimalRollout>;

interface Case {
  name: string;
  /** Changes to the minimal Rollout (steps 10/50/100, interval 1m, no analysis). */
  spec?: (doc: Doc) => void;
  annotations?: Record<string, string>;
  /** The status the Rollout has: 'none', or the one decided `ms` after T0 by an earlier reconcile. */
  status?: RolloutStatus;
  live?: Snapshot['live'];
  claimants?: RolloutObject[];
  refusals?: Snapshot['refusals'];
  analysis?: AnalysisResult;
  now: number;
  actions: string[];
}

function object(doc: Doc, status: RolloutStatus | undefined, annotations?: Record<string, string>): RolloutObject {
  const o = structuredClone(doc) as unknown as RolloutObject;
  o.metadata = { ...o.metadata, uid: 'u1', generation: 1, resourceVersion: '7', ...(annotations ? { annotations } : {}) };
  if (status) o.status = JSON.parse(JSON.stringify(status)) as RolloutStatus;
  return o;
}

function snapshot(c: Pick<Case, 'spec' | 'annotations' | 'status' | 'live' | 'claimants' | 'refusals' | 'analysis'>): Snapshot {
  const doc = minimalRollout();
  c.spec?.(doc);
  const rollout = object(doc, c.status, c.annotations);
  return {
    rollout,
    checked: checkRollout(rollout, 'default'),
    live: c.live ?? {},
    claimants: c.claimants ?? [],
    overlapping: [],
    refusals: c.refusals ?? [],
    requests: readRequests(rollout.metadata.annotations),
    ...(c.analysis ? { analysis: c.analysis } : {}),
  };
}

/** The status a reconcile at `ms` leaves behind, starting from `status`. */
function after(ms: number, c: Omit<Case, 'name' | 'now' | 'actions'> = {}): RolloutStatus {
  return decide(snapshot(c), at(ms), istioRouter).status;
}

/** An action as a verb and its object, the way a recorded action reads. */
function verb(a: Action): string {
  switch (a.type) {
    case 'status': return `status ${a.status.phase} ${a.status.canaryWeight ?? '-'}`;
    case 'routing': return `routing ${100 - a.routing.canaryWeight}/${a.routing.canaryWeight}${a.restore ? ' restore' : ''}`;
    case 'event': return `event ${a.event.reason}`;
    case 'requeue': return `requeue ${a.afterMs}`;
  }
}

const started = after(0);
const analysisSpec = (doc: Doc) => { doc.spec.analysis = { metrics: [{ name: 'error-rate', template: 'istio-error-rate', max: 0.01 }] }; };
const startedWithAnalysis = after(0, { spec: analysisSpec });
const release = releaseId({ version: 'v1' }, { version: 'v2' });
const foreignVs: KubeObject = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web', namespace: 'default' }, spec: { hosts: ['web'], http: [] } };
const fail = (ms: number): AnalysisResult => ({ verdict: 'fail', decisive: true, reason: 'canary errors 5 % vs 0 %', at: at(ms).toISOString(), stepIndex: 0, metrics: [] });

/** A Rollout created earlier that names the VirtualService `web` too. */
function olderClaimant(): Doc {
  const doc = minimalRollout();
  doc.metadata = { name: 'older', namespace: 'default', creationTimestamp: '2024-01-01T00:00:00Z' };
  doc.spec.trafficRouting = { virtualService: { name: 'web' } };
  return doc;
}

const CASES: Case[] = [
  {
    name: 'a new Rollout starts: status first, then the routing of step 1, then the Event; requeued when the hold ends',
    now: 0,
    actions: ['status Progressing 10', 'routing 90/10', 'event RolloutStarted', `requeue ${M}`],
  },
  {
    name: 'at rest within a hold: the live routing is re-applied (drift is put back), the same status, requeued for the rest of the hold',
    status: started, now: 10 * S,
    actions: ['routing 90/10 restore', 'status Progressing 10', `requeue ${50 * S}`],
  },
  {
    name: 'the hold is over: the old routing made live, the new status, then the next step\'s routing',
    status: started, now: M,
    actions: ['routing 90/10 restore', 'status Progressing 50', 'routing 50/50', 'event StepAdvanced', `requeue ${M}`],
  },
  {
    name: 'fledge abort: back to 100/0 after the status says so',
    status: started, now: 10 * S, annotations: { [ANNOTATIONS.abort]: release },
    actions: ['routing 90/10 restore', 'status RolledBack 0', 'routing 100/0', 'event Aborted'],
  },
  {
    name: 'a decisive failing judgement rolls back',
    spec: analysisSpec, status: startedWithAnalysis, now: 10 * S, analysis: fail(10 * S),
    actions: ['routing 90/10 restore', 'status RolledBack 0', 'routing 100/0', 'event RolledBack'],
  },
  {
    name: 'an invalid spec: status and Event only, the routing untouched',
    spec: (doc) => { doc.spec.strategy = { steps: [] }; }, status: started, now: 10 * S,
    actions: ['status Invalid 10', 'event InvalidSpec'],
  },
  {
    name: 'still invalid on the next reconcile: no second Event',
    spec: (doc) => { doc.spec.strategy = { steps: [] }; },
    status: after(5 * S, { spec: (doc) => { doc.spec.strategy = { steps: [] }; }, status: started }), now: 10 * S,
    actions: ['status Invalid 10'],
  },
  {
    name: 'an adopted VirtualService that does not exist yet: Pending, nothing written but the status',
    spec: (doc) => { doc.spec.trafficRouting = { virtualService: { ref: 'web-routes' } }; }, now: 0,
    actions: ['status Pending -', 'event WaitingForObject'],
  },
  {
    name: 'a VirtualService of that name exists and is not ours: Invalid, never overwritten',
    live: { virtualService: foreignVs }, now: 0,
    actions: ['status Invalid -', 'event InvalidSpec'],
  },
  {
    name: 'the generated VirtualService is ours: admitted',
    live: { virtualService: { ...foreignVs, metadata: { ...foreignVs.metadata, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [ROLLOUT_LABEL]: 'web' } } } }, now: 0,
    actions: ['status Progressing 10', 'routing 90/10', 'event RolloutStarted', `requeue ${M}`],
  },
  {
    name: 'an older Rollout claims the same VirtualService: Invalid',
    claimants: [object(olderClaimant(), started)], now: 0,
    actions: ['status Invalid -', 'event InvalidSpec'],
  },
  {
    name: 'the API server\'s dry run refused a generated object: Invalid, naming the field',
    refusals: [{ path: 'spec.trafficRouting.virtualService.hosts', message: 'Istio\'s schema refuses the VirtualService it would make' }], now: 0,
    actions: ['status Invalid -', 'event InvalidSpec'],
  },
];

describe('decide', () => {
  it.each(CASES)('$name', (c) => {
    const d = decide(snapshot(c), at(c.now), istioRouter);
    expect(d.actions.map(verb)).toEqual(c.actions);
    // The decision's status is the one its status action writes.
    expect(d.actions.find((a) => a.type === 'status')).toEqual({ type: 'status', status: d.status });
  });

  it('names the problems of an Invalid Rollout, and only of one', () => {
    const refusal = { path: 'spec.trafficRouting.virtualService.hosts', message: 'refused' };
    expect(decide(snapshot({ refusals: [refusal] }), at(0), istioRouter).problems).toEqual([refusal]);
    expect(decide(snapshot({}), at(0), istioRouter).problems).toBeUndefined();
    expect(decide(snapshot({ live: { virtualService: foreignVs } }), at(0), istioRouter).problems?.map((p) => p.path)).toEqual(['spec.trafficRouting.virtualService.name']);
  });

  it('is a function of its inputs: the same snapshot gives the same actions', () => {
    const s = snapshot({ status: started });
    expect(decide(s, at(M), istioRouter)).toEqual(decide(structuredClone(s), at(M), istioRouter));
  });
});

describe('admission and judgementDue', () => {
  it('asks for a dry run only of generated objects, and a judgement only once admitted and due', () => {
    const s = snapshot({ spec: analysisSpec, status: startedWithAnalysis });
    const a = admission(s, istioRouter);
    // The status shows this generation routed: its objects passed a dry run then (before a restart).
    expect(a).toMatchObject({ kind: 'admitted', dryRun: false });
    // The first check comes after checkInterval (10 s) at the first step.
    expect(judgementDue(a, s, at(1 * S))).toBeUndefined();
    expect(judgementDue(a, s, at(10 * S))).toMatchObject({ stepIndex: 0 });
    expect(judgementDue(a, { ...s, refusals: [{ path: 'spec', message: 'refused' }] }, at(10 * S))).toBeUndefined();
    const waiting = admission(snapshot({ spec: (doc) => { doc.spec.trafficRouting = { virtualService: { ref: 'web-routes' } }; } }), istioRouter);
    expect(waiting).toEqual({ kind: 'waiting', objectKind: 'VirtualService', name: 'web-routes' });
    expect(judgementDue(waiting, s, at(10 * S))).toBeUndefined();
  });
});

describe('the dry run, once per generation, remembered by the status', () => {
  it.each<[string, RolloutStatus | undefined, number, boolean]>([
    ['a new Rollout (no status)', undefined, 1, true],
    ['routed at this generation (Progressing)', { ...started, observedGeneration: 1 }, 1, false],
    ['routed at this generation (Promoted)', { ...started, phase: 'Promoted', observedGeneration: 1 }, 1, false],
    ['routed at this generation (RolledBack)', { ...started, phase: 'RolledBack', observedGeneration: 1 }, 1, false],
    ['routed at an older generation', { ...started, observedGeneration: 1 }, 2, true],
    ['Invalid at this generation (a refusal is read again)', { ...started, phase: 'Invalid', observedGeneration: 1 }, 1, true],
    ['Pending at this generation (never routed)', { ...started, phase: 'Pending', observedGeneration: 1 }, 1, true],
  ])('%s: dry run %s', (_what, status, generation, dryRun) => {
    const s = snapshot({ ...(status ? { status } : {}) });
    s.rollout.metadata.generation = generation;
    expect(admission(s, istioRouter)).toMatchObject({ kind: 'admitted', dryRun });
  });
});

describe('decideRefused', () => {
  it('puts back the status read, with Ready False naming the refusal, and says so once', () => {
    const s = snapshot({ status: started });
    const actions = decideRefused(s, 'admission webhook "policy" denied the request', at(10 * S));
    expect(actions.map(verb)).toEqual(['status Progressing 10', 'event RoutingRefused']);
    const status = (actions[0] as Extract<Action, { type: 'status' }>).status;
    expect(status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'RoutingRefused' });
    const again = decideRefused(snapshot({ status }), 'admission webhook "policy" denied the request', at(20 * S));
    expect(again.map(verb)).toEqual(['status Progressing 10']);
  });
});

describe('decide speaks only the TrafficRouter interface', () => {
  // A router for another mesh (say Gateway API's HTTPRoute) is one object of this shape: decide
  // takes its rules from it, and nothing Istio's router knows leaks into the decision.
  const other: TrafficRouter = {
    resources: { virtualService: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes' }, destinationRule: { group: '', version: 'v1', plural: 'services' } },
    canonicalHost: (host) => host,
    objectHosts: () => [],
    desiredObjects: () => [],
    objectsToVet: () => [],
    liveRouting: () => undefined,
    routedHosts: () => [],
    ownershipProblems: () => [],
    hostOverlaps: () => ({ problems: [], warnings: [{ path: 'spec.trafficRouting', message: 'another HTTPRoute shares the parent' }] }),
    checkAdopted: () => [],
    adoptedWarnings: () => [],
    adoptedWeightPatch: () => [],
    argoCdIgnoreDifferences: () => [],
    admissionVerdict: () => undefined,
  };

  it('admits by that router\'s rules: a VirtualService Istio\'s router would refuse to take over is none of its business', () => {
    const s = snapshot({ live: { virtualService: foreignVs } });
    expect(decide(s, at(0), istioRouter).actions.map(verb)).toEqual(['status Invalid -', 'event InvalidSpec']);
    const d = decide(s, at(0), other);
    expect(d.actions.map(verb)).toEqual(['status Progressing 10', 'routing 90/10', 'event RolloutStarted', 'event RoutingWarning', `requeue ${M}`]);
  });

  it('refuses by that router\'s rules', () => {
    const refusing: TrafficRouter = { ...other, ownershipProblems: () => [{ path: 'spec.trafficRouting', message: 'HTTPRoute web belongs to someone else' }] };
    expect(decide(snapshot({}), at(0), refusing).problems).toEqual([{ path: 'spec.trafficRouting', message: 'HTTPRoute web belongs to someone else' }]);
  });
});
