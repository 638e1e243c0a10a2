package translators

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
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
	// slicesChanged, if set, overrides slicesBySvc for the Services whose
	// slices changed since the snapshot that made slicesBySvc (nil: none
	// left): an endpoint change then copies the few lists it changed,
	// not a map of every Service's (see patchIndex).
	slicesChanged map[string][]*discoveryv1.EndpointSlice
	// indexed is set once the maps above are built; base, if set, is an
	// indexed earlier snapshot they are patched from (IndexFrom).
	indexed atomic.Bool
	base    *Inputs
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
	// Sized up front: a snapshot holds tens of thousands of objects, and
	// the pipeline lists them on every run.
	out := make([]client.Object, 0, len(in.Namespaces)+len(in.Services)+len(in.EndpointSlices)+len(in.Secrets)+
		len(in.IngressClasses)+len(in.Ingresses)+len(in.GatewayClasses)+len(in.Gateways)+len(in.HTTPRoutes)+
		len(in.GRPCRoutes)+len(in.TLSRoutes)+len(in.TCPRoutes)+len(in.UDPRoutes)+len(in.ReferenceGrants)+
		len(in.BackendTLSPolicies)+len(in.Others))
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
	in.SortOthers()
}

// SortOthers orders Others by Go type, then namespace and name: what Sort
// does for a provider whose lists of known kinds are sorted already (it
// keeps them so as objects change), where checking the order of every
// list on every snapshot was most of what an EndpointSlice change cost.
func (in *Inputs) SortOthers() {
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

// sortObjects sorts objs unless they are sorted already, as the lists of
// providers that keep them sorted are: those lists are shared between
// snapshots, so they must not even be written with what they hold.
func sortObjects[T client.Object](objs []T) {
	byName := func(a, b T) int {
		return cmp.Or(cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()))
	}
	if !slices.IsSortedFunc(objs, byName) {
		slices.SortStableFunc(objs, byName)
	}
}

// IndexFrom lets a provider say that in was made from prev, an earlier
// snapshot sharing the objects that did not change (same pointers): the
// lookup indexes of in (Service, Secret, Namespace, EndpointSlicesFor) are
// then made by patching prev's where the two differ, instead of from all
// objects. Both must be sorted (Sort). It does nothing unless prev's
// indexes were built (a translator looked something up in it), so
// snapshots never chain; in keeps prev only until its own are built.
func (in *Inputs) IndexFrom(prev *Inputs) {
	if prev != nil && prev != in && prev.indexed.Load() {
		in.base = prev
	}
}

func (in *Inputs) index() {
	in.indexOnce.Do(func() {
		if b := in.base; b != nil {
			in.patchIndex(b)
		} else {
			in.buildIndex()
		}
		in.base = nil
		in.indexed.Store(true)
	})
}

func (in *Inputs) buildIndex() {
	// With duplicates (two files holding one object), the first wins, as
	// everywhere else.
	in.services = firstByName(in.Services)
	in.secrets = firstByName(in.Secrets)
	in.namespaces = firstByName(in.Namespaces)
	in.slicesBySvc = map[string][]*discoveryv1.EndpointSlice{}
	for _, es := range in.EndpointSlices {
		if key, ok := sliceService(es); ok {
			in.slicesBySvc[key] = append(in.slicesBySvc[key], es)
		}
	}
}

// sliceService is the "namespace/name" of the Service es belongs to.
func sliceService(es *discoveryv1.EndpointSlice) (string, bool) {
	svc := es.Labels[discoveryv1.LabelServiceName]
	if svc == "" {
		return "", false
	}
	return es.Namespace + "/" + svc, true
}

