/** Event reasons are constants so that users can alert and filter on them. */
export const REASONS = {
  started: 'RolloutStarted',
  stepAdvanced: 'StepAdvanced',
  promoted: 'Promoted',
  rolledBack: 'RolledBack',
  aborted: 'Aborted',
  paused: 'Paused',
  resumed: 'Resumed',
  restarted: 'Restarted',
  /** A RolledBack release started again from its first step by `fledge retry`. */
  retried: 'Retried',
  /** A `fledge retry` the controller did not act on (another release's, or not RolledBack). */
  retryIgnored: 'RetryIgnored',
  analysisFailed: 'AnalysisFailed',
  analysisInconclusive: 'AnalysisInconclusive',
  /** The canary has no Istio series, with the likely cause (status.lastAnalysis.diagnosis). */
  metricsMissing: 'MetricsMissing',
  invalidSpec: 'InvalidSpec',
  unsafeRelease: 'StableNotServing',
  routingRestored: 'RoutingRestored',
  routingRefused: 'RoutingRefused',
  routingWarning: 'RoutingWarning',
  waiting: 'WaitingForObject',
} as const;

export type Reason = (typeof REASONS)[keyof typeof REASONS];

export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: Reason;
  message: string;
}
