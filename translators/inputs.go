package translators

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Inputs is one consistent, immutable snapshot of every object a translator
// may read. Providers (the Kubernetes API, a folder of YAML) fill it with Add
// and then hand it to the translators, which must not modify it.
//
// Lists are sorted by namespace and name once Sort has run, so that
// translators that iterate them are deterministic.
type Inputs struct {
	Namespaces     []*corev1.Namespace
	Services       []*corev1.Service
	EndpointSlices []*discoveryv1.EndpointSlice
	Secrets        []*corev1.Secret
	IngressClasses []*networkingv1.IngressClass
	Ingresses      []*networkingv1.Ingress

	// Gateway API (gateway.networking.k8s.io/v1).
	GatewayClasses     []*gatewayv1.GatewayClass
	Gateways           []*gatewayv1.Gateway
	HTTPRoutes         []*gatewayv1.HTTPRoute
	GRPCRoutes         []*gatewayv1.GRPCRoute
	TLSRoutes          []*gatewayv1.TLSRoute
	TCPRoutes          []*gatewayv1.TCPRoute
	UDPRoutes          []*gatewayv1.UDPRoute
	ReferenceGrants    []*gatewayv1.ReferenceGrant
	BackendTLSPolicies []*gatewayv1.BackendTLSPolicy

	// Others holds objects of every other kind a registered translator
	// reads (e.g. getambassador.io kinds), sorted by kind, namespace and
	// name; the translator that reads them picks its own by Go type.
	Others []client.Object

	indexOnce   sync.Once
	services    map[string]*corev1.Service
	secrets     map[string]*corev1.Secret
	namespaces  map[string]*corev1.Namespace
	slicesBySvc map[string][]*discoveryv1.EndpointSlice
}

// ErrUnknownKind is returned by Add for a nil object.
var ErrUnknownKind = errors.New("inputs: unknown kind")

// ErrInvalidName is returned by Add for an object whose namespace or name
// is not valid UTF-8: every name ends up in Envoy's protobufs (route and
// cluster names), which cannot carry it. The API server never stores such
// a name; a YAML file or a program can make one.
var ErrInvalidName = errors.New("inputs: namespace or name is not valid UTF-8")

// Add puts one object into the snapshot. It returns an error for a kind
// Inputs has no place for, or a name no configuration can carry; the
// caller decides whether that matters.
func (in *Inputs) Add(obj client.Object) error {
	if obj != nil && !utf8.ValidString(obj.GetNamespace()+obj.GetName()) {
		return fmt.Errorf("%w: %q/%q", ErrInvalidName, obj.GetNamespace(), obj.GetName())
	}
	switch o := obj.(type) {
	case *corev1.Namespace:
		in.Namespaces = append(in.Namespaces, o)
	case *corev1.Service:
		in.Services = append(in.Services, o)
	case *discoveryv1.EndpointSlice:
		in.EndpointSlices = append(in.EndpointSlices, o)
	case *corev1.Secret:
		in.Secrets = append(in.Secrets, o)
	case *networkingv1.IngressClass:
		in.IngressClasses = append(in.IngressClasses, o)
	case *networkingv1.Ingress:
		in.Ingresses = append(in.Ingresses, o)
	case *gatewayv1.GatewayClass:
		in.GatewayClasses = append(in.GatewayClasses, o)
	case *gatewayv1.Gateway:
		in.Gateways = append(in.Gateways, o)
	case *gatewayv1.HTTPRoute:
		in.HTTPRoutes = append(in.HTTPRoutes, o)
	case *gatewayv1.GRPCRoute:
		in.GRPCRoutes = append(in.GRPCRoutes, o)
	case *gatewayv1.TLSRoute:
		in.TLSRoutes = append(in.TLSRoutes, o)
	case *gatewayv1.TCPRoute:
		in.TCPRoutes = append(in.TCPRoutes, o)
	case *gatewayv1.UDPRoute:
		in.UDPRoutes = append(in.UDPRoutes, o)
	case *gatewayv1.ReferenceGrant:
		in.ReferenceGrants = append(in.ReferenceGrants, o)
	case *gatewayv1.BackendTLSPolicy:
		in.BackendTLSPolicies = append(in.BackendTLSPolicies, o)
	case nil:
		return fmt.Errorf("%w: nil", ErrUnknownKind)
	default:
		in.Others = append(in.Others, o)
	}
	return nil
}

// All returns every object of the snapshot, in Sort's order within each
// kind: for providers and tools that copy or count snapshots.
func (in *Inputs) All() []client.Object {
	var out []client.Object
	out = appendObjects(out, in.Namespaces)
	out = appendObjects(out, in.Services)
	out = appendObjects(out, in.EndpointSlices)
	out = appendObjects(out, in.Secrets)
	out = appendObjects(out, in.IngressClasses)
	out = appendObjects(out, in.Ingresses)
	out = appendObjects(out, in.GatewayClasses)
	out = appendObjects(out, in.Gateways)
	out = appendObjects(out, in.HTTPRoutes)
	out = appendObjects(out, in.GRPCRoutes)
	out = appendObjects(out, in.TLSRoutes)
	out = appendObjects(out, in.TCPRoutes)
	out = appendObjects(out, in.UDPRoutes)
	out = appendObjects(out, in.ReferenceGrants)
	out = appendObjects(out, in.BackendTLSPolicies)
	return append(out, in.Others...)
}

