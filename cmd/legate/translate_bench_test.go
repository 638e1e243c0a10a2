package main

import (
	"io"
	"testing"

	"github.com/legateproxy/legate/bench/benchutil"
	"github.com/legateproxy/legate/bench/workload"
)

// BenchmarkTranslate is `legate translate --to xds` in process, on a
// folder of N HTTPRoutes (with their Services and EndpointSlices): reading
// and decoding the YAML, the pipeline, and rendering the Envoy resources.
func BenchmarkTranslate(b *testing.B) {
	for _, size := range benchutil.Sizes() {
		b.Run(size.Name, func(b *testing.B) {
			dir := b.TempDir()
			if _, err := workload.WriteDir(workload.Gateway, size.N, dir, 1000); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				cmd := newRootCommand()
				cmd.SetOut(io.Discard)
				cmd.SetArgs([]string{"translate", "-f", dir, "--to", "xds", "--log-level", "error"})
				if err := cmd.Execute(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(size.N), "ns/route")
		})
	}
}
