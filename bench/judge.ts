/**
 * Canary judgement benchmark: Fledge's planner + judge against the static per-interval threshold
 * rules of Flagger and Argo Rollouts, on simulated request streams.
 *
 *   node --experimental-strip-types bench/judge.ts [--seed N] [--runs N] [--no-write] [--explore]
 *
 * Writes the section "## Canary judgement (npm run bench:judge)" of docs/benchmarks.md, keeping
 * the file's other sections. --explore also prints Fledge under other defaults (not written).
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machineLine, writeDocSection } from './doc.ts';
import {
  argoJudge, fledgeJudge, fledgeRollout, flaggerJudge, INTERVAL_S, seedOf, STATIC_MAX_ERROR_RATE, STEPS, summarize,
  type CellStats, type Judge, type Outcome, type Scenario,
} from './judge-sim.ts';
import { mulberry32 } from '../src/analysis/prng.ts';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : NaN;
  return Number.isFinite(v) ? v : fallback;
};

const SEED = option('--seed', 20250101);
const RUNS = option('--runs', 500);
const HORIZON_S = 30 * 60;
const RATES = [0.5, 5, 50, 500] as const;
const STABLE = 0.005;
const SCENARIOS: Scenario[] = [
  { name: 'healthy', stableErrorRate: STABLE, canaryErrorRate: STABLE, bad: false },
  { name: '2x errors', stableErrorRate: STABLE, canaryErrorRate: 2 * STABLE, bad: true },
  { name: '5x errors', stableErrorRate: STABLE, canaryErrorRate: 5 * STABLE, bad: true },
  { name: '10x errors', stableErrorRate: STABLE, canaryErrorRate: 10 * STABLE, bad: true },
  { name: 'broken (50%)', stableErrorRate: STABLE, canaryErrorRate: 0.5, bad: true },
];

const FLEDGE = 'Fledge';
const FLEDGE_MAX = 'Fledge + max 1%';
const FLAGGER = 'Flagger';
const ARGO = 'Argo';
const JUDGES: { key: string; judge: Judge }[] = [
  { key: FLEDGE, judge: fledgeJudge('Fledge (defaults: comparison only)') },
  { key: FLEDGE_MAX, judge: fledgeJudge('Fledge + istio-error-rate max 0.01', { errorRateMax: STATIC_MAX_ERROR_RATE }) },
  { key: FLAGGER, judge: flaggerJudge(5) },
  { key: ARGO, judge: argoJudge() },
];
const EXPLORE: { key: string; judge: Judge }[] = [
  { key: 'pass 0.5', judge: fledgeJudge('passConfidence 0.5', { comparison: { passConfidence: 0.5 } }) },
  { key: 'pass 0.75', judge: fledgeJudge('passConfidence 0.75', { comparison: { passConfidence: 0.75 } }) },
  { key: 'pass 0.9', judge: fledgeJudge('passConfidence 0.9', { comparison: { passConfidence: 0.9 } }) },
  { key: 'conf 0.95', judge: fledgeJudge('confidence 0.95', { comparison: { confidence: 0.95 } }) },
  { key: 'conf 0.999', judge: fledgeJudge('confidence 0.999', { comparison: { confidence: 0.999 } }) },
  { key: 'relTol 1', judge: fledgeJudge('relativeTolerance 1', { comparison: { relativeTolerance: 1 } }) },
  { key: 'no baseline', judge: fledgeJudge('baselineWindow 1s (stable over the windows only)', { comparison: { baselineWindow: '1s' } }) },
  { key: 'check 30s', judge: fledgeJudge('checkInterval 30s', { checkInterval: '30s' }) },
  { key: 'no limit', judge: fledgeJudge('inconclusiveLimit 1000 (wait)', { inconclusiveLimit: 1000 }) },
];

type Results = Map<string, CellStats>;
const cellKey = (judge: string, rate: number, scenario: string) => `${judge}|${rate}|${scenario}`;

function runGrid(judges: { key: string; judge: Judge }[], runs: number): { results: Results; seconds: Map<string, number> } {
  const results: Results = new Map();
  const seconds = new Map<string, number>();
  judges.forEach(({ key, judge }, j) => {
    const t0 = performance.now();
    RATES.forEach((rate, ri) => {
      SCENARIOS.forEach((sc, si) => {
        const outcomes: Outcome[] = [];
        for (let i = 0; i < runs; i++) outcomes.push(judge.run(rate, sc, HORIZON_S, mulberry32(seedOf(SEED, j, ri, si, i))));
        results.set(cellKey(key, rate, sc.name), summarize(outcomes));
      });
    });
    seconds.set(key, (performance.now() - t0) / 1000);
  });
  return { results, seconds };
}

const pct = (n: number, d: number) => {
  const x = (100 * n) / d;
  if (x > 0 && x < 1) return '<1%';
  if (x > 99 && x < 100) return '>99%';
  return `${Math.round(x)}%`;
};
const secs = (s: number | undefined) => (s === undefined ? '–' : s >= 600 ? `${(s / 60).toFixed(0)} min` : `${Math.round(s)} s`);

function healthyTable(results: Results, judges: string[]): string {
  const rows = [
    '| rps | judge | false rollbacks | promoted ≤ 30 min | still running at 30 min | median time to promote |',
    '|---:|---|---:|---:|---:|---:|',
  ];
  for (const rate of RATES) {
    for (const j of judges) {
      const c = results.get(cellKey(j, rate, 'healthy'))!;
      rows.push(`| ${rate} | ${j} | ${pct(c.rolledBack, c.runs)} | ${pct(c.promoted, c.runs)} | ${pct(c.running, c.runs)} | ${secs(c.medianPromoteS)} |`);
    }
  }
  return rows.join('\n');
}

function badCell(c: CellStats): string {
  const parts = [`${pct(c.rolledBack, c.runs)}`];
  if (c.rolledBack > 0) parts[0] += ` · ${secs(c.medianRollbackS)}`;
  if (c.promoted > 0) parts.push(`${pct(c.promoted, c.runs)} promoted`);
  return parts.join(', ');
}

function badTable(results: Results, judges: string[]): string {
  const rows = [`| rps | canary | ${judges.join(' | ')} |`, `|---:|---|${judges.map(() => '---').join('|')}|`];
  for (const rate of RATES) {
    for (const sc of SCENARIOS.filter((s) => s.bad)) {
      rows.push(`| ${rate} | ${sc.name} | ${judges.map((j) => badCell(results.get(cellKey(j, rate, sc.name))!)).join(' | ')} |`);
    }
  }
  return rows.join('\n');
}

function rate(results: Results, judge: string, rps: number, scenario: string, what: 'rolledBack' | 'promoted'): string {
  const c = results.get(cellKey(judge, rps, scenario))!;
  return pct(c[what], c.runs);
}

function median(results: Results, judge: string, rps: number, scenario: string, what: 'medianRollbackS' | 'medianPromoteS'): string {
  return secs(results.get(cellKey(judge, rps, scenario))![what]);
}

const list = (xs: readonly (string | number)[]) => (xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`);
const num = (x: number) => `${Number(x.toPrecision(6))}`;
/** A duration in the Rollout's own syntax (10m, 10s). */
const dur = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);
const ordinal = (n: number) => (n === 1 ? 'first' : n === 2 ? 'second' : n === 3 ? 'third' : `${n}th`);

