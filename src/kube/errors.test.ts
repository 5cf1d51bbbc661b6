import { describe, expect, it } from 'vitest';
import { KubeApiError } from './errors.ts';

describe('KubeApiError classification', () => {
  it.each<[string, number, string, string, boolean, boolean]>([
    // what, status, verb, message, isStale, isRefused
    ['a conflict', 409, 'apply', 'Operation cannot be fulfilled: the object has been modified', true, false],
    ['a failed JSON patch test', 422, 'patch', 'the server rejected our request due to an error in our request', true, false],
    ['Istio\'s schema refusing an apply', 422, 'apply', 'VirtualService.networking.istio.io "web" is invalid: spec.http[0].timeout: Invalid value', false, false],
    ['a ValidatingAdmissionPolicy on an apply', 422, 'apply', 'virtualservices.networking.istio.io "web" is forbidden: ValidatingAdmissionPolicy \'p\' with binding \'b\' denied request: no', false, true],
    ['a ValidatingAdmissionPolicy on a JSON patch', 422, 'patch', 'ValidatingAdmissionPolicy \'p\' with binding \'b\' denied request: no', false, true],
    ['an admission webhook', 400, 'apply', 'admission webhook "validate.istio.io" denied the request: configuration is invalid', false, true],
    ['RBAC', 403, 'apply', 'virtualservices.networking.istio.io "web" is forbidden: User "system:serviceaccount:x:y" cannot patch resource', false, true],
    ['a bad request that is not a denial', 400, 'apply', 'the body of the request was in an unknown format', false, false],
    ['throttling', 429, 'apply', 'Too many requests', false, false],
    ['a server error', 500, 'apply', 'Internal error occurred', false, false],
  ])('%s', (_what, status, verb, message, stale, refused) => {
    const err = new KubeApiError(status, '', message, verb);
    expect(err.isStale).toBe(stale);
    expect(err.isRefused).toBe(refused);
  });
});
