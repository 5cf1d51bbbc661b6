/**
 * The real CLI, run as a child process the way a user runs it: `node bin/fledge.js ...` on the
 * built dist/. Asserts on exit codes, on stdout parsed as YAML, and on stderr lines.
 */
import { describe, expect, it } from 'vitest';
import { cliTestFiles, expectNoStackTrace, fledge, lines } from '../support/cli.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { EXAMPLES, REPO, exampleObject, exampleText, minimalRollout } from './fixtures.ts';

const { dir, file } = cliTestFiles('fledge-cli-');

interface Obj { kind: string; metadata: { name: string; namespace?: string }; spec: Record<string, unknown> }
interface Route { name: string; route: { destination: { host: string; subset: string; port?: { number: number } }; weight: number }[]; match?: unknown[] }

function renderedObjects(stdout: string): Obj[] {
  const docs = parseAllDocuments(stdout);
  for (const d of docs) expect(d.errors).toEqual([]);
  return docs.map((d) => d.toJS() as Obj);
}

describe('fledge render', () => {
  it('prints the DestinationRule and VirtualService of the httpping example at its first step', () => {
    const run = fledge(['render', '-f', 'examples/httpping-mesh.yaml']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const objs = renderedObjects(run.stdout);
    expect(objs.map((o) => o.kind)).toEqual(['DestinationRule', 'VirtualService']);

    const dr = objs[0]!;
    expect(dr.metadata).toMatchObject({ name: 'httpping-without-sidecar-destination', namespace: 'infra-lab' });
    expect(dr.spec.host).toBe('httpping-without-sidecar');
    expect(dr.spec.subsets).toEqual([
      { name: 'v1', labels: { app: 'httpping-without-sidecar', version: 'v1' } },
      { name: 'v2', labels: { app: 'httpping-without-sidecar', version: 'v2' } },
    ]);
    expect(dr.spec.trafficPolicy).toEqual({ loadBalancer: { consistentHash: { httpHeaderName: 'foo' } } });

    const vs = objs[1]!;
    expect(vs.metadata.name).toBe('httpping-without-sidecar');
    expect(vs.spec.hosts).toEqual(['httpping-without-sidecar']);
    expect(vs.spec.gateways).toEqual(['mesh']);
    const [primary] = vs.spec.http as Route[];
    expect(primary!.match).toEqual([{ uri: { prefix: '/' } }]);
    expect(primary!.route).toEqual([
      { destination: { host: 'httpping-without-sidecar', subset: 'v1', port: { number: 8080 } }, weight: 90 },
      { destination: { host: 'httpping-without-sidecar', subset: 'v2', port: { number: 8080 } }, weight: 10 },
    ]);
  });

  it.each<[string, string, number, number]>([
    ['--weight 35', '35', 65, 35],
    ['--weight 0', '0', 100, 0],
    ['--weight 100', '100', 0, 100],
  ])('%s gives stable %d / canary %d', (_name, weight, stable, canary) => {
    const run = fledge(['render', '-f', 'examples/httpping-mesh.yaml', '--weight', weight]);
    expect(run.code).toBe(0);
    const vs = renderedObjects(run.stdout).find((o) => o.kind === 'VirtualService')!;
    const [primary] = vs.spec.http as Route[];
    expect(primary!.route.map((d) => [d.destination.subset, d.weight])).toEqual([['v1', stable], ['v2', canary]]);
  });

  it('accepts -w and --weight=N', () => {
    for (const args of [['-w', '35'], ['--weight=35']]) {
      const run = fledge(['render', '-f', 'examples/staff-safe-risky.yaml', ...args]);
      expect(run.code).toBe(0);
      const vs = renderedObjects(run.stdout).find((o) => o.kind === 'VirtualService')!;
      expect((vs.spec.http as Route[])[0]!.route.map((d) => d.weight)).toEqual([65, 35]);
    }
  });

  it.each(['101', 'abc', '1.5', '-1', '', '1e2', ' 5'])('--weight=%j exits 2 naming --weight', (weight) => {
    const run = fledge(['render', '-f', 'examples/httpping-mesh.yaml', `--weight=${weight}`]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('--weight');
    expectNoStackTrace(run);
  });

  it.each(['101', 'abc'])('--weight %s (separate argument) exits 2 naming --weight', (weight) => {
    const run = fledge(['render', '-f', 'examples/httpping-mesh.yaml', '--weight', weight]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--weight');
    expect(lines(run.stderr)).toHaveLength(1);
  });

  it.each(EXAMPLES.map((e) => [e] as const))('renders %s with weights summing to 100 on every route', (name) => {
    const run = fledge(['render', '-f', `examples/${name}`]);
    expect(run.code).toBe(0);
    const objs = renderedObjects(run.stdout);
    const meta = exampleObject(name).metadata as { namespace: string };
    for (const o of objs) expect(o.metadata.namespace).toBe(meta.namespace);
    const vs = objs.find((o) => o.kind === 'VirtualService')!;
    for (const route of vs.spec.http as Route[]) expect(route.route.reduce((a, d) => a + d.weight, 0)).toBe(100);
  });

  it('reads the Rollout from standard input with -f -', () => {
    const run = fledge(['render', '-f', '-'], { input: exampleText('staff-safe-risky.yaml') });
    expect(run.code).toBe(0);
    const vs = renderedObjects(run.stdout).find((o) => o.kind === 'VirtualService')!;
    expect((vs.spec.http as Route[])[0]!.route.map((d) => [d.destination.subset, d.weight])).toEqual([['safe', 90], ['risky', 10]]);
  });

  it('refuses an invalid Rollout with exit 1 and its problems, printing no objects', () => {
    const doc = minimalRollout();
    (doc.spec.strategy as { steps: number[] }).steps = [10, 150];
    const path = file('render-bad.yaml', stringify(doc));
    const run = fledge(['render', '-f', path]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(lines(run.stderr)).toEqual([`${path}: spec.strategy.steps[1]: must be between 0 and 100`]);
  });
});

describe('fledge validate', () => {
  it.each(EXAMPLES.map((e) => [e] as const))('exits 0 on %s', (name) => {
    const run = fledge(['validate', '-f', `examples/${name}`]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('is valid');
  });

  it('exits 1 on an invalid file, printing every problem as FILE: path: message', () => {
    const doc = minimalRollout();
    (doc.spec.strategy as { steps: number[] }).steps = [10, 50, 150];
    (doc.spec.service as { port: number }).port = 0;
    (doc.spec.stable as { labels: Record<string, string> }).labels = { version: 'v1"} or vector(1)' };
    const path = file('invalid.yaml', stringify(doc));
    const run = fledge(['validate', '-f', path]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(lines(run.stderr).sort()).toEqual([
      `${path}: spec.service.port: must be between 1 and 65535`,
      `${path}: spec.stable.labels.version: label value must be at most 63 letters, digits, "-", "_" or "."`,
      `${path}: spec.strategy.steps[2]: must be between 0 and 100`,
    ]);
    expectNoStackTrace(run);
  });

  it('reports cross-field problems the same way', () => {
    const doc = minimalRollout();
    (doc.spec.canary as { labels: Record<string, string> }).labels = { version: 'v1' };
    doc.spec.strategy = { steps: [10], stepWeight: 10 };
    const path = file('cross.yaml', stringify(doc));
    const run = fledge(['validate', '-f', path]);
    expect(run.code).toBe(1);
    expect(lines(run.stderr).sort()).toEqual([
      `${path}: spec.canary.labels: must differ from spec.stable.labels`,
      `${path}: spec.strategy: set either steps or stepWeight, not both`,
    ]);
  });

  it('says offline what the controller says of a Rollout aiming its Prometheus reads or credentials', () => {
    const doc = minimalRollout();
    doc.spec.analysis = { prometheus: { address: 'http://169.254.169.254/latest/meta-data', auth: { type: 'bearer', file: '/var/run/secrets/kubernetes.io/serviceaccount/token' } } };
    const path = file('aimed.yaml', stringify(doc));
    const run = fledge(['validate', '-f', path]);
    expect(run.code).toBe(1);
    expect(lines(run.stderr).map((l) => l.slice(path.length + 2, l.indexOf(':', path.length + 2)))).toEqual([
      'spec.analysis.prometheus.auth.file', 'spec.analysis.prometheus.address',
    ]);
    expect(run.stderr).toMatch(/auth\.file: a Rollout may not name a credential file: .*--prometheus-config/);
    expect(run.stderr).toMatch(/address: a Rollout's own address is queried only where the platform team allows it .*by default nothing is allowed/);
    expectNoStackTrace(run);
  });

  // [what, file content, expected stderr lines (with FILE for the path), exit code]
  it.each<[string, string, RegExp[], number]>([
    ['broken YAML', 'apiVersion: fledge.dev/v1alpha1\nspec: [unclosed\n', [/^FILE: line \d+: broken YAML: \S/], 1],
    ['duplicate keys', 'kind: Rollout\nkind: Rollout\n', [/^FILE: line 2: broken YAML: .*unique/], 1],
    ['an empty file', '', [/^FILE: \(document\): the file holds no YAML document$/], 1],
    ['a file with only comments', '# nothing here\n', [/^FILE: \(document\): the file holds no YAML document$/], 1],
    ['a wrong kind', 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n', [/^FILE: kind: must be Rollout \(got "Deployment"\)$/], 1],
    ['a scalar document', 'hello\n', [/^FILE: \(document\): must be a Rollout object$/], 1],
    ['a list document', '- 1\n- 2\n', [/^FILE: \(document\): must be a Rollout object$/], 1],
    ['a YAML alias bomb', 'a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n', [/^FILE: \(document\): cannot read YAML: /], 1],
  ])('%s: one clear line per problem, no stack trace', (name, text, expected, code) => {
    const path = file(`${name.replace(/\W+/g, '-')}.yaml`, text);
    const run = fledge(['validate', '-f', path]);
    expect(run.code).toBe(code);
    const got = lines(run.stderr);
    expect(got).toHaveLength(expected.length);
    expected.forEach((re, i) => expect(got[i]!.replace(path, 'FILE')).toMatch(re));
    expectNoStackTrace(run);
  });

  it('a multi-document file: each document judged and named FILE#N', () => {
    const bad = minimalRollout();
    bad.kind = 'Rolout';
    const path = file('multi.yaml', `${exampleText('staff-safe-risky.yaml')}---\n${stringify(bad)}`);
    const run = fledge(['validate', '-f', path]);
    expect(run.code).toBe(1);
    expect(lines(run.stdout)).toEqual([`${path}#1: Rollout fleetman-staff-service is valid`]);
    expect(lines(run.stderr)).toEqual([`${path}#2: kind: must be Rollout (got "Rolout")`]);
    expectNoStackTrace(run);
  });

  it('a multi-document file of valid Rollouts exits 0', () => {
    const path = file('multi-ok.yaml', EXAMPLES.map((e) => exampleText(e)).join('---\n'));
    const run = fledge(['validate', '-f', path]);
    expect(run.code).toBe(0);
    expect(lines(run.stdout)).toHaveLength(EXAMPLES.length);
  });

  it('ignores empty documents, such as a trailing ---', () => {
    const path = file('trailing.yaml', `---\n${exampleText('staff-safe-risky.yaml')}---\n`);
    const run = fledge(['validate', '-f', path]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(lines(run.stdout)).toEqual([`${path}: Rollout fleetman-staff-service is valid`]);
  });

  it('a missing file: one line naming it, usage exit code, no stack trace', () => {
    const path = join(dir, 'does-not-exist.yaml');
    const run = fledge(['validate', '-f', path]);
    expect(run.code).toBe(2);
    expect(lines(run.stderr)).toEqual([`fledge validate: ${path}: no such file`]);
    expectNoStackTrace(run);
  });

  it('a directory instead of a file: one line, no stack trace', () => {
    const run = fledge(['validate', '-f', dir]);
    expect(run.code).not.toBe(0);
    expect(lines(run.stderr)).toHaveLength(1);
    expect(run.stderr).toContain(dir);
    expectNoStackTrace(run);
  });

  it.each<[string, string[]]>([
    ['no -f', ['validate']],
    ['an unknown option', ['validate', '-f', 'examples/staff-safe-risky.yaml', '--strict']],
    ['-f without a value', ['validate', '-f']],
  ])('%s exits 2', (_name, args) => {
    const run = fledge(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^fledge validate: /);
    expectNoStackTrace(run);
  });
});

describe('fledge', () => {
  it('--version prints the package.json version', () => {
    const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    const run = fledge(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(version);
  });

  it.each([['frobnicate', 'command'], ['--frobnicate', 'option'], ['Render', 'command']])('unknown %s exits 2, naming it', (cmd, what) => {
    const run = fledge([cmd]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`fledge: unknown ${what} '${cmd}'`);
    expect(run.stderr).toContain("Run 'fledge --help' for usage.");
    expect(run.stdout).toBe('');
    expectNoStackTrace(run);
  });

  it('without a command prints usage and exits 2; --help exits 0', () => {
    const none = fledge([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: fledge COMMAND');
    const help = fledge(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: fledge COMMAND');
    expect(help.stdout).toMatch(/^ {2}render\b/m);
  });
});
