import { ANNOTATIONS } from './constants.ts';

/**
 * What an operator asked for through `fledge promote|abort|pause|resume`. Promote, abort and
 * resume carry the release (and step) they were meant for, so a request left behind on the object
 * never acts on a later release.
 */
export interface OperatorRequests {
  paused: boolean;
  promote?: string;
  abort?: string;
  resume?: { release: string; stepIndex: number };
}

export function readRequests(annotations: Record<string, string> | undefined): OperatorRequests {
  const a = annotations ?? {};
  const resume = a[ANNOTATIONS.resume]?.match(/^([0-9a-f]+)\/([0-9]+)$/);
  return {
    paused: a[ANNOTATIONS.paused] === 'true',
    ...(a[ANNOTATIONS.promote] ? { promote: a[ANNOTATIONS.promote] } : {}),
    ...(a[ANNOTATIONS.abort] ? { abort: a[ANNOTATIONS.abort] } : {}),
    ...(resume ? { resume: { release: resume[1]!, stepIndex: Number(resume[2]) } } : {}),
  };
}

export function resumeValue(release: string, stepIndex: number): string {
  return `${release}/${stepIndex}`;
}
