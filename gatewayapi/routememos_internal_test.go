package gatewayapi

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// Over random runs (routes edited, added, removed, renamed, most kept as
// they were), the memo
// entries after a run are exactly those the run set, and a run never writes
// into the entries an earlier run handed on (runs that start from one memo
// may overlap).
func TestRouteMemosHoldWhatTheRunSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 26))
	// The route keys of the current configuration and their entries.
	current := map[string]*routeMemo{}
	for i := range 200 {
		key := fmt.Sprintf("HTTPRoute/ns/r-%03d", i)
		current[key] = &routeMemo{key: key}
	}
	prev := routeMemos{}
	folds := 0
	for run := range 300 {
		// The configuration changes: mostly one route edited, sometimes
		// many, sometimes routes added or removed.
		switch n := rng.IntN(10); {
		case n < 6:
			k := pick(rng, current)
			current[k] = &routeMemo{key: k}
		case n < 7:
			for k := range current {
				if rng.IntN(4) == 0 {
					current[k] = &routeMemo{key: k}
				}
			}
		case n < 8:
			k := fmt.Sprintf("HTTPRoute/ns/new-%03d", run)
			current[k] = &routeMemo{key: k}
		case n < 9:
			delete(current, pick(rng, current))
		}
		// What the last run handed on, as it was.
		base, patch := maps.Clone(prev.base), maps.Clone(prev.patch)

		next := prev.from()
		for k, m := range current {
			if rng.IntN(20) == 0 {
				// finishMemo replaces an entry the run set.
				next.set(k, &routeMemo{key: k})
				next.replace(k, m)
				continue
			}
			if next.get(k) == m && rng.IntN(2) == 0 {
				// restore leaves an unchanged entry as it is.
				next.kept()
				continue
			}
			next.set(k, m)
		}
		before := len(next.base)
		next.settle(func(keep func(string)) {
			for k := range current {
				keep(k)
			}
		})
		if len(next.base) != before || len(next.patch) == 0 {
			folds++
		}

		for k, m := range current {
			if got := next.get(k); got != m {
				t.Fatalf("run %d: entry of %s is %p, want the run's %p", run, k, got, m)
			}
		}
		for k := range next.base {
			if _, ok := current[k]; !ok {
				t.Fatalf("run %d: entry of %s, which the run did not set, is kept", run, k)
			}
		}
		for k := range next.patch {
			if _, ok := current[k]; !ok {
				t.Fatalf("run %d: entry of %s, which the run did not set, is kept", run, k)
			}
		}
		if !maps.Equal(base, prev.base) || !maps.Equal(patch, prev.patch) {
			t.Fatalf("run %d: the last run's entries were written", run)
		}
		prev = next
	}
	if folds == 0 || folds == 300 {
		t.Errorf("%d of 300 runs folded the entries into a new base; want some, not all", folds)
	}
}

func pick(rng *rand.Rand, m map[string]*routeMemo) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys[rng.IntN(len(keys))]
}
