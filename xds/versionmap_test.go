package xds

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
)

// A VersionMap made by With holds exactly what copying the map and
// replacing the versions would hold, and the map it was made from keeps
// what it held, through patches and the copies they are folded into.
func TestVersionMapWithEqualsCopies(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 26))
	base := map[string]string{}
	for i := range 100 {
		base[fmt.Sprintf("cla-%d", i)] = fmt.Sprintf("v0-%d", i)
	}
	type step struct {
		m    *VersionMap
		want map[string]string
	}
	steps := []step{{NewVersionMap(maps.Clone(base)), base}}
	folded := 0
	for n := range 200 {
		last := steps[len(steps)-1]
		changed := map[string]string{}
		for range 1 + rng.IntN(4) {
			changed[fmt.Sprintf("cla-%d", rng.IntN(100))] = fmt.Sprintf("v%d", n+1)
		}
		want := maps.Clone(last.want)
		maps.Copy(want, changed)
		next := last.m.With(changed)
		if len(next.patch) == 0 {
			folded++
		}
		steps = append(steps, step{next, want})
		for i, s := range steps {
			if s.m.Len() != len(s.want) || !maps.Equal(s.m.Map(), s.want) {
				t.Fatalf("after %d changes, map %d holds %v, want %v", n+1, i, s.m, s.want)
			}
			for name, v := range s.want {
				if got, ok := s.m.Get(name); !ok || got != v {
					t.Fatalf("after %d changes, map %d: %s is %q, want %q", n+1, i, name, got, v)
				}
			}
			if _, ok := s.m.Get("missing"); ok {
				t.Fatalf("map %d has a version for a name it does not hold", i)
			}
		}
	}
	if folded == 0 {
		t.Errorf("200 changes were never folded into a copy")
	}
	var none *VersionMap
	if _, ok := none.Get("x"); ok || none.Len() != 0 || none.Map() != nil {
		t.Errorf("a nil VersionMap is not empty")
	}
}
