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
//
// Sooner, as soon as allocation pauses, Watch also collects a heap that
// has gone more than half the way to its collection goal: a burst of
// edits leaves the heap near the goal, and the next burst, often a second
// later (a rollout's endpoints, an apply in steps), would otherwise meet
// that collection within its first edits, which then run while the
// collector marks (tens of milliseconds each, on two cores). Collected in
// the pause, the next burst starts with the whole budget. The cost is one
// collection per pause that follows enough allocation, made while
// nothing waits for the process.
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
	// Interval is how often allocation is sampled (default 250 ms); the
	// process pauses when less than Quiet bytes were allocated since the
	// last sample (default 1 MiB), and is at rest once it has paused for
	// Rest (default 2 s: edits often come in bursts a second or so
	// apart, and a release, made in such a gap, has the next burst fault
	// the returned pages back in while a collection runs).
	Interval time.Duration
	Quiet    uint64
	Rest     time.Duration
	// MinFree is how much reclaimable heap (see Sample) is worth a
	// release at rest (default 32 MiB): less is left to the scavenger.
	MinFree uint64
	// Released, if set, is told how many bytes of heap each release
	// returned to the OS, as the runtime counts them (for logs and
	// tests). Collected, if set, is told of each collection made at a
	// pause (for tests).
	Released  func(bytes uint64)
	Collected func()
}

// Watch samples the process's allocation every Interval until ctx is
// done. At the first pause after a heap went more than half the way from
// what was live to its collection goal, it collects. Once at rest with
// at least MinFree bytes of heap reclaimable, it collects and returns the
// free pages to the OS. Each happens once per pause: the next waits until
// allocation has resumed and stopped again.
func Watch(ctx context.Context, o Options) {
	if o.Interval <= 0 {
		o.Interval = 250 * time.Millisecond
	}
	if o.Quiet == 0 {
		o.Quiet = 1 << 20
	}
	if o.Rest <= 0 {
		o.Rest = 2 * time.Second
	}
	if o.MinFree == 0 {
		o.MinFree = 32 << 20
	}
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	last := Read()
	var paused time.Duration
	collected, released := false, false
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
			paused, collected, released = 0, false, false
			continue
		}
		paused += o.Interval
		if !collected && !released && now.Goal > now.Live && now.SinceCollection >= (now.Goal-now.Live)/2 {
			runtime.GC()
			collected = true
			last = Read()
			if o.Collected != nil {
				o.Collected()
			}
		}
		if released || paused < o.Rest || now.Reclaimable < o.MinFree {
			continue
		}
		// Two collections: what sync.Pools hold (gRPC's message buffers,
		// among others) survives the first in their victim caches, and
		// goes with the second, which also returns the free pages. The
		// first may have been made at the start of this pause.
		if !collected {
			runtime.GC()
		}
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
	// Live is what the last collection found live, Goal the heap size at
	// which the next one is due, SinceCollection the heap allocated since
	// the last (objects live or not, as yet unswept).
	Live, Goal, SinceCollection uint64
}

var sampleNames = []string{
	"/gc/heap/allocs:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/objects:bytes",
	"/gc/heap/live:bytes",
	"/memory/classes/heap/released:bytes",
	"/gc/heap/goal:bytes",
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
	s0 := Sample{Allocated: value(0), Returned: value(5), Live: live, Goal: value(6)}
	if resident > live {
		s0.Reclaimable = resident - live
	}
	if objects := value(3); objects > live {
		s0.SinceCollection = objects - live
	}
	return s0
}
