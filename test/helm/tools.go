//go:build tools

// Package tools pins Helm (its CLI, built by build.sh) and prometheus-operator (whose module
// ships the ServiceMonitor and PodMonitor CRDs the chart's monitoring option renders).
package tools

import (
	_ "helm.sh/helm/v4/cmd/helm"
)
