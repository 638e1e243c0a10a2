package translators

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestIndexFromEqualsAFreshIndex edits a snapshot at random (objects added,
// removed, replaced; slices moved between Services; duplicates), sharing
// the objects that did not change as providers do, and checks that the
// indexes patched from the last snapshot's equal ones built from nothing.
//
// It runs twice: with the changed Services' slices kept over the last
// snapshot's map, and with them merged into a new map at every change.
func TestIndexFromEqualsAFreshIndex(t *testing.T) {
	for _, limit := range []int{slicesChangedLimit, 0} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			defer func(l int) { slicesChangedLimit = l }(slicesChangedLimit)
			slicesChangedLimit = limit
			testIndexFrom(t)
		})
	}
}

func testIndexFrom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	names := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: []string{"a", "a-b", "b"}[r.IntN(3)], Name: fmt.Sprintf("o%d", r.IntN(12))}
	}
	object := func() client.Object {
		m := names()
		switch r.IntN(4) {
		case 0:
			return &corev1.Service{ObjectMeta: m, Spec: corev1.ServiceSpec{ClusterIP: fmt.Sprint(r.IntN(100))}}
		case 1:
			return &corev1.Secret{ObjectMeta: m}
		case 2:
			return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: m.Namespace + m.Name}}
		}
		m.Labels = map[string]string{discoveryv1.LabelServiceName: fmt.Sprintf("o%d", r.IntN(4))}
		if r.IntN(5) == 0 {
			m.Labels = nil
		}
		return &discoveryv1.EndpointSlice{ObjectMeta: m}
	}
	var objs []client.Object
	for range 60 {
		objs = append(objs, object())
	}
	snapshot := func(objs []client.Object) *Inputs {
		in := &Inputs{}
		for _, o := range objs {
			if err := in.Add(o); err != nil {
				t.Fatal(err)
			}
		}
		in.Sort()
		return in
	}
	prev := snapshot(objs)
	prev.index()
	patched := 0
	for step := range 300 {
		objs = append([]client.Object(nil), objs...)
		for range 1 + r.IntN(3) {
			switch i := r.IntN(len(objs)); r.IntN(3) {
			case 0:
				objs = append(objs[:i], objs[i+1:]...)
			case 1:
				objs = append(objs, object())
			default:
				objs[i] = object()
			}
		}
		next := snapshot(objs)
		next.IndexFrom(prev)
		if next.base != nil {
			patched++
		}
		next.index()
		fresh := snapshot(objs)
		fresh.index()
		for _, c := range []struct {
			what      string
			got, want any
		}{
			{"services", next.services, fresh.services},
			{"secrets", next.secrets, fresh.secrets},
			{"namespaces", next.namespaces, fresh.namespaces},
			{"slicesBySvc", allSlices(next), allSlices(fresh)},
		} {
			// Lengths too: an empty map and nil are one index.
			if reflect.ValueOf(c.got).Len() != reflect.ValueOf(c.want).Len() || (reflect.ValueOf(c.want).Len() > 0 && !reflect.DeepEqual(c.got, c.want)) {
				t.Fatalf("step %d: %s patched from the last snapshot:\n%v\nbuilt from nothing:\n%v", step, c.what, c.got, c.want)
			}
		}
		prev = next
	}
	if patched != 300 {
		t.Errorf("%d of 300 snapshots were patched, want all", patched)
	}
	// A snapshot not yet indexed is no base.
	unindexed := snapshot(objs)
	next := snapshot(objs)
	next.IndexFrom(unindexed)
	if next.base != nil {
		t.Error("IndexFrom took a snapshot whose indexes were never built")
	}
}

// allSlices is the EndpointSlices of every Service as in's lookups see
// them: its map, with the lists changed since it was made over it.
func allSlices(in *Inputs) map[string][]*discoveryv1.EndpointSlice {
	out := maps.Clone(in.slicesBySvc)
	if out == nil {
		out = map[string][]*discoveryv1.EndpointSlice{}
	}
	for key, list := range in.slicesChanged {
		if len(list) == 0 {
			delete(out, key)
		} else {
			out[key] = list
		}
	}
	return out
}
