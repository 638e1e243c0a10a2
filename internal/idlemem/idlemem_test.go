package idlemem_test

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"

	"github.com/legateproxy/legate/internal/idlemem"
)

// sink keeps allocations from being optimised away.
var sink atomic.Pointer[[]byte]

// burst allocates n bytes in 64 KiB pieces that are garbage at once.
func burst(n int) {
	for range n / (64 << 10) {
		b := make([]byte, 64<<10)
		b[0] = 1
		sink.Store(&b)
	}
}

// liveHeap allocates 64 MiB for the caller to keep live.
func liveHeap() [][]byte {
	live := make([][]byte, 0, 1024)
	for range 1024 {
		live = append(live, make([]byte, 64<<10))
	}
	return live
}

// While the process allocates, nothing is released; once it stops, the
// heap its burst left behind is returned to the OS, once.
func TestWatchReleasesOnlyAtRest(t *testing.T) {
	// A live heap, so that the collector lets garbage pile up before it
	// runs (its goal is twice what is live).
	live := liveHeap()
	defer runtime.KeepAlive(live)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var releases atomic.Int32
	var releasedBytes atomic.Uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		idlemem.Watch(ctx, idlemem.Options{
			Interval: 200 * time.Millisecond,
			MinFree:  8 << 20,
			Released: func(n uint64) {
				releases.Add(1)
				releasedBytes.Add(n)
			},
		})
	}()

	// Busy: 16 MiB every 10 ms, for 1 s.
	busyUntil := time.Now().Add(time.Second)
	for time.Now().Before(busyUntil) {
		burst(16 << 20)
		time.Sleep(10 * time.Millisecond)
	}
	if n := releases.Load(); n != 0 {
		t.Fatalf("%d releases while the process was allocating", n)
	}

	// At rest: one release, of at least what makes one worth it.
	deadline := time.Now().Add(5 * time.Second)
	for releases.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if releases.Load() == 0 {
		t.Fatalf("nothing released within 5 s at rest (reclaimable now %d bytes)", idlemem.Read().Reclaimable)
	}
	if got := releasedBytes.Load(); got < 8<<20 {
		t.Errorf("released %d bytes, want at least 8 MiB", got)
	}
	time.Sleep(600 * time.Millisecond)
	if n := releases.Load(); n != 1 {
		t.Errorf("%d releases during one rest, want 1", n)
	}
	cancel()
	<-done
}

// At the first pause after a burst that took the heap more than half the
// way to its collection goal, Watch collects (once, before any release);
// after a burst that took it less far, it does not.
func TestWatchCollectsAtAPauseAfterABurst(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	live := liveHeap() // a goal of ~128 MiB
	defer runtime.KeepAlive(live)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var collections atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		idlemem.Watch(ctx, idlemem.Options{
			Interval:  50 * time.Millisecond,
			Rest:      time.Hour, // no release in this test
			Collected: func() { collections.Add(1) },
		})
	}()
	defer func() { cancel(); <-done }()
	pause := func() { time.Sleep(400 * time.Millisecond) }

	runtime.GC()
	pause()
	collections.Store(0)
	burst(8 << 20) // an eighth of the way
	pause()
	if n := collections.Load(); n != 0 {
		t.Fatalf("%d collections after a small burst (%+v)", n, idlemem.Read())
	}

	runtime.GC()
	pause()
	before := idlemem.Read()
	burst(int(before.Goal-before.Live) * 3 / 5) // three fifths of the way, short of the collector's own trigger
	pause()
	if n := collections.Load(); n != 1 {
		t.Fatalf("%d collections at the pause after a burst of three fifths of the budget, want 1 (before %+v, now %+v)", n, before, idlemem.Read())
	}
	pause()
	if n := collections.Load(); n != 1 {
		t.Fatalf("%d collections during one pause, want 1", n)
	}
}
