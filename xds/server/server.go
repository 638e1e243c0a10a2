// Package server is Legate's xDS server: one gRPC port serving the
// aggregated discovery service (state of the world and delta) and the
// per-type services (LDS, RDS, CDS, EDS, SDS) to any number of Envoys and
// gRPC xDS clients.
//
// Resources are published per node group with Publish. A node's group is its
// node.cluster; a node whose group was never published is served the default
// group's snapshot (Options.DefaultGroup) until its own group is published.
//
// Three behaviours matter beyond go-control-plane's defaults:
//   - Versions are content hashes per resource type, so a publish that
//     changes only endpoints re-sends only EDS, and a publish that changes
//     nothing sends nothing.
//   - Partial subscriptions (a gRPC client asking for only the clusters its
//     virtual host uses) are answered: the snapshot cache runs in non-ADS
//     mode, which answers any subset of names, while still serving the ADS
//     stream Envoy uses.
//   - A NACKed version is recorded, counted and logged once, and is not sent
//     again to the client that rejected it until something newer is
//     published (see nack.go).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	endpointservice "github.com/envoyproxy/go-control-plane/envoy/service/endpoint/v3"
	listenerservice "github.com/envoyproxy/go-control-plane/envoy/service/listener/v3"
	routeservice "github.com/envoyproxy/go-control-plane/envoy/service/route/v3"
	secretservice "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/legateproxy/legate/xds"
)

// DefaultGroup is the group served to nodes whose group has no snapshot of
// its own, unless Options.DefaultGroup says otherwise.
const DefaultGroup = "legate"

// Options configure a Server. The zero value is usable.
type Options struct {
	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger
	// Registerer, if set, gets the server's metrics.
	Registerer prometheus.Registerer
	// DefaultGroup is the group whose snapshot nodes of an unpublished group
	// (and nodes without node.cluster) receive. Empty means "legate".
	DefaultGroup string
	// StopTimeout bounds the graceful stop when Serve's context ends; open
	// streams still running after it are cut. Zero means 10 seconds.
	StopTimeout time.Duration
	// ClusterRemovalGrace keeps a cluster that left a group's configuration
	// published this long (with its endpoints), so that Envoy never loses a
	// cluster before the routes that used it (see retirement). Zero turns
	// it off.
	ClusterRemovalGrace time.Duration
}

// Server serves published snapshots over xDS. Create it with New; Publish
// may be called before, during and after Serve.
type Server struct {
	log          *slog.Logger
	defaultGroup string
	stopTimeout  time.Duration
	metrics      *metrics

	// caches are go-control-plane's snapshot caches, keyed by group;
	// guarded wraps them with the NACK guard and the default-group
	// fallback and is what the gRPC handlers talk to.
	caches  *typeCaches
	guarded *guardedCache

	// mu guards groups and followers.
	mu sync.Mutex
	// groups holds what was last published per group.
	groups map[string]*published
	// followers are groups seen on a node but never published: they are
	// served the default group's snapshot, and follow its updates until
	// they are published themselves.
	followers map[string]bool

	// validator validates published resources that did not pass
	// validation already.
	validator xds.Validator

	retire *retirement
	// publishMu makes publishes one at a time.
	publishMu sync.Mutex

	// clientsMu guards streams.
	clientsMu sync.Mutex
	streams   map[int64]*streamState
}

