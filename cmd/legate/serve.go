package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/legateproxy/legate/diagnostics"
	"github.com/legateproxy/legate/internal/idlemem"
	"github.com/legateproxy/legate/internal/supervisor"
	"github.com/legateproxy/legate/pipeline"
	"github.com/legateproxy/legate/provider/file"
	"github.com/legateproxy/legate/provider/kubernetes"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/xds"
	"github.com/legateproxy/legate/xds/server"
)

type serveFlags struct {
	configDir       string
	kubeconfig      string
	kubeQPS         float32
	kubeBurst       int
	watchNamespaces []string
	xdsAddress      string
	nodeCluster     string
	clusterGrace    time.Duration
	listenAddress   string
	httpPort        uint32
	httpsPort       uint32
	statusAddresses []string
	gatewayPool     prefixFlag
	ingressClass    string
	gatewayClass    string
	ambassadorID    string
	healthAddress   string
	metricsAddress  string
	adminAddress    string
	adminRemote     bool
	adminPprof      bool
	leaseNamespace  string
	leaseName       string
	leaseDuration   time.Duration
	renewDeadline   time.Duration
	retryPeriod     time.Duration

	envoy         bool
	xdsProtocol   string
	envoyPath     string
	envoyAdmin    string
	envoyLogLevel string
	envoyBaseDir  string
}

