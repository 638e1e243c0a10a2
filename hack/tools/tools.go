//go:build tools

// Package tools pins modules the project depends on before any package
// imports them (the Gateway API types for the coming translator, Ginkgo for
// the integration suites) and the code generators hack/generate.sh runs
// (controller-gen), so that go mod tidy keeps their versions.
package tools

import (
	_ "github.com/onsi/ginkgo/v2"
	_ "github.com/onsi/gomega"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
	_ "sigs.k8s.io/gateway-api/apis/v1"
)
