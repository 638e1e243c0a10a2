package translators

import (
	"fmt"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// A List is the objects of one kind, sorted by namespace and name, in the
// form a field of Inputs holds them. A provider that keeps its objects per
// kind makes a kind's List when that kind changes and puts every List into
// each snapshot (AddTo): a snapshot then costs the kinds that changed, not
// an Add of every object.
type List struct {
	addTo func(in *Inputs)
}

// MakeList makes the List of objs, which are of one Go type and sorted by
// namespace and name. It refuses what Add refuses: a nil object, or a
// namespace or name that is not valid UTF-8 (CheckObject).
func MakeList(objs []client.Object) (List, error) {
	for _, o := range objs {
		if err := CheckObject(o); err != nil {
			return List{}, err
		}
	}
	return MakeCheckedList(objs), nil
}

// CheckObject refuses what Add and MakeList refuse: a nil object, or one
// whose namespace or name is not valid UTF-8.
func CheckObject(o client.Object) error {
	if o == nil {
		return fmt.Errorf("%w: nil", ErrUnknownKind)
	}
	if !utf8.ValidString(o.GetNamespace()) || !utf8.ValidString(o.GetName()) {
		return fmt.Errorf("%w: %q/%q", ErrInvalidName, o.GetNamespace(), o.GetName())
	}
	return nil
}

// MakeCheckedList is MakeList for objects that each passed CheckObject
// already, when the provider took them in: a kind's List is made again
// whenever one of its objects changes, and looking at every name of 10k
// EndpointSlices again was most of what an endpoint change cost there.
func MakeCheckedList(objs []client.Object) List {
	if len(objs) == 0 {
		return List{}
	}
	switch objs[0].(type) {
	case *corev1.Namespace:
		return typedList(objs, func(in *Inputs, l []*corev1.Namespace) { in.Namespaces = join(in.Namespaces, l) })
	case *corev1.Service:
		return typedList(objs, func(in *Inputs, l []*corev1.Service) { in.Services = join(in.Services, l) })
	case *discoveryv1.EndpointSlice:
		return typedList(objs, func(in *Inputs, l []*discoveryv1.EndpointSlice) { in.EndpointSlices = join(in.EndpointSlices, l) })
	case *corev1.Secret:
		return typedList(objs, func(in *Inputs, l []*corev1.Secret) { in.Secrets = join(in.Secrets, l) })
	case *networkingv1.IngressClass:
		return typedList(objs, func(in *Inputs, l []*networkingv1.IngressClass) { in.IngressClasses = join(in.IngressClasses, l) })
	case *networkingv1.Ingress:
		return typedList(objs, func(in *Inputs, l []*networkingv1.Ingress) { in.Ingresses = join(in.Ingresses, l) })
	case *gatewayv1.GatewayClass:
		return typedList(objs, func(in *Inputs, l []*gatewayv1.GatewayClass) { in.GatewayClasses = join(in.GatewayClasses, l) })
	case *gatewayv1.Gateway:
		return typedList(objs, func(in *Inputs, l []*gatewayv1.Gateway) { in.Gateways = join(in.Gateways, l) })
	case *gatewayv1.HTTPRoute:
		return typedList(objs, func(in *Inputs, l []*gatewayv1.HTTPRoute) { in.HTTPRoutes = join(in.HTTPRoutes, l) })
	case *gatewayv1.GRPCRoute:
		return typedList(objs, func(in *Inputs, l []*gatewayv1.GRPCRoute) { in.GRPCRoutes = join(in.GRPCRoutes, l) })
	case *gatewayv1.TLSRoute:
		return typedList(objs, func(in *Inputs, l []*gatewayv1.TLSRoute) { in.TLSRoutes = join(in.TLSRoutes, l) })
	case *gatewayv1.TCPRoute:
		return typedList(objs, func(in *Inputs, l []*gatewayv1.TCPRoute) { in.TCPRoutes = join(in.TCPRoutes, l) })
	case *gatewayv1.UDPRoute:
		return typedList(objs, func(in *Inputs, l []*gatewayv1.UDPRoute) { in.UDPRoutes = join(in.UDPRoutes, l) })
	case *gatewayv1.ReferenceGrant:
		return typedList(objs, func(in *Inputs, l []*gatewayv1.ReferenceGrant) { in.ReferenceGrants = join(in.ReferenceGrants, l) })
	case *gatewayv1.BackendTLSPolicy:
		return typedList(objs, func(in *Inputs, l []*gatewayv1.BackendTLSPolicy) {
			in.BackendTLSPolicies = join(in.BackendTLSPolicies, l)
		})
	}
	// Kinds of Others: kept as they are; Sort orders Others by kind.
	others := append([]client.Object(nil), objs...)
	return List{addTo: func(in *Inputs) { in.Others = append(in.Others, others...) }}
}

// typedList converts objs, all of type T, once; if one is not, they go in
// one by one, as Add would put them.
func typedList[T client.Object](objs []client.Object, set func(*Inputs, []T)) List {
	// Length and capacity equal: an append to a snapshot's list makes a
	// new array rather than writing into this one, which every snapshot
	// until the kind changes shares.
	l := make([]T, len(objs))
	for i, o := range objs {
		t, ok := o.(T)
		if !ok {
			mixed := append([]client.Object(nil), objs...)
			return List{addTo: func(in *Inputs) {
				for _, o := range mixed {
					_ = in.Add(o) // names were checked by MakeList
				}
			}}
		}
		l[i] = t
	}
	return List{addTo: func(in *Inputs) { set(in, l) }}
}

// join is a's objects then b's: b itself if a is empty.
func join[T any](a, b []T) []T {
	if len(a) == 0 {
		return b
	}
	return append(a[:len(a):len(a)], b...)
}

// AddTo puts the List's objects into in. Lists of one kind put into one
// Inputs follow each other, so in needs Sort unless each kind came in one
// List.
func (l List) AddTo(in *Inputs) {
	if l.addTo != nil {
		l.addTo(in)
	}
}