/** The resolved defaults Fledge runs with in the headline column. */
function fledgeDefaults() {
  const a = fledgeRollout().analysis!;
  const c = a.comparison!;
  // probabilityWorse: the canary is worse when its rate exceeds stable's by max(tolerance, relativeTolerance × stable).
  const margin = Math.max(c.tolerance, c.relativeTolerance * STABLE);
  return { a, c, margin, tolerated: STABLE + margin };
}

/** Fewer / as many / more (things) than another judge, with the counts. */
function relCount(a: number, b: number, other: string, things = ''): string {
  const t = things ? ` ${things}` : '';
  if (a < b) return `fewer${t} than ${other} (${a} vs ${b})`;
  if (a === b) return `as many${t} as ${other} (${a} each)`;
  return `more${t} than ${other} (${a} vs ${b})`;
}

/** '5x errors' → '5×', 'broken (50%)' → 'broken'. */
const label = (sc: string) => (sc.startsWith('broken') ? 'broken' : sc.replace(/x errors$/, '×'));

function reading(r: Results): string {
  const { a, c, margin, tolerated } = fledgeDefaults();
  const cell = (j: string, rps: number, sc: string) => r.get(cellKey(j, rps, sc))!;
  const rb = (j: string, rps: number, sc: string) => rate(r, j, rps, sc, 'rolledBack');
  const pr = (j: string, rps: number, sc: string) => rate(r, j, rps, sc, 'promoted');
  const tr = (j: string, rps: number, sc: string) => median(r, j, rps, sc, 'medianRollbackS');
  const tp = (j: string, rps: number, sc: string) => median(r, j, rps, sc, 'medianPromoteS');
  const n = (j: string, rps: number, sc: string) => cell(j, rps, sc).rolledBack;
  const low = RATES.filter((x) => x < 50);
  const high = RATES.filter((x) => x >= 50);
  const BAD = ['5x errors', '10x errors', 'broken (50%)'];
  const first = STEPS[0];
  // Mean seconds for a step to see minRequests canary requests, at least its hold.
  const stepWait = (rps: number, w: number) => Math.max(INTERVAL_S, a.minRequests / ((rps * w) / 100));
  const minRequestWait = (rps: number) => STEPS.reduce((s, w) => s + stepWait(rps, w), 0);
  const perStep = (rps: number) => STEPS.map((w) => Math.max(a.minRequests, Math.round((rps * w * INTERVAL_S) / 100)));
  const shares = (j: string, cells: [number, string][]) => {
    const xs = cells.map(([rps, sc]) => cell(j, rps, sc)).map((x) => x.rolledBack / x.runs);
    const lo = Math.min(...xs);
    const hi = Math.max(...xs);
    return lo === 1 ? 'all' : lo === hi ? pct(lo * RUNS, RUNS) : `${pct(lo * RUNS, RUNS)} to ${pct(hi * RUNS, RUNS)}`;
  };
  const fast: [number, string][] = high.flatMap((rps) => BAD.map((sc) => [rps, sc] as [number, string]));
  const faster = (other: string) => {
    const slower = fast.filter(([rps, sc]) => {
      const f = cell(FLEDGE, rps, sc).medianRollbackS;
      const o = cell(other, rps, sc).medianRollbackS;
      return f === undefined || (o !== undefined && f >= o);
    });
    const head = `shorter than ${other}'s in ${fast.length - slower.length} of the ${fast.length} cells`;
    if (slower.length === 0) return head;
    return `${head} (not for ${list(slower.map(([rps, sc]) => `${label(sc)} at ${rps} rps: ${tr(FLEDGE, rps, sc)} vs ${tr(other, rps, sc)}`))})`;
  };
  const fx = `${num(STABLE * 5 * 100)} %`;

  return [
    // Healthy canaries: false rollbacks.
    `Healthy canaries: Fledge rolled back ${list(RATES.map((x) => rb(FLEDGE, x, 'healthy')))} of them at ${list(RATES)} rps, Flagger's five strikes ${list(RATES.map((x) => rb(FLAGGER, x, 'healthy')))} and Argo's single-strike 1 % rule ${list(RATES.map((x) => rb(ARGO, x, 'healthy')))} (for Argo an empty minute, or one error among fewer than 100 requests, is a failure).`,
    `Counted out of ${RUNS} runs at the low rates, Fledge had ${list(low.map((x) => `${relCount(n(FLEDGE, x, 'healthy'), n(FLAGGER, x, 'healthy'), 'Flagger', 'false rollbacks')} and ${relCount(n(FLEDGE, x, 'healthy'), n(ARGO, x, 'healthy'), 'Argo')} at ${x} rps`))}.`,
    // The price: time at low traffic.
    `Fledge pays for it in time when traffic is thin: a step ends only once its ${INTERVAL_S} s hold is over and the canary has had minRequests (${a.minRequests}) requests, which at ${low[0]} rps alone adds up to about ${secs(minRequestWait(low[0]!))} over the ${STEPS.length} steps, so a healthy canary promoted in a median ${tp(FLEDGE, low[0]!, 'healthy')} and ${pr(FLEDGE, low[0]!, 'healthy')} were done within ${HORIZON_S / 60} min (Flagger ${tp(FLAGGER, low[0]!, 'healthy')} and ${pr(FLAGGER, low[0]!, 'healthy')}, Argo ${tp(ARGO, low[0]!, 'healthy')} and ${pr(ARGO, low[0]!, 'healthy')}); at ${low[1]} rps the medians were ${tp(FLEDGE, low[1]!, 'healthy')}, ${tp(FLAGGER, low[1]!, 'healthy')} and ${tp(ARGO, low[1]!, 'healthy')}.`,
    // The same design makes bad canaries slow to catch at 0.5 rps.
    `The same rule makes Fledge slow on bad canaries at ${low[0]} rps, by design: below minRequests a check is inconclusive, never a failure, so the ${first} % step gives its first verdict after about ${secs(stepWait(low[0]!, first))}, and with failureLimit ${a.failureLimit} a rollback needs the ${ordinal(a.failureLimit + 1)} failed check, each on a fresh window of ${a.minRequests} requests (about ${secs((a.failureLimit + 1) * stepWait(low[0]!, first))} for a canary that fails every check).`,
    `Within ${HORIZON_S / 60} min at ${low[0]} rps Fledge rolled back ${rb(FLEDGE, low[0]!, 'broken (50%)')} of broken (50 %) canaries, ${rb(FLEDGE, low[0]!, '10x errors')} of 10× and ${rb(FLEDGE, low[0]!, '5x errors')} of 5× ones, and promoted ${pr(FLEDGE, low[0]!, '10x errors')} of the 10× and ${pr(FLEDGE, low[0]!, '5x errors')} of the 5× (the rest had no decision), where Flagger rolled back ${rb(FLAGGER, low[0]!, 'broken (50%)')}, ${rb(FLAGGER, low[0]!, '10x errors')} and ${rb(FLAGGER, low[0]!, '5x errors')} and Argo ${rb(ARGO, low[0]!, 'broken (50%)')}, ${rb(ARGO, low[0]!, '10x errors')} and ${rb(ARGO, low[0]!, '5x errors')}.`,
    // 2x: inside the tolerance by design.
    `A check fails only when P(canary rate > stable rate + max(tolerance, relativeTolerance × stable rate)) reaches the confidence (${c.confidence}); with stable at ${num(STABLE * 100)} % that margin is ${num(margin * 100)} points, so the canary is tolerated up to ${num(tolerated * 100)} % (${num(tolerated / STABLE)}× stable's) and a 2× canary is not meant to be caught: Fledge promoted ${list(RATES.filter((x) => x >= 5).map((x) => pr(FLEDGE, x, '2x errors')))} of them at ${list(RATES.filter((x) => x >= 5))} rps, where Flagger rolled back ${list(RATES.filter((x) => x >= 5).map((x) => rb(FLAGGER, x, '2x errors')))} and Argo ${list(RATES.filter((x) => x >= 5).map((x) => rb(ARGO, x, '2x errors')))}.`,
    // Between the two: 5x at 5 rps.
    `In between, at ${low[1]} rps, Fledge caught ${relCount(n(FLEDGE, low[1]!, '5x errors'), n(FLAGGER, low[1]!, '5x errors'), 'Flagger', `5× canaries (${fx} errors)`)} and ${relCount(n(FLEDGE, low[1]!, '5x errors'), n(ARGO, low[1]!, '5x errors'), 'Argo')}, out of ${RUNS}: a step passes when its hold ends without P(worse) reaching ${c.confidence}, and with about ${list(perStep(low[1]!))} canary requests on the ${list(STEPS.map((w) => `${w} %`))} steps ${cell(FLEDGE, low[1]!, '5x errors').promoted > 0 ? `the evidence that ${fx} is above the tolerated ${num(tolerated * 100)} % is thin, so ${pr(FLEDGE, low[1]!, '5x errors')} passed every step on it` : 'it still promoted none of them'}; of 10× canaries it caught ${rb(FLEDGE, low[1]!, '10x errors')} (Flagger ${rb(FLAGGER, low[1]!, '10x errors')}, Argo ${rb(ARGO, low[1]!, '10x errors')}).`,
    // Enough traffic: time to rollback.
    `With enough traffic Fledge is fast: at ${list(high)} rps it rolled back ${shares(FLEDGE, fast)} of the ${list(BAD.map(label))} canaries (Flagger ${shares(FLAGGER, fast)}, Argo ${shares(ARGO, fast)}), and its median time to rollback (${list(BAD.map(label))}: ${list(high.map((x) => `${list(BAD.map((sc) => tr(FLEDGE, x, sc)))} at ${x} rps`))}) was ${faster(ARGO)} and ${faster(FLAGGER)}: Fledge checks every ${a.checkIntervalMs / 1000} s inside a step and fails as soon as the evidence is strong, Argo measures once a minute, and Flagger acts on its fifth failed check one interval later.`,
    // The threshold metric.
    `Adding the \`istio-error-rate\` max 1 % metric to Fledge changes the share of bad canaries caught (5× at ${low[1]} rps: ${rb(FLEDGE, low[1]!, '5x errors')} → ${rb(FLEDGE_MAX, low[1]!, '5x errors')}; 2× at ${high[0]} rps: ${rb(FLEDGE, high[0]!, '2x errors')} → ${rb(FLEDGE_MAX, high[0]!, '2x errors')}) but brings the static rule's flaw with it: healthy canaries rolled back at ${low[1]} rps went from ${rb(FLEDGE, low[1]!, 'healthy')} to ${rb(FLEDGE_MAX, low[1]!, 'healthy')}, and at ${low[0]} rps from ${rb(FLEDGE, low[0]!, 'healthy')} to ${rb(FLEDGE_MAX, low[0]!, 'healthy')}, since that metric ignores how many requests its rate came from.`,
  ].join(' ');
}

