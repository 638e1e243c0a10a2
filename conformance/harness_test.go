// Package conformance runs the upstream Gateway API conformance suite, and
// Legate's own Ingress acceptance suite, against Legate and a real Envoy on
// a local process cluster (package localcluster): real kube-apiserver,
// etcd and kube-controller-manager, and backend pods that are real
// processes with real addresses. See README.md.
package conformance

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/legateproxy/legate/conformance/localcluster"
)

// Where the pieces listen. Gateways get their own loopback addresses from
// gatewayPool; Envoy binds them (ports 80 and 443 of the suite's
// Gateways), and the suite dials them from the host.
const (
	gatewayPool      = "127.100.0.0/16"
	xdsAddress       = "127.0.0.1:18100"
	envoyAdmin       = "127.0.0.1:19100"
	legateAdmin      = "127.0.0.1:18877"
	ingressHTTPPort  = 18080
	ingressHTTPSPort = 18443
	ingressAddress   = "127.0.0.1"
)

// env is one run's cluster and Legate.
type env struct {
	cluster *localcluster.Cluster
	legate  *exec.Cmd
	logPath string
	done    chan struct{}
}

// repoRoot is Legate's checkout (this module is its conformance/ folder).
func repoRoot() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..")
}

// testingT is what the harness needs of a test: *testing.T, or Ginkgo's
// GinkgoT() (whose Cleanup is a DeferCleanup).
type testingT interface {
	Helper()
	Logf(string, ...any)
	Errorf(string, ...any)
	Fatal(...any)
	Fatalf(string, ...any)
	Failed() bool
	Cleanup(func())
	TempDir() string
}

// requireTools fails the test when a prerequisite is missing.
func requireTools(t testingT) (assets, envoy string) {
	t.Helper()
	assets, envoy = os.Getenv("KUBEBUILDER_ASSETS"), os.Getenv("LEGATE_ENVOY")
	if assets == "" || envoy == "" {
		t.Fatal(`KUBEBUILDER_ASSETS and LEGATE_ENVOY must be set: export KUBEBUILDER_ASSETS="$(hack/build-kube.sh)" LEGATE_ENVOY="$(hack/install-envoy.sh)" (make conformance does)`)
	}
	if os.Geteuid() != 0 {
		t.Fatal("the local cluster needs root (network namespaces, ports 80 and 443)")
	}
	return assets, envoy
}

// startEnv builds what it needs, starts the cluster on podCIDR and Legate
// with Envoy, and registers their cleanup (also on SIGINT/SIGTERM).
func startEnv(t testingT, ctx context.Context, podCIDR string) *env {
	t.Helper()
	assets, envoy := requireTools(t)
	// controller-runtime's clients log through this; warnings are enough.
	ctrllog.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.WarnLevel)))
	bin := t.TempDir()
	start := time.Now()
	programs, err := localcluster.BuildPrograms(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	legateBin := filepath.Join(bin, "legate")
	build := exec.CommandContext(ctx, "go", "build", "-o", legateBin, "./cmd/legate")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/legate: %v\n%s", err, out)
	}
	t.Logf("built legate, echo-basic and the DNS responder in %v", time.Since(start).Round(time.Millisecond))

	gatewayAPI, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		t.Fatalf("locating the Gateway API module: %v", err)
	}
	start = time.Now()
	work := filepath.Join(os.TempDir(), fmt.Sprintf("legate-conformance-%d", os.Getpid()))
	cluster, err := localcluster.Start(ctx, localcluster.Options{
		AssetsDir: assets,
		CRDDirs: []string{
			filepath.Join(strings.TrimSpace(string(gatewayAPI)), "config", "crd", "experimental"),
			filepath.Join(repoRoot(), "charts", "legate", "crds"),
		},
		WorkDir: work,
		PodCIDR: podCIDR,
		Images:  programs,
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{cluster: cluster, logPath: filepath.Join(work, "legate.log"), done: make(chan struct{})}
	cancelSignal := cluster.CleanupOnSignal(e.stopLegate)
	t.Cleanup(func() {
		cancelSignal()
		e.stopLegate()
		if t.Failed() {
			t.Logf("the cluster's work folder is kept: %s (legate.log, kube-controller-manager.log, pods/)", work)
		}
		if err := cluster.Stop(); err != nil {
			t.Errorf("stopping the local cluster: %v", err)
		}
		if !t.Failed() {
			_ = os.RemoveAll(work)
		}
	})
	t.Logf("local cluster up in %v (work folder %s)", time.Since(start).Round(time.Millisecond), work)

	if err := os.MkdirAll(filepath.Join(work, "envoy"), 0o755); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(e.logPath)
	if err != nil {
		t.Fatal(err)
	}
	e.legate = exec.Command(legateBin, "serve",
		"--kubeconfig", cluster.Kubeconfig,
		"--envoy", "--envoy-path", envoy,
		"--envoy-admin-address", envoyAdmin,
		"--envoy-dir", filepath.Join(work, "envoy"),
		"--gateway-address-pool", gatewayPool,
		"--xds-address", xdsAddress,
		"--admin-address", legateAdmin,
		"--health-address", "",
		"--metrics-address", "",
		"--listen-address", ingressAddress,
		"--http-port", fmt.Sprint(ingressHTTPPort),
		"--https-port", fmt.Sprint(ingressHTTPSPort),
		"--status-address", ingressAddress,
		"--leader-election-namespace", "default",
		// A cluster removed from the configuration lingers this long; the
		// suite's tests replace backends quickly.
		"--cluster-removal-grace", "2s",
	)
	e.legate.Stdout, e.legate.Stderr = logFile, logFile
	e.legate.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := e.legate.Start(); err != nil {
		t.Fatalf("starting legate: %v", err)
	}
	go func() {
		_ = e.legate.Wait()
		logFile.Close()
		close(e.done)
	}()
	return e
}

// stopLegate stops Legate and its Envoy (SIGTERM to the process group, then
// SIGKILL after 10s).
func (e *env) stopLegate() {
	if e.legate == nil || e.legate.Process == nil {
		return
	}
	_ = syscall.Kill(-e.legate.Process.Pid, syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-e.legate.Process.Pid, syscall.SIGKILL)
		<-e.done
	}
}

// legateExited reports whether Legate is gone (it should never be during
// a run), with the end of its log.
func (e *env) legateExited() (bool, string) {
	if e == nil {
		return false, ""
	}
	select {
	case <-e.done:
		b, _ := os.ReadFile(e.logPath)
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		return true, string(b)
	default:
		return false, ""
	}
}
