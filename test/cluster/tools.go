//go:build tools

// Package tools pins istio.io/api so that build.sh can find the CRD yaml it ships
// (kubernetes/customresourcedefinitions.gen.yaml) at a known version.
package tools

import _ "istio.io/api/networking/v1"
