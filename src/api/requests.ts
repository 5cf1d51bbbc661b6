import { ANNOTATIONS } from './constants.ts';

/**
 * What an operator asked for through `fledge promote|abort|pause|resume|retry`. Promote, abort,
 * resume and retry carry the release (and step) they were meant for, so a request left behind on
 * the object never acts on a later release.
 */
export interface OperatorRequests {
  paused: boolean;
  promote?: string;
  abort?: string;
  resume?: { release: string; stepIndex: number };
  /**
   * `fledge retry`: start this RolledBack release again. `value` is the whole annotation
   * (RELEASE/REQUESTED-AT), unique per request: status.handledRetry remembers the last one handled,
   * so a request acts once and one left on the object never acts again.
   */
  retry?: { release: string; value: string };
}

export function readRequests(annotations: Record<string, string> | undefined): OperatorRequests {
  const a = annotations ?? {};
  const resume = a[ANNOTATIONS.resume]?.match(/^([0-9a-f]+)\/([0-9]+)$/);
  const retry = a[ANNOTATIONS.retry]?.match(/^([0-9a-f]+)\/(\S{1,64})$/);
  return {
    paused: a[ANNOTATIONS.paused] === 'true',
    ...(a[ANNOTATIONS.promote] ? { promote: a[ANNOTATIONS.promote] } : {}),
    ...(a[ANNOTATIONS.abort] ? { abort: a[ANNOTATIONS.abort] } : {}),
    ...(resume ? { resume: { release: resume[1]!, stepIndex: Number(resume[2]) } } : {}),
    ...(retry ? { retry: { release: retry[1]!, value: retry[0] } } : {}),
  };
}

export function resumeValue(release: string, stepIndex: number): string {
  return `${release}/${stepIndex}`;
}

/** The fledge.dev/retry annotation: the release, and when it was asked for (which makes each request unique). */
export function retryValue(release: string, requestedAt: Date): string {
  return `${release}/${requestedAt.toISOString()}`;
}
