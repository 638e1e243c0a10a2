package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServeKubeAPILimits(t *testing.T) {
	for _, c := range []struct{ flag, value string }{
		{"--kube-api-qps", "0"}, {"--kube-api-qps", "-1"}, {"--kube-api-qps", "NaN"}, {"--kube-api-burst", "0"},
	} {
		out, err := run(t, "serve", c.flag, c.value, "--xds-address", "127.0.0.1:0",
			"--health-address", "", "--metrics-address", "", "--admin-address", "", "--log-level", "error")
		if err == nil || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("serve %s %s: %v, want an error naming the flag\n%s", c.flag, c.value, err, out)
		}
	}

	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	const kc = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`
	if err := os.WriteFile(kubeconfig, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := kubeConfig(kubeconfig, 400, 800)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.QPS != 400 || cfg.Burst != 800 {
		t.Errorf("client limits: QPS %v, burst %d; want 400 and 800", cfg.QPS, cfg.Burst)
	}
}
