// Package benchutil is what the Go benchmarks of the translators and the
// pipeline share: the workload sizes, fresh input snapshots per iteration,
// and per-route metrics.
package benchutil

import (
	"os"
	"runtime"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/legateproxy/legate/bench/workload"
	"github.com/legateproxy/legate/translators"
)

// LargeEnv, set to 1, adds the 50k size.
const LargeEnv = "LEGATE_BENCH_LARGE"

// Size is one benchmarked number of routes.
type Size struct {
	Name string
	N    int
}

// Sizes returns 1k, then 10k unless -short, then 50k when LargeEnv is 1.
func Sizes() []Size {
	s := []Size{{"1k", 1000}}
	if !testing.Short() {
		s = append(s, Size{"10k", 10000})
	}
	if os.Getenv(LargeEnv) == "1" {
		s = append(s, Size{"50k", 50000})
	}
	return s
}

// Snapshot puts objs into a new Inputs and sorts it, as a provider does for
// every snapshot, so that the indexes Inputs builds lazily start cold in
// every iteration, as they do in Legate.
func Snapshot(objs []client.Object) *translators.Inputs {
	in := &translators.Inputs{}
	for _, o := range objs {
		// Workload objects are all of kinds Inputs holds; Add fails only
		// for nil.
		_ = in.Add(o)
	}
	in.Sort()
	return in
}

// Objects builds the workload or fails the benchmark.
func Objects(b *testing.B, shape workload.Shape, n int) []client.Object {
	b.Helper()
	objs, err := workload.Objects(shape, n)
	if err != nil {
		b.Fatal(err)
	}
	return objs
}

// Run calls fn once per iteration on a fresh snapshot of objs (made with
// the timer stopped) and reports, besides the usual figures, ns/route,
// allocs/route and B/route over routes routes. fn returns an error to fail
// the benchmark.
func Run(b *testing.B, objs []client.Object, routes int, fn func(*translators.Inputs) error) {
	b.Helper()
	b.ReportAllocs()
	var before, after runtime.MemStats
	var mallocs, bytes uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		in := Snapshot(objs)
		runtime.ReadMemStats(&before)
		b.StartTimer()
		err := fn(in)
		b.StopTimer()
		runtime.ReadMemStats(&after)
		if err != nil {
			b.Fatal(err)
		}
		mallocs += after.Mallocs - before.Mallocs
		bytes += after.TotalAlloc - before.TotalAlloc
		b.StartTimer()
	}
	b.StopTimer()
	per := float64(b.N) * float64(routes)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/route")
	b.ReportMetric(float64(mallocs)/per, "allocs/route")
	b.ReportMetric(float64(bytes)/per, "B/route")
}
