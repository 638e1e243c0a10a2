package gatewayapi

import (
	"fmt"
	"reflect"

	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

// TranslateWith runs tr, a translator New returned, and gives its full
// Result, for tests of its memo.
func TranslateWith(tr translators.Translator, in *translators.Inputs, s translators.Settings) Result {
	return tr.(*translator).translate(in, s, true)
}

// CheckPlacedEntries returns an error if a route tr's memo remembers at
// its place does not have the entry its key finds: the next run takes a
// route's entry from its place when the route there is the same.
func CheckPlacedEntries(tr translators.Translator) error {
	m := tr.(*translator).memo
	if m == nil {
		return nil
	}
	for i, p := range m.order {
		if p.memo == nil {
			continue
		}
		if got := m.routes.get(p.memo.key); got != p.memo {
			return fmt.Errorf("route %d (%s/%s): the entry at its place is not the one of its key %s", i, p.meta.Namespace, p.meta.Name, p.memo.key)
		}
		if p.memo.uid != p.meta.UID || p.memo.rv != p.meta.ResourceVersion {
			return fmt.Errorf("route %d (%s/%s): the entry at its place is of another version", i, p.meta.Namespace, p.meta.Name)
		}
	}
	return nil
}

// CheckClusters returns an error if the clusters tr's memo keeps for the
// next run are not those its routes' memo entries list, taken in the
// order of the routes, the first of a name kept: what a run registering
// every route's clusters anew would have.
func CheckClusters(tr translators.Translator) error {
	m := tr.(*translator).memo
	if m == nil || m.clusterMap == nil {
		return nil
	}
	want := map[string]*ir.Cluster{}
	for _, p := range m.order {
		if p.memo == nil {
			return fmt.Errorf("clusters kept, though route %s/%s has no memo entry", p.meta.Namespace, p.meta.Name)
		}
		for _, c := range p.memo.clusters {
			if _, ok := want[c.Name]; !ok {
				want[c.Name] = c
			}
		}
	}
	for n, c := range m.clusterMap {
		if want[n] != c {
			return fmt.Errorf("cluster %s kept is %p, want %p", n, c, want[n])
		}
	}
	if len(want) != len(m.clusterMap) {
		return fmt.Errorf("%d clusters kept, want %d", len(m.clusterMap), len(want))
	}
	return nil
}

// KeptClusters identifies the map of clusters tr's memo keeps for the
// next run (0 for none): a run that reused the last run's keeps the same.
func KeptClusters(tr translators.Translator) uintptr {
	m := tr.(*translator).memo
	if m == nil || m.clusterMap == nil {
		return 0
	}
	return reflect.ValueOf(m.clusterMap).Pointer()
}

// AttachRecords maps the key of each route the memo remembers an
// attachment of to that record (compared by pointer between runs: the
// same record is an attachment replayed, not worked out again).
func AttachRecords(tr translators.Translator) map[string]any {
	out := map[string]any{}
	m := tr.(*translator).memo
	if m == nil {
		return out
	}
	for _, p := range m.order {
		if p.memo != nil && p.memo.attach != nil {
			out[p.memo.key] = p.memo.attach
		}
	}
	return out
}

// RouteOrderFrom is the order tr's last run sorted its routes by (nil if
// they were listed in order; see sortRoutes).
func RouteOrderFrom(tr translators.Translator) []int32 {
	if m := tr.(*translator).memo; m != nil {
		return m.orderFrom
	}
	return nil
}
