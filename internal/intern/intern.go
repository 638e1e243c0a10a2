// Package intern makes the strings objects repeat share their bytes.
//
// Objects decoded from the API server or from YAML hold every string in
// an allocation of its own, although most of a route's strings are a small
// vocabulary: its namespace, the group, kind and name of the Gateway it
// attaches to, the controller name and the condition types, reasons and
// messages of its status. At 10k routes those copies are megabytes of
// heap, and comparing two of them reads both (the translator compares
// every route's parentRefs with its Gateways on every run), where two
// strings with the same bytes compare without reading them.
package intern

import (
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Strings interns strings up to maxLen bytes, about maxEntries of them (a
// few more when goroutines race to add the last ones): the first ones
// seen, which for a vocabulary are the ones that repeat. Past that,
// strings are returned as they are, so that a stream of unique strings
// cannot grow it without bound.
type Strings struct {
	// m maps a string to its interned copy: read without a lock once a
	// string is in (decoding runs on several goroutines).
	m sync.Map
	n atomic.Int64
}

const (
	maxLen     = 64
	maxEntries = 4096
)

// Get returns s, or a string with its bytes that was seen before.
func (t *Strings) Get(s string) string {
	if s == "" || len(s) > maxLen {
		return s
	}
	if v, ok := t.m.Load(s); ok {
		return v.(string)
	}
	if t.n.Load() >= maxEntries {
		return s
	}
	v, loaded := t.m.LoadOrStore(s, s)
	if !loaded {
		t.n.Add(1)
	}
	return v.(string)
}

// Len is how many strings are interned.
func (t *Strings) Len() int { return int(t.n.Load()) }

// Object interns the vocabulary of obj in place, for the kinds that come
// by the thousand with one: the namespace of any object, and the parent
// references and status entries of Gateway API routes. obj must be the
// caller's to write (a freshly decoded object); other kinds are left as
// they are.
func (t *Strings) Object(obj any) {
	if m, ok := obj.(metav1.Object); ok {
		if ns := m.GetNamespace(); ns != "" {
			m.SetNamespace(t.Get(ns))
		}
	}
	switch o := obj.(type) {
	case *gatewayv1.HTTPRoute:
		t.route(&o.Spec.CommonRouteSpec, &o.Status.RouteStatus)
		for i := range o.Spec.Rules {
			for j := range o.Spec.Rules[i].BackendRefs {
				t.backend(&o.Spec.Rules[i].BackendRefs[j].BackendObjectReference)
			}
		}
	case *gatewayv1.GRPCRoute:
		t.route(&o.Spec.CommonRouteSpec, &o.Status.RouteStatus)
		for i := range o.Spec.Rules {
			for j := range o.Spec.Rules[i].BackendRefs {
				t.backend(&o.Spec.Rules[i].BackendRefs[j].BackendObjectReference)
			}
		}
	}
}

func (t *Strings) route(spec *gatewayv1.CommonRouteSpec, st *gatewayv1.RouteStatus) {
	for i := range spec.ParentRefs {
		t.parentRef(&spec.ParentRefs[i])
	}
	for i := range st.Parents {
		p := &st.Parents[i]
		t.parentRef(&p.ParentRef)
		p.ControllerName = gatewayv1.GatewayController(t.Get(string(p.ControllerName)))
		for j := range p.Conditions {
			c := &p.Conditions[j]
			c.Type, c.Reason, c.Message = t.Get(c.Type), t.Get(c.Reason), t.Get(c.Message)
			c.Status = metav1.ConditionStatus(t.Get(string(c.Status)))
		}
	}
}

func (t *Strings) parentRef(p *gatewayv1.ParentReference) {
	internPtr(t, p.Group)
	internPtr(t, p.Kind)
	internPtr(t, p.Namespace)
	internPtr(t, p.SectionName)
	p.Name = gatewayv1.ObjectName(t.Get(string(p.Name)))
}

func (t *Strings) backend(b *gatewayv1.BackendObjectReference) {
	internPtr(t, b.Group)
	internPtr(t, b.Kind)
	internPtr(t, b.Namespace)
}

func internPtr[S ~string](t *Strings, p *S) {
	if p != nil {
		*p = S(t.Get(string(*p)))
	}
}
