// Package workload builds the synthetic routing workloads Legate is
// benchmarked with: one class, N Services with an EndpointSlice of three
// endpoints each, and N route objects, each with its own hostname and two
// rules (a path prefix, and an exact path plus a header) to two different
// Services. The same objects feed the in-process benchmarks and, written out
// as YAML by bench/gen, the end-to-end ones, so both measure one workload.
//
// Output is a pure function of the shape and N: no randomness, no clock.
package workload

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	ambv3 "github.com/legateproxy/legate/apis/getambassador.io/v3alpha1"
	"github.com/legateproxy/legate/translators"
)

// Shape names which API the routes are written in.
type Shape string

// The shapes. Mixed splits the N routes into thirds: Ingress, HTTPRoute,
// Mapping (the remainder goes to the first ones).
const (
	Ingress Shape = "ingress"
	Gateway Shape = "gateway"
	Mapping Shape = "mapping"
	Mixed   Shape = "mixed"
)

// Shapes lists every shape in a fixed order.
var Shapes = []Shape{Ingress, Gateway, Mapping, Mixed}

// ParseShape checks a shape name.
func ParseShape(s string) (Shape, error) {
	for _, sh := range Shapes {
		if string(sh) == s {
			return sh, nil
		}
	}
	return "", fmt.Errorf("shape %q: want ingress, gateway, mapping or mixed", s)
}

// Names and values shared by every object of a workload. The controller
// names are Legate's defaults, so `legate translate` and `legate serve`
// pick the workload up without flags.
const (
	Namespace         = "bench"
	ClassName         = "legate"
	GatewayName       = "bench"
	IngressController = "legate.dev/ingress-controller"
	GatewayController = "legate.dev/gateway-controller"
	// GatewayPort is the port of the Gateway's HTTP listener. It differs
	// from the shared Ingress/Mapping listener port (8080 by default), so
	// a mixed workload yields two listeners rather than a port conflict.
	GatewayPort  = 80
	ServicePort  = 80
	TargetPort   = 8080
	PrefixPath   = "/app/"
	ExactPath    = "/api/v1/status"
	MatchHeader  = "x-bench"
	EndpointsPer = 3
)

// ServiceName, SliceName, RouteName and Hostname name the i-th objects.
// Five digits keep names sorted numerically up to 99,999.
func ServiceName(i int) string { return fmt.Sprintf("svc-%05d", i) }
func SliceName(i int) string   { return fmt.Sprintf("svc-%05d-1", i) }
func RouteName(i int) string   { return fmt.Sprintf("r-%05d", i) }
func Hostname(i int) string    { return fmt.Sprintf("r-%05d.bench.example.com", i) }

// Endpoints returns the three addresses of Service i, from the three
// documentation ranges. Addresses repeat every 254 Services; that is fine,
// since clusters are keyed by Service, not by address.
func Endpoints(i int) [EndpointsPer]string {
	h := strconv.Itoa(i%254 + 1)
	return [EndpointsPer]string{"192.0.2." + h, "198.51.100." + h, "203.0.113." + h}
}

// Objects returns every object of a workload of n routes, in a fixed
// order: namespace, classes and Gateway, then per index its Service,
// EndpointSlice and route object(s). Every object has its TypeMeta set so
// that it can be written out as a manifest.
func Objects(shape Shape, n int) ([]client.Object, error) {
	if n < 1 {
		return nil, fmt.Errorf("n = %d: want at least 1 route", n)
	}
	if _, err := ParseShape(string(shape)); err != nil {
		return nil, err
	}
	objs := []client.Object{namespace()}
	if uses(shape, n, Ingress) {
		objs = append(objs, ingressClass())
	}
	if uses(shape, n, Gateway) {
		objs = append(objs, gatewayClass(), gateway())
	}
	for i := range n {
		objs = append(objs, service(i), endpointSlice(i))
		// Rule two of route i goes to the next Service, so that every
		// route reaches two distinct Services and every Service is used
		// by two routes.
		next := (i + 1) % n
		switch RouteShape(shape, n, i) {
		case Ingress:
			objs = append(objs, ingressRoute(i, next))
		case Gateway:
			objs = append(objs, httpRoute(i, next))
		case Mapping:
			objs = append(objs, mappings(i, next)...)
		}
	}
	return objs, nil
}

// Inputs returns the workload as a sorted translators.Inputs snapshot, as
// a provider would hand it over.
func Inputs(shape Shape, n int) (*translators.Inputs, error) {
	objs, err := Objects(shape, n)
	if err != nil {
		return nil, err
	}
	in := &translators.Inputs{}
	for _, o := range objs {
		if err := in.Add(o); err != nil {
			return nil, fmt.Errorf("adding %T %s: %w", o, o.GetName(), err)
		}
	}
	in.Sort()
	return in, nil
}

// RouteShape says which API route i of a workload is written in.
func RouteShape(shape Shape, n, i int) Shape {
	if shape != Mixed {
		return shape
	}
	third := (n + 2) / 3
	switch {
	case i < third:
		return Ingress
	case i < 2*third:
		return Gateway
	default:
		return Mapping
	}
}

// uses says whether any route of the workload is of kind k.
func uses(shape Shape, n int, k Shape) bool {
	if shape != Mixed {
		return shape == k
	}
	for _, i := range []int{0, (n + 2) / 3, 2 * ((n + 2) / 3)} {
		if i < n && RouteShape(shape, n, i) == k {
			return true
		}
	}
	return false
}

func meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: Namespace, Generation: 1}
}

