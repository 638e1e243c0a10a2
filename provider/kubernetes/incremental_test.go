package kubernetes

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/translators"
)

// Snapshots are patched from the last one (sorted lists patched where the
// changed keys sit, kinds that did not change shared, lookup indexes
// patched): after every one of 300 random batches of informer events
// (adds, updates, deletes, few or many at once) the snapshot holds
// exactly what a snapshot made from scratch of the same objects holds,
// lists and lookups alike, and a kind that did not change is the very
// list of the snapshot before.
func TestIncrementalSnapshotsEqualFromScratch(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 26))
	p := &Provider{kinds: []*kind{
		{objects: map[types.NamespacedName]client.Object{}},
		{objects: map[types.NamespacedName]client.Object{}},
		{objects: map[types.NamespacedName]client.Object{}},
	}}
	svcKind, sliceKind, routeKind := p.kinds[0], p.kinds[1], p.kinds[2]
	version := 0
	meta := func(ns, name string) metav1.ObjectMeta {
		version++
		return metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: fmt.Sprint(version)}
	}
	randomEvent := func() {
		ns := fmt.Sprintf("ns-%d", rng.IntN(3))
		name := fmt.Sprintf("o-%02d", rng.IntN(40))
		k := p.kinds[rng.IntN(len(p.kinds))]
		if rng.IntN(4) == 0 {
			p.remove(k, k.objects[types.NamespacedName{Namespace: ns, Name: name}])
			return
		}
		var o client.Object
		switch k {
		case svcKind:
			o = &corev1.Service{ObjectMeta: meta(ns, name)}
		case sliceKind:
			m := meta(ns, name)
			m.Labels = map[string]string{discoveryv1.LabelServiceName: fmt.Sprintf("o-%02d", rng.IntN(40))}
			o = &discoveryv1.EndpointSlice{ObjectMeta: m}
		case routeKind:
			o = &gatewayv1.HTTPRoute{ObjectMeta: meta(ns, name)}
		}
		p.put(k, o)
	}
	var prev *translators.Inputs
	for batch := range 300 {
		n := 1 + rng.IntN(3)
		if batch%25 == 0 {
			n = 60 // many at once: sorted anew
		}
		untouched := map[*kind]bool{svcKind: true, sliceKind: true, routeKind: true}
		for range n {
			randomEvent()
		}
		for _, k := range p.kinds {
			if len(k.changed) > 0 || k.resort {
				untouched[k] = false
			}
			// Past an eighth of the objects the next snapshot sorts
			// anyway: the keys are not kept (a status pass touches every
			// route, hours may pass before the next snapshot).
			if len(k.changed) > len(k.sorted)/8+1 {
				t.Fatalf("batch %d: %s: %d changed keys kept for %d objects", batch, k.gvk.Kind, len(k.changed), len(k.sorted))
			}
		}
		got, err := p.Snapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := &translators.Inputs{}
		for _, k := range p.kinds {
			for _, o := range k.objects {
				if err := want.Add(o); err != nil {
					t.Fatal(err)
				}
			}
		}
		want.Sort()
		if !reflect.DeepEqual(got.All(), want.All()) {
			t.Fatalf("batch %d: the patched snapshot holds %d objects, from scratch %d, or in another order", batch, len(got.All()), len(want.All()))
		}
		for _, svc := range want.Services {
			if got.Service(svc.Namespace, svc.Name) != svc {
				t.Fatalf("batch %d: Service %s/%s not looked up", batch, svc.Namespace, svc.Name)
			}
		}
		for ns := range 3 {
			for i := range 40 {
				namespace, name := fmt.Sprintf("ns-%d", ns), fmt.Sprintf("o-%02d", i)
				if g, w := got.EndpointSlicesFor(namespace, name), want.EndpointSlicesFor(namespace, name); !reflect.DeepEqual(g, w) {
					t.Fatalf("batch %d: EndpointSlices of %s/%s: %d, from scratch %d", batch, namespace, name, len(g), len(w))
				}
				if got.Service(namespace, name) != want.Service(namespace, name) {
					t.Fatalf("batch %d: Service %s/%s looked up wrong", batch, namespace, name)
				}
			}
		}
		if prev != nil && untouched[routeKind] && len(got.HTTPRoutes) > 0 && &got.HTTPRoutes[0] != &prev.HTTPRoutes[0] {
			t.Fatalf("batch %d: HTTPRoutes did not change but the snapshot's list is a new one", batch)
		}
		prev = got
	}
}
