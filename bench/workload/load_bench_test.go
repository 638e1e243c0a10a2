package workload_test

import (
	"testing"

	"github.com/legateproxy/legate/bench/benchutil"
	"github.com/legateproxy/legate/bench/workload"
	"github.com/legateproxy/legate/gatewayapi"
	"github.com/legateproxy/legate/provider/file"
	"github.com/legateproxy/legate/translators"
)

// BenchmarkLoadYAML is the file provider reading a workload written as
// YAML (files of 1000 objects): the part of `legate translate` and of every
// file-mode edit that comes before translation.
func BenchmarkLoadYAML(b *testing.B) {
	reg := translators.NewRegistry(gatewayapi.New())
	for _, size := range benchutil.Sizes() {
		b.Run(size.Name, func(b *testing.B) {
			dir := b.TempDir()
			if _, err := workload.WriteDir(workload.Gateway, size.N, dir, 1000); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				in, err := file.LoadPaths(reg, file.Options{}, dir)
				if err != nil {
					b.Fatal(err)
				}
				if got := len(in.HTTPRoutes); got != size.N {
					b.Fatalf("read %d HTTPRoutes, want %d", got, size.N)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(size.N), "ns/route")
		})
	}
}
