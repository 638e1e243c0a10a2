package translators

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/translators/ir"
)

func meta(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }

func TestInputsAddSortAndLookups(t *testing.T) {
	in := &Inputs{}
	first := &corev1.Service{ObjectMeta: meta("b", "svc"), Spec: corev1.ServiceSpec{ClusterIP: "first"}}
	for _, o := range []client.Object{
		&corev1.Service{ObjectMeta: meta("b", "z")},
		first,
		&corev1.Service{ObjectMeta: meta("a", "svc")},
		&corev1.Service{ObjectMeta: meta("b", "svc"), Spec: corev1.ServiceSpec{ClusterIP: "second"}},
		&gatewayv1.HTTPRoute{ObjectMeta: meta("a", "r")},
		&corev1.ConfigMap{ObjectMeta: meta("a", "other")},
	} {
		if err := in.Add(o); err != nil {
			t.Fatal(err)
		}
	}
	if err := in.Add(nil); err == nil {
		t.Fatal("Add(nil) must fail")
	}
	in.Sort()
	var names []string
	for _, s := range in.Services {
		names = append(names, s.Namespace+"/"+s.Name)
	}
	if want := []string{"a/svc", "b/svc", "b/svc", "b/z"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("sorted services %v, want %v", names, want)
	}
	if got := in.Service("b", "svc"); got.Spec.ClusterIP != "first" {
		t.Fatalf("lookup must return the first duplicate, got %q", got.Spec.ClusterIP)
	}
	if in.Service("c", "svc") != nil {
		t.Fatal("lookup of a missing Service must be nil")
	}
	if len(in.HTTPRoutes) != 1 || len(in.Others) != 1 {
		t.Fatalf("HTTPRoutes %d, Others %d", len(in.HTTPRoutes), len(in.Others))
	}
	if c := in.Count(); c["Service"] != 4 || c["HTTPRoute"] != 1 || c["ConfigMap"] != 1 || len(in.All()) != 6 {
		t.Fatalf("count %v, all %d", c, len(in.All()))
	}
}

// fake is a translator whose output the test chooses.
type fake struct {
	name  string
	kinds []client.Object
	frag  *ir.Config
	st    []*ObjectStatus
}

func (f fake) Name() string                      { return f.name }
func (f fake) Kinds() []client.Object            { return f.kinds }
func (f fake) AddToScheme(*runtime.Scheme) error { return nil }
func (f fake) Translate(*Inputs, Settings) (*ir.Config, []*ObjectStatus) {
	return f.frag, f.st
}

func TestRegistryMergesAndReportsOnTheLoser(t *testing.T) {
	route := func(name string) *ir.Route {
		return &ir.Route{Name: name, Source: ir.Source{Kind: "Thing", Namespace: "ns", Name: name, Field: "spec.x"},
			Match:          ir.Match{Path: ir.PathMatch{Type: ir.PathPrefix, Value: "/"}},
			DirectResponse: &ir.DirectResponse{StatusCode: 200}}
	}
	frag := func(r *ir.Route) *ir.Config {
		return &ir.Config{Listeners: []*ir.Listener{{Name: "http", Address: "0.0.0.0", Port: 8080, Protocol: ir.ProtocolHTTP,
			VirtualHosts: []*ir.VirtualHost{{Name: "h", Hostnames: []string{"h.example.com"}, Routes: []*ir.Route{r}}}}}}
	}
	badRegex := route("bad")
	badRegex.Match.Path = ir.PathMatch{Type: ir.PathRegex, Value: "(["}
	a := fake{name: "a", kinds: []client.Object{&corev1.Service{}}, frag: frag(route("winner")),
		st: []*ObjectStatus{{Object: ObjectRef{Kind: "Thing", Namespace: "ns", Name: "winner"}, Generation: 3}}}
	b := fake{name: "b", kinds: []client.Object{&corev1.Service{}, &corev1.Secret{}}, frag: frag(route("loser"))}
	c := fake{name: "c", frag: frag(badRegex)}
	reg := NewRegistry(a, b, c)
	if n := len(reg.Kinds()); n != 2 {
		t.Fatalf("kinds must be deduplicated, got %d", n)
	}
	res := reg.Translate(&Inputs{}, DefaultSettings())
	if errs := res.IR.Validate(); len(errs) != 0 {
		t.Fatalf("result invalid: %v", errs)
	}
	routes := res.IR.Listeners[0].VirtualHosts[0].Routes
	if len(routes) != 1 || routes[0].Name != "winner" {
		t.Fatalf("routes = %+v", routes)
	}
	byName := map[string]ObjectStatus{}
	for _, st := range res.Statuses {
		byName[st.Object.Name] = *st
	}
	if st := byName["winner"]; st.Generation != 3 || !st.Accepted() {
		t.Fatalf("winner status %+v", st)
	}
	if st := byName["loser"]; st.Accepted() || st.Problems[0].Reason != "Conflict" || st.Problems[0].Field != "spec.x" {
		t.Fatalf("loser status %+v", st)
	}
	if st := byName["bad"]; st.Accepted() || st.Problems[0].Reason != "Invalid" {
		t.Fatalf("bad status %+v", st)
	}
}

func TestFieldPath(t *testing.T) {
	if got := FieldPath("spec", "rules", "[0]", "host"); got != "spec.rules[0].host" {
		t.Fatal(got)
	}
}
