package kubernetes_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// TestStatusWritesDoNotTriggerSnapshots runs the provider against a real
// API server: a write to a GatewayClass's status (what Legate's status
// writer does) must not produce a new snapshot, while a change to its spec
// must.
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
		t.Fatal("a status-only write produced a snapshot")
	case <-time.After(2 * time.Second):
	}

	// A spec change still does, and carries the status written before.
	desc := "changed"
	gc.Spec.Description = &desc
	if err := k8s.Update(ctx, gc); err != nil {
		t.Fatal(err)
	}
	in := next("a spec change", 10*time.Second)
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
