#!/usr/bin/env bash
# Builds Helm (v4.2.4) from Go modules for the chart tests (test/integration/helm-chart.test.ts),
# and copies the ServiceMonitor and PodMonitor CRDs out of prometheus-operator's module, so that
# a server-side dry run of the chart's monitoring option has the kinds it names. Release
# downloads are not reachable from CI: the wrapper module beside this script pins every
# requirement (go.mod + go.sum committed). Outputs (~60 MB, never committed) live outside the
# repo, keyed by version. Cold: ~5-15 min on a loaded 2-core machine; warm: up to date in < 1 s.
set -euo pipefail

HELM_VERSION=v4.2.4
PROMETHEUS_OPERATOR_VERSION=v0.90.1
CACHE_DIR="${FLEDGE_CACHE_DIR:-$HOME/.cache/fledge}/helm-${HELM_VERSION}"
BIN_DIR="$CACHE_DIR/bin"
CRD_DIR="$CACHE_DIR/crds"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PATH="/usr/local/go/bin:$PATH"

heartbeat=""
fail() {
  [[ -n "$heartbeat" ]] && kill "$heartbeat" 2>/dev/null
  echo "helm build.sh: ERROR: $*" >&2
  echo "helm build.sh: finished outputs are kept; run the same command again to resume from there." >&2
  exit 1
}
trap 'fail "command failed at line $LINENO (exit $?): $BASH_COMMAND"' ERR

if [[ -x "$BIN_DIR/helm" && -s "$CRD_DIR/.complete" ]]; then
  echo "helm build.sh: up to date: $CACHE_DIR"
  exit 0
fi

command -v go >/dev/null || fail "go not found (expected /usr/local/go/bin/go)"
mkdir -p "$BIN_DIR" "$CRD_DIR"
cd "$here"

if [[ ! -x "$BIN_DIR/helm" ]]; then
  echo "helm build.sh: downloading Go modules"
  go mod download
  echo "helm build.sh: building helm $HELM_VERSION with $(go version) (cold: 5-15 min)"
  start=$SECONDS
  ( while sleep 60; do echo "helm build.sh: still building helm ($(( (SECONDS - start) / 60 )) min)"; done ) &
  heartbeat=$!
  # Helm prints its version from these; without them `helm version` says v4.0+unreleased.
  ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=${HELM_VERSION}"
  # To a temp name, then rename: an interrupted build never leaves a binary the check above accepts.
  go build -trimpath -ldflags "$ldflags" -o "$BIN_DIR/.helm.tmp" helm.sh/helm/v4/cmd/helm
  kill "$heartbeat" 2>/dev/null || true
  wait "$heartbeat" 2>/dev/null || true
  heartbeat=""
  mv -f "$BIN_DIR/.helm.tmp" "$BIN_DIR/helm"
  echo "helm build.sh: built $BIN_DIR/helm in $((SECONDS - start)) s"
fi

# prometheus-operator's root module ships its CRDs (example/prometheus-operator-crd); it is
# downloaded, not built. Run outside this module so its go.sum needs no entry for it.
dir="$(cd / && go mod download -json "github.com/prometheus-operator/prometheus-operator@${PROMETHEUS_OPERATOR_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
[[ -n "$dir" && -d "$dir/example/prometheus-operator-crd" ]] || fail "CRDs of prometheus-operator not found under '$dir'"
for kind in servicemonitors podmonitors; do
  f="$dir/example/prometheus-operator-crd/monitoring.coreos.com_${kind}.yaml"
  cp "$f" "$CRD_DIR/.tmp"
  chmod 644 "$CRD_DIR/.tmp"
  mv -f "$CRD_DIR/.tmp" "$CRD_DIR/$(basename "$f")"
done
ls "$CRD_DIR"/*.yaml > "$CRD_DIR/.complete"
echo "helm build.sh: done: $CACHE_DIR"
