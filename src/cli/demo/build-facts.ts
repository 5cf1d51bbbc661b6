/**
 * What building the local control plane takes, said the same way by `fledge demo --help`, its
 * prerequisite check and its progress line (no imports: `--help` loads this).
 */

/** test/cluster/go.mod's `go` directive: an older Go cannot build it without fetching a toolchain (tested). */
export const GO_NEEDED = '1.26';

/** Measured (README, "Prerequisites for the tests"): 8 min 20 s cold at load ~9, up to 45 min at load 13-16. */
export const CONTROL_PLANE_BUILD_TIME = '~10 minutes on a 2-core machine, up to 45 when it is busy';
