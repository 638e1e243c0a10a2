package pipeline_test

import (
	"fmt"
	"testing"

	"github.com/legateproxy/legate/bench/benchutil"
	"github.com/legateproxy/legate/bench/workload"
	"github.com/legateproxy/legate/gatewayapi"
	"github.com/legateproxy/legate/ingress"
	"github.com/legateproxy/legate/pipeline"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/emissary"
	"github.com/legateproxy/legate/translators/ir"
	"github.com/legateproxy/legate/xds"
)

// The benchmarks build their inputs in memory (package workload), so they
// measure translation, merging, building and validation, not YAML.

func benchPipeline() *pipeline.Pipeline {
	return &pipeline.Pipeline{
		Registry: translators.NewRegistry(ingress.New(), gatewayapi.New(),
			emissary.New(emissary.Options{AmbassadorID: "default"})),
		Settings: translators.DefaultSettings(),
	}
}

// BenchmarkPipeline is Pipeline.Run (translate, merge, xds.Build,
// xds.Validate) on a fresh snapshot of N routes of each shape.
func BenchmarkPipeline(b *testing.B) {
	for _, shape := range []workload.Shape{workload.Ingress, workload.Gateway, workload.Mapping} {
		b.Run(string(shape), func(b *testing.B) {
			for _, size := range benchutil.Sizes() {
				b.Run(size.Name, func(b *testing.B) {
					objs := benchutil.Objects(b, shape, size.N)
					p := benchPipeline()
					benchutil.Run(b, objs, size.N, func(in *translators.Inputs) error {
						out, err := p.Run(in)
						if err != nil {
							return err
						}
						return checkRoutes(out.IR, size.N)
					})
				})
			}
		})
	}
}

// BenchmarkXDSBuild is xds.Build alone, from the IR of 10k HTTPRoutes (1k
// with -short).
func BenchmarkXDSBuild(b *testing.B) {
	cfg := translated(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := xds.Build(cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidate is xds.Validate alone, on the resources of 10k
// HTTPRoutes (1k with -short).
func BenchmarkValidate(b *testing.B) {
	res, err := xds.Build(translated(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := xds.Validate(res); err != nil {
			b.Fatal(err)
		}
	}
}

// translated is the IR of the largest default size of HTTPRoutes.
func translated(b *testing.B) *ir.Config {
	b.Helper()
	sizes := benchutil.Sizes()
	n := sizes[min(1, len(sizes)-1)].N
	in := benchutil.Snapshot(benchutil.Objects(b, workload.Gateway, n))
	res := benchPipeline().Registry.Translate(in, translators.DefaultSettings())
	if err := checkRoutes(res.IR, n); err != nil {
		b.Fatal(err)
	}
	return res.IR
}

// checkRoutes makes sure a run produced every route: a benchmark of a run
// that silently dropped the workload would measure nothing.
func checkRoutes(cfg *ir.Config, n int) error {
	routes := 0
	for _, l := range cfg.Listeners {
		for _, vh := range l.VirtualHosts {
			routes += len(vh.Routes)
		}
	}
	if routes != 2*n {
		return fmt.Errorf("got %d routes, want %d", routes, 2*n)
	}
	return nil
}

// BenchmarkValidator is an xds.Validator validating the resources of 10k
// HTTPRoutes (1k with -short) that it validated before: the steady state
// of serve, where most of each snapshot did not change.
func BenchmarkValidator(b *testing.B) {
	cfg := translated(b)
	var val xds.Validator
	res, err := xds.Build(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := val.Validate(res); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		res, err := xds.Build(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := val.Validate(res); err != nil {
			b.Fatal(err)
		}
	}
}
