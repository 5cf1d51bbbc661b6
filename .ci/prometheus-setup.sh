#!/usr/bin/env bash
# Installs Debian's prometheus package for the integration tests and `fledge demo`
# (src/devenv/prometheus.ts runs /usr/bin/prometheus as a child process). CI reaches Debian's
# archive but cannot download release tarballs, hence the package. The package's service is
# not started: there is no systemd, and the tests start their own instance.
set -euo pipefail

if [ -x /usr/bin/prometheus ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends prometheus
version="$(/usr/bin/prometheus --version 2>&1)"
echo "${version%%$'\n'*}"
