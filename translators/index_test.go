package translators

import (
	"fmt"
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
func TestIndexFromEqualsAFreshIndex(t *testing.T) {
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
			{"slicesBySvc", next.slicesBySvc, fresh.slicesBySvc},
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
