package gatewayapi_test

import (
	"fmt"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/bench/benchutil"
	"github.com/legateproxy/legate/bench/workload"
	"github.com/legateproxy/legate/gatewayapi"
	"github.com/legateproxy/legate/translators"
)

// BenchmarkTranslate is this translator alone (no merge, no Envoy
// resources) on a fresh in-memory snapshot of N routes.
func BenchmarkTranslate(b *testing.B) {
	tr := gatewayapi.New()
	for _, size := range benchutil.Sizes() {
		b.Run(size.Name, func(b *testing.B) {
			objs := benchutil.Objects(b, workload.Gateway, size.N)
			benchutil.Run(b, objs, size.N, func(in *translators.Inputs) error {
				cfg, _ := tr.Translate(in, translators.DefaultSettings())
				routes := 0
				for _, l := range cfg.Listeners {
					for _, vh := range l.VirtualHosts {
						routes += len(vh.Routes)
					}
				}
				if routes != 2*size.N {
					return fmt.Errorf("got %d routes, want %d", routes, 2*size.N)
				}
				return nil
			})
		})
	}
}

// BenchmarkTranslateEdit is this translator alone on snapshots of N
// versioned routes: "first" is a translator's first run (nothing to
// reuse, everything remembered), "edit" a run after one HTTPRoute
// changed.
func BenchmarkTranslateEdit(b *testing.B) {
	for _, size := range benchutil.Sizes() {
		objs := benchutil.Objects(b, workload.Gateway, size.N)
		route := -1
		for i, o := range objs {
			o.SetResourceVersion("1")
			if _, ok := o.(*gatewayv1.HTTPRoute); ok && route < 0 {
				route = i
			}
		}
		b.Run("first/"+size.Name, func(b *testing.B) {
			benchutil.Run(b, objs, size.N, func(in *translators.Inputs) error {
				gatewayapi.New().Translate(in, translators.DefaultSettings())
				return nil
			})
		})
		b.Run("edit/"+size.Name, func(b *testing.B) {
			tr := gatewayapi.New()
			tr.Translate(benchutil.Snapshot(objs), translators.DefaultSettings())
			orig := objs[route].(*gatewayv1.HTTPRoute)
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
				b.StartTimer()
				tr.Translate(in, translators.DefaultSettings())
			}
		})
	}
}
