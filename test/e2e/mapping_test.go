package e2e

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// TestEnvoyEmissaryMapping routes through real Envoy with Mappings written
// for Emissary: the prefix is rewritten to "/" by default, rewrite ""
// keeps the path, and a canary splits traffic by weight.
func TestEnvoyEmissaryMapping(t *testing.T) {
	stable, canary := startBackend(t, "stable"), startBackend(t, "canary")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "svc.yaml"), serviceYAML("stable", stable.port)+"---\n"+serviceYAML("canary", canary.port))
	writeFile(t, filepath.Join(dir, "mappings.yaml"), `apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: api, namespace: default}
spec: {hostname: "*", prefix: /api/, service: stable}
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: keep, namespace: default}
spec: {hostname: "*", prefix: /keep/, rewrite: "", service: stable.default:80}
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: shop, namespace: default}
spec: {hostname: shop.example.com, prefix: /, service: stable}
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: shop-canary, namespace: default}
spec: {hostname: shop.example.com, prefix: /, service: canary, weight: 50}
`)
	l := startLegate(t, dir)
	client := &http.Client{}
	// Emissary replaces the matched prefix with "/" unless told otherwise.
	eventually(t, client, l.httpPort, "any.example.com", "/api/users", "stable /users", 30*time.Second)
	eventually(t, client, l.httpPort, "any.example.com", "/keep/users", "stable /keep/users", 5*time.Second)

	seen := map[string]int{}
	for range 60 {
		_, body, err := get(t.Context(), client, l.httpPort, "shop.example.com", "/cart")
		if err != nil {
			t.Fatal(err)
		}
		seen[body]++
	}
	t.Logf("canary split: %v", seen)
	if seen["stable /cart"] == 0 || seen["canary /cart"] == 0 || len(seen) != 2 {
		t.Fatalf("want traffic on both the stable and the canary Mapping, got %v", seen)
	}
}
