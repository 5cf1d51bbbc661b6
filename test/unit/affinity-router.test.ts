/**
 * sessionAffinity as the Istio router's own knowledge: the routing read back from a rendered
 * VirtualService ignores the cookie routes (their lone destination carries no step weight), and
 * the objects the API server's dry run judges include a step's cookie routes, each object once;
 * a refusal of the cookie conditions or headers is blamed on sessionAffinity.
 */
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/api/object.ts';
import { isStickyRoute } from '../../src/router/istio/affinity.ts';
import { istioRouter } from '../../src/router/istio/render.ts';
import { minimalRollout, resolveValid } from './fixtures.ts';

function rollout(affinity: boolean) {
  const doc = minimalRollout();
  if (affinity) doc.spec.trafficRouting = { sessionAffinity: { cookieName: 'c' } };
  return resolveValid(doc);
}
const routing = { stableLabels: { version: 'v1' }, canaryLabels: { version: 'v2' }, canaryWeight: 30 };
const routesOf = (o: KubeObject) => (o.spec?.http ?? []) as { name?: string }[];

describe('istioRouter with sessionAffinity', () => {
  it.each([1, 30, 99])('reads back the step weight %i, not the cookie routes\' 100', (canaryWeight) => {
    const r = rollout(true);
    const [destinationRule, virtualService] = istioRouter.desiredObjects(r, { ...routing, canaryWeight }) as [KubeObject, KubeObject];
    expect(routesOf(virtualService).filter((h) => isStickyRoute(h.name))).toHaveLength(2);
    expect(istioRouter.liveRouting(r, { destinationRule, virtualService })).toEqual({ ...routing, canaryWeight });
  });

  it('has the dry run judge a step with cookie routes too, and each object once', () => {
    const vetted = istioRouter.objectsToVet(rollout(true));
    expect(vetted.map((o) => o.kind)).toEqual(['DestinationRule', 'VirtualService', 'VirtualService']);
    expect(vetted.filter((o) => o.kind === 'VirtualService').map((o) => routesOf(o).some((h) => isStickyRoute(h.name)))).toEqual([false, true]);
    expect(istioRouter.objectsToVet(rollout(false)).map((o) => o.kind)).toEqual(['DestinationRule', 'VirtualService']);
  });

  it.each([
    ['spec.http[0].match[0].headers.cookie.regex: Invalid value: "x": too long', 'spec.trafficRouting.sessionAffinity'],
    ['spec.http[2].route[1].headers.response.add: Too many properties', 'spec.trafficRouting.sessionAffinity'],
    ['spec.hosts[0]: Invalid value', 'spec.trafficRouting.virtualService.hosts'],
  ])('blames a refusal of %j on %s', (message, path) => {
    expect(istioRouter.admissionVerdict(rollout(true), 'VirtualService', 422, message)).toMatchObject({ path });
  });

  it('without sessionAffinity, a header refusal is not blamed on it', () => {
    expect(istioRouter.admissionVerdict(rollout(false), 'VirtualService', 422, 'spec.http[0].route[0].headers.response.add: bad')).toMatchObject({ path: 'spec.trafficRouting.virtualService' });
  });
});
