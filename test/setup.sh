#!/usr/bin/env bash
# Runs before `npm test`: makes sure the real components the integration tests start are here.
# Builds the local kube-apiserver/etcd once (cached outside the repo); never installs system
# packages behind your back, but says exactly what is missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# First, before anything slow: the Node.js of package.json's "engines" (22.12 or newer: the test
# runner and the CLI parser, commander, need it; npm ci only warns about it).
node_version="$(node -p 'process.versions.node' 2>/dev/null || echo 0.0.0)"
IFS=. read -r node_major node_minor _ <<<"$node_version"
if [ "${node_major:-0}" -lt 22 ] || { [ "$node_major" -eq 22 ] && [ "${node_minor:-0}" -lt 12 ]; }; then
  echo "test setup: Node.js 22.12 or newer is needed (this is $(node --version 2>/dev/null || echo 'no node'))." >&2
  echo "test setup: fix: npm install --prefix ~/.cache/fledge/node24 node@24 && export PATH=~/.cache/fledge/node24/node_modules/.bin:\$PATH" >&2
  exit 1
fi

if ! command -v prometheus >/dev/null && [ ! -x /usr/bin/prometheus ]; then
  echo "test setup: Prometheus is missing; install Debian's package: apt-get install -y prometheus" >&2
  exit 1
fi
if ! command -v go >/dev/null && [ ! -x /usr/local/go/bin/go ]; then
  cache="${FLEDGE_CACHE_DIR:-$HOME/.cache/fledge}"
  if ! ls "$cache"/k8s-*/bin/kube-apiserver >/dev/null 2>&1; then
    echo "test setup: Go is needed once to build the local kube-apiserver for the tests (https://go.dev/dl)" >&2
    exit 1
  fi
fi
if ! command -v "${LUA:-lua5.1}" >/dev/null; then
  echo "test setup: Lua 5.1 is missing (the Argo CD health check is tested with it); install Debian's package: apt-get install -y lua5.1" >&2
  exit 1
fi
if ! command -v git >/dev/null || [ ! -x /usr/lib/git-core/git-http-backend ]; then
  echo "test setup: git (with git-http-backend) is missing (the Flux test serves a repository with it); install Debian's package: apt-get install -y git" >&2
  exit 1
fi
# The manifest tests render deploy/ with `kubectl kustomize` and apply it to the local API server.
kubectl_json="$("${KUBECTL:-kubectl}" version --client -o json 2>/dev/null || true)"
kubectl_minor="$(KJSON="$kubectl_json" node -p 'try { parseInt(JSON.parse(process.env.KJSON).clientVersion.minor, 10) || 0 } catch { 0 }')"
if [ "$kubectl_minor" -lt 27 ]; then
  echo "test setup: kubectl 1.27 or newer is needed (the manifest tests render deploy/ with kubectl kustomize); install it (https://kubernetes.io/docs/tasks/tools/) or set KUBECTL=/path/to/kubectl" >&2
  exit 1
fi
bash "$here/cluster/build.sh"
# Flux's source-controller and kustomize-controller for the GitOps end-to-end test (cached too).
bash "$here/flux/build.sh"
# Helm, for the chart tests (test/integration/helm-chart.test.ts): Go modules, cached like the above.
bash "$here/helm/build.sh"
