#!/usr/bin/env bash
# Builds the local control plane used by the integration tests and `fledge demo`:
# etcd, kube-apiserver and kube-controller-manager from Go modules (no release downloads
# are reachable from CI), plus Istio's CRDs. Outputs live outside the repo, keyed by version,
# because they are ~200 MB and must never be committed.
set -euo pipefail

K8S_VERSION=v1.36.3
ISTIO_API_VERSION=v1.31.4
CACHE_DIR="${FLEDGE_CACHE_DIR:-$HOME/.cache/fledge}/k8s-${K8S_VERSION}"
BIN_DIR="$CACHE_DIR/bin"
CRDS="$CACHE_DIR/istio-crds.yaml"
BINARIES=(etcd kube-apiserver kube-controller-manager)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PATH="/usr/local/go/bin:$PATH"

heartbeat=""
fail() {
  [[ -n "$heartbeat" ]] && kill "$heartbeat" 2>/dev/null
  echo "build.sh: ERROR: $*" >&2
  echo "build.sh: finished outputs are kept; run the same command again to resume from there." >&2
  echo "build.sh: cache: $CACHE_DIR (delete it to start over)" >&2
  exit 1
}
trap 'fail "command failed at line $LINENO (exit $?): $BASH_COMMAND"' ERR

all_present=1
for b in "${BINARIES[@]}"; do [[ -x "$BIN_DIR/$b" ]] || all_present=0; done
[[ -s "$CRDS" ]] || all_present=0
if [[ $all_present == 1 ]]; then
  echo "build.sh: up to date: $CACHE_DIR"
  exit 0
fi

command -v go >/dev/null || fail "go not found (expected /usr/local/go/bin/go)"
echo "build.sh: using $(go version)"
mkdir -p "$BIN_DIR"
cd "$here"

# Without these the server reports v0.0.0-master and clients print skew warnings.
major="${K8S_VERSION#v}"; major="${major%%.*}"
minor="${K8S_VERSION#v*.}"; minor="${minor%%.*}"
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${K8S_VERSION}"
ldflags+=" -X k8s.io/component-base/version.gitMajor=${major} -X k8s.io/component-base/version.gitMinor=${minor}"

echo "build.sh: downloading Go modules (cold: several minutes, ~700 MB)"
go mod download

for b in "${BINARIES[@]}"; do
  if [[ -x "$BIN_DIR/$b" ]]; then
    echo "build.sh: $b already built"
    continue
  fi
  echo "build.sh: building $b (cold: 2-10 min on a quiet 2-core machine, up to 30 under load)"
  start=$SECONDS
  # Build to a temp name and rename, so an interrupted build never leaves a broken binary
  # that the "all outputs exist" check above would accept.
  # go build prints nothing for minutes: a heartbeat shows the build is alive on a busy machine.
  ( while sleep 60; do echo "build.sh: still building $b ($(( (SECONDS - start) / 60 )) min)"; done ) &
  heartbeat=$!
  go build -trimpath -ldflags "$ldflags" -o "$BIN_DIR/.$b.tmp" "./cmd/$b"
  kill "$heartbeat" 2>/dev/null || true
  wait "$heartbeat" 2>/dev/null || true
  mv -f "$BIN_DIR/.$b.tmp" "$BIN_DIR/$b"
  echo "build.sh: built $BIN_DIR/$b in $((SECONDS - start)) s"
done

if [[ ! -s "$CRDS" ]]; then
  dir="$(go mod download -json "istio.io/api@${ISTIO_API_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  src="$dir/kubernetes/customresourcedefinitions.gen.yaml"
  [[ -n "$dir" && -s "$src" ]] || fail "Istio CRDs not found at '$src'"
  cp "$src" "$CRDS.tmp"
  chmod 644 "$CRDS.tmp" # the module cache is read-only
  mv -f "$CRDS.tmp" "$CRDS"
  echo "build.sh: copied Istio CRDs to $CRDS"
fi

# Read whole outputs, never `cmd | head` (under pipefail, head exiting first kills cmd with
# SIGPIPE and fails the build at its very end).
"$BIN_DIR/kube-apiserver" --version
etcd_version="$("$BIN_DIR/etcd" --version)"
echo "${etcd_version%%$'\n'*}"
echo "build.sh: done: $CACHE_DIR"
