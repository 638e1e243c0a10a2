package translators

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
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

	indexOnce   sync.Once
	services    map[string]*corev1.Service
	secrets     map[string]*corev1.Secret
	namespaces  map[string]*corev1.Namespace
	slicesBySvc map[string][]*discoveryv1.EndpointSlice
}

// ErrUnknownKind is returned by Add for an object Inputs has no place for.
var ErrUnknownKind = errors.New("inputs: unknown kind")

// Add puts one object into the snapshot. It returns an error for a kind
// Inputs has no place for; the caller decides whether that matters.
func (in *Inputs) Add(obj client.Object) error {
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
	default:
		return fmt.Errorf("%w: %T", ErrUnknownKind, obj)
	}
	return nil
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
}

// Count returns how many objects of each kind the snapshot holds.
func (in *Inputs) Count() map[string]int {
	return map[string]int{
		"Namespace":     len(in.Namespaces),
		"Service":       len(in.Services),
		"EndpointSlice": len(in.EndpointSlices),
		"Secret":        len(in.Secrets),
		"IngressClass":  len(in.IngressClasses),
		"Ingress":       len(in.Ingresses),
	}
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