// New makes a Server. It starts nothing: call Serve.
func New(opts Options) *Server {
	s := &Server{
		log:          opts.Logger,
		defaultGroup: opts.DefaultGroup,
		stopTimeout:  opts.StopTimeout,
		groups:       map[string]*published{},
		followers:    map[string]bool{},
		streams:      map[int64]*streamState{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.defaultGroup == "" {
		s.defaultGroup = DefaultGroup
	}
	if s.stopTimeout == 0 {
		s.stopTimeout = 10 * time.Second
	}
	s.metrics = newMetrics(opts.Registerer, s.log)
	if opts.ClusterRemovalGrace > 0 {
		s.retire = &retirement{
			grace: opts.ClusterRemovalGrace, now: time.Now, groups: map[string]*retiredGroup{},
			republish: s.republishLatest,
		}
	}
	// Non-ADS mode on purpose: in ADS mode the cache leaves unanswered any
	// request that does not name every resource of the type, and gRPC
	// clients name only the clusters of the virtual host they use.
	s.caches = newTypeCaches(func() cachev3.SnapshotCache {
		return cachev3.NewSnapshotCache(false, groupHash{defaultGroup: s.defaultGroup}, cacheLogger{s.log})
	})
	s.guarded = &guardedCache{caches: s.caches, srv: s}
	return s
}

// typeCaches are one snapshot cache per resource type, and one for any
// other type a client may ask for.
//
// A snapshot cache answers every open watch of a group whenever the
// group's snapshot is set, and for a delta watch that means comparing
// every resource the client subscribed to: at 10k clusters, each publish
// walked 10k clusters and 10k load assignments per Envoy even when only a
// route changed. With a cache per type, a publish sets the snapshot only
// in the caches of the types that changed, and only their watches are
// looked at.
//
// Delta watches are answered by delta, from what changed (deltaCache).
type typeCaches struct {
	byType map[string]cachev3.SnapshotCache
	other  cachev3.SnapshotCache
	delta  *deltaCache
}

func newTypeCaches(newCache func() cachev3.SnapshotCache) *typeCaches {
	c := &typeCaches{byType: map[string]cachev3.SnapshotCache{}, other: newCache(), delta: newDeltaCache()}
	for _, typeURL := range TypeURLs {
		c.byType[typeURL] = newCache()
	}
	return c
}

// forType is the cache watches of typeURL go to.
func (c *typeCaches) forType(typeURL string) cachev3.SnapshotCache {
	if sc := c.byType[typeURL]; sc != nil {
		return sc
	}
	return c.other
}

// set makes snap the group's snapshot in the caches of the types changed
// reports (in TypeURLs order: clusters and endpoints before the listeners
// and routes that use them), and in the cache of other types.
func (c *typeCaches) set(group string, snap *snapshot, changed func(typeURL string) bool) error {
	c.delta.set(group, snap, changed)
	var errs []error
	for _, typeURL := range TypeURLs {
		if !changed(typeURL) {
			continue
		}
		if err := c.byType[typeURL].SetSnapshot(context.Background(), group, snap); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", shortType(typeURL), err))
		}
	}
	if err := c.other.SetSnapshot(context.Background(), group, snap); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// everyType is set's changed for a group that had no snapshot.
func everyType(string) bool { return true }

// groupHash keys the snapshot cache by node.cluster, the node's group.
// Nodes without one belong to the default group. A group that has no
// snapshot of its own is given the default group's by guardedCache when its
// first watch arrives, so that it can later be published on its own without
// the node reconnecting.
type groupHash struct{ defaultGroup string }

func (h groupHash) ID(node *core.Node) string {
	if c := node.GetCluster(); c != "" {
		return c
	}
	return h.defaultGroup
}

// Serve serves xDS on lis until ctx ends, then stops gracefully: streams are
// closed by the xDS server (it shares ctx) and in-flight sends finish, with
// StopTimeout as the bound. It returns nil after a stop caused by ctx.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	gs := grpc.NewServer(
		// xDS streams live as long as the client: ping idle connections so
		// that dead peers (a killed pod, a dropped NAT entry) are noticed and
		// their watches released.
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:    30 * time.Second,
			Timeout: 10 * time.Second,
		}),
		// Envoy and gRPC clients may ping to keep their one long stream alive;
		// allow it down to every 10 s, also between streams, rather than
		// closing the connection with ENHANCE_YOUR_CALM.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             10 * time.Second,
			PermitWithoutStream: true,
		}),
		// One connection carries every type of an ADS client plus, for
		// per-type clients, one stream each: do not let the default cap bite.
		grpc.MaxConcurrentStreams(1<<20),
	)
	xs := serverv3.NewServer(ctx, s.guarded, callbacks{s})
	discovery.RegisterAggregatedDiscoveryServiceServer(gs, xs)
	listenerservice.RegisterListenerDiscoveryServiceServer(gs, xs)
	routeservice.RegisterRouteDiscoveryServiceServer(gs, xs)
	clusterservice.RegisterClusterDiscoveryServiceServer(gs, xs)
	endpointservice.RegisterEndpointDiscoveryServiceServer(gs, xs)
	secretservice.RegisterSecretDiscoveryServiceServer(gs, xs)

	errc := make(chan error, 1)
	go func() { errc <- gs.Serve(lis) }()
	s.log.Info("xDS server listening", "address", lis.Addr().String())

	select {
	case err := <-errc:
		gs.Stop()
		if err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			return fmt.Errorf("serving xDS on %s: %w", lis.Addr(), err)
		}
		return nil
	case <-ctx.Done():
	}

	stopped := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(s.stopTimeout):
		s.log.Warn("xDS server did not stop in time, closing remaining connections", "timeout", s.stopTimeout)
		gs.Stop()
		<-stopped
	}
	<-errc
	s.log.Info("xDS server stopped")
	return nil
}

// cacheLogger hands go-control-plane's logs to slog. Its Info messages are
// per-watch chatter, so they go to Debug. A message is formatted only if
// its level is on: the cache's messages print whole subscriptions (10k
// resource names at 10k clusters, on every delta watch), and formatting
// them for nobody took a tenth of serve's time during endpoint edits.
type cacheLogger struct{ l *slog.Logger }

func (c cacheLogger) logf(level slog.Level, format string, args ...any) {
	if !c.l.Enabled(context.Background(), level) {
		return
	}
	c.l.Log(context.Background(), level, fmt.Sprintf(format, args...), "component", "xds-cache")
}

func (c cacheLogger) Debugf(format string, args ...any) { c.logf(slog.LevelDebug, format, args...) }
func (c cacheLogger) Infof(format string, args ...any)  { c.logf(slog.LevelDebug, format, args...) }
func (c cacheLogger) Warnf(format string, args ...any)  { c.logf(slog.LevelWarn, format, args...) }
func (c cacheLogger) Errorf(format string, args ...any) { c.logf(slog.LevelError, format, args...) }
