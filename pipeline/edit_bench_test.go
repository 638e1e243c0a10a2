package pipeline_test

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/bench/benchutil"
	"github.com/legateproxy/legate/bench/workload"
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
			var route int
			for i, o := range objs {
				if _, ok := o.(*gatewayv1.HTTPRoute); ok {
					route = i
					break
				}
			}
			orig := objs[route].(*gatewayv1.HTTPRoute)
			p := benchPipeline()
			srv := server.New(server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			publish := func(objs []client.Object) {
				out, err := p.Run(benchutil.Snapshot(objs))
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
				v := fmt.Sprintf("/edit-%d/", i)
				edited.Spec.Rules[0].Matches[0].Path.Value = &v
				next := append([]client.Object(nil), objs...)
				next[route] = edited
				in := benchutil.Snapshot(next)
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
