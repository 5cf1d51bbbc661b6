/**
 * What the Istio router knows of its mesh beyond rendering: the routing it reads back from live
 * objects (round trip with what it renders), and what an API server's refusal of a dry run of
 * its objects says about the Rollout (which field, or a refusal that may be lifted).
 */
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/api/object.ts';
import { istioRouter } from '../../src/router/istio/render.ts';
import { minimalRollout, resolveValid } from './fixtures.ts';

const r = resolveValid(minimalRollout());
const routing = { stableLabels: { version: 'v1' }, canaryLabels: { version: 'v2' }, canaryWeight: 30 };
const rendered = (w = routing) => {
  const [destinationRule, virtualService] = istioRouter.desiredObjects(r, w) as [KubeObject, KubeObject];
  return { destinationRule, virtualService };
};

describe('istioRouter.liveRouting', () => {
  it.each([0, 1, 50, 99, 100])('reads back the routing it rendered at canary weight %i', (canaryWeight) => {
    expect(istioRouter.liveRouting(r, rendered({ ...routing, canaryWeight }))).toEqual({ ...routing, canaryWeight });
  });

  const withWeight = (weight: unknown): KubeObject => {
    const vs = structuredClone(rendered().virtualService);
    ((vs.spec!.http as { route: { weight: unknown }[] }[])[0]!.route[1]!).weight = weight;
    return vs;
  };
  it.each<[string, () => Parameters<typeof istioRouter.liveRouting>[1]]>([
    ['no VirtualService', () => ({ destinationRule: rendered().destinationRule })],
    ['no DestinationRule', () => ({ virtualService: rendered().virtualService })],
    ['a weight that is not an integer', () => ({ ...rendered(), virtualService: withWeight(12.5) })],
    ['a weight above 100', () => ({ ...rendered(), virtualService: withWeight(101) })],
    ['a weight that is text', () => ({ ...rendered(), virtualService: withWeight('10') })],
  ])('is undefined (nothing of ours to protect) with %s', (_what, live) => {
    expect(istioRouter.liveRouting(r, live())).toBeUndefined();
  });

  it('is undefined for an adopted DestinationRule (never written, so its labels count as right)', () => {
    const adopted = resolveValid({ ...minimalRollout(), spec: { ...minimalRollout().spec, trafficRouting: { destinationRule: { ref: 'web-dr' } } } });
    expect(istioRouter.liveRouting(adopted, rendered())).toBeUndefined();
  });
});

describe('istioRouter.admissionVerdict', () => {
  const withMatch = resolveValid({ ...minimalRollout(), spec: { ...minimalRollout().spec, trafficRouting: { virtualService: { match: [{ uri: { prefix: '/api' } }] } } } });
  it.each<[string, typeof r, string, number, string, string | undefined]>([
    ['a schema refusal of the hosts', r, 'VirtualService', 422, 'VirtualService.networking.istio.io "web" is invalid: spec.hosts[0]: Invalid value', 'spec.trafficRouting.virtualService.hosts'],
    ['a schema refusal of the gateways', r, 'VirtualService', 422, 'spec.gateways[0]: Invalid value', 'spec.trafficRouting.virtualService.gateways'],
    ['a schema refusal of a match', withMatch, 'VirtualService', 422, 'spec.http[0].match[0].uri: Invalid value', 'spec.trafficRouting.virtualService.match'],
    ['a value of the wrong type (server-side apply\'s 500)', r, 'VirtualService', 500, 'failed to create typed patch object: .spec.http[0].timeout: expected string', 'spec.trafficRouting.virtualService'],
    ['istiod\'s validating webhook', r, 'DestinationRule', 400, 'admission webhook "validation.istio.io" denied the request: invalid subset', 'spec.trafficRouting.destinationRule'],
  ])('%s names the Rollout field', (_what, rollout, kind, status, message, path) => {
    const verdict = istioRouter.admissionVerdict(rollout, kind, status, message);
    expect(verdict).toMatchObject({ path });
    expect(typeof verdict === 'object' && verdict.message).toContain(message.slice(0, 40));
  });

  it.each<[string, number, string]>([
    ['another admission webhook', 400, 'admission webhook "policy.example.com" denied the request: no canaries on Fridays'],
    ['a ValidatingAdmissionPolicy', 422, 'ValidatingAdmissionPolicy \'no-weights\' with binding \'b\' denied request: weights are frozen'],
    ['RBAC', 403, 'virtualservices.networking.istio.io "web" is forbidden: User cannot patch resource'],
  ])('%s may be lifted without a change to the Rollout', (_what, status, message) => {
    expect(istioRouter.admissionVerdict(r, 'VirtualService', status, message)).toBe('lifted');
  });

  it.each<[string, number, string]>([
    ['a conflict', 409, 'Operation cannot be fulfilled'],
    ['an API server fault', 503, 'the server is currently unable to handle the request'],
  ])('%s is no verdict on the object', (_what, status, message) => {
    expect(istioRouter.admissionVerdict(r, 'VirtualService', status, message)).toBeUndefined();
  });
});
