package kubernetes

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/legateproxy/legate/translators"
)

// The informers' transform drops managed fields and the last-applied
// annotation (often larger than the object itself) and keeps every other
// annotation, which translators read.
func TestStripBulkKeepsWhatTranslatorsRead(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{
		Name: "web", Namespace: "default",
		Annotations: map[string]string{
			corev1.LastAppliedConfigAnnotation: `{"apiVersion":"v1","kind":"Service"}`,
			"getambassador.io/config":          "x",
		},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}},
	}}
	out, err := stripBulk(svc)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.Service)
	if len(got.ManagedFields) != 0 {
		t.Errorf("managed fields kept: %v", got.ManagedFields)
	}
	if _, ok := got.Annotations[corev1.LastAppliedConfigAnnotation]; ok {
		t.Error("last-applied annotation kept")
	}
	if got.Annotations["getambassador.io/config"] != "x" || got.Name != "web" {
		t.Errorf("stripped too much: %+v", got.ObjectMeta)
	}
	// Something that is not an object passes through untouched.
	if v, err := stripBulk("tombstone"); err != nil || v != "tombstone" {
		t.Errorf("stripBulk(string) = %v, %v", v, err)
	}
}

// EndpointSlices lose what no translator reads (which Pod and node each
// endpoint is, its topology) and keep addresses, conditions and ports, and
// every object gets its kind set.
func TestTransformStripsEndpointsAndSetsKind(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	p := &Provider{scheme: scheme}
	ready, node, zone := true, "node-1", "zone-a"
	port := int32(8080)
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-1", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Port: &port}},
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:          []string{"10.0.0.1"},
			Conditions:         discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef:          &corev1.ObjectReference{Kind: "Pod", Name: "web-abc", Namespace: "default", UID: "u1"},
			NodeName:           &node,
			Zone:               &zone,
			Hints:              &discoveryv1.EndpointHints{ForZones: []discoveryv1.ForZone{{Name: zone}}},
			DeprecatedTopology: map[string]string{"kubernetes.io/hostname": node},
		}},
	}
	out, err := p.transform(s)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*discoveryv1.EndpointSlice)
	want := discoveryv1.Endpoint{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}
	if !reflect.DeepEqual(got.Endpoints, []discoveryv1.Endpoint{want}) {
		t.Errorf("endpoints after the transform: %+v, want %+v", got.Endpoints, want)
	}
	if len(got.Ports) != 1 || got.Labels[discoveryv1.LabelServiceName] != "web" {
		t.Errorf("ports or labels lost: %+v", got)
	}
	if gvk := got.GroupVersionKind(); gvk != discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice") {
		t.Errorf("kind %v, want discovery.k8s.io/v1 EndpointSlice", gvk)
	}
}

// Objects the transform stores share the strings they repeat: two
// Services decoded apart hold one copy of their namespace, apiVersion and
// kind.
func TestTransformInternsNamespacesAndKinds(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	p := &Provider{scheme: scheme}
	var stored []*corev1.Service
	for _, name := range []string{"a", "b"} {
		// Built from bytes, as a decoder would: no shared constant.
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: string([]byte("shop"))}}
		out, err := p.transform(svc)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, out.(*corev1.Service))
	}
	a, b := stored[0].Namespace, stored[1].Namespace
	if a != "shop" || b != "shop" || unsafe.StringData(a) != unsafe.StringData(b) {
		t.Errorf("namespaces %q and %q do not share their bytes", a, b)
	}
	// The kind the transform sets is one string per kind too.
	for _, f := range []func(*corev1.Service) string{
		func(s *corev1.Service) string { return s.APIVersion },
		func(s *corev1.Service) string { return s.Kind },
	} {
		a, b := f(stored[0]), f(stored[1])
		if a == "" || a != b || unsafe.StringData(a) != unsafe.StringData(b) {
			t.Errorf("apiVersion or kind %q and %q not set, or not sharing their bytes", a, b)
		}
	}
	if gvk := stored[0].GroupVersionKind(); gvk != corev1.SchemeGroupVersion.WithKind("Service") {
		t.Errorf("kind set to %v, want v1 Service", gvk)
	}
}

// Touched lists the objects put or removed since the last call, once;
// past maxTouched it says only that any object may have changed.
func TestTouchedListsChangesSinceTheLastCall(t *testing.T) {
	p := &Provider{}
	k := &kind{gvk: corev1.SchemeGroupVersion.WithKind("Service"), objects: map[types.NamespacedName]client.Object{}}
	svc := func(name string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"}}
	}
	p.put(k, svc("a"))
	p.remove(k, svc("b"))
	refs, all := p.Touched()
	want := []translators.ObjectRef{{Kind: "Service", Namespace: "shop", Name: "a"}, {Kind: "Service", Namespace: "shop", Name: "b"}}
	if all || !reflect.DeepEqual(refs, want) {
		t.Errorf("Touched() = %v, %v; want %v, false", refs, all, want)
	}
	if refs, all := p.Touched(); all || len(refs) != 0 {
		t.Errorf("second Touched() = %v, %v; want nothing", refs, all)
	}
	for i := range maxTouched + 1 {
		p.put(k, svc(fmt.Sprint(i)))
	}
	if refs, all := p.Touched(); !all || len(refs) != 0 {
		t.Errorf("after %d changes Touched() = %d refs, %v; want all", maxTouched+1, len(refs), all)
	}
	if _, all := p.Touched(); all {
		t.Error("all is reported twice")
	}
}

// An object whose name no configuration can carry (not valid UTF-8: the
// API server never stores one, a misbehaving one could send it) is left
// out when it arrives; the snapshot still holds every other object.
func TestObjectWithAnInvalidNameIsLeftOut(t *testing.T) {
	p := &Provider{kinds: []*kind{{gvk: corev1.SchemeGroupVersion.WithKind("Service"), objects: map[types.NamespacedName]client.Object{}}}}
	k := p.kinds[0]
	p.put(k, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "good"}})
	p.put(k, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "bad\xff"}})
	in, err := p.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if len(in.Services) != 1 || in.Services[0].Name != "good" {
		t.Fatalf("snapshot Services = %v, want only shop/good", in.Services)
	}
}
