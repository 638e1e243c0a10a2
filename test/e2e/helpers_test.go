// Package e2e runs the real `legate serve --envoy` binary on a folder of
// YAML, with a real Envoy as its child, and sends real HTTP traffic through
// that Envoy to backends on loopback.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/legateproxy/legate/internal/testenv"
)

// envoyPath finds Envoy (see testenv.Envoy).
func envoyPath(t *testing.T) string { return testenv.Envoy(t) }

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// legateBinary builds cmd/legate once per test run.
func legateBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "legate-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "legate")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		cmd := exec.Command("go", "build", "-o", binary, "./cmd/legate")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

func freePort(t *testing.T) int { return testenv.FreePort(t) }

// backend is a local HTTP server that answers with its name.
type backend struct {
	name string
	port int
}

func startBackend(t *testing.T, name string) *backend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", name, r.URL.Path)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &backend{name: name, port: l.Addr().(*net.TCPAddr).Port}
}

// syncBuffer collects a process's output safely.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// legate is a running `legate serve --envoy`.
type legate struct {
	cmd       *exec.Cmd
	out       *syncBuffer
	httpPort  int
	httpsPort int
	adminPort int
	xdsPort   int
}

// startLegate runs `legate serve --envoy` on configDir; extra flags are
// appended to the command line.
func startLegate(t *testing.T, configDir string, extra ...string) *legate {
	t.Helper()
	envoy := envoyPath(t)
	bin := legateBinary(t)
	l := &legate{out: &syncBuffer{}, httpPort: freePort(t), httpsPort: freePort(t), adminPort: freePort(t), xdsPort: freePort(t)}
	l.cmd = exec.Command(bin, "serve", "--config-dir", configDir, "--envoy",
		"--envoy-path", envoy,
		"--xds-address", fmt.Sprintf("127.0.0.1:%d", l.xdsPort),
		"--listen-address", "127.0.0.1",
		"--http-port", fmt.Sprint(l.httpPort),
		"--https-port", fmt.Sprint(l.httpsPort),
		"--envoy-admin-address", fmt.Sprintf("127.0.0.1:%d", l.adminPort),
		// Ports the kernel picks, or none: tests run beside other Legates.
		"--health-address", "127.0.0.1:0", "--metrics-address", "", "--admin-address", "",
		"--log-level", "debug")
	l.cmd.Args = append(l.cmd.Args, extra...)
	l.cmd.Stdout, l.cmd.Stderr = l.out, l.out
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = l.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = l.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = l.cmd.Process.Kill()
			<-done
			t.Errorf("legate did not stop within 15s of SIGINT")
		}
		if t.Failed() {
			t.Logf("legate output:\n%s", l.out.String())
		}
	})
	return l
}

func (l *legate) admin(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", l.adminPort, path))
	if err != nil {
		t.Fatalf("envoy admin %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// get sends one request through Envoy with the given Host and returns the
// status and body.
func get(ctx context.Context, c *http.Client, port int, host, path string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// eventually polls get until the body starts with want or the timeout passes.
func eventually(t *testing.T, c *http.Client, port int, host, path, want string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < timeout {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		code, body, err := get(ctx, c, port, host, path)
		cancel()
		if err == nil && code == 200 && strings.HasPrefix(body, want) {
			return time.Since(start)
		}
		last = fmt.Sprintf("code=%d body=%q err=%v", code, body, err)
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s%s never answered %q within %v; last: %s", host, path, want, timeout, last)
	return 0
}

// gatewayClassYAML is the GatewayClass of Legate's controller that the
// Gateway API tests use, followed by a document separator.
const gatewayClassYAML = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: legate}
spec: {controllerName: legate.dev/gateway-controller}
---
`

// httpGatewayYAML is a Gateway "edge" in namespace default of class legate
// with one HTTP listener "http", whose port is the first %d of the format
// it is joined to, followed by a document separator.
const httpGatewayYAML = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  gatewayClassName: legate
  listeners: [{name: http, protocol: HTTP, port: %d}]
---
`
