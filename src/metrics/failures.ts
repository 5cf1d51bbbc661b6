/**
 * What counts as a failed request in Istio's metrics: defined once, here, for the comparison, the
 * istio-error-rate template and the documentation (README, "How a step is judged"). Pure.
 */

/**
 * gRPC status codes that mean the server failed, as numbers in Istio's `grpc_response_status`.
 * They are the codes the gRPC-to-HTTP mapping turns into a 5xx (Envoy, source/common/grpc/
 * status.cc, Utility::grpcToHttpStatus; google/rpc/code.proto gives the same HTTP equivalents):
 * UNKNOWN (2) -> 500, DEADLINE_EXCEEDED (4) -> 504, UNIMPLEMENTED (12) -> 501, INTERNAL (13) -> 500,
 * UNAVAILABLE (14) -> 503, DATA_LOSS (15) -> 500.
 * RESOURCE_EXHAUSTED (8) is not counted: the mapping gives it 429, which is not counted for HTTP
 * either, so an HTTP and a gRPC service are judged alike. In practice it is rate limiting and
 * per-caller quotas, which fall on canary and stable alike, and counting it would roll back a
 * healthy canary for its callers' quotas. The price: a canary that runs out of its own memory and
 * says so with this code is not caught as errors (its latency or UNAVAILABLE usually is).
 * CANCELLED (1, mapped to 499) is the caller giving up; the other codes are the caller's fault.
 */
export const GRPC_SERVER_ERRORS: Readonly<Record<string, string>> = {
  2: 'UNKNOWN', 4: 'DEADLINE_EXCEEDED', 12: 'UNIMPLEMENTED', 13: 'INTERNAL', 14: 'UNAVAILABLE', 15: 'DATA_LOSS',
};

/**
 * Whether a series of istio_requests_total counts failed requests: the one definition of an error
 * that the comparison, istio-error-rate and the documentation share.
 *  - `response_code` 5xx: the server (or Envoy on its behalf: no healthy upstream, overflow) failed;
 *  - `response_code` "0": no response was sent at all: the caller gave up (a route timeout) or the
 *    connection was reset (Envoy's response flags DC, UC, URX...). Some of these are the caller's
 *    doing, but they happen to stable as much as to a healthy canary, and the comparison is fair
 *    because both subsets count them; a canary that hangs shows up only this way;
 *  - `grpc_response_status` in GRPC_SERVER_ERRORS: gRPC reports failures in trailers over HTTP 200.
 */
export function isFailedRequest(responseCode: string | undefined, grpcStatus: string | undefined): boolean {
  if (responseCode === '0' || /^5\d\d$/.test(responseCode ?? '')) return true;
  return grpcStatus !== undefined && Object.hasOwn(GRPC_SERVER_ERRORS, grpcStatus);
}

/**
 * PromQL label matchers of the failed requests, as disjoint selectors whose sums add up (PromQL
 * has no "or" between the matchers of one selector): the same rule as isFailedRequest().
 */
export const FAILED_REQUEST_MATCHERS: readonly string[] = [
  'response_code=~"5..|0"',
  `response_code!~"5..|0",grpc_response_status=~"${Object.keys(GRPC_SERVER_ERRORS).join('|')}"`,
];
