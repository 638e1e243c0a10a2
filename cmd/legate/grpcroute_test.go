package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const grpcManifests = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: legate}
spec: {controllerName: legate.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  gatewayClassName: legate
  listeners: [{name: http, protocol: HTTP, port: 9090}]
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec: {ports: [{port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: rpc, namespace: default}
spec:
  parentRefs: [{name: edge}]
  rules:
    - matches: [{method: {service: echo.Echo, method: Say}}]
      backendRefs: [{name: echo, port: 80}]
    - matches: [{method: {service: echo.Echo, method: Gone}}]
      backendRefs: [{name: missing, port: 80}]
`

// TestTranslateGRPCRoute: the offline translator reads GRPCRoutes from
// files and reports on them in every output mode: the route in the IR, an
// HTTP/2 cluster in the Envoy configuration, and the route's problems in
// the status.
func TestTranslateGRPCRoute(t *testing.T) {
	path := filepath.Join(t.TempDir(), "grpc.yaml")
	if err := os.WriteFile(path, []byte(grpcManifests), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "translate", "-f", path, "--to", "ir")
	if err != nil || !strings.Contains(out, "name: grpcroute/default/rpc/rules[0]/matches[0]") || !strings.Contains(out, "value: /echo.Echo/Say") {
		t.Fatalf("ir: %v\n%s", err, out)
	}
	out, err = run(t, "translate", "-f", path, "--to", "xds")
	if err != nil || !strings.Contains(out, "name: default/echo/80/h2c") || !strings.Contains(out, "http2_protocol_options") {
		t.Fatalf("xds: want the h2c cluster of the gRPC backend: %v\n%s", err, out)
	}
	out, err = run(t, "translate", "-f", path, "--to", "status")
	if err != nil {
		t.Fatal(err)
	}
	var statuses []struct {
		Object   struct{ Kind, Name string } `json:"object"`
		Problems []struct{ Reason, Field string }
	}
	if err := yaml.Unmarshal([]byte(out), &statuses); err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	found := false
	for _, st := range statuses {
		if st.Object.Kind != "GRPCRoute" {
			continue
		}
		found = true
		if len(st.Problems) != 1 || st.Problems[0].Reason != "BackendNotFound" || st.Problems[0].Field != "spec.rules[1].backendRefs[0]" {
			t.Errorf("GRPCRoute problems = %+v, want one BackendNotFound at spec.rules[1].backendRefs[0]", st.Problems)
		}
	}
	if !found {
		t.Fatalf("status lacks the GRPCRoute:\n%s", out)
	}
}
