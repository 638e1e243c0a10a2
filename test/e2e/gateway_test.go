package e2e

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEnvoyGatewayAPI sends traffic through a Gateway's own listener: its
// HTTPRoute is served there and nowhere else, and the share of an invalid
// backend is answered with 500 while the valid share still flows.
func TestEnvoyGatewayAPI(t *testing.T) {
	good := startBackend(t, "good")
	dir := t.TempDir()
	l := startLegate(t, dir) // an empty folder first: the files arrive while it runs
	gwPort := freePort(t)
	writeFile(t, filepath.Join(dir, "svc.yaml"), serviceYAML("good", good.port))
	writeFile(t, filepath.Join(dir, "gateway.yaml"), fmt.Sprintf(gatewayClassYAML+httpGatewayYAML+`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app, namespace: default}
spec:
  parentRefs: [{name: edge}]
  hostnames: [gw.example.com]
  rules:
    - matches: [{path: {type: PathPrefix, value: /half}}]
      backendRefs: [{name: good, port: 80, weight: 1}, {name: missing, port: 80, weight: 1}]
    - backendRefs: [{name: good, port: 80}]
`, gwPort))

	client := &http.Client{}
	eventually(t, client, gwPort, "gw.example.com", "/", "good", 30*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Not on the shared Ingress listener (which, with no Ingress, does not
	// even exist): Gateways are isolated.
	if code, _, err := get(ctx, client, l.httpPort, "gw.example.com", "/"); err == nil && code != 404 {
		t.Fatalf("the HTTPRoute must not be served on the shared listener: got %d", code)
	}
	codes := map[int]int{}
	for range 60 {
		code, _, err := get(ctx, client, gwPort, "gw.example.com", "/half")
		if err != nil {
			t.Fatal(err)
		}
		codes[code]++
	}
	t.Logf("/half: %v", codes)
	if codes[200] == 0 || codes[500] == 0 || len(codes) != 2 {
		t.Fatalf("want both 200 (valid share) and 500 (invalid share), got %v", codes)
	}
	if stats := l.admin(t, "/stats?filter=update_rejected"); !allZero(stats) {
		t.Fatalf("envoy rejected an update:\n%s", stats)
	}
}

func allZero(stats string) bool {
	for _, line := range strings.Split(strings.TrimSpace(stats), "\n") {
		if !strings.HasSuffix(line, ": 0") {
			return false
		}
	}
	return true
}
