package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/legateproxy/legate/internal/testenv"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestVersion(t *testing.T) {
	out, err := run(t, "version")
	if err != nil || out != "legate dev\n" {
		t.Fatalf("version: %q %v", out, err)
	}
}

// TestTranslateExamples runs the offline translator on the examples folder
// (the embedded default) in every output mode.
func TestTranslateExamples(t *testing.T) {
	out, err := run(t, "translate", "-f", "../../examples", "--to", "xds")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: http-8080", "echo.example.com", "default/echo/80", "port_value: 9001", "path_separated_prefix: /docs",
		"name: gateway-default-edge-8088", "gateway.example.com", "mapping.example.com", "emissary/default/echo/80"} {
		if !strings.Contains(out, want) {
			t.Errorf("xds output lacks %q:\n%s", want, out)
		}
	}
	out, err = run(t, "translate", "-f", "../../examples/ingress.yaml", "--to", "ir", "-o", "json")
	if err != nil || !strings.Contains(out, `"name": "ingress/default/echo/rules[0]/paths[1]"`) {
		t.Fatalf("ir json: %v\n%s", err, out)
	}
	out, err = run(t, "translate", "-f", "../../examples", "--to", "status")
	if err != nil {
		t.Fatal(err)
	}
	var statuses []map[string]any
	if err := yaml.Unmarshal([]byte(out), &statuses); err != nil || len(statuses) != 5 {
		t.Fatalf("status: want 5 objects (Gateway, GatewayClass, HTTPRoute, Mapping, Ingress), got %v\n%s", err, out)
	}
	for _, st := range statuses {
		if st["problems"] != nil {
			t.Errorf("examples must be clean: %v", st)
		}
	}
}

func TestTranslateRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: 7}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, "translate", "-f", bad)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:1") {
		t.Fatalf("want an error naming bad.yaml:1, got %v", err)
	}
	if _, err := run(t, "translate", "-f", "../../examples", "--to", "nonsense"); err == nil {
		t.Fatal("want an error for --to nonsense")
	}
}

// TestBootstrapAcceptedByEnvoy checks `legate bootstrap` with Envoy itself.
func TestBootstrapAcceptedByEnvoy(t *testing.T) {
	out, err := run(t, "bootstrap", "--xds-address", "127.0.0.1:18000", "--node-id", "n1", "--node-cluster", "edge")
	if err != nil {
		t.Fatal(err)
	}
	// Delta xDS unless asked otherwise.
	for _, want := range []string{"id: n1", "cluster: edge", "port_value: 18000", "api_type: DELTA_GRPC"} {
		if !strings.Contains(out, want) {
			t.Errorf("bootstrap lacks %q:\n%s", want, out)
		}
	}
	sotw, err := run(t, "bootstrap", "--xds-address", "127.0.0.1:18000", "--node-id", "n1", "--xds-protocol", "sotw")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sotw, "api_type: GRPC") || strings.Contains(sotw, "DELTA_GRPC") {
		t.Errorf("--xds-protocol sotw: bootstrap is not state of the world:\n%s", sotw)
	}
	if _, err := run(t, "bootstrap", "--xds-address", "127.0.0.1:18000", "--xds-protocol", "incremental"); err == nil ||
		!strings.Contains(err.Error(), "--xds-protocol") {
		t.Errorf("--xds-protocol incremental: error %v, want one naming the flag", err)
	}
	envoy := testenv.Envoy(t)
	path := filepath.Join(t.TempDir(), "bootstrap.yaml")
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(envoy, "--mode", "validate", "-c", path).CombinedOutput(); err != nil {
		t.Fatalf("envoy rejects the bootstrap: %v\n%s", err, b)
	}
}
