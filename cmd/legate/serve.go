package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/legateproxy/legate/internal/supervisor"
	"github.com/legateproxy/legate/pipeline"
	"github.com/legateproxy/legate/provider/file"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/xds"
	"github.com/legateproxy/legate/xds/server"
)

type serveFlags struct {
	configDir       string
	xdsAddress      string
	nodeCluster     string
	listenAddress   string
	httpPort        uint32
	httpsPort       uint32
	statusAddresses []string
	ingressClass    string

	envoy         bool
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
		Long: `serve watches a folder of Kubernetes YAML (--config-dir), translates every
change into Envoy configuration and serves it on one ADS gRPC port. With
--envoy it also runs Envoy as a child process, bootstrapped to this server,
restarted if it dies and stopped on exit.`,
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
	fl.StringVar(&f.configDir, "config-dir", "", "folder of Kubernetes YAML manifests to watch (required)")
	fl.StringVar(&f.xdsAddress, "xds-address", "127.0.0.1:18000", "address of the ADS gRPC server")
	fl.StringVar(&f.nodeCluster, "node-cluster", "legate", "data-plane group (Envoy node.cluster) the configuration is published to")
	fl.StringVar(&f.listenAddress, "listen-address", "0.0.0.0", "address Envoy's HTTP and HTTPS listeners bind")
	fl.Uint32Var(&f.httpPort, "http-port", 8080, "port of Envoy's HTTP listener")
	fl.Uint32Var(&f.httpsPort, "https-port", 8443, "port of Envoy's HTTPS listener")
	fl.StringSliceVar(&f.statusAddresses, "status-address", nil, "address(es) written into Ingress status.loadBalancer")
	fl.StringVar(&f.ingressClass, "ingress-controller", "legate.dev/ingress-controller", "IngressClass spec.controller that Legate owns")
	fl.BoolVar(&f.envoy, "envoy", false, "run Envoy as a child process")
	fl.StringVar(&f.envoyPath, "envoy-path", "", "Envoy binary (default: $LEGATE_ENVOY, then envoy on PATH)")
	fl.StringVar(&f.envoyAdmin, "envoy-admin-address", "127.0.0.1:9901", "address of the child Envoy's admin interface")
	fl.StringVar(&f.envoyLogLevel, "envoy-log-level", "warning", "log level of the child Envoy")
	fl.StringVar(&f.envoyBaseDir, "envoy-dir", "", "folder for the child Envoy's bootstrap (default: a temporary folder)")
	_ = cmd.MarkFlagRequired("config-dir")
	return cmd
}

func (f *serveFlags) settings() translators.Settings {
	s := translators.DefaultSettings()
	s.ListenAddress = f.listenAddress
	s.HTTPPort = f.httpPort
	s.HTTPSPort = f.httpsPort
	s.StatusAddresses = f.statusAddresses
	s.IngressController = f.ingressClass
	return s
}

func serve(ctx context.Context, log *slog.Logger, f *serveFlags) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	reg := registry()
	pipe := &pipeline.Pipeline{Registry: reg, Settings: f.settings()}
	prov, err := file.New(f.configDir, reg, file.Options{Logger: log.With("provider", "file")})
	if err != nil {
		return fmt.Errorf("config dir: %w", err)
	}
	srv := server.New(server.Options{Logger: log.With("component", "xds"), DefaultGroup: f.nodeCluster})
	lis, err := net.Listen("tcp", f.xdsAddress)
	if err != nil {
		return fmt.Errorf("xDS server: %w", err)
	}
	log.Info("xDS server listening", "address", lis.Addr().String())

	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Go(func() {
		if err := srv.Serve(ctx, lis); err != nil {
			errs <- fmt.Errorf("xDS server: %w", err)
		}
	})
	inputs := make(chan *translators.Inputs, 1)
	wg.Go(func() {
		if err := prov.Run(ctx, inputs); err != nil && !errors.Is(err, context.Canceled) {
			errs <- fmt.Errorf("file provider: %w", err)
		}
	})

	envoyStarted := false
	reporter := newProblemReporter(log)
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case err := <-errs:
			cancel()
			wg.Wait()
			return err
		case in := <-inputs:
			out, err := pipe.Run(in)
			if out != nil {
				reporter.report(out.Statuses)
			}
			if err != nil {
				log.Error("translation failed; still serving the last good configuration", "err", err)
				continue
			}
			version, changed, err := srv.Publish(f.nodeCluster, out.Resources)
			if err != nil {
				log.Error("snapshot rejected; still serving the last good configuration", "err", err)
				continue
			}
			log.Info("configuration translated", "version", version, "changed", changed,
				"duration", out.Duration, "listeners", len(out.Resources.Listeners),
				"routes", len(out.Resources.Routes), "clusters", len(out.Resources.Clusters))
			if f.envoy && !envoyStarted {
				envoyStarted = true
				if err := startEnvoy(ctx, &wg, log, f, lis.Addr().String()); err != nil {
					cancel()
					wg.Wait()
					return err
				}
			}
		}
	}
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
	boot, err := xds.Bootstrap(xds.BootstrapOptions{
		NodeID: "legate-" + strconv.Itoa(os.Getpid()), NodeCluster: f.nodeCluster,
		XDSAddress: host, XDSPort: port, AdminAddress: adminHost, AdminPort: adminPort,
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
// bad object is reported without flooding the log on every snapshot.
type problemReporter struct {
	log  *slog.Logger
	last map[translators.ObjectRef]string
}

func newProblemReporter(log *slog.Logger) *problemReporter {
	return &problemReporter{log: log, last: map[translators.ObjectRef]string{}}
}

func (r *problemReporter) report(statuses []translators.ObjectStatus) {
	seen := map[translators.ObjectRef]bool{}
	for _, st := range statuses {
		seen[st.Object] = true
		key := fmt.Sprint(st.Problems)
		if r.last[st.Object] == key {
			continue
		}
		r.last[st.Object] = key
		for _, p := range st.Problems {
			level := slog.LevelWarn
			if p.Severity == translators.SeverityError {
				level = slog.LevelError
			}
			r.log.Log(context.Background(), level, "object problem", "object", st.Object.String(),
				"field", p.Field, "reason", p.Reason, "message", p.Message)
		}
	}
	for ref := range r.last {
		if !seen[ref] {
			delete(r.last, ref)
		}
	}
}
