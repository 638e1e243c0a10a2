package kubernetes_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/legateproxy/legate/gatewayapi"
	"github.com/legateproxy/legate/provider/kubernetes"
	"github.com/legateproxy/legate/translators"
)

// startAPIServer starts a real kube-apiserver and etcd with the standard
// Gateway API CRDs; they stop when the test ends.
func startAPIServer(t *testing.T) *rest.Config {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS must name the folder of kube-apiserver and etcd (hack/build-kube.sh prints it)")
	}
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		t.Fatalf("locating the Gateway API module: %v", err)
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(strings.TrimSpace(string(dir)), "config", "crd", "standard")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	return cfg
}

// statusSettle is the providers' StatusSettle in tests: shorter than the
// default, and still long enough to tell its snapshot from one a change
// produces at once.
const statusSettle = 500 * time.Millisecond

// runProvider runs a provider with the Gateway API translator's kinds on
// cfg until the test ends (at most one snapshot per minInterval), and
// returns a client of the API server, a function that waits for the
// provider's next snapshot, and the channel of snapshots.
func runProvider(t *testing.T, cfg *rest.Config, minInterval time.Duration) (client.Client, func(what string, within time.Duration) *translators.Inputs, chan *translators.Inputs) {
	t.Helper()
	reg := translators.NewRegistry(gatewayapi.New())
	p, err := kubernetes.New(kubernetes.Options{
		Config: cfg, Registry: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		MinInterval: minInterval, StatusSettle: statusSettle,
	})
	if err != nil {
		t.Fatal(err)
	}
	scheme, err := reg.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	k8s, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	snapshots := make(chan *translators.Inputs, 16)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, snapshots) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("provider: %v", err)
		}
	})
	next := func(what string, within time.Duration) *translators.Inputs {
		t.Helper()
		select {
		case in := <-snapshots:
			return in
		case <-time.After(within):
			t.Fatalf("no snapshot within %v after %s", within, what)
			return nil
		}
	}
	return k8s, next, snapshots
}