func newServeCommand(g *globalFlags) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Watch the configuration, translate it and serve it to Envoy over xDS",
		Long: `serve watches a folder of Kubernetes YAML (--config-dir) or, without one, the
Kubernetes API (in-cluster config, or --kubeconfig), translates every change
into Envoy configuration and serves it on one ADS gRPC port. With --envoy it
also runs Envoy as a child process, bootstrapped to this server, restarted if
it dies and stopped on exit. With the Kubernetes API, status is written back
by the replica holding the leader Lease; every replica translates and serves.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, log, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.configDir, "config-dir", "", "folder of Kubernetes YAML manifests to watch (default: watch the Kubernetes API)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster config, then $KUBECONFIG)")
	fl.Float32Var(&f.kubeQPS, "kube-api-qps", 50, "requests a second Legate makes to the Kubernetes API (status writes, lease renewals) once --kube-api-burst is spent")
	fl.IntVar(&f.kubeBurst, "kube-api-burst", 100, "requests Legate may make to the Kubernetes API at once before --kube-api-qps applies")
	fl.StringSliceVar(&f.watchNamespaces, "watch-namespaces", nil, "namespaces to watch (default: all)")
	fl.StringVar(&f.xdsAddress, "xds-address", "127.0.0.1:18000", "address of the ADS gRPC server")
	fl.StringVar(&f.nodeCluster, "node-cluster", "legate", "data-plane group (Envoy node.cluster) the configuration is published to")
	fl.DurationVar(&f.clusterGrace, "cluster-removal-grace", 5*time.Second, "how long a cluster that left the configuration is still served, so Envoy never loses it before the routes that used it")
	fl.StringVar(&f.listenAddress, "listen-address", "0.0.0.0", "address Envoy's HTTP and HTTPS listeners bind")
	fl.Uint32Var(&f.httpPort, "http-port", 8080, "port of Envoy's HTTP listener")
	fl.Uint32Var(&f.httpsPort, "https-port", 8443, "port of Envoy's HTTPS listener")
	fl.StringSliceVar(&f.statusAddresses, "status-address", nil, "address(es) written into Ingress status.loadBalancer")
	fl.Var(&f.gatewayPool, "gateway-address-pool", gatewayPoolUsage)
	fl.StringVar(&f.ingressClass, "ingress-controller", "legate.dev/ingress-controller", "IngressClass spec.controller that Legate owns")
	fl.StringVar(&f.gatewayClass, "gateway-controller", "legate.dev/gateway-controller", "GatewayClass spec.controllerName that Legate owns")
	fl.StringVar(&f.healthAddress, "health-address", "127.0.0.1:8081", "address of /healthz and /readyz (empty: off)")
	fl.StringVar(&f.metricsAddress, "metrics-address", "127.0.0.1:8082", "address of Prometheus /metrics (empty: off)")
	fl.StringVar(&f.adminAddress, "admin-address", "127.0.0.1:8877", "address of the read-only admin server: diagnostics pages and JSON API (empty: off)")
	fl.BoolVar(&f.adminRemote, "admin-allow-remote", false, "allow --admin-address to be a non-loopback address")
	fl.BoolVar(&f.adminPprof, "admin-pprof", false, "serve /debug/pprof on the admin server")
	fl.StringVar(&f.leaseNamespace, "leader-election-namespace", "", "namespace of the status-writer Lease (default: $POD_NAMESPACE, then default)")
	fl.StringVar(&f.leaseName, "leader-election-id", "legate-status", "name of the status-writer Lease")
	fl.DurationVar(&f.leaseDuration, "leader-election-lease-duration", 15*time.Second, "how long a status-writer lease lasts without renewal")
	fl.DurationVar(&f.renewDeadline, "leader-election-renew-deadline", 10*time.Second, "how long the leader keeps trying to renew before it stops writing")
	fl.DurationVar(&f.retryPeriod, "leader-election-retry-period", 2*time.Second, "how often replicas try to take or renew the lease")
	fl.StringVar(&f.ambassadorID, "ambassador-id", "default", "Emissary ambassador_id this installation answers to")
	fl.BoolVar(&f.envoy, "envoy", false, "run Envoy as a child process")
	fl.StringVar(&f.xdsProtocol, "xds-protocol", "delta", xdsProtocolUsage+" the child Envoy uses (the server speaks both)")
	fl.StringVar(&f.envoyPath, "envoy-path", "", "Envoy binary (default: $LEGATE_ENVOY, then envoy on PATH)")
	fl.StringVar(&f.envoyAdmin, "envoy-admin-address", "127.0.0.1:9901", "address of the child Envoy's admin interface")
	fl.StringVar(&f.envoyLogLevel, "envoy-log-level", "warning", "log level of the child Envoy")
	fl.StringVar(&f.envoyBaseDir, "envoy-dir", "", "folder for the child Envoy's bootstrap (default: a temporary folder)")
	return cmd
}

const gatewayPoolUsage = "CIDR each Gateway gets an IP address of its own from (spec.addresses inside it honoured, others allocated); Envoy binds it, so Gateways may share ports (default: every Gateway binds --listen-address)"

// prefixFlag is a CIDR flag, checked when the flag is parsed.
type prefixFlag struct{ p netip.Prefix }

func (f *prefixFlag) String() string {
	if !f.p.IsValid() {
		return ""
	}
	return f.p.String()
}

func (f *prefixFlag) Set(v string) error {
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return fmt.Errorf("want a CIDR such as 127.0.10.0/24: %w", err)
	}
	f.p = p
	return nil
}

func (f *prefixFlag) Type() string { return "cidr" }

func (f *serveFlags) settings() translators.Settings {
	s := translators.DefaultSettings()
	s.ListenAddress = f.listenAddress
	s.HTTPPort = f.httpPort
	s.HTTPSPort = f.httpsPort
	s.StatusAddresses = f.statusAddresses
	s.GatewayAddressPool = f.gatewayPool.p
	s.IngressController = f.ingressClass
	s.GatewayController = f.gatewayClass
	return s
}

// check rejects flag values that parse but mean nothing, before anything
// starts.
func (f *serveFlags) check() error {
	// client-go reads a QPS of 0 as its default of 5 and a negative one as
	// no limit at all: neither is what the flag said.
	if !(f.kubeQPS > 0) {
		return fmt.Errorf("--kube-api-qps: want more than 0 requests a second, got %v", f.kubeQPS)
	}
	if f.kubeBurst < 1 {
		return fmt.Errorf("--kube-api-burst: want at least 1 request, got %d", f.kubeBurst)
	}
	return nil
}

func serve(ctx context.Context, log *slog.Logger, f *serveFlags) error {
	if err := f.check(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	reg := registry(f)
	metrics := ctrlmetrics.Registry
	srv := server.New(server.Options{
		Logger: log.With("component", "xds"), DefaultGroup: f.nodeCluster, Registerer: metrics,
		ClusterRemovalGrace: f.clusterGrace,
	})
	lis, err := net.Listen("tcp", f.xdsAddress)
	if err != nil {
		return fmt.Errorf("xDS server: %w", err)
	}
	log.Info("xDS server listening", "address", lis.Addr().String())

	var ready atomic.Bool
	var wg sync.WaitGroup
	// On every return, stop everything started so far and wait for it:
	// cancel first, or the wait never ends.
	defer func() {
		cancel()
		wg.Wait()
	}()
	errs := make(chan error, 4)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	wg.Go(func() {
		if err := srv.Serve(ctx, lis); err != nil {
			fail(fmt.Errorf("xDS server: %w", err))
		}
	})
	if err := startOps(ctx, &wg, log, f, &ready, fail); err != nil {
		return err
	}

	admin, err := startAdmin(ctx, &wg, log, f, srv, fail)
	if err != nil {
		// The deferred wg.Wait runs before the deferred cancel: stop the
		// servers already started first.
		cancel()
		return err
	}

	loop := &pipeline.Loop{
		Pipeline:  &pipeline.Pipeline{Registry: reg, Settings: f.settings()},
		Publisher: srv,
		Group:     f.nodeCluster,
		Logger:    log,
		Metrics:   pipeline.NewMetrics(metrics),
	}
	reporter := newProblemReporter(log)
	loop.OnStatus = reporter.report
	if f.configDir != "" {
		prov, err := file.New(f.configDir, reg, file.Options{Logger: log.With("provider", "file")})
		if err != nil {
			return fmt.Errorf("--config-dir: %w", err)
		}
		loop.Source = prov
	} else {
		src, err := startKubernetes(ctx, &wg, log, f, reg, loop)
		if err != nil {
			return err
		}
		loop.Source = src
	}
	envoyStarted := false
	loop.OnPublished = func(*pipeline.Output, string, bool) {
		ready.Store(true)
		if f.envoy && !envoyStarted {
			// Envoy starts once there is a configuration to give it, so it
			// never serves an empty one.
			envoyStarted = true
			if err := startEnvoy(ctx, &wg, log, f, lis.Addr().String()); err != nil {
				fail(err)
			}
		}
	}
	if admin != nil {
		published := loop.OnPublished
		loop.OnPublished = func(out *pipeline.Output, version string, changed bool) {
			published(out, version, changed)
			admin.Update(out, version)
		}
	}
	wg.Go(func() {
		if err := loop.Run(ctx); err != nil {
			fail(err)
		}
	})
	// Between bursts of work (the first load, an edit storm, a pass of
	// status writes) the heap the burst grew is collected at the first
	// pause, so that the next burst does not meet that collection, and
	// given back once at rest.
	wg.Go(func() {
		idlemem.Watch(ctx, idlemem.Options{Released: func(n uint64) {
			log.Debug("returned idle heap memory to the OS", "bytes", n)
		}})
	})
	select {
	case <-ctx.Done():
		log.Info("shutting down")
		return nil
	case err := <-errs:
		cancel()
		return err
	}
}

// startAdmin starts the diagnostics admin server, unless --admin-address is
// empty. A non-loopback address without --admin-allow-remote is an error;
// an address already in use is only logged: diagnostics must not keep the
// control plane from serving.
func startAdmin(ctx context.Context, wg *sync.WaitGroup, log *slog.Logger, f *serveFlags, srv *server.Server, fail func(error)) (*diagnostics.Server, error) {
	if f.adminAddress == "" {
		return nil, nil
	}
	lis, err := diagnostics.Listen(f.adminAddress, f.adminRemote)
	if errors.Is(err, diagnostics.ErrNotLoopback) {
		return nil, fmt.Errorf("--admin-address: %w", err)
	}
	if err != nil {
		log.Error("admin server not started", "err", err)
		return nil, nil
	}
	log.Info("admin server listening", "address", lis.Addr().String())
	opts := diagnostics.Options{Clients: srv.Clients, Metrics: ctrlmetrics.Registry, Pprof: f.adminPprof, Logger: log.With("component", "admin")}
	if f.envoy {
		// The child Envoy's admin interface tells the clusters page how
		// healthy each upstream host is.
		opts.EnvoyAdmin = "http://" + f.envoyAdmin
	}
	admin := diagnostics.New(opts)
	wg.Go(func() {
		if err := admin.Serve(ctx, lis); err != nil {
			fail(err)
		}
	})
	return admin, nil
}

// startKubernetes makes the Kubernetes provider and, in the background,
// campaigns for the status-writer Lease.
func startKubernetes(ctx context.Context, wg *sync.WaitGroup, log *slog.Logger, f *serveFlags, reg *translators.Registry, loop *pipeline.Loop) (pipeline.Source, error) {
	// controller-runtime and client-go log through logr and klog: send both
	// to Legate's logger, in its format. Without a logger controller-runtime
	// prints a warning with a stack trace 30s after its first log call.
	ctrllog.SetLogger(logr.FromSlogHandler(log.Handler()))
	klog.SetSlogLogger(log)
	cfg, err := kubeConfig(f.kubeconfig, f.kubeQPS, f.kubeBurst)
	if err != nil {
		return nil, err
	}
	prov, err := kubernetes.New(kubernetes.Options{Config: cfg, Registry: reg, Namespaces: f.watchNamespaces, Logger: log.With("provider", "kubernetes")})
	if err != nil {
		return nil, err
	}
	ns := cmp.Or(f.leaseNamespace, os.Getenv("POD_NAMESPACE"), "default")
	host, _ := os.Hostname()
	identity := cmp.Or(os.Getenv("POD_NAME"), host) + "-" + strconv.Itoa(os.Getpid())
	writer, err := kubernetes.NewStatusWriter(cfg, prov.Scheme(), prov.Cache(), identity, log.With("component", "status"))
	if err != nil {
		return nil, err
	}
	writer.SetStored(prov.Stored)
	writer.SetTouched(prov.Touched)
	report := loop.OnStatus
	loop.OnStatus = func(st []*translators.ObjectStatus) {
		report(st)
		writer.Update(st)
	}
	wg.Go(func() {
		err := kubernetes.Elect(ctx, cfg, kubernetes.ElectionOptions{
			Namespace: ns, Name: f.leaseName, Identity: identity, Logger: log.With("component", "leader"),
			LeaseDuration: f.leaseDuration, RenewDeadline: f.renewDeadline, RetryPeriod: f.retryPeriod,
		}, writer.Run)
		if err != nil {
			log.Error("leader election", "err", err)
		}
	})
	return prov, nil
}

func kubeConfig(path string, qps float32, burst int) (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	if path != "" {
		if cfg, err = clientcmd.BuildConfigFromFlags("", path); err != nil {
			return nil, fmt.Errorf("--kubeconfig: %w", err)
		}
	} else if cfg, err = ctrlconfig.GetConfig(); err != nil {
		return nil, fmt.Errorf("no --config-dir and no Kubernetes config: %w", err)
	}
	// client-go's default of 5 requests a second (20 from the in-cluster
	// loader) makes writing the status of a thousand Ingresses after a
	// start take minutes; the flags default to 50 and 100.
	cfg.QPS, cfg.Burst = qps, burst
	return cfg, nil
}

// startOps serves /healthz, /readyz (ready once a snapshot was published)
// and /metrics.
func startOps(ctx context.Context, wg *sync.WaitGroup, log *slog.Logger, f *serveFlags, ready *atomic.Bool, fail func(error)) error {
	serveHTTP := func(name, addr string, h http.Handler) error {
		if addr == "" {
			return nil
		}
		lis, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s server: %w", name, err)
		}
		log.Info(name+" server listening", "address", lis.Addr().String())
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		wg.Go(func() {
			if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fail(fmt.Errorf("%s server: %w", name, err))
			}
		})
		wg.Go(func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		})
		return nil
	}
	health := http.NewServeMux()
	health.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	health.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "no configuration published yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	if err := serveHTTP("health", f.healthAddress, health); err != nil {
		return err
	}
	metrics := http.NewServeMux()
	metrics.Handle("/metrics", promhttp.HandlerFor(ctrlmetrics.Registry, promhttp.HandlerOpts{}))
	return serveHTTP("metrics", f.metricsAddress, metrics)
}

func startEnvoy(ctx context.Context, wg *sync.WaitGroup, log *slog.Logger, f *serveFlags, xdsAddr string) error {
	path, err := supervisor.FindEnvoy(f.envoyPath)
	if err != nil {
		return err
	}
	dir := f.envoyBaseDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "legate-envoy-"); err != nil {
			return fmt.Errorf("envoy bootstrap folder: %w", err)
		}
		wg.Go(func() { <-ctx.Done(); _ = os.RemoveAll(dir) })
	}
	host, port, err := splitHostPort(xdsAddr)
	if err != nil {
		return fmt.Errorf("--xds-address: %w", err)
	}
	adminHost, adminPort, err := parseHostPort(f.envoyAdmin)
	if err != nil {
		return fmt.Errorf("--envoy-admin-address: %w", err)
	}
	delta, err := parseXDSProtocol(f.xdsProtocol)
	if err != nil {
		return err
	}
	boot, err := xds.Bootstrap(xds.BootstrapOptions{
		NodeID: "legate-" + strconv.Itoa(os.Getpid()), NodeCluster: f.nodeCluster,
		XDSAddress: host, XDSPort: port, AdminAddress: adminHost, AdminPort: adminPort, Delta: delta,
	})
	if err != nil {
		return fmt.Errorf("envoy bootstrap: %w", err)
	}
	bootPath := filepath.Join(dir, "bootstrap.yaml")
	if err := os.WriteFile(bootPath, boot, 0o600); err != nil {
		return fmt.Errorf("writing envoy bootstrap: %w", err)
	}
	wg.Go(func() {
		err := supervisor.Run(ctx, supervisor.Options{
			Path: path, Bootstrap: bootPath, LogLevel: f.envoyLogLevel, Logger: log.With("component", "envoy"),
		})
		if err != nil {
			log.Error("envoy", "err", err)
		}
	})
	return nil
}

// splitHostPort parses the address the xDS server listens on into the
// address Envoy should dial: a wildcard host becomes loopback.
func splitHostPort(addr string) (string, uint32, error) {
	host, port, err := parseHostPort(addr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return host, port, err
}

func parseHostPort(addr string) (string, uint32, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", p, err)
	}
	return host, uint32(port), nil
}

// problemReporter logs each object's problems once, when they change, so a
// bad object is reported without flooding the log on every snapshot. It
// runs on every snapshot: only objects with problems cost more than a look.
type problemReporter struct {
	log *slog.Logger
	// last are the problems last logged of each object that had some.
	last map[translators.ObjectRef]string
	// statuses are the statuses last reported: the endpoint fast path
	// hands on the last run's.
	statuses []*translators.ObjectStatus
}

func newProblemReporter(log *slog.Logger) *problemReporter {
	return &problemReporter{log: log, last: map[translators.ObjectRef]string{}}
}

func (r *problemReporter) report(statuses []*translators.ObjectStatus) {
	if len(statuses) == len(r.statuses) && len(statuses) > 0 && &statuses[0] == &r.statuses[0] {
		return
	}
	r.statuses = statuses
	now := make(map[translators.ObjectRef]string, len(r.last))
	for _, st := range statuses {
		if len(st.Problems) == 0 {
			continue
		}
		key := fmt.Sprint(st.Problems)
		now[st.Object] = key
		if r.last[st.Object] == key {
			continue
		}
		for _, p := range st.Problems {
			level := slog.LevelWarn
			if p.Severity == translators.SeverityError {
				level = slog.LevelError
			}
			r.log.Log(context.Background(), level, "object problem", "object", st.Object.String(),
				"field", p.Field, "reason", p.Reason, "message", p.Message)
		}
	}
	r.last = now
}
