// Package idlemem gives memory back to the operating system once the
// process is at rest.
//
// Go's collector lets the heap grow to twice what is live before it
// collects, and the pages that growth touched stay resident until the
// runtime's background scavenger returns them, which it does only for
// memory above that goal. A control plane allocates in bursts (the first
// load of every object, a storm of edits, a pass writing thousands of
// statuses) and is idle in between, often for hours: without help it sits
// on twice its live heap all that time. Once allocation has stopped for a
// while, Watch collects and returns every free page, so a process at rest
// holds about what it uses. A burst that follows grows the heap again as
// it would have; nothing is limited.
package idlemem

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Options tune Watch. The zero value gives the defaults.
type Options struct {
	// Interval is how often allocation is sampled (default 1 s); the
	// process is at rest when less than Quiet bytes were allocated since
	// the last sample (default 1 MiB).
	Interval time.Duration
	Quiet    uint64
	// MinFree is how much reclaimable heap (see Sample) is worth a
	// collection (default 32 MiB): less is left to the scavenger.
	MinFree uint64
	// Released, if set, is told how many bytes of heap each release
	// returned to the OS, as the runtime counts them (for logs and
	// tests).
	Released func(bytes uint64)
}

// Watch samples the process's allocation every Interval until ctx is
// done, and once a sample finds it at rest with at least MinFree bytes of
// heap reclaimable, collects and returns the free pages to the OS. It
// releases once per rest: the next release waits until allocation has
// resumed and stopped again.
func Watch(ctx context.Context, o Options) {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Quiet == 0 {
		o.Quiet = 1 << 20
	}
	if o.MinFree == 0 {
		o.MinFree = 32 << 20
	}
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	last := Read()
	released := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := Read()
		busy := now.Allocated-last.Allocated >= o.Quiet
		last = now
		if busy {
			released = false
			continue
		}
		if released || now.Reclaimable < o.MinFree {
			continue
		}
		// Two collections: what sync.Pools hold (gRPC's message buffers,
		// among others) survives the first in their victim caches, and
		// goes with the second, which also returns the free pages.
		runtime.GC()
		debug.FreeOSMemory()
		released = true
		// What was returned, as the runtime counts it (the scavenger may
		// have returned some meanwhile; it is counted too).
		after := Read()
		last = after
		if o.Released != nil && after.Returned > now.Returned {
			o.Released(after.Returned - now.Returned)
		}
	}
}

// Sample is what Watch reads of the runtime.
type Sample struct {
	// Allocated counts every byte the heap ever allocated.
	Allocated uint64
	// Reclaimable is resident heap memory beyond what the last collection
	// found live: free pages not yet returned to the OS, free slots in
	// pages in use, and objects allocated since. It bounds what a
	// collection and a release would give back (slots in pages that keep
	// a live object stay resident).
	Reclaimable uint64
	// Returned counts the heap memory that is free and returned to the
	// OS (not resident).
	Returned uint64
}

var sampleNames = []string{
	"/gc/heap/allocs:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/objects:bytes",
	"/gc/heap/live:bytes",
	"/memory/classes/heap/released:bytes",
}

// Read samples the runtime now.
func Read() Sample {
	s := make([]metrics.Sample, len(sampleNames))
	for i, n := range sampleNames {
		s[i].Name = n
	}
	metrics.Read(s)
	value := func(i int) uint64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[i].Value.Uint64()
	}
	resident, live := value(1)+value(2)+value(3), value(4)
	s0 := Sample{Allocated: value(0), Returned: value(5)}
	if resident > live {
		s0.Reclaimable = resident - live
	}
	return s0
}
