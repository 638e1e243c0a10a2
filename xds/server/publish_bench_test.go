package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/legateproxy/legate/bench/benchutil"
	"github.com/legateproxy/legate/bench/workload"
	"github.com/legateproxy/legate/gatewayapi"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
	"github.com/legateproxy/legate/xds"
	"github.com/legateproxy/legate/xds/server"
)

// editedSnapshots builds the resources of 10k HTTPRoutes (1k with -short)
// and returns them with a function that makes the next snapshot: one route
// changed, everything else the previous run's messages (a Builder and a
// Validator, as the pipeline runs them).
func editedSnapshots(b *testing.B) (*xds.Resources, func() *xds.Resources) {
	b.Helper()
	sizes := benchutil.Sizes()
	n := sizes[min(1, len(sizes)-1)].N
	in := benchutil.Snapshot(benchutil.Objects(b, workload.Gateway, n))
	cfg := translators.NewRegistry(gatewayapi.New()).Translate(in, translators.DefaultSettings()).IR
	var builder xds.Builder
	var val xds.Validator
	run := func() *xds.Resources {
		res, err := builder.Build(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := val.Validate(res); err != nil {
			b.Fatal(err)
		}
		return res
	}
	i := 0
	return run(), func() *xds.Resources {
		i++
		out := *cfg
		out.Listeners = append([]*ir.Listener(nil), cfg.Listeners...)
		l := *out.Listeners[0]
		l.VirtualHosts = append([]*ir.VirtualHost(nil), l.VirtualHosts...)
		k := i % len(l.VirtualHosts)
		vh := *l.VirtualHosts[k]
		vh.Routes = append([]*ir.Route(nil), vh.Routes...)
		r := *vh.Routes[0]
		r.Match.Path = ir.PathMatch{Type: ir.PathPrefix, Value: fmt.Sprintf("/edit-%d/", i)}
		vh.Routes[0] = &r
		l.VirtualHosts[k] = &vh
		out.Listeners[0] = &l
		cfg = &out
		return run()
	}
}

// BenchmarkPublishRouteEdit is Publish of a snapshot in which one route
// of 10k changed (1k with -short), alone ("no-clients") and until one
// state-of-the-world and one delta ADS client, each subscribed to every
// type, have received the new route configuration ("sotw+delta"). The
// snapshot is built with the timer stopped.
func BenchmarkPublishRouteEdit(b *testing.B) {
	b.Run("no-clients", func(b *testing.B) {
		first, next := editedSnapshots(b)
		srv := server.New(server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if _, _, err := srv.Publish("", first); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			res := next()
			b.StartTimer()
			if _, changed, err := srv.Publish("", res); err != nil || !changed {
				b.Fatalf("publish: changed %v, err %v", changed, err)
			}
		}
	})
	b.Run("sotw+delta", func(b *testing.B) {
		first, next := editedSnapshots(b)
		srv := server.New(server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if _, _, err := srv.Publish("", first); err != nil {
			b.Fatal(err)
		}
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ctx, lis) }()
		defer func() {
			cancel()
			<-served
		}()
		cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30)))
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Close()
		ads := discovery.NewAggregatedDiscoveryServiceClient(cc)
		routes := make(chan string, 16) // route versions as each client gets them
		sotwClient(ctx, b, ads, routes)
		deltaClient(ctx, b, ads, routes)
		// Both clients have the first snapshot's routes.
		for range 2 {
			waitRoutes(b, routes)
		}
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			res := next()
			b.StartTimer()
			if _, changed, err := srv.Publish("", res); err != nil || !changed {
				b.Fatalf("publish: changed %v, err %v", changed, err)
			}
			for range 2 {
				waitRoutes(b, routes)
			}
		}
	})
}

func waitRoutes(b *testing.B, routes <-chan string) {
	b.Helper()
	select {
	case <-routes:
	case <-time.After(30 * time.Second):
		b.Fatal("a client got no route configuration within 30 s")
	}
}

// sotwClient subscribes an SotW ADS stream to every type and ACKs every
// response; it reports each route configuration response on routes.
func sotwClient(ctx context.Context, b *testing.B, ads discovery.AggregatedDiscoveryServiceClient, routes chan<- string) {
	b.Helper()
	st, err := ads.StreamAggregatedResources(ctx)
	if err != nil {
		b.Fatal(err)
	}
	node := &core.Node{Id: "bench-sotw"}
	for _, typeURL := range server.TypeURLs {
		if err := st.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: typeURL}); err != nil {
			b.Fatal(err)
		}
	}
	go func() {
		for {
			r, err := st.Recv()
			if err != nil {
				return
			}
			if err := st.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: r.GetTypeUrl(), VersionInfo: r.GetVersionInfo(), ResponseNonce: r.GetNonce()}); err != nil {
				return
			}
			if r.GetTypeUrl() == resource.RouteType {
				routes <- r.GetVersionInfo()
			}
		}
	}()
}

// deltaClient is sotwClient over a delta ADS stream (wildcard
// subscriptions).
func deltaClient(ctx context.Context, b *testing.B, ads discovery.AggregatedDiscoveryServiceClient, routes chan<- string) {
	b.Helper()
	st, err := ads.DeltaAggregatedResources(ctx)
	if err != nil {
		b.Fatal(err)
	}
	node := &core.Node{Id: "bench-delta"}
	for _, typeURL := range server.TypeURLs {
		if err := st.Send(&discovery.DeltaDiscoveryRequest{Node: node, TypeUrl: typeURL, ResourceNamesSubscribe: []string{"*"}}); err != nil {
			b.Fatal(err)
		}
	}
	go func() {
		for {
			r, err := st.Recv()
			if err != nil {
				return
			}
			if err := st.Send(&discovery.DeltaDiscoveryRequest{Node: node, TypeUrl: r.GetTypeUrl(), ResponseNonce: r.GetNonce()}); err != nil {
				return
			}
			if r.GetTypeUrl() == resource.RouteType {
				routes <- r.GetSystemVersionInfo()
			}
		}
	}()
}

// BenchmarkMarshalRouteConfiguration is encoding the route configuration
// of 10k HTTPRoutes (1k with -short) once, as every route change sends it
// whole to each client: with proto.Marshal (what the cache did per client)
// of its message and with Resources.EncodeRoute, from the virtual hosts'
// kept encodings (what is done now, once per change). Its size is
// reported as wire-bytes.
func BenchmarkMarshalRouteConfiguration(b *testing.B) {
	res, _ := editedSnapshots(b)
	if len(res.Routes) != 1 {
		b.Fatalf("%d route configurations, want 1", len(res.Routes))
	}
	rc := res.Routes[0]
	msg, err := rc.Message()
	if err != nil {
		b.Fatal(err)
	}
	for _, enc := range []struct {
		name   string
		encode func() ([]byte, error)
	}{
		{"proto.Marshal", func() ([]byte, error) { return proto.MarshalOptions{Deterministic: true}.Marshal(msg) }},
		{"EncodeRoute", func() ([]byte, error) { return res.EncodeRoute(rc) }},
	} {
		b.Run(enc.name, func(b *testing.B) {
			var size int
			b.ReportAllocs()
			for b.Loop() {
				out, err := enc.encode()
				if err != nil {
					b.Fatal(err)
				}
				size = len(out)
			}
			b.ReportMetric(float64(size), "wire-bytes")
			b.ReportMetric(float64(len(rc.VirtualHosts())), "virtual-hosts")
		})
	}
}