func namespace() *corev1.Namespace {
	return &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: Namespace},
	}
}

func ingressClass() *networkingv1.IngressClass {
	return &networkingv1.IngressClass{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "IngressClass"},
		ObjectMeta: metav1.ObjectMeta{Name: ClassName, Generation: 1},
		Spec:       networkingv1.IngressClassSpec{Controller: IngressController},
	}
}

func gatewayClass() *gatewayv1.GatewayClass {
	return &gatewayv1.GatewayClass{
		TypeMeta:   metav1.TypeMeta{APIVersion: "gateway.networking.k8s.io/v1", Kind: "GatewayClass"},
		ObjectMeta: metav1.ObjectMeta{Name: ClassName, Generation: 1},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: GatewayController},
	}
}

func gateway() *gatewayv1.Gateway {
	return &gatewayv1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: "gateway.networking.k8s.io/v1", Kind: "Gateway"},
		ObjectMeta: meta(GatewayName),
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: ClassName,
			Listeners: []gatewayv1.Listener{{
				Name: "http", Port: GatewayPort, Protocol: gatewayv1.HTTPProtocolType,
			}},
		},
	}
}

func service(i int) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: meta(ServiceName(i)),
		Spec: corev1.ServiceSpec{
			Ports: []corev1.ServicePort{{
				Name: "http", Port: ServicePort, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromInt32(TargetPort),
			}},
		},
	}
}

func endpointSlice(i int) *discoveryv1.EndpointSlice {
	ready := true
	name, port, proto := "http", int32(TargetPort), corev1.ProtocolTCP
	s := &discoveryv1.EndpointSlice{
		TypeMeta:    metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta:  meta(SliceName(i)),
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &proto}},
	}
	s.Labels = map[string]string{discoveryv1.LabelServiceName: ServiceName(i)}
	for _, a := range Endpoints(i) {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{a},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
		})
	}
	return s
}

func ingressRoute(i, next int) *networkingv1.Ingress {
	class := ClassName
	prefix, exact := networkingv1.PathTypePrefix, networkingv1.PathTypeExact
	backend := func(svc int) networkingv1.IngressBackend {
		return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
			Name: ServiceName(svc), Port: networkingv1.ServiceBackendPort{Number: ServicePort},
		}}
	}
	// Ingress cannot match headers: its second rule is the exact path
	// alone.
	return &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: meta(RouteName(i)),
		Spec: networkingv1.IngressSpec{
			IngressClassName: &class,
			Rules: []networkingv1.IngressRule{{
				Host: Hostname(i),
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{
						{Path: PrefixPath, PathType: &prefix, Backend: backend(i)},
						{Path: ExactPath, PathType: &exact, Backend: backend(next)},
					},
				}},
			}},
		},
	}
}

func httpRoute(i, next int) *gatewayv1.HTTPRoute {
	prefix, exact := gatewayv1.PathMatchPathPrefix, gatewayv1.PathMatchExact
	headerExact := gatewayv1.HeaderMatchExact
	ns := gatewayv1.Namespace(Namespace)
	port := gatewayv1.PortNumber(ServicePort)
	backend := func(svc int) []gatewayv1.HTTPBackendRef {
		return []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{
				Name: gatewayv1.ObjectName(ServiceName(svc)), Port: &port,
			},
		}}}
	}
	return &gatewayv1.HTTPRoute{
		TypeMeta:   metav1.TypeMeta{APIVersion: "gateway.networking.k8s.io/v1", Kind: "HTTPRoute"},
		ObjectMeta: meta(RouteName(i)),
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{
				Name: GatewayName, Namespace: &ns,
			}}},
			Hostnames: []gatewayv1.Hostname{gatewayv1.Hostname(Hostname(i))},
			Rules: []gatewayv1.HTTPRouteRule{
				{
					Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{
						Type: &prefix, Value: ptr(PrefixPath),
					}}},
					BackendRefs: backend(i),
				},
				{
					Matches: []gatewayv1.HTTPRouteMatch{{
						Path: &gatewayv1.HTTPPathMatch{Type: &exact, Value: ptr(ExactPath)},
						Headers: []gatewayv1.HTTPHeaderMatch{{
							Type: &headerExact, Name: MatchHeader, Value: "on",
						}},
					}},
					BackendRefs: backend(next),
				},
			},
		},
	}
}

// mappings returns route i as Emissary writes it: a Mapping is one rule,
// so the route is two Mappings on the same hostname.
func mappings(i, next int) []client.Object {
	yes := true
	tm := metav1.TypeMeta{APIVersion: "getambassador.io/v3alpha1", Kind: "Mapping"}
	return []client.Object{
		&ambv3.Mapping{
			TypeMeta:   tm,
			ObjectMeta: meta(RouteName(i) + "-prefix"),
			Spec: ambv3.MappingSpec{
				Hostname: Hostname(i),
				Prefix:   PrefixPath,
				Service:  fmt.Sprintf("%s:%d", ServiceName(i), ServicePort),
			},
		},
		&ambv3.Mapping{
			TypeMeta:   tm,
			ObjectMeta: meta(RouteName(i) + "-exact"),
			Spec: ambv3.MappingSpec{
				Hostname:    Hostname(i),
				Prefix:      ExactPath,
				PrefixExact: &yes,
				Headers:     map[string]string{MatchHeader: "on"},
				Service:     fmt.Sprintf("%s:%d", ServiceName(next), ServicePort),
			},
		},
	}
}

func ptr[T any](v T) *T { return &v }
