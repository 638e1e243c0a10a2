package gatewayapi

import (
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// grants answers whether ReferenceGrants permit a reference from an object
// of one namespace to an object of another.
type grants struct {
	byNamespace map[string][]*gatewayv1.ReferenceGrant
}

func newGrants(list []*gatewayv1.ReferenceGrant) *grants {
	g := &grants{byNamespace: map[string][]*gatewayv1.ReferenceGrant{}}
	for _, rg := range list {
		if rg != nil {
			g.byNamespace[rg.Namespace] = append(g.byNamespace[rg.Namespace], rg)
		}
	}
	return g
}

// ref is one side of a reference: the group and kind of an object, its
// namespace and name.
type ref struct {
	group, kind, namespace, name string
}

// permits reports whether from may refer to to. A reference within one
// namespace needs no grant; across namespaces, a ReferenceGrant in to's
// namespace must list from's group, kind and namespace, and to's group and
// kind with either no name or to's name.
func (g *grants) permits(from, to ref) bool {
	if from.namespace == to.namespace {
		return true
	}
	for _, rg := range g.byNamespace[to.namespace] {
		if grantFrom(rg, from) && grantTo(rg, to) {
			return true
		}
	}
	return false
}

func grantFrom(rg *gatewayv1.ReferenceGrant, from ref) bool {
	for _, f := range rg.Spec.From {
		if string(f.Group) == from.group && string(f.Kind) == from.kind && string(f.Namespace) == from.namespace {
			return true
		}
	}
	return false
}

func grantTo(rg *gatewayv1.ReferenceGrant, to ref) bool {
	for _, t := range rg.Spec.To {
		if string(t.Group) != to.group || string(t.Kind) != to.kind {
			continue
		}
		if t.Name == nil || *t.Name == "" || string(*t.Name) == to.name {
			return true
		}
	}
	return false
}
