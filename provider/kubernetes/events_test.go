package kubernetes_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/provider/kubernetes"
	"github.com/legateproxy/legate/translators"
)

// TestStatusWritesDoNotTriggerSnapshots runs the provider against a real
// API server: a write to a GatewayClass's status (what Legate's status
// writer does) must not produce a snapshot of its own, only the one a
// StatusSettle later that carries it (once, not again and again), while a
// change to its spec must produce one at once.
func TestStatusWritesDoNotTriggerSnapshots(t *testing.T) {
	cfg := startAPIServer(t)
	k8s, next, snapshots := runProvider(t, cfg, 20*time.Millisecond)
	ctx := context.Background()
	next("start", 30*time.Second)

	gc := &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: "legate"},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: "legate.dev/gateway-controller"},
	}
	if err := k8s.Create(ctx, gc); err != nil {
		t.Fatal(err)
	}
	if in := next("creating a GatewayClass", 10*time.Second); len(in.GatewayClasses) != 1 {
		t.Fatalf("snapshot after the create holds %d GatewayClasses, want 1", len(in.GatewayClasses))
	}

	// A status write, as Legate's status writer makes.
	rv := gc.ResourceVersion
	// The settle delay counts from the update's event, which may arrive
	// before Update returns.
	wrote := time.Now()
	gc.Status.Conditions = []metav1.Condition{{
		Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", Message: "status only",
		ObservedGeneration: gc.Generation, LastTransitionTime: metav1.Now(),
	}}
	if err := k8s.Status().Update(ctx, gc); err != nil {
		t.Fatal(err)
	}
	if gc.ResourceVersion == rv {
		t.Fatal("the status write did not reach the API server")
	}
	select {
	case <-snapshots:
		t.Fatal("a status-only write produced a snapshot before the settle delay")
	case <-time.After(statusSettle / 2):
	}
	in := next("the settle delay after a status write", 10*time.Second)
	if waited := time.Since(wrote); waited < statusSettle {
		t.Fatalf("the snapshot after a status write came %v after it, before the settle delay (%v)", waited, statusSettle)
	}
	if len(in.GatewayClasses) != 1 || in.GatewayClasses[0].ResourceVersion != gc.ResourceVersion {
		t.Fatalf("the settle snapshot does not hold the GatewayClass as written: %+v", in.GatewayClasses)
	}
	select {
	case <-snapshots:
		t.Fatal("a second snapshot followed the settle snapshot with nothing changed")
	case <-time.After(2 * statusSettle):
	}

	// A spec change still does, and carries the status written before.
	desc := "changed"
	gc.Spec.Description = &desc
	if err := k8s.Update(ctx, gc); err != nil {
		t.Fatal(err)
	}
	in = next("a spec change", 10*time.Second)
	if len(in.GatewayClasses) != 1 || in.GatewayClasses[0].Spec.Description == nil || *in.GatewayClasses[0].Spec.Description != desc {
		t.Fatalf("snapshot after the spec change lacks it: %+v", in.GatewayClasses)
	}
	if len(in.GatewayClasses[0].Status.Conditions) != 1 {
		t.Fatal("snapshot after the spec change lacks the status written before it")
	}

	// Labels are read by translators (selectors): a label change is not
	// filtered either.
	gc.Labels = map[string]string{"team": "a"}
	if err := k8s.Update(ctx, gc); err != nil {
		t.Fatal(err)
	}
	if in := next("a label change", 10*time.Second); in.GatewayClasses[0].Labels["team"] != "a" {
		t.Fatal("snapshot after the label change lacks it")
	}
}

// TestStatusWriterAnnouncesOnTheObjectItWrote runs the status writer
// against a real API server: it writes a route's status, asking for the
// answer as metadata alone, and the event announcing the route's problem
// names the route as the API server knows it (kind, API version, UID).
func TestStatusWriterAnnouncesOnTheObjectItWrote(t *testing.T) {
	cfg := startAPIServer(t)
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{gatewayv1.Install, corev1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	k8s, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	route := &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:       gatewayv1.HTTPRouteSpec{CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "gw"}}}},
	}
	if err := k8s.Create(ctx, route); err != nil {
		t.Fatal(err)
	}
	w, err := kubernetes.NewStatusWriter(cfg, scheme, nil, "test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	const ours = gatewayv1.GatewayController("legate.dev/gateway-controller")
	w.Update([]*translators.ObjectStatus{{
		Object:          translators.ObjectRef{Group: gatewayv1.GroupName, Kind: "HTTPRoute", Namespace: "default", Name: "web"},
		Generation:      route.Generation,
		Problems:        []translators.Problem{{Severity: translators.SeverityError, Field: "spec.rules[0].backendRefs[0]", Reason: "BackendNotFound", Message: "service default/missing not found"}},
		RouteController: ours,
		RouteParents: []gatewayv1.RouteParentStatus{{
			ParentRef: gatewayv1.ParentReference{Name: "gw"}, ControllerName: ours,
			Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: route.Generation}},
		}},
	}})

	var ev *corev1.Event
	deadline := time.Now().Add(20 * time.Second)
	for ev == nil && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		var events corev1.EventList
		if err := k8s.List(ctx, &events, client.InNamespace("default")); err != nil {
			t.Fatal(err)
		}
		for i := range events.Items {
			if events.Items[i].Reason == "BackendNotFound" {
				ev = &events.Items[i]
			}
		}
	}
	if ev == nil {
		t.Fatal("no event announced the route's problem within 20s")
	}
	got := &gatewayv1.HTTPRoute{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(route), got); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Parents) != 1 || got.Status.Parents[0].ControllerName != ours {
		t.Fatalf("route status parents %+v, want Legate's one entry", got.Status.Parents)
	}
	ref := ev.InvolvedObject
	if ref.Kind != "HTTPRoute" || ref.APIVersion != gatewayv1.GroupVersion.String() || ref.Name != "web" || ref.UID != route.UID || ref.UID == "" {
		t.Fatalf("event names %+v, want HTTPRoute %s web with UID %q", ref, gatewayv1.GroupVersion, route.UID)
	}
	if ref.ResourceVersion != got.ResourceVersion {
		t.Fatalf("event names resourceVersion %q, the written route is at %q", ref.ResourceVersion, got.ResourceVersion)
	}
}