func appendObjects[T client.Object](out []client.Object, objs []T) []client.Object {
	for _, o := range objs {
		out = append(out, o)
	}
	return out
}

// Sort orders every list by namespace then name. Providers call it once,
// after the last Add.
func (in *Inputs) Sort() {
	sortObjects(in.Namespaces)
	sortObjects(in.Services)
	sortObjects(in.EndpointSlices)
	sortObjects(in.Secrets)
	sortObjects(in.IngressClasses)
	sortObjects(in.Ingresses)
	sortObjects(in.GatewayClasses)
	sortObjects(in.Gateways)
	sortObjects(in.HTTPRoutes)
	sortObjects(in.GRPCRoutes)
	sortObjects(in.TLSRoutes)
	sortObjects(in.TCPRoutes)
	sortObjects(in.UDPRoutes)
	sortObjects(in.ReferenceGrants)
	sortObjects(in.BackendTLSPolicies)
	slices.SortStableFunc(in.Others, func(a, b client.Object) int {
		return cmp.Or(cmp.Compare(fmt.Sprintf("%T", a), fmt.Sprintf("%T", b)),
			cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()))
	})
}

// Count returns how many objects of each kind the snapshot holds. It runs
// on every snapshot (metrics), so it reads the lists' lengths, not the
// objects: only Others is walked, by Go type.
func (in *Inputs) Count() map[string]int {
	out := map[string]int{}
	countList(out, in.Namespaces)
	countList(out, in.Services)
	countList(out, in.EndpointSlices)
	countList(out, in.Secrets)
	countList(out, in.IngressClasses)
	countList(out, in.Ingresses)
	countList(out, in.GatewayClasses)
	countList(out, in.Gateways)
	countList(out, in.HTTPRoutes)
	countList(out, in.GRPCRoutes)
	countList(out, in.TLSRoutes)
	countList(out, in.TCPRoutes)
	countList(out, in.UDPRoutes)
	countList(out, in.ReferenceGrants)
	countList(out, in.BackendTLSPolicies)
	for _, o := range in.Others {
		out[kindName(o)]++
	}
	return out
}

func countList[T client.Object](out map[string]int, objs []T) {
	if len(objs) > 0 {
		out[kindOf(reflect.TypeFor[T]())] += len(objs)
	}
}

// kindName is the Go type name of an object, which for Kubernetes types is
// its Kind.
func kindName(o client.Object) string { return kindOf(reflect.TypeOf(o)) }

func kindOf(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

func sortObjects[T client.Object](objs []T) {
	slices.SortStableFunc(objs, func(a, b T) int {
		return cmp.Or(cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()))
	})
}

func (in *Inputs) index() {
	in.indexOnce.Do(func() {
		// With duplicates (two files holding one object), the first wins,
		// as everywhere else.
		in.services = firstByName(in.Services)
		in.secrets = firstByName(in.Secrets)
		in.namespaces = firstByName(in.Namespaces)
		in.slicesBySvc = map[string][]*discoveryv1.EndpointSlice{}
		for _, es := range in.EndpointSlices {
			svc := es.Labels[discoveryv1.LabelServiceName]
			if svc == "" {
				continue
			}
			key := es.Namespace + "/" + svc
			in.slicesBySvc[key] = append(in.slicesBySvc[key], es)
		}
	})
}

func firstByName[T client.Object](objs []T) map[string]T {
	out := make(map[string]T, len(objs))
	for _, o := range objs {
		key := o.GetName()
		if ns := o.GetNamespace(); ns != "" {
			key = ns + "/" + key
		}
		if _, ok := out[key]; !ok {
			out[key] = o
		}
	}
	return out
}

// Service returns the Service namespace/name, or nil.
func (in *Inputs) Service(namespace, name string) *corev1.Service {
	in.index()
	return in.services[namespace+"/"+name]
}

// Secret returns the Secret namespace/name, or nil.
func (in *Inputs) Secret(namespace, name string) *corev1.Secret {
	in.index()
	return in.secrets[namespace+"/"+name]
}

// Namespace returns the Namespace name, or nil.
func (in *Inputs) Namespace(name string) *corev1.Namespace {
	in.index()
	return in.namespaces[name]
}

// EndpointSlicesFor returns the EndpointSlices of the Service
// namespace/name (those labelled kubernetes.io/service-name=name).
func (in *Inputs) EndpointSlicesFor(namespace, service string) []*discoveryv1.EndpointSlice {
	in.index()
	return in.slicesBySvc[namespace+"/"+service]
}
