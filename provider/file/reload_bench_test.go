package file

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/legateproxy/legate/bench/benchutil"
	"github.com/legateproxy/legate/bench/workload"
	"github.com/legateproxy/legate/gatewayapi"
	"github.com/legateproxy/legate/translators"
)

// BenchmarkReloadOneFile is what the provider does between a file being
// saved and the pipeline getting the next snapshot, minus the debounce:
// one route of one file of the Gateway API workload (files of 1000 objects)
// changes, and Load reads the folder again and builds the snapshot.
func BenchmarkReloadOneFile(b *testing.B) {
	reg := translators.NewRegistry(gatewayapi.New())
	for _, size := range benchutil.Sizes() {
		b.Run(size.Name, func(b *testing.B) {
			dir := b.TempDir()
			paths, err := workload.WriteDir(workload.Gateway, size.N, dir, 1000)
			if err != nil {
				b.Fatal(err)
			}
			// A folder written a while ago, as in a running installation:
			// only the file being edited is recent.
			old := time.Now().Add(-time.Hour)
			for _, path := range paths {
				if err := os.Chtimes(path, old, old); err != nil {
					b.Fatal(err)
				}
			}
			orig, err := os.ReadFile(paths[0])
			if err != nil {
				b.Fatal(err)
			}
			p, err := New(dir, reg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := p.Load(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			// On a shared machine wall time says more about the neighbours
			// than about Load: the process's CPU time is reported too.
			cpu0 := cpuTime(b)
			k := 0
			for b.Loop() {
				k++
				// Writing the file is the editor's part, not measured.
				b.StopTimer()
				edited := bytes.Replace(orig, []byte(workload.PrefixPath), fmt.Appendf(nil, "/app-%d/", k), 1)
				if err := os.WriteFile(paths[0], edited, 0o644); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				in, err := p.Load()
				if err != nil {
					b.Fatal(err)
				}
				if got := len(in.HTTPRoutes); got != size.N {
					b.Fatalf("read %d HTTPRoutes, want %d", got, size.N)
				}
			}
			b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the CPU time (user and system, all threads) the process has
// used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
