#!/usr/bin/env bash
# Builds Flux's source-controller and kustomize-controller (v1.9.6) from Go modules for the
# GitOps end-to-end test (test/e2e/flux.test.ts). Release downloads are not reachable from CI,
# so the wrapper modules beside this script pin every requirement (go.mod + go.sum committed).
# Outputs (~380 MB, never committed) live outside the repo, keyed by version.
# Cold: ~40 min on a loaded 2-core machine (kustomize-controller ~25, source-controller ~15,
# the second reusing the first's build cache); warm: up to date in < 1 s.
set -euo pipefail

FLUX_VERSION=v1.9.6
CACHE_DIR="${FLEDGE_CACHE_DIR:-$HOME/.cache/fledge}/flux-${FLUX_VERSION}"
BIN_DIR="$CACHE_DIR/bin"
CRD_DIR="$CACHE_DIR/crds"
CONTROLLERS=(kustomize-controller source-controller)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PATH="/usr/local/go/bin:$PATH"

heartbeat=""
fail() {
  [[ -n "$heartbeat" ]] && kill "$heartbeat" 2>/dev/null
  echo "flux build.sh: ERROR: $*" >&2
  echo "flux build.sh: finished outputs are kept; run the same command again to resume from there." >&2
  echo "flux build.sh: cache: $CACHE_DIR (delete it to start over)" >&2
  exit 1
}
trap 'fail "command failed at line $LINENO (exit $?): $BASH_COMMAND"' ERR

all_present=1
for c in "${CONTROLLERS[@]}"; do [[ -x "$BIN_DIR/$c" ]] || all_present=0; done
[[ -s "$CRD_DIR/.complete" ]] || all_present=0
if [[ $all_present == 1 ]]; then
  echo "flux build.sh: up to date: $CACHE_DIR"
  exit 0
fi

command -v go >/dev/null || fail "go not found (expected /usr/local/go/bin/go)"
echo "flux build.sh: using $(go version)"
mkdir -p "$BIN_DIR" "$CRD_DIR"

for c in "${CONTROLLERS[@]}"; do
  if [[ -x "$BIN_DIR/$c" ]]; then
    echo "flux build.sh: $c already built"
    continue
  fi
  cd "$here/$c"
  echo "flux build.sh: downloading Go modules for $c"
  go mod download
  echo "flux build.sh: building $c $FLUX_VERSION (cold: 15-25 min on a loaded 2-core machine)"
  start=$SECONDS
  ( while sleep 60; do echo "flux build.sh: still building $c ($(( (SECONDS - start) / 60 )) min)"; done ) &
  heartbeat=$!
  # To a temp name, then rename: an interrupted build never leaves a binary the check above accepts.
  go build -trimpath -ldflags "-s -w" -o "$BIN_DIR/.$c.tmp" "github.com/fluxcd/$c"
  kill "$heartbeat" 2>/dev/null || true
  wait "$heartbeat" 2>/dev/null || true
  heartbeat=""
  mv -f "$BIN_DIR/.$c.tmp" "$BIN_DIR/$c"
  echo "flux build.sh: built $BIN_DIR/$c in $((SECONDS - start)) s"
done

# The CRDs ship in each controller's module (config/crd/bases); copy them out of the read-only
# module cache so the test applies exactly the version it runs.
for c in "${CONTROLLERS[@]}"; do
  cd "$here/$c"
  dir="$(go mod download -json "github.com/fluxcd/$c@${FLUX_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -n "$dir" && -d "$dir/config/crd/bases" ]] || fail "CRDs of $c not found under '$dir'"
  for f in "$dir"/config/crd/bases/*.yaml; do
    cp "$f" "$CRD_DIR/.tmp"
    chmod 644 "$CRD_DIR/.tmp"
    mv -f "$CRD_DIR/.tmp" "$CRD_DIR/$(basename "$f")"
  done
done
ls "$CRD_DIR"/*.yaml > "$CRD_DIR/.complete"
echo "flux build.sh: done: $CACHE_DIR"
