/**
 * `fledge validate` and `fledge render` run the controller's own offline check: what the
 * controller would mark Invalid without a cluster, they refuse, and they print its warnings.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { cliTestFiles, expectNoStackTrace, fledge, lines } from '../support/cli.ts';
import { minimalRollout } from './fixtures.ts';

const { file } = cliTestFiles('fledge-shared-check-');
const GATEWAY_ONLY = 'test/fixtures/routing/gateway-only.yaml';

function withUnknownPlaceholder(): string {
  const doc = minimalRollout();
  doc.spec.analysis = {
    comparison: { enabled: false },
    metrics: [{ name: 'custom', query: 'sum(rate(x{v="{{canary.labels.track}}"}[{{interval}}]))', max: 1 }],
  };
  return stringify(doc);
}

const QUERY_PROBLEM = 'spec.analysis.metrics[0].query: metric "custom": {{canary.labels.track}}: the canary labels have no key "track" (they have version)';

describe('case 5: validate and render refuse what the controller refuses', () => {
  it.each([['validate'], ['render']])('%s: an unknown label placeholder in a query exits 1 naming the field', (command) => {
    const path = file(`query-${command}.yaml`, withUnknownPlaceholder());
    const run = fledge([command, '-f', path]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(lines(run.stderr)).toEqual([`${path}: ${QUERY_PROBLEM}`]);
    expectNoStackTrace(run);
  });

  it('render: duplicate hosts exit 1 with Istio\'s own message, and print no object', () => {
    const doc = minimalRollout();
    doc.spec.trafficRouting = { virtualService: { hosts: ['web', 'web'] } };
    const path = file('dup.yaml', stringify(doc));
    const run = fledge(['render', '-f', path]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(lines(run.stderr)).toEqual([`${path}: spec.trafficRouting.virtualService.hosts[1]: Istio refuses it: duplicate hosts in virtual service: web & web`]);
  });
});

describe('case 3: gateway-only routing is valid, with a warning', () => {
  const warning = `${GATEWAY_ONLY}: warning: spec.trafficRouting.virtualService: in-mesh calls to Service catalog are not steered: the VirtualService is bound to istio-system/public only, not to mesh, so other workloads reach the canary by its share of the pods, not by the step's weight; to split them too, set hosts: [catalog.example.com, catalog] and gateways: [istio-system/public, mesh]`;

  it('validate: exit 0, the warning on stderr, "valid" on stdout', () => {
    const run = fledge(['validate', '-f', GATEWAY_ONLY]);
    expect(run.code).toBe(0);
    expect(lines(run.stderr)).toEqual([warning]);
    expect(lines(run.stdout)).toEqual([`${GATEWAY_ONLY}: Rollout catalog is valid`]);
  });

  it('render: exit 0, the warning on stderr, the objects on stdout (a pipe into istioctl stays clean)', () => {
    const run = fledge(['render', '-f', GATEWAY_ONLY]);
    expect(run.code).toBe(0);
    expect(lines(run.stderr)).toEqual([warning]);
    expect(parseAllDocuments(run.stdout).map((d) => (d.toJS() as { kind: string }).kind)).toEqual(['DestinationRule', 'VirtualService']);
  });
});

describe('case 1: --argocd-ignore-differences on a shared edge VirtualService', () => {
  it('lists the weights of the Rollout\'s own route only', () => {
    const docs = parseAllDocuments(readFileSync('test/fixtures/routing/shared-edge.yaml', 'utf8')).map((d) => d.toJS() as { kind: string });
    const rollout = file('cart.yaml', stringify(docs.find((d) => d.kind === 'Rollout')));
    const vs = file('edge.yaml', stringify(docs.find((d) => d.kind === 'VirtualService')));
    const run = fledge(['render', '-f', rollout, '--virtual-service', vs, '--argocd-ignore-differences']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(parseAllDocuments(run.stdout)[0]!.toJS()).toEqual({
      ignoreDifferences: [{ group: 'networking.istio.io', kind: 'VirtualService', name: 'shop-edge', namespace: 'shop', jsonPointers: ['/spec/http/0/route/0/weight', '/spec/http/0/route/1/weight'] }],
    });
  });
});