// patchIndex makes in's indexes from b's: a map whose list did not change
// is shared (the maps are never written once built), one whose list did
// is copied and its changed keys looked up again.
func (in *Inputs) patchIndex(b *Inputs) {
	in.services = patchByName(b.services, b.Services, in.Services)
	in.secrets = patchByName(b.secrets, b.Secrets, in.Secrets)
	in.namespaces = patchByName(b.namespaces, b.Namespaces, in.Namespaces)

	gone := map[*discoveryv1.EndpointSlice]bool{}
	var added []*discoveryv1.EndpointSlice
	svcs := map[string]bool{}
	diffSorted(b.EndpointSlices, in.EndpointSlices, func(es *discoveryv1.EndpointSlice, isNew bool) {
		if isNew {
			added = append(added, es)
		} else {
			gone[es] = true
		}
		if key, ok := sliceService(es); ok {
			svcs[key] = true
		}
	})
	in.slicesBySvc = b.slicesBySvc
	if len(svcs) == 0 {
		in.slicesChanged = b.slicesChanged
		return
	}
	// The changed Services' lists go into a small map over b's big one,
	// which is shared; once the small one has grown, the two are made
	// one again.
	in.slicesChanged = make(map[string][]*discoveryv1.EndpointSlice, len(b.slicesChanged)+len(svcs))
	maps.Copy(in.slicesChanged, b.slicesChanged)
	for key := range svcs {
		var list []*discoveryv1.EndpointSlice
		for _, es := range b.slicesFor(key) {
			if !gone[es] {
				list = append(list, es)
			}
		}
		for _, es := range added {
			if k, ok := sliceService(es); ok && k == key {
				list = append(list, es)
			}
		}
		// The order of the list, as buildIndex would give it.
		slices.SortStableFunc(list, compareObjects)
		in.slicesChanged[key] = list
	}
	if len(in.slicesChanged) > slicesChangedLimit+len(in.slicesBySvc)/16 {
		merged := maps.Clone(in.slicesBySvc)
		for key, list := range in.slicesChanged {
			if len(list) == 0 {
				delete(merged, key)
			} else {
				merged[key] = list
			}
		}
		in.slicesBySvc, in.slicesChanged = merged, nil
	}
}

// slicesChangedLimit bounds how many Services' slices are kept over the
// map of all (plus a sixteenth of its size): lookups stay two map reads.
var slicesChangedLimit = 64

// slicesFor is the EndpointSlices of the Service key ("namespace/name").
func (in *Inputs) slicesFor(key string) []*discoveryv1.EndpointSlice {
	if list, ok := in.slicesChanged[key]; ok {
		return list
	}
	return in.slicesBySvc[key]
}

// patchByName is firstByName(now) made from m = firstByName(before).
func patchByName[T client.Object](m map[string]T, before, now []T) map[string]T {
	type name struct{ namespace, name string }
	keys := map[name]bool{}
	diffSorted(before, now, func(o T, _ bool) { keys[name{o.GetNamespace(), o.GetName()}] = true })
	if len(keys) == 0 {
		return m
	}
	out := maps.Clone(m)
	if out == nil {
		out = map[string]T{}
	}
	for k := range keys {
		key := k.name
		if k.namespace != "" {
			key = k.namespace + "/" + k.name
		}
		// The first object of now with the key: now is sorted by
		// namespace and name, so its objects of one key are together.
		i, found := slices.BinarySearchFunc(now, k, func(o T, k name) int {
			return cmp.Or(cmp.Compare(o.GetNamespace(), k.namespace), cmp.Compare(o.GetName(), k.name))
		})
		if found {
			out[key] = now[i]
		} else {
			delete(out, key)
		}
	}
	return out
}

func compareObjects[T client.Object](a, b T) int {
	return cmp.Or(cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()))
}

// diffSorted calls changed for every object of before (isNew false) and of
// now (isNew true) that is not the very same object at the same place in
// the other list. Both are sorted by namespace and name; objects they share
// are not read.
func diffSorted[T client.Object](before, now []T, changed func(o T, isNew bool)) {
	i, j := 0, 0
	for i < len(before) || j < len(now) {
		if i < len(before) && j < len(now) && client.Object(before[i]) == client.Object(now[j]) {
			i++
			j++
			continue
		}
		var c int
		switch {
		case i == len(before):
			c = 1
		case j == len(now):
			c = -1
		default:
			c = compareObjects(before[i], now[j])
		}
		if c <= 0 {
			changed(before[i], false)
			i++
		}
		if c >= 0 {
			changed(now[j], true)
			j++
		}
	}
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
	return in.slicesFor(namespace + "/" + service)
}
