package xds_test

import (
	"fmt"
	"testing"

	"github.com/legateproxy/legate/bench/benchutil"
	"github.com/legateproxy/legate/bench/workload"
	"github.com/legateproxy/legate/gatewayapi"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
	"github.com/legateproxy/legate/xds"
)

// BenchmarkBuildEdit is what the xDS stage does after one route changed
// with 10k HTTPRoutes loaded (1k with -short): build and validate an IR in
// which one route is a new pointer (a new VirtualHost and Listener value
// hold it) and every other route and cluster is the previous run's, as
// translators hand them over.
func BenchmarkBuildEdit(b *testing.B) {
	sizes := benchutil.Sizes()
	n := sizes[min(1, len(sizes)-1)].N
	benchEdits(b, gatewayConfig(b, n))
}

// gatewayConfig is the IR of the gateway workload of n routes.
func gatewayConfig(b *testing.B, n int) *ir.Config {
	in := benchutil.Snapshot(benchutil.Objects(b, workload.Gateway, n))
	cfg := translators.NewRegistry(gatewayapi.New()).Translate(in, translators.DefaultSettings()).IR
	if len(cfg.Listeners) == 0 || len(cfg.Listeners[0].VirtualHosts) == 0 {
		b.Fatal("the workload translated to no virtual host")
	}
	return cfg
}

// benchEdits builds and validates cfg, then measures a Builder and a
// Validator after one route edit at a time, in the first listener's
// virtual hosts in turn.
func benchEdits(b *testing.B, cfg *ir.Config) {
	var builder xds.Builder
	var val xds.Validator
	run := func(cfg *ir.Config) {
		res, err := builder.Build(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := val.Validate(res); err != nil {
			b.Fatal(err)
		}
	}
	run(cfg)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		b.StopTimer()
		cfg = editOneRoute(cfg, i%len(cfg.Listeners[0].VirtualHosts), fmt.Sprintf("/edit-%d/", i))
		b.StartTimer()
		run(cfg)
	}
}

// editOneRoute returns a Config that shares everything with cfg except the
// first route of the first listener's virtual host vh, replaced by a copy
// whose path is path: the copy-on-write a translator does.
func editOneRoute(cfg *ir.Config, vh int, path string) *ir.Config {
	out := *cfg
	out.Listeners = append([]*ir.Listener(nil), cfg.Listeners...)
	l := *out.Listeners[0]
	l.VirtualHosts = append([]*ir.VirtualHost(nil), l.VirtualHosts...)
	v := *l.VirtualHosts[vh]
	v.Routes = append([]*ir.Route(nil), v.Routes...)
	r := *v.Routes[0]
	r.Match.Path = ir.PathMatch{Type: ir.PathPrefix, Value: path}
	v.Routes[0] = &r
	l.VirtualHosts[vh] = &v
	out.Listeners[0] = &l
	return &out
}

// BenchmarkBuildEditOneHost is BenchmarkBuildEdit with every route in one
// virtual host (as when thousands of Ingress paths or Mappings share a
// host): an edit changes that one virtual host, whose unchanged routes
// are reused.
func BenchmarkBuildEditOneHost(b *testing.B) {
	sizes := benchutil.Sizes()
	cfg := gatewayConfig(b, sizes[min(1, len(sizes)-1)].N)
	l := *cfg.Listeners[0]
	all := &ir.VirtualHost{Name: "all", Hostnames: []string{"*"}}
	for _, vh := range l.VirtualHosts {
		all.Routes = append(all.Routes, vh.Routes...)
	}
	l.VirtualHosts = []*ir.VirtualHost{all}
	one := *cfg
	one.Listeners = append([]*ir.Listener{&l}, cfg.Listeners[1:]...)
	benchEdits(b, &one)
}
