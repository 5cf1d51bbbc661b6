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
  argoJudge, fledgeJudge, fledgeRollout, flaggerJudge, HISTORY_S, INTERVAL_S, seedOf, STATIC_MAX_ERROR_RATE, STEPS, summarize,
  type CellStats, type Judge, type Outcome, type Scenario,
} from './judge-sim.ts';
import { fixedSampleCatch, verdicts, type Verdict } from './judge-targets.ts';
import { toleratedRate } from '../src/analysis/evidence.ts';
import { thresholds } from '../src/analysis/judge.ts';
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
    '| rps | judge | false rollbacks | promoted ≤ 30 min | undecided at 30 min (paused) | median time to promote |',
    '|---:|---|---:|---:|---:|---:|',
  ];
  for (const rate of RATES) {
    for (const j of judges) {
      const c = results.get(cellKey(j, rate, 'healthy'))!;
      rows.push(`| ${rate} | ${j} | ${pct(c.rolledBack, c.runs)} | ${pct(c.promoted, c.runs)} | ${pct(c.running, c.runs)}${c.paused > 0 ? ` (${pct(c.paused, c.runs)})` : ''} | ${secs(c.medianPromoteS)} |`);
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

/** The resolved defaults Fledge runs with in the headline column. */
function fledgeDefaults() {
  const a = fledgeRollout().analysis!;
  const c = a.comparison!;
  // The canary is worse when its rate exceeds stable's by max(tolerance, relativeTolerance × stable).
  const tolerated = toleratedRate(STABLE, { absolute: c.tolerance, relative: c.relativeTolerance });
  return { a, c, tolerated };
}

/** '5x errors' → '5×', 'broken (50%)' → 'broken'. */
const label = (sc: string) => (sc.startsWith('broken') ? 'broken' : sc.replace(/x errors$/, '×'));
const BAD = ['5x errors', '10x errors', 'broken (50%)'];

function targets(r: Results): Verdict[] {
  const { c, tolerated } = fledgeDefaults();
  return verdicts({
    cell: (j, rps, sc) => r.get(cellKey(j, rps, sc))!,
    fledge: FLEDGE,
    anchors: [FLAGGER, ARGO],
    rates: RATES,
    healthy: 'healthy', broken: 'broken (50%)', tenX: '10x errors', fiveX: '5x errors', bad: BAD,
    stableRate: STABLE,
    toleratedRate: tolerated,
    canaryRate: (sc) => SCENARIOS.find((x) => x.name === sc)!.canaryErrorRate,
    alpha: 1 - c.confidence,
    passBudget: 1 - c.passConfidence,
  });
}

function reading(r: Results): string {
  const { a, c, tolerated } = fledgeDefaults();
  const cell = (j: string, rps: number, sc: string) => r.get(cellKey(j, rps, sc))!;
  const rb = (j: string, rps: number, sc: string) => rate(r, j, rps, sc, 'rolledBack');
  const pr = (j: string, rps: number, sc: string) => rate(r, j, rps, sc, 'promoted');
  const tr = (j: string, rps: number, sc: string) => median(r, j, rps, sc, 'medianRollbackS');
  const tp = (j: string, rps: number, sc: string) => median(r, j, rps, sc, 'medianPromoteS');
  const low = RATES[0];
  const high = RATES.filter((x) => x >= 50);
  const requests = (j: string, rps: number, sc: string) => Math.round(cell(j, rps, sc).medianCanaryRequests ?? 0);
  const paused = (rps: number, sc: string) => pct(cell(FLEDGE, rps, sc).paused, cell(FLEDGE, rps, sc).runs);
  const fx = (sc: string) => SCENARIOS.find((x) => x.name === sc)!.canaryErrorRate;
  const th = thresholds(a, STEPS.length, 100);
  const catchFive = fixedSampleCatch(requests(FLEDGE, low, '5x errors'), tolerated, fx('5x errors'), 1 - c.confidence);

  return [
    // Healthy.
    `Healthy canaries: Fledge rolled back ${list(RATES.map((x) => rb(FLEDGE, x, 'healthy')))} of them at ${list(RATES)} rps, Flagger's five strikes ${list(RATES.map((x) => rb(FLAGGER, x, 'healthy')))} and Argo's single-strike 1 % rule ${list(RATES.map((x) => rb(ARGO, x, 'healthy')))}: a check fails only when the Bayes factor against the canary reaches ${num(Math.exp(th.releaseLogBF))} over the release (${num(Math.exp(th.stepLogBF))} over one step), and that bound holds over every look, ${Math.round((HORIZON_S / a.checkIntervalMs) * 1000)} of them in 30 min at one every ${a.checkIntervalMs / 1000} s.`,
    `Promotion needs evidence, so it costs time where traffic is thin: at ${low} rps a healthy canary was promoted in a median ${tp(FLEDGE, low, 'healthy')} and ${pr(FLEDGE, low, 'healthy')} within 30 min (${paused(low, 'healthy')} were paused for a person, with the traffic they still needed in their message), after a median ${requests(FLEDGE, low, 'healthy')} canary requests; Flagger promoted ${pr(FLAGGER, low, 'healthy')} in ${tp(FLAGGER, low, 'healthy')} and Argo ${pr(ARGO, low, 'healthy')} in ${tp(ARGO, low, 'healthy')}, on no evidence at all (one request a minute passes Flagger's check). From 5 rps up the steps' holds set the pace: ${list(RATES.filter((x) => x >= 5).map((x) => `${tp(FLEDGE, x, 'healthy')} at ${x} rps`))}.`,
    // Broken.
    `Broken canaries (50 % errors) were rolled back in a median ${list(RATES.map((x) => `${tr(FLEDGE, x, 'broken (50%)')} at ${x} rps`))}, against Flagger's ${list(RATES.map((x) => tr(FLAGGER, x, 'broken (50%)')))} and Argo's ${list(RATES.map((x) => tr(ARGO, x, 'broken (50%)')))}: no request count gates a failure, so a handful of failed requests among the canary's first is enough at any rate (5 of 8 against stable's 0.5 % is a Bayes factor near 10⁶), while one failed request never is.`,
    // Bad canaries at low traffic.
    `At ${low} rps a 5× canary (${num(fx('5x errors') * 100)} % errors) was promoted ${pr(FLEDGE, low, '5x errors')} of the time and a 10× one ${pr(FLEDGE, low, '10x errors')} (Flagger ${pr(FLAGGER, low, '5x errors')} and ${pr(FLAGGER, low, '10x errors')}, Argo ${pr(ARGO, low, '5x errors')} and ${pr(ARGO, low, '10x errors')}); Fledge rolled back ${rb(FLEDGE, low, '5x errors')} and ${rb(FLEDGE, low, '10x errors')} of them; the rest never had the evidence to pass, and waited or were paused. A 5× run had a median ${requests(FLEDGE, low, '5x errors')} canary requests in its 30 min; a single test at the end on that many, rolling back a canary at the tolerated ${num(tolerated * 100)} % at most ${num((1 - c.confidence) * 100)} % of the time, would catch ${pct(catchFive * 100, 100)} of 5× canaries. A rule that looks every ${a.checkIntervalMs / 1000} s and keeps its error bound over all the looks pays for them in power, which is why Fledge waits there rather than guess. Argo catches more by also rolling back ${rb(ARGO, low, 'healthy')} of healthy canaries.`,
    // Bad canaries with traffic.
    `With traffic: at 5 rps Fledge rolled back ${rb(FLEDGE, 5, '5x errors')} of 5× canaries (median ${tr(FLEDGE, 5, '5x errors')}; Flagger ${rb(FLAGGER, 5, '5x errors')}, ${tr(FLAGGER, 5, '5x errors')}) and ${rb(FLEDGE, 5, '10x errors')} of 10× (${tr(FLEDGE, 5, '10x errors')}; Flagger ${tr(FLAGGER, 5, '10x errors')}, Argo ${tr(ARGO, 5, '10x errors')}), promoting ${pr(FLEDGE, 5, '5x errors')} and ${pr(FLEDGE, 5, '10x errors')}; a suspect canary is held at its step rather than given more traffic (a step that moves it to weight w needs P(worse) <= ${num(1 - c.passConfidence)} × 100 / w), which caps the harm and is why 5× takes minutes at 5 rps. At ${list(high)} rps every 5×, 10× and broken canary was caught, in ${list(high.map((x) => `${list(BAD.map((sc) => tr(FLEDGE, x, sc)))} at ${x} rps`))} (${list(BAD.map(label))}), where Argo needs its minute-long measurement and Flagger its fifth failed check.`,
    // 2x.
    `A 2× canary (${num(2 * STABLE * 100)} %) sits exactly at the tolerated rate (stable's ${num(STABLE * 100)} % plus max(tolerance ${c.tolerance}, relativeTolerance ${c.relativeTolerance} × stable) = ${num(tolerated * 100)} %): it is not meant to fail, and it passes when chance makes it look better than that at some check (P(worse) is a posterior at each look, not a per-release bound on passing), so Fledge promoted ${list(RATES.map((x) => pr(FLEDGE, x, '2x errors')))} of them at ${list(RATES)} rps and rolled back ${list(RATES.map((x) => rb(FLEDGE, x, '2x errors')))}, the rest waiting or paused; a lower tolerance makes 2× a failure.`,
    // The threshold metric.
    `Adding the static \`istio-error-rate\` max 1 % metric brings the static rule's flaw with it: it is judged on the step's own window once that holds minRequests (${a.minRequests}) canary requests, ignoring how few that is, and healthy canaries rolled back went from ${rb(FLEDGE, low, 'healthy')} to ${rb(FLEDGE_MAX, low, 'healthy')} at ${low} rps and from ${rb(FLEDGE, 5, 'healthy')} to ${rb(FLEDGE_MAX, 5, 'healthy')} at 5 rps.`,
  ].join(' ');
}

function section(results: Results, wall: number, perJudge: Map<string, number>): string {
  const judges = JUDGES.map((j) => j.key);
  const d = fledgeDefaults();
  const machine = machineLine();
  const v = targets(results);
  return `## Canary judgement (npm run bench:judge)

\`\`\`sh
node --experimental-strip-types bench/judge.ts --seed ${SEED} --runs ${RUNS}
\`\`\`

Seed ${SEED}, ${RUNS} simulated rollouts per cell, ${machine}; ${wall.toFixed(0)} s wall time (${judges.map((j) => `${j} ${perJudge.get(j)!.toFixed(0)} s`).join(', ')}).

**Setup.** Steps ${STEPS.join(', ')} % canary weight, one ${INTERVAL_S} s interval each; Poisson arrivals at the total rate, split by weight; stable has ${STABLE * 100} % errors and served all traffic for the ${HISTORY_S / 60} min before the release (what Prometheus holds of it); each request fails with its version's rate. Counts are exact (an ideal Prometheus: no scrape alignment, no \`increase()\` extrapolation). Horizon ${HORIZON_S / 60} min: a rollout with no decision by then counts as undecided (paused or still waiting).

- **Fledge**: the real \`plan()\`, \`analysisCheck()\` and \`judgeStep()\`, reconciled when \`plan()\` asks to be requeued; Rollout \`analysis: {}\` (the default provider) with every default, as \`resolveRollout()\` fills them in (comparison on: confidence ${d.c.confidence}, passConfidence ${d.c.passConfidence}, tolerance ${d.c.tolerance}, relativeTolerance ${d.c.relativeTolerance}, baselineWindow ${dur(d.c.baselineWindowMs)}; minRequests ${d.a.minRequests}; failureLimit ${d.a.failureLimit}; inconclusiveLimit ${d.a.inconclusiveLimit}; checkInterval ${dur(d.a.checkIntervalMs)}). Each check reads the counts of the two windows the planner names, as \`src/controller/prometheus-analyzer.ts\` does: the release so far (canary since its first step; stable over the same time plus its ${dur(d.c.baselineWindowMs)} baseline before) and the step so far (stable over at least the baseline window). A Rollout paused for want of evidence is still judged, and goes on by itself if the evidence comes, but is never promoted without it. The headline column has no threshold metric; **Fledge + max 1%** adds \`{name: error-rate, template: istio-error-rate, max: ${STATIC_MAX_ERROR_RATE}}\`, its value the canary's error rate over the step's window.
- **Flagger** (threshold 5): every \`interval: 1m\`, rollback if failedChecks ≥ \`threshold\`, else the builtin \`request-success-rate\` (\`thresholdRange.min: 99\`, metric \`interval: 1m\`) is checked; below 99 %, or no value (no canary request in the minute: 0/0 is NaN, reported as "no values found"), the check fails, failedChecks grows (it is not reset by later passes) and the weight holds; a pass moves to the next \`stepWeights\` entry, or promotes from the last one. Flagger's code default for \`threshold\` is 1 (\`GetAnalysisThreshold\`); 5 is the value its tutorials use, and the one modelled.
- **Argo Rollouts**: background analysis, success rate over \`[1m]\` every \`interval: 1m\` from the start, \`successCondition: result[0] >= 0.99\`, \`failureLimit\` default 0 (the first failed measurement aborts), \`consecutiveErrorLimit\` default 4; steps \`setWeight\` + \`pause: {duration: 1m}\` advance on time. No canary request in the window: NaN, which fails \`>= 0.99\`; before the canary's first request ever, an empty result, where \`result[0]\` is an Error (five in a row abort).

Sources: Flagger \`pkg/controller/scheduler.go\` (threshold check before the analysis, failedChecks only grows), \`pkg/controller/scheduler_metrics.go\` (no values → halt, counted as a failed check), \`pkg/apis/flagger/v1beta1/canary.go\` (\`GetAnalysisThreshold\` default 1, interval default 60 s), fluxcd/flagger#1095 (NaN treated as no values), the metrics docs (https://fluxcd.io/flagger/usage/metrics: \`request-success-rate\`, \`interval: 1m\`, \`thresholdRange.min: 99\`); Argo Rollouts \`pkg/apis/rollouts/v1alpha1/analysis_types.go\` (failureLimit default 0, inconclusiveLimit 0, consecutiveErrorLimit 4), \`docs/features/analysis.md\` ("Handling Metric Results": NaN fails \`result >= 0.95\`, empty results need \`len(result)\`), argoproj/argo-rollouts#1466 (empty result → \`slice index out of range\` Error → aborted).

### Targets (issue #15)

${v.map((x) => `- ${x.line}`).join('\n')}

### Healthy canary (stable and canary both at ${STABLE * 100} % errors)

${healthyTable(results, judges)}

### Bad canaries: rolled back before promotion · median time to rollback from the start

Each cell: share rolled back · their median time from the start, then the share promoted; the rest had no decision at 30 min (for Fledge: waiting for evidence, or paused for a person).

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
  const missed = targets(results).filter((v) => !v.met);
  process.stdout.write(`${missed.length === 0 ? 'every target met' : `${missed.length} target(s) missed`}\n`);
  if (!flag('--no-write')) process.stdout.write(`written to ${writeSection(text)}\n`);

  if (flag('--explore')) {
    const ex = runGrid(EXPLORE, RUNS);
    const keys = [FLEDGE, ...EXPLORE.map((e) => e.key)];
    const all: Results = new Map([...results, ...ex.results]);
    process.stdout.write(`\n### Fledge under other settings (not written)\n\n${healthyTable(all, keys)}\n\n${badTable(all, keys)}\n`);
  }
}

main();
