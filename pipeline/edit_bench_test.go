package pipeline_test

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/bench/benchutil"
	"github.com/legateproxy/legate/bench/workload"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/xds/server"
)

// BenchmarkEdit is what serve does after one HTTPRoute changed, with N
// routes loaded: a new snapshot goes through Pipeline.Run and is published
// to an xDS server that already holds the previous one. The snapshot is
// assembled with the timer stopped (a provider's work).
func BenchmarkEdit(b *testing.B) {
	for _, size := range benchutil.Sizes() {
		b.Run(size.Name, func(b *testing.B) {
			objs := benchutil.Objects(b, workload.Gateway, size.N)
			route := -1
			for i, o := range objs {
				// Every provider versions its objects; translators
				// reuse what they made for an unchanged version.
				o.SetResourceVersion("1")
				if _, ok := o.(*gatewayv1.HTTPRoute); ok && route < 0 {
					route = i
				}
			}
			orig := objs[route].(*gatewayv1.HTTPRoute)
			p := benchPipeline()
			srv := server.New(server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			var last *translators.Inputs
			publish := func(objs []client.Object) {
				last = benchutil.Snapshot(objs)
				out, err := p.Run(last)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := srv.Publish("", out.Resources); err != nil {
					b.Fatal(err)
				}
			}
			publish(objs)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				b.StopTimer()
				edited := orig.DeepCopy()
				edited.ResourceVersion = fmt.Sprint(i + 1)
				v := fmt.Sprintf("/edit-%d/", i)
				edited.Spec.Rules[0].Matches[0].Path.Value = &v
				next := append([]client.Object(nil), objs...)
				next[route] = edited
				in := benchutil.Snapshot(next)
				// As the file provider does: the lookup indexes are
				// patched from the last snapshot's.
				in.IndexFrom(last)
				last = in
				b.StartTimer()
				out, err := p.Run(in)
				if err != nil {
					b.Fatal(err)
				}
				_, changed, err := srv.Publish("", out.Resources)
				if err != nil || !changed {
					b.Fatalf("publish: changed %v, err %v", changed, err)
				}
			}
		})
	}
}

// BenchmarkEndpointEdit is what serve does after one EndpointSlice
// changed, with N routes loaded: the endpoint fast path of Pipeline.Run
// and a Publish in which only EDS changes. Objects carry resourceVersions,
// as every provider's do.
func BenchmarkEndpointEdit(b *testing.B) {
	for _, size := range benchutil.Sizes() {
		b.Run(size.Name, func(b *testing.B) {
			objs := benchutil.Objects(b, workload.Gateway, size.N)
			slice := -1
			for i, o := range objs {
				o.SetResourceVersion("1")
				if _, ok := o.(*discoveryv1.EndpointSlice); ok && slice < 0 {
					slice = i
				}
			}
			orig := objs[slice].(*discoveryv1.EndpointSlice)
			p := benchPipeline()
			srv := server.New(server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			prevIn := benchutil.Snapshot(objs)
			out, err := p.Run(prevIn)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := srv.Publish("", out.Resources); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				b.StopTimer()
				edited := orig.DeepCopy()
				edited.ResourceVersion = fmt.Sprint(i + 1)
				edited.Endpoints[0].Addresses = []string{fmt.Sprintf("10.250.%d.%d", i/250%250, i%250)}
				next := append([]client.Object(nil), objs...)
				next[slice] = edited
				in := benchutil.Snapshot(next)
				// As providers do: the lookup indexes are patched
				// from the last snapshot's.
				in.IndexFrom(prevIn)
				prevIn = in
				b.StartTimer()
				out, err := p.Run(in)
				if err != nil || !out.EndpointsOnly {
					b.Fatalf("run: fast path %v, err %v", out != nil && out.EndpointsOnly, err)
				}
				_, changed, err := srv.Publish("", out.Resources)
				if err != nil || !changed {
					b.Fatalf("publish: changed %v, err %v", changed, err)
				}
			}
		})
	}
}
