package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPercentileIsNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := percentile(ds, c.p); got != c.want {
			t.Errorf("p%.0f of 1..100 ms = %s, want %s", c.p*100, got, c.want)
		}
	}
	if got := percentile([]time.Duration{7, 3}, 0.5); got != 3 {
		t.Errorf("median of two = %d, want the lower, 3", got)
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile of nothing = %s", got)
	}
}

func TestReadAllocsTakesAllocsPerRouteOfEachSubBenchmark(t *testing.T) {
	out := `goos: linux
BenchmarkPipeline/ingress/1k-2      	       3	  78221734 ns/op	     60474 B/route	       211.0 allocs/route	     78222 ns/route	60474256 B/op	  210991 allocs/op
BenchmarkPipeline/gateway/10k-2     	       3	 440249191 ns/op	     18438 B/route	       241.1 allocs/route	     44025 ns/route	184383130 B/op	 2410875 allocs/op
BenchmarkXDSBuild-2                 	       3	  33805812 ns/op	53496888 B/op	  640097 allocs/op
PASS
`
	path := filepath.Join(t.TempDir(), "bench.txt")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readAllocs(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"ingress/1k": 211.0, "gateway/10k": 241.1}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %v, want %v", k, got[k], v)
		}
	}
}

func TestLiveHeapIsTheLastGCsLiveFigure(t *testing.T) {
	log := `time=... level=WARN msg=x
gc 1 @0.012s 2%: 0.010+1.2+0.003 ms clock, 0.020+0.5/1.0/0+0.007 ms cpu, 3->4->1 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P
gc 2 @0.950s 3%: 0.010+12+0.003 ms clock, 0.020+0.5/1.0/0+0.007 ms cpu, 250->260->127 MB, 255 MB goal, 0 MB stacks, 0 MB globals, 2 P
`
	path := filepath.Join(t.TempDir(), "serve.log")
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := liveHeap(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != 127<<20 {
		t.Errorf("live heap = %d, want 127 MiB", got)
	}
	if err := os.WriteFile(path, []byte("no gc here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := liveHeap(path); err == nil {
		t.Error("a log without GC lines gave a heap figure")
	}
}

func TestSizeName(t *testing.T) {
	for n, want := range map[int]string{1000: "1k", 10000: "10k", 50000: "50k", 300: "300"} {
		if got := sizeName(n); got != want {
			t.Errorf("sizeName(%d) = %q, want %q", n, got, want)
		}
	}
}
