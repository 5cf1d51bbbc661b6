#!/usr/bin/env bash
# Prepares a CI machine for the integration tests: the local Kubernetes control plane
# (etcd, kube-apiserver, kube-controller-manager, Istio CRDs) and Flux's source-controller and
# kustomize-controller for the GitOps test, cached outside the repo (Flux cold: ~40 min on 2 cores).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if ! command -v openssl >/dev/null; then
  echo "cluster-setup: installing openssl"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq openssl
fi

bash "$here/test/cluster/build.sh"
bash "$here/test/flux/build.sh"
bash "$here/test/helm/build.sh"
