package kubernetes

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/translators"
)

func cond(typ string, st metav1.ConditionStatus, at time.Time) metav1.Condition {
	return metav1.Condition{Type: typ, Status: st, Reason: "R", LastTransitionTime: metav1.NewTime(at)}
}

func TestMergeConditionsKeepsTransitionTimes(t *testing.T) {
	then := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := metav1.NewTime(then.Add(time.Hour))
	old := []metav1.Condition{cond("Accepted", metav1.ConditionTrue, then), cond("Programmed", metav1.ConditionTrue, then), cond("Gone", metav1.ConditionTrue, then)}
	want := []metav1.Condition{cond("Accepted", metav1.ConditionTrue, time.Time{}), cond("Programmed", metav1.ConditionFalse, time.Time{}), cond("New", metav1.ConditionTrue, time.Time{})}
	got := mergeConditions(old, want, now)
	if len(got) != 3 {
		t.Fatalf("got %d conditions, want 3 (Gone dropped)", len(got))
	}
	if !got[0].LastTransitionTime.Time.Equal(then) {
		t.Errorf("unchanged Accepted must keep its time, got %v", got[0].LastTransitionTime)
	}
	if !got[1].LastTransitionTime.Equal(&now) || !got[2].LastTransitionTime.Equal(&now) {
		t.Errorf("changed and new conditions must get now: %v %v", got[1].LastTransitionTime, got[2].LastTransitionTime)
	}
}

func TestMergeParentsKeepsOtherControllers(t *testing.T) {
	now := metav1.Now()
	gw := func(name string) gatewayv1.ParentReference {
		return gatewayv1.ParentReference{Name: gatewayv1.ObjectName(name)}
	}
	other := gatewayv1.RouteParentStatus{ParentRef: gw("theirs"), ControllerName: "example.com/other",
		Conditions: []metav1.Condition{cond("Accepted", metav1.ConditionTrue, now.Time)}}
	stale := gatewayv1.RouteParentStatus{ParentRef: gw("old"), ControllerName: "legate.dev/gateway-controller"}
	mine := gatewayv1.RouteParentStatus{ParentRef: gw("mine"), ControllerName: "legate.dev/gateway-controller",
		Conditions: []metav1.Condition{cond("Accepted", metav1.ConditionTrue, time.Time{})}}
	got := mergeParents([]gatewayv1.RouteParentStatus{other, stale}, []gatewayv1.RouteParentStatus{mine}, "legate.dev/gateway-controller", now)
	if len(got) != 2 || got[0].ControllerName != "example.com/other" || got[1].ParentRef.Name != "mine" {
		t.Fatalf("parents = %+v", got)
	}
	if got[1].Conditions[0].LastTransitionTime.IsZero() {
		t.Fatal("new condition without a transition time")
	}
}

func TestHostState(t *testing.T) {
	if st, r := hostState(translators.ObjectStatus{Problems: []translators.Problem{
		{Severity: translators.SeverityWarning, Field: "spec.acmeProvider", Message: "not supported"}}}); st != "Ready" || r != "" {
		t.Fatalf("a Host with a warning: %s %q", st, r)
	}
	st, r := hostState(translators.ObjectStatus{Problems: []translators.Problem{
		{Severity: translators.SeverityWarning, Field: "spec.acmeProvider", Message: "not supported"},
		{Severity: translators.SeverityError, Field: "spec.tlsSecret", Message: "secret default/x does not exist"}}})
	if st != "Error" || r != "spec.tlsSecret: secret default/x does not exist" {
		t.Fatalf("a Host with an error: %s %q", st, r)
	}
}

func TestMappingStatus(t *testing.T) {
	ok := mappingStatus(translators.ObjectStatus{})
	if ok.State != "Running" || ok.Reason != "" {
		t.Fatalf("clean Mapping: %+v", ok)
	}
	warn := mappingStatus(translators.ObjectStatus{Problems: []translators.Problem{
		{Severity: translators.SeverityWarning, Field: "spec.cors", Message: "not supported yet"}}})
	if warn.State != "Running" || warn.Reason != "spec.cors: not supported yet" {
		t.Fatalf("warning: %+v", warn)
	}
	bad := mappingStatus(translators.ObjectStatus{Problems: []translators.Problem{
		{Severity: translators.SeverityWarning, Field: "spec.cors", Message: "not supported yet"},
		{Severity: translators.SeverityError, Field: "spec.envoy_override", Message: "unsafe"}}})
	if bad.State != "Inactive" || bad.Reason != "spec.envoy_override: unsafe" {
		t.Fatalf("error: %+v", bad)
	}
}

// TestMergeParentsRemovesStaleEntries: an empty want (a route that no
// longer names any of Legate's Gateways) removes every entry of Legate's
// and keeps the others; the result is never nil once something was there.
func TestMergeParentsRemovesStaleEntries(t *testing.T) {
	now := metav1.Now()
	other := gatewayv1.RouteParentStatus{ParentRef: gatewayv1.ParentReference{Name: "theirs"}, ControllerName: "example.com/other"}
	mine := gatewayv1.RouteParentStatus{ParentRef: gatewayv1.ParentReference{Name: "mine"}, ControllerName: "legate.dev/gateway-controller"}
	got := mergeParents([]gatewayv1.RouteParentStatus{mine, other}, []gatewayv1.RouteParentStatus{}, "legate.dev/gateway-controller", now)
	if len(got) != 1 || got[0].ControllerName != "example.com/other" {
		t.Fatalf("parents = %+v, want only the other controller's", got)
	}
	got = mergeParents([]gatewayv1.RouteParentStatus{mine}, nil, "legate.dev/gateway-controller", now)
	if got == nil || len(got) != 0 {
		t.Fatalf("parents = %#v, want an empty, non-nil list", got)
	}
}
