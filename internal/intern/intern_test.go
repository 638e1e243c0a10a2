package intern

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"unsafe"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

const routeJSON = `{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
 "metadata": {"name": "r-%d", "namespace": "shop"},
 "spec": {"parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "infra", "name": "edge", "sectionName": "http"}],
  "rules": [{"backendRefs": [{"group": "", "kind": "Service", "name": "svc-%d", "port": 80}]}]},
 "status": {"parents": [{"parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "edge"},
  "controllerName": "legate.dev/gateway-controller",
  "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "Route is accepted", "lastTransitionTime": "2026-11-26T00:00:00Z"}]}]}}`

func decode(t *testing.T, i int) *gatewayv1.HTTPRoute {
	t.Helper()
	r := &gatewayv1.HTTPRoute{}
	if err := json.Unmarshal(fmt.Appendf(nil, routeJSON, i, i), r); err != nil {
		t.Fatal(err)
	}
	return r
}

func same[S ~string](a, b S) bool {
	return len(a) > 0 && unsafe.StringData(string(a)) == unsafe.StringData(string(b))
}

// Two routes decoded apart share their vocabulary once interned, and say
// exactly what they said; what is their own (names) stays their own.
func TestRoutesShareTheirVocabulary(t *testing.T) {
	var s Strings
	a, b := decode(t, 1), decode(t, 2)
	wantA, wantB := a.DeepCopy(), b.DeepCopy()
	s.Object(a)
	s.Object(b)
	if !reflect.DeepEqual(a, wantA) || !reflect.DeepEqual(b, wantB) {
		t.Fatal("interning changed what the routes say")
	}
	pa, pb := a.Spec.ParentRefs[0], b.Spec.ParentRefs[0]
	sa, sb := a.Status.Parents[0], b.Status.Parents[0]
	ba, bb := a.Spec.Rules[0].BackendRefs[0], b.Spec.Rules[0].BackendRefs[0]
	for what, ok := range map[string]bool{
		"namespace":                 same(a.Namespace, b.Namespace),
		"parentRef group":           same(*pa.Group, *pb.Group),
		"parentRef kind":            same(*pa.Kind, *pb.Kind),
		"parentRef namespace":       same(*pa.Namespace, *pb.Namespace),
		"parentRef sectionName":     same(*pa.SectionName, *pb.SectionName),
		"parentRef name":            same(pa.Name, pb.Name),
		"status parentRef group":    same(*sa.ParentRef.Group, *pb.Group),
		"controllerName":            same(sa.ControllerName, sb.ControllerName),
		"condition type and reason": same(sa.Conditions[0].Type, sb.Conditions[0].Type) && same(sa.Conditions[0].Reason, sb.Conditions[0].Reason),
		"condition status":          same(sa.Conditions[0].Status, sb.Conditions[0].Status),
		"condition message":         same(sa.Conditions[0].Message, sb.Conditions[0].Message),
		"backendRef kind":           same(*ba.Kind, *bb.Kind),
	} {
		if !ok {
			t.Errorf("%s: not shared", what)
		}
	}
	if same(a.Name, b.Name) || same(ba.Name, bb.Name) {
		t.Error("names that differ share bytes")
	}
}

// The table stops growing at maxEntries; strings past it, and long ones,
// are returned as given.
func TestStringsIsBounded(t *testing.T) {
	var s Strings
	for i := range maxEntries + 100 {
		v := fmt.Sprintf("value-%d", i)
		if got := s.Get(v); got != v {
			t.Fatalf("Get(%q) = %q", v, got)
		}
	}
	if n := s.Len(); n != maxEntries {
		t.Errorf("%d strings interned, want at most %d", n, maxEntries)
	}
	long := string(make([]byte, maxLen+1))
	if s.Get(long); s.Len() != maxEntries {
		t.Error("a long string was interned")
	}
	first := fmt.Sprintf("value-%d", 0)
	if got := s.Get(first); !same(got, s.Get(fmt.Sprintf("value-%d", 0))) {
		t.Error("a string seen first is not shared after the table filled")
	}
}
