package translators

import (
	"errors"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// A List puts its objects where Add puts them, for every kind Inputs has a
// field for and for the others; two Lists of one kind follow each other;
// and MakeList refuses what Add refuses.
func TestListsGoWhereAddPutsThem(t *testing.T) {
	m := func(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }
	kinds := [][]client.Object{
		{&corev1.Namespace{ObjectMeta: m("", "a")}, &corev1.Namespace{ObjectMeta: m("", "b")}},
		{&corev1.Service{ObjectMeta: m("x", "a")}},
		{&discoveryv1.EndpointSlice{ObjectMeta: m("x", "a")}},
		{&corev1.Secret{ObjectMeta: m("x", "a")}},
		{&networkingv1.IngressClass{ObjectMeta: m("", "a")}},
		{&networkingv1.Ingress{ObjectMeta: m("x", "a")}},
		{&gatewayv1.GatewayClass{ObjectMeta: m("", "a")}},
		{&gatewayv1.Gateway{ObjectMeta: m("x", "a")}},
		{&gatewayv1.HTTPRoute{ObjectMeta: m("x", "a")}, &gatewayv1.HTTPRoute{ObjectMeta: m("x", "b")}},
		{&gatewayv1.GRPCRoute{ObjectMeta: m("x", "a")}},
		{&gatewayv1.TLSRoute{ObjectMeta: m("x", "a")}},
		{&gatewayv1.TCPRoute{ObjectMeta: m("x", "a")}},
		{&gatewayv1.UDPRoute{ObjectMeta: m("x", "a")}},
		{&gatewayv1.ReferenceGrant{ObjectMeta: m("x", "a")}},
		{&gatewayv1.BackendTLSPolicy{ObjectMeta: m("x", "a")}},
		{&corev1.ConfigMap{ObjectMeta: m("x", "a")}}, // a kind of Others
	}
	got, want := &Inputs{}, &Inputs{}
	for _, objs := range kinds {
		l, err := MakeList(objs)
		if err != nil {
			t.Fatal(err)
		}
		l.AddTo(got)
		for _, o := range objs {
			if err := want.Add(o); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !reflect.DeepEqual(got.All(), want.All()) || !reflect.DeepEqual(got.Count(), want.Count()) {
		t.Fatalf("Lists put %v, Add %v", got.Count(), want.Count())
	}
	// Every field of Inputs that holds objects was covered.
	v := reflect.ValueOf(got).Elem()
	for i := range v.NumField() {
		if f := v.Type().Field(i); f.IsExported() && v.Field(i).Len() == 0 {
			t.Errorf("no List filled %s", f.Name)
		}
	}
	more, err := MakeList([]client.Object{&gatewayv1.HTTPRoute{ObjectMeta: m("y", "c")}})
	if err != nil {
		t.Fatal(err)
	}
	more.AddTo(got)
	if len(got.HTTPRoutes) != 3 || got.HTTPRoutes[2].Namespace != "y" {
		t.Errorf("a second List of HTTPRoutes: %d routes", len(got.HTTPRoutes))
	}
	if _, err := MakeList([]client.Object{&corev1.Service{ObjectMeta: m("x", "bad\xff")}}); !errors.Is(err, ErrInvalidName) {
		t.Errorf("a name that is not UTF-8: error %v", err)
	}
	if _, err := MakeList([]client.Object{nil}); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("a nil object: error %v", err)
	}
}
