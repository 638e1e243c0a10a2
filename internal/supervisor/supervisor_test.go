package supervisor

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/legateproxy/legate/internal/testenv"
)

func envoyOrSkip(t *testing.T) string {
	t.Helper()
	p, err := FindEnvoy("")
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("no Envoy in CI: %v", err)
	}
	t.Skipf("SKIPPED: %v", err)
	return ""
}

func freePort(t *testing.T) int { return testenv.FreePort(t) }

func waitReady(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/ready", port))
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("envoy admin on %d never became ready", port)
}

// TestRestartsAndStopsEnvoy runs a real Envoy, kills it, and checks it is
// started again; then cancels and checks it is gone.
func TestRestartsAndStopsEnvoy(t *testing.T) {
	path := envoyOrSkip(t)
	admin := freePort(t)
	boot := filepath.Join(t.TempDir(), "bootstrap.yaml")
	err := os.WriteFile(boot, fmt.Appendf(nil, `node: {id: supervisor-test, cluster: test}
admin:
  address: {socket_address: {address: 127.0.0.1, port_value: %d}}
`, admin), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan *os.Process, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Path: path, Bootstrap: boot, MinBackoff: 50 * time.Millisecond,
			Stdout: io.Discard, Stderr: io.Discard, OnStart: func(p *os.Process) { started <- p }})
	}()

	first := <-started
	waitReady(t, admin)
	if err := first.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var second *os.Process
	select {
	case second = <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("envoy was not restarted after it died")
	}
	if second.Pid == first.Pid {
		t.Fatalf("restart reused pid %d", first.Pid)
	}
	waitReady(t, admin)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if err := second.Signal(syscall.Signal(0)); err == nil {
		t.Fatalf("envoy pid %d still running after stop", second.Pid)
	}
}

func TestStartFailureIsAnError(t *testing.T) {
	err := Run(context.Background(), Options{Path: filepath.Join(t.TempDir(), "no-envoy"), Bootstrap: "x"})
	if err == nil {
		t.Fatal("want an error for a missing binary")
	}
}
