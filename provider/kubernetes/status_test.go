package kubernetes

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
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

// A route's status patch is the one a comparison of the two objects gives
// (MergeFrom), except that emptied parents are sent as [] rather than
// null: status.parents is a required field.
func TestRouteStatusPatchIsTheMergePatch(t *testing.T) {
	entry := func(name, controller string, gen int64) gatewayv1.RouteParentStatus {
		return gatewayv1.RouteParentStatus{ParentRef: gatewayv1.ParentReference{Name: gatewayv1.ObjectName(name)},
			ControllerName: gatewayv1.GatewayController(controller),
			Conditions:     []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: gen}}}
	}
	route := func(parents ...gatewayv1.RouteParentStatus) *gatewayv1.HTTPRoute {
		return &gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Generation: 2, Labels: map[string]string{"a": "b"}},
			Spec:       gatewayv1.HTTPRouteSpec{Hostnames: []gatewayv1.Hostname{"web.example"}},
			Status:     gatewayv1.HTTPRouteStatus{RouteStatus: gatewayv1.RouteStatus{Parents: parents}},
		}
	}
	theirs, mine1, mine2 := entry("theirs", "example.com/other", 1), entry("gw", "legate.dev/gateway-controller", 1), entry("gw", "legate.dev/gateway-controller", 2)
	for _, c := range []struct {
		name      string
		base, obj *gatewayv1.HTTPRoute
		want      string // "" for the MergeFrom patch's
	}{
		{"first entry", route(), route(mine1), ""},
		{"beside another controller's", route(theirs), route(theirs, mine1), ""},
		{"entry updated", route(theirs, mine1), route(theirs, mine2), ""},
		{"ours removed, theirs kept", route(theirs, mine1), route(theirs), ""},
		{"emptied", route(mine1), route(), `{"status":{"parents":[]}}`},
	} {
		got, err := statusPatch(c.base, c.obj).Data(c.obj)
		if err != nil {
			t.Fatal(err)
		}
		want := []byte(c.want)
		if c.want == "" {
			if want, err = client.MergeFrom(c.base).Data(c.obj); err != nil {
				t.Fatal(err)
			}
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: patch %s, want %s", c.name, got, want)
		}
	}
}
