package kubernetes

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// BenchmarkSnapshotAfterOneChange is what the provider does for one
// EndpointSlice edit with 10k Services, EndpointSlices and HTTPRoutes
// watched: the informer's event (put), then the next snapshot, which
// remakes the changed kind's list and shares the others.
func BenchmarkSnapshotAfterOneChange(b *testing.B) {
	const n = 10000
	p := &Provider{}
	newKind := func(gvk string) *kind {
		k := &kind{gvk: corev1.SchemeGroupVersion.WithKind(gvk), objects: map[types.NamespacedName]client.Object{}}
		p.kinds = append(p.kinds, k)
		return k
	}
	svcs, slices, routes := newKind("Service"), newKind("EndpointSlice"), newKind("HTTPRoute")
	meta := func(i int) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "bench", Name: fmt.Sprintf("o-%05d", i), ResourceVersion: "1"}
	}
	for i := range n {
		p.put(svcs, &corev1.Service{ObjectMeta: meta(i)})
		p.put(slices, &discoveryv1.EndpointSlice{ObjectMeta: meta(i)})
		p.put(routes, &gatewayv1.HTTPRoute{ObjectMeta: meta(i)})
	}
	ctx := context.Background()
	if _, err := p.Snapshot(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		m := meta(i % n)
		m.ResourceVersion = fmt.Sprint(i + 1)
		p.put(slices, &discoveryv1.EndpointSlice{ObjectMeta: m})
		in, err := p.Snapshot(ctx)
		if err != nil || len(in.EndpointSlices) != n {
			b.Fatalf("snapshot: %d EndpointSlices, err %v", len(in.EndpointSlices), err)
		}
	}
}
