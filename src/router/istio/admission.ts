import type { ResolvedRollout } from '../../api/resolve.ts';
import type { Problem } from '../../api/validate.ts';
import type { AdmissionVerdict } from '../types.ts';

/**
 * What the API server's refusal of a dry-run apply of a generated object says about the Rollout.
 * 422 (or 400): the schema refused a value. Server-side apply answers a value of the wrong type
 * or a field the schema does not declare with a 500 "failed to create typed patch object".
 * istiod's validating webhook (validation.istio.io) judges the content too. Any other admission
 * policy or webhook, or RBAC (403), may be lifted without a change to the Rollout: not the
 * Rollout's fault ('lifted'). Anything else is no verdict on the object (undefined).
 */
export function admissionVerdict(r: ResolvedRollout, kind: string, status: number, message: string): AdmissionVerdict | undefined {
  const denied = /\bdenied\b/i.test(message);
  const istio = denied && /validation\.istio\.io/.test(message);
  const schema = !denied && (status === 422 || status === 400 || (status === 500 && message.includes('failed to create typed patch object')));
  if ((denied && !istio) || status === 403) return 'lifted';
  if (!schema && !istio) return undefined;
  const problem: Problem = { path: refusedField(r, kind, message), message: `${istio ? 'Istio\'s validation' : 'Istio\'s schema'} refuses the ${kind} it would make: ${message.slice(0, 400)}` };
  return problem;
}

/** The Rollout field behind the part of a generated object the API server refused. */
function refusedField(r: ResolvedRollout, kind: string, message: string): string {
  if (kind === 'DestinationRule') return r.destinationRule.mode === 'generated' && r.destinationRule.trafficPolicy && /trafficPolicy/.test(message) ? 'spec.trafficRouting.destinationRule.trafficPolicy' : 'spec.trafficRouting.destinationRule';
  const vs = r.virtualService;
  if (vs.mode !== 'generated') return 'spec.trafficRouting.virtualService';
  // The cookie conditions and Set-Cookie headers are sessionAffinity's (router/istio/affinity.ts).
  if (r.sessionAffinity && /headers\.(cookie|response)|set-cookie/i.test(message)) return 'spec.trafficRouting.sessionAffinity';
  if (/spec\.http\[[0-9]+\]\.match/.test(message) && vs.match) return 'spec.trafficRouting.virtualService.match';
  if (/spec\.hosts/.test(message)) return 'spec.trafficRouting.virtualService.hosts';
  if (/spec\.gateways/.test(message)) return 'spec.trafficRouting.virtualService.gateways';
  return vs.http ? 'spec.trafficRouting.virtualService.http' : 'spec.trafficRouting.virtualService';
}
