package kubernetes_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/translators"
)

// TestSnapshotsShareUnchangedObjects runs the provider against a real API
// server. Snapshots hand out the informers' own objects: an object that did
// not change between two snapshots is the same pointer in both (nothing is
// deep-copied per snapshot), a changed one is a new object with a new
// resourceVersion, a deleted one is gone. Every object carries its kind and
// resourceVersion and has lost its managed fields and last-applied
// annotation (the transform), while other annotations stay.
func TestSnapshotsShareUnchangedObjects(t *testing.T) {
	cfg := startAPIServer(t)
	k8s, next, _ := runProvider(t, cfg, 20*time.Millisecond)
	ctx := context.Background()
	next("start", 30*time.Second)

	const n = 5
	for i := range n {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%d", i), Namespace: "default",
				Annotations: map[string]string{corev1.LastAppliedConfigAnnotation: `{"kind":"Service"}`, "team": "a"}},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
		}
		if err := k8s.Create(ctx, svc); err != nil {
			t.Fatal(err)
		}
		route := &gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("route-%d", i), Namespace: "default",
				Annotations: map[string]string{corev1.LastAppliedConfigAnnotation: `{"kind":"HTTPRoute"}`}},
			Spec: gatewayv1.HTTPRouteSpec{Hostnames: []gatewayv1.Hostname{gatewayv1.Hostname(fmt.Sprintf("r%d.example", i))}},
		}
		if err := k8s.Create(ctx, route); err != nil {
			t.Fatal(err)
		}
		if len(route.ManagedFields) == 0 {
			t.Fatal("the API server set no managed fields: the transform's stripping would go untested")
		}
	}
	// Snapshots come as the objects arrive; wait for the one holding them
	// all.
	var first = next("creating the objects", 10*time.Second)
	for len(first.HTTPRoutes) < n || len(ownServices(first.Services, "default")) < n {
		first = next("creating the objects", 10*time.Second)
	}

	wantKinds := map[string]schema.GroupVersionKind{
		"Service":   corev1.SchemeGroupVersion.WithKind("Service"),
		"HTTPRoute": schema.GroupVersionKind{Group: gatewayv1.GroupName, Version: "v1", Kind: "HTTPRoute"},
	}
	check := func(kind string, o client.Object) {
		t.Helper()
		if got := o.GetObjectKind().GroupVersionKind(); got != wantKinds[kind] {
			t.Errorf("%s %s: kind %v, want %v", kind, o.GetName(), got, wantKinds[kind])
		}
		if o.GetResourceVersion() == "" {
			t.Errorf("%s %s: no resourceVersion", kind, o.GetName())
		}
		if len(o.GetManagedFields()) != 0 {
			t.Errorf("%s %s: managed fields kept", kind, o.GetName())
		}
		if _, ok := o.GetAnnotations()[corev1.LastAppliedConfigAnnotation]; ok {
			t.Errorf("%s %s: last-applied annotation kept", kind, o.GetName())
		}
	}
	for _, s := range ownServices(first.Services, "default") {
		check("Service", s)
		if s.Annotations["team"] != "a" {
			t.Errorf("Service %s lost its other annotations: %v", s.Name, s.Annotations)
		}
	}
	for _, r := range first.HTTPRoutes {
		check("HTTPRoute", r)
	}

	// Change route-1's spec, delete svc-2.
	changed := &gatewayv1.HTTPRoute{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: "default", Name: "route-1"}, changed); err != nil {
		t.Fatal(err)
	}
	changed.Spec.Hostnames = []gatewayv1.Hostname{"changed.example"}
	if err := k8s.Update(ctx, changed); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "svc-2", Namespace: "default"}}); err != nil {
		t.Fatal(err)
	}
	second := next("the edits", 10*time.Second)
	for len(ownServices(second.Services, "default")) != n-1 || second.HTTPRoutes[1].Spec.Hostnames[0] != "changed.example" {
		second = next("the edits", 10*time.Second)
	}

	if len(second.HTTPRoutes) != n {
		t.Fatalf("second snapshot: %d HTTPRoutes, want %d", len(second.HTTPRoutes), n)
	}
	for i, r := range second.HTTPRoutes {
		check("HTTPRoute", r)
		same := r == first.HTTPRoutes[i]
		switch {
		case i == 1 && same:
			t.Errorf("the changed route-1 is the same object as before")
		case i == 1 && r.ResourceVersion == first.HTTPRoutes[i].ResourceVersion:
			t.Errorf("the changed route-1 kept its resourceVersion %s", r.ResourceVersion)
		case i != 1 && !same:
			t.Errorf("unchanged %s is a new object in the second snapshot (copied, not shared)", r.Name)
		}
	}
	firstSvc := map[string]*corev1.Service{}
	for _, s := range ownServices(first.Services, "default") {
		firstSvc[s.Name] = s
	}
	for _, s := range ownServices(second.Services, "default") {
		if s.Name == "svc-2" {
			t.Error("the deleted svc-2 is still in the snapshot")
		}
		if firstSvc[s.Name] != s {
			t.Errorf("unchanged Service %s is a new object in the second snapshot", s.Name)
		}
	}
}

// ownServices returns the Services of namespace ns (the API server makes
// its own "kubernetes" Service there too, which is left out).
func ownServices(svcs []*corev1.Service, ns string) []*corev1.Service {
	var out []*corev1.Service
	for _, s := range svcs {
		if s.Namespace == ns && s.Name != "kubernetes" {
			out = append(out, s)
		}
	}
	return out
}

// TestSnapshotRateIsBounded: a change after a quiet spell gets its
// snapshot without waiting out the interval (no trailing debounce), and a
// burst of changes gets at most one snapshot per interval, the last one
// holding the burst's final state.
func TestSnapshotRateIsBounded(t *testing.T) {
	const interval = 2 * time.Second
	cfg := startAPIServer(t)
	k8s, next, snapshots := runProvider(t, cfg, interval)
	ctx := context.Background()
	next("start", 30*time.Second)
	time.Sleep(interval) // a quiet spell

	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}
	start := time.Now()
	if err := k8s.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	in := next("creating a Service", interval)
	if took := time.Since(start); took >= interval || len(ownServices(in.Services, "default")) != 1 {
		t.Fatalf("after a quiet spell, the snapshot with the new Service came %v after the request (interval %v) with %d Services",
			took, interval, len(ownServices(in.Services, "default")))
	}

	// A burst right after that snapshot.
	const changes = 10
	burst := time.Now()
	for i := range changes {
		svc.Labels = map[string]string{"n": fmt.Sprint(i)}
		if err := k8s.Update(ctx, svc); err != nil {
			t.Fatal(err)
		}
	}
	// Collect until a snapshot holds the last change, then for one more
	// interval (nothing may follow it).
	var got []*translators.Inputs
	deadline := time.After(time.Since(burst) + 3*interval)
	final := fmt.Sprint(changes - 1)
collect:
	for {
		select {
		case in := <-snapshots:
			got = append(got, in)
		case <-deadline:
			break collect
		}
	}
	window := time.Since(burst)
	if len(got) == 0 {
		t.Fatal("no snapshot after the burst")
	}
	if s := ownServices(got[len(got)-1].Services, "default"); len(s) != 1 || s[0].Labels["n"] != final {
		t.Errorf("the last snapshot does not hold the burst's final state (label n=%s): %+v", final, s)
	}
	if limit := int(window/interval) + 1; len(got) > limit {
		t.Errorf("%d snapshots for %d changes in %v: more than one per %v (at most %d)", len(got), changes, window, interval, limit)
	}
	t.Logf("%d changes gave %d snapshots within %v", changes, len(got), window)
}