function section(results: Results, wall: number, perJudge: Map<string, number>): string {
  const judges = JUDGES.map((j) => j.key);
  const d = fledgeDefaults();
  const machine = machineLine();
  return `## Canary judgement (npm run bench:judge)

\`\`\`sh
node --experimental-strip-types bench/judge.ts --seed ${SEED} --runs ${RUNS}
\`\`\`

Seed ${SEED}, ${RUNS} simulated rollouts per cell, ${machine}; ${wall.toFixed(0)} s wall time (${judges.map((j) => `${j} ${perJudge.get(j)!.toFixed(0)} s`).join(', ')}).

**Setup.** Steps ${STEPS.join(', ')} % canary weight, one ${INTERVAL_S} s interval each; Poisson arrivals at the total rate, split by weight; stable has ${STABLE * 100} % errors; each request fails with its version's rate. Counts are exact (an ideal Prometheus: no scrape alignment, no \`increase()\` extrapolation). Horizon ${HORIZON_S / 60} min: a rollout with no decision by then counts as still running.

- **Fledge**: the real \`plan()\`, \`analysisDue()\` and \`judgeStep()\`, reconciled when \`plan()\` asks to be requeued; Rollout \`analysis: {prometheus: {address: http://x}}\` with every default, as \`resolveRollout()\` fills them in (comparison on: confidence ${d.c.confidence}, tolerance ${d.c.tolerance}, relativeTolerance ${d.c.relativeTolerance}, baselineWindow ${dur(d.c.baselineWindowMs)}; minRequests ${d.a.minRequests}; failureLimit ${d.a.failureLimit}; checkInterval ${dur(d.a.checkIntervalMs)}${d.a.inconclusiveLimit === undefined ? '; no inconclusiveLimit' : `; inconclusiveLimit ${d.a.inconclusiveLimit}`}). Each check reads the canary's counts over [stepStartedAt, now) and stable's over the longer of that and the last ${dur(d.c.baselineWindowMs)} (the baseline window), as \`src/controller/prometheus-analyzer.ts\` does, so the ${STEPS[STEPS.length - 1]} % step, where stable serves nothing, is still compared with stable's requests from the steps before; a subset without traffic has no series, which the analyzer reads as 0 requests and 0 errors (canary: inconclusive below minRequests). The headline column has no threshold metric; **Fledge + max 1%** adds \`{name: error-rate, template: istio-error-rate, max: ${STATIC_MAX_ERROR_RATE}}\`, its value the canary's error rate over the step's window.
- **Flagger** (threshold 5): every \`interval: 1m\`, rollback if failedChecks ≥ \`threshold\`, else the builtin \`request-success-rate\` (\`thresholdRange.min: 99\`, metric \`interval: 1m\`) is checked; below 99 %, or no value (no canary request in the minute: 0/0 is NaN, reported as "no values found"), the check fails, failedChecks grows (it is not reset by later passes) and the weight holds; a pass moves to the next \`stepWeights\` entry, or promotes from the last one. Flagger's code default for \`threshold\` is 1 (\`GetAnalysisThreshold\`); 5 is the value its tutorials use, and the one modelled.
- **Argo Rollouts**: background analysis, success rate over \`[1m]\` every \`interval: 1m\` from the start, \`successCondition: result[0] >= 0.99\`, \`failureLimit\` default 0 (the first failed measurement aborts), \`consecutiveErrorLimit\` default 4; steps \`setWeight\` + \`pause: {duration: 1m}\` advance on time. No canary request in the window: NaN, which fails \`>= 0.99\`; before the canary's first request ever, an empty result, where \`result[0]\` is an Error (five in a row abort).

Sources: Flagger \`pkg/controller/scheduler.go\` (threshold check before the analysis, failedChecks only grows), \`pkg/controller/scheduler_metrics.go\` (no values → halt, counted as a failed check), \`pkg/apis/flagger/v1beta1/canary.go\` (\`GetAnalysisThreshold\` default 1, interval default 60 s), fluxcd/flagger#1095 (NaN treated as no values), the metrics docs (https://fluxcd.io/flagger/usage/metrics: \`request-success-rate\`, \`interval: 1m\`, \`thresholdRange.min: 99\`); Argo Rollouts \`pkg/apis/rollouts/v1alpha1/analysis_types.go\` (failureLimit default 0, inconclusiveLimit 0, consecutiveErrorLimit 4), \`docs/features/analysis.md\` ("Handling Metric Results": NaN fails \`result >= 0.95\`, empty results need \`len(result)\`), argoproj/argo-rollouts#1466 (empty result → \`slice index out of range\` Error → aborted).

### Healthy canary (stable and canary both at ${STABLE * 100} % errors)

${healthyTable(results, judges)}

### Bad canaries: rolled back before promotion · median time to rollback from the start

Each cell: share rolled back · their median time from the start, then the share promoted; the rest had no decision at 30 min.

${badTable(results, judges)}

### Reading

${reading(results)}
`;
}

const HEADING = '## Canary judgement (npm run bench:judge)';

function writeSection(text: string): string {
  const path = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
  mkdirSync(fileURLToPath(new URL('../docs/', import.meta.url)), { recursive: true });
  writeDocSection(path, HEADING, text);
  return path;
}

function main(): void {
  const t0 = performance.now();
  const { results, seconds } = runGrid(JUDGES, RUNS);
  const wall = (performance.now() - t0) / 1000;
  const text = section(results, wall, seconds);
  process.stdout.write(`${text}\n`);
  if (!flag('--no-write')) process.stdout.write(`written to ${writeSection(text)}\n`);

  if (flag('--explore')) {
    const ex = runGrid(EXPLORE, RUNS);
    const keys = [FLEDGE, ...EXPLORE.map((e) => e.key)];
    const all: Results = new Map([...results, ...ex.results]);
    process.stdout.write(`\n### Fledge under other settings (not written)\n\n${healthyTable(all, keys)}\n\n${badTable(all, keys)}\n`);
  }
}

main();
