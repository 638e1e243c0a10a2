package gatewayapi

import (
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

// The route memo.
//
// With thousands of routes loaded, one route changing must not cost a
// translation of all of them. translateRules (hostnames, matches,
// filters, backends: most of the work) depends on the route and on
// little else, so the translator remembers its result per route from one
// run to the next, and reuses it when neither the route nor anything it
// read has changed:
//
//   - the route itself: same kind, namespace, name, UID and (non-empty)
//     resourceVersion;
//   - the Services its backends named (present or not), each with its
//     EndpointSlices: the same objects (pointer) or the same UID and
//     non-empty resourceVersion;
//   - the run-wide facts every route reads: the Settings, the
//     ReferenceGrants (same objects or versions) and what the
//     BackendTLSPolicies resolved to (compared by value, so that a
//     Secret or ConfigMap the policies do not read may change freely).
//
// A reused result brings back its side effects too: the clusters and CA
// secrets the route registered, as the very pointers of last run. The IR
// routes each route gives per listener port are remembered alike, so an
// unchanged route yields the same *ir.Route values run after run, which
// the later stages memoize by pointer (nobody writes into an IR route or
// cluster once returned). Attachment and statuses are redone every run:
// they depend on the Gateways and on the other routes.
//
// A memo holds only what the last run used, so memory follows the
// configuration, not its history. Entries are never written once a run
// has published them: concurrent runs of one translator only ever read
// the memo they started from.

// memo is what one run leaves for the next.
type memo struct {
	settings translators.Settings
	grants   []objectVersion
	policies []policyView
	routes   map[string]*routeMemo
	// clusters are the Service clusters the remembered routes registered,
	// by name, with the Service each was built from as it was then: a
	// route translated anew reuses such a cluster when that Service is
	// unchanged, so that a cluster keeps its pointer when the route that
	// first registered it changes.
	clusters map[string]clusterMemo
}

type clusterMemo struct {
	cl  *ir.Cluster
	dep serviceDep
}

// objectVersion identifies one version of an object: the same pointer
// (objects are immutable once handed over), or the same UID and
// resourceVersion.
type objectVersion struct {
	obj interface {
		GetUID() types.UID
		GetResourceVersion() string
	}
	uid types.UID
	rv  string
}

func versionOf[T interface {
	comparable
	GetUID() types.UID
	GetResourceVersion() string
}](o T) (objectVersion, bool) {
	var zero T
	if o == zero {
		return objectVersion{}, true
	}
	rv := o.GetResourceVersion()
	return objectVersion{obj: o, uid: o.GetUID(), rv: rv}, rv != ""
}

// same reports whether v and w are one version of one object (or both
// absent).
func (v objectVersion) same(w objectVersion) bool {
	if v.obj == nil || w.obj == nil {
		return v.obj == nil && w.obj == nil
	}
	return v.obj == w.obj || (v.rv != "" && v.uid == w.uid && v.rv == w.rv)
}

// serviceDep is a Service a route's backends named, as the route saw it.
type serviceDep struct {
	key    string // namespace/name
	svc    objectVersion
	slices []objectVersion
}

// policyView is what a route reads of the BackendTLSPolicy applying to
// one target: which policy, its upstream TLS (nil when it cannot be
// applied) and why, and its CA secret.
type policyView struct {
	target   string
	ns, name string
	reason   gatewayv1.PolicyConditionReason
	tls      *ir.UpstreamTLS
	ca       *ir.Secret
}

// routeMemo is translateRules' result for one version of a route, with
// what it read and registered, and its IR routes per listener port.
type routeMemo struct {
	uid types.UID
	rv  string

	deps []serviceDep

	hostnames     []string
	hostnameErr   string
	rules         []*ruleState
	dropped       []string
	droppedReason gatewayv1.RouteConditionReason
	refFailures   []*refFailure
	targets       []string
	problems      problems

	clusters []*ir.Cluster
	secrets  []*ir.Secret

	// ports are the IR routes of the route per listener port (irRoutes).
	ports []portRoutes
}

type portRoutes struct {
	port   uint32
	routes []*ir.Route
}

// startMemo readies the memo of this run: prev, the last run's, is kept
// only if the run-wide facts are unchanged; next is started unless some
// of them cannot be compared (an object without resourceVersion).
func (t *translation) startMemo(prev *memo) {
	n := len(t.in.HTTPRoutes) + len(t.in.GRPCRoutes)
	next := &memo{settings: t.s, routes: make(map[string]*routeMemo, n), clusters: make(map[string]clusterMemo, n)}
	for _, g := range t.in.ReferenceGrants {
		v, ok := versionOf(g)
		if !ok {
			return
		}
		next.grants = append(next.grants, v)
	}
	for _, k := range sortedKeys(t.tlsTargets) {
		tp := t.tlsTargets[k]
		next.policies = append(next.policies, policyView{target: k, ns: tp.policy.Namespace, name: tp.policy.Name, reason: tp.reason, tls: tp.tls, ca: tp.ca})
	}
	t.next = next
	if prev != nil && reflect.DeepEqual(prev.settings, next.settings) &&
		slices.EqualFunc(prev.grants, next.grants, objectVersion.same) &&
		reflect.DeepEqual(prev.policies, next.policies) {
		t.prev = prev
	}
}

func routeKey(rs *routeState) string {
	return rs.kind + "/" + rs.meta.Namespace + "/" + rs.meta.Name
}

// translateRoute is translateRules through the memo.
func (t *translation) translateRoute(rs *routeState) {
	if t.next == nil || rs.meta.ResourceVersion == "" {
		t.translateRules(rs)
		return
	}
	key := routeKey(rs)
	if t.prev != nil {
		if m := t.prev.routes[key]; m != nil && m.uid == rs.meta.UID && m.rv == rs.meta.ResourceVersion && t.depsUnchanged(m.deps) {
			t.restore(rs, m)
			return
		}
	}
	rec := &routeMemo{uid: rs.meta.UID, rv: rs.meta.ResourceVersion}
	t.rec = rec
	t.translateRules(rs)
	t.rec = nil
	for i := range rec.deps {
		if !t.fillDep(&rec.deps[i]) {
			return // something it read cannot be compared next time
		}
	}
	// Clipped, so that whatever attach adds to the route's slices later
	// (problems) does not land in the memo's arrays.
	rs.hostnames, rs.rules, rs.dropped = slices.Clip(rs.hostnames), slices.Clip(rs.rules), slices.Clip(rs.dropped)
	rs.refFailures, rs.targets, rs.problems = slices.Clip(rs.refFailures), slices.Clip(rs.targets), slices.Clip(rs.problems)
	rec.hostnames, rec.hostnameErr = rs.hostnames, rs.hostnameErr
	rec.rules, rec.dropped, rec.droppedReason = rs.rules, rs.dropped, rs.droppedReason
	rec.refFailures, rec.targets, rec.problems = rs.refFailures, rs.targets, rs.problems
	rs.memo = rec
	t.next.routes[key] = rec
	t.rememberClusters(rec)
}

// rememberClusters puts the Service clusters m registered into this run's
// memo, with the Service each came from.
func (t *translation) rememberClusters(m *routeMemo) {
	for _, c := range m.clusters {
		if _, ok := t.next.clusters[c.Name]; ok || c.Source.Kind != "Service" {
			continue
		}
		key := c.Source.Namespace + "/" + c.Source.Name
		if i := slices.IndexFunc(m.deps, func(d serviceDep) bool { return d.key == key }); i >= 0 {
			t.next.clusters[c.Name] = clusterMemo{cl: c, dep: m.deps[i]}
		}
	}
}

// sameCluster returns the last run's cluster of cl's name if it is built
// from the same Service as then (so equal to cl), else cl.
func (t *translation) sameCluster(cl *ir.Cluster) *ir.Cluster {
	if t.prev == nil {
		return cl
	}
	if pc, ok := t.prev.clusters[cl.Name]; ok && t.depsUnchanged([]serviceDep{pc.dep}) {
		return pc.cl
	}
	return cl
}

// restore gives rs the remembered result m, and registers what it had
// registered.
func (t *translation) restore(rs *routeState, m *routeMemo) {
	rs.hostnames, rs.hostnameErr = slices.Clip(m.hostnames), m.hostnameErr
	rs.rules, rs.dropped, rs.droppedReason = slices.Clip(m.rules), slices.Clip(m.dropped), m.droppedReason
	rs.refFailures, rs.targets, rs.problems = slices.Clip(m.refFailures), slices.Clip(m.targets), slices.Clip(m.problems)
	for _, c := range m.clusters {
		if _, ok := t.clusters[c.Name]; !ok {
			t.clusters[c.Name] = c
		}
	}
	for _, s := range m.secrets {
		if _, ok := t.secrets[s.Name]; !ok {
			t.secrets[s.Name] = s
		}
	}
	// A copy, so that the IR routes this run adds for a new port go into
	// this run's memo only.
	cp := *m
	cp.ports = slices.Clip(m.ports)
	rs.memo = &cp
	t.next.routes[routeKey(rs)] = &cp
	t.rememberClusters(&cp)
}

// readService records, while a route is translated, that it read the
// Service namespace/name.
func (t *translation) readService(ns, name string) {
	if t.rec == nil {
		return
	}
	key := ns + "/" + name
	if !slices.ContainsFunc(t.rec.deps, func(d serviceDep) bool { return d.key == key }) {
		t.rec.deps = append(t.rec.deps, serviceDep{key: key})
	}
}

// registered records, while a route is translated, the cluster and
// secret it registered.
func (t *translation) registered(cl *ir.Cluster, s *ir.Secret) {
	if t.rec == nil {
		return
	}
	if cl != nil {
		t.rec.clusters = append(t.rec.clusters, cl)
	}
	if s != nil {
		t.rec.secrets = append(t.rec.secrets, s)
	}
}

// serviceState returns the Service key and its EndpointSlices as this
// run's Inputs hold them; ok is false if one lacks a resourceVersion.
func (t *translation) serviceState(key string) (svc objectVersion, eps []objectVersion, ok bool) {
	ns, name, _ := strings.Cut(key, "/")
	s := t.in.Service(ns, name)
	if svc, ok = versionOf(s); !ok {
		return svc, nil, false
	}
	if s == nil {
		return svc, nil, true
	}
	for _, es := range t.in.EndpointSlicesFor(ns, name) {
		v, ok := versionOf(es)
		if !ok {
			return svc, nil, false
		}
		eps = append(eps, v)
	}
	return svc, eps, true
}

func (t *translation) fillDep(d *serviceDep) bool {
	svc, eps, ok := t.serviceState(d.key)
	d.svc, d.slices = svc, eps
	return ok
}

// depsUnchanged reports whether every Service a remembered route read is
// as it was.
func (t *translation) depsUnchanged(deps []serviceDep) bool {
	for _, d := range deps {
		ns, name, _ := strings.Cut(d.key, "/")
		s := t.in.Service(ns, name)
		cur, ok := versionOf(s)
		if !ok || !cur.same(d.svc) {
			return false
		}
		if s == nil {
			continue
		}
		eps := t.in.EndpointSlicesFor(ns, name)
		if len(eps) != len(d.slices) {
			return false
		}
		for i, es := range eps {
			v, ok := versionOf(es)
			if !ok || !v.same(d.slices[i]) {
				return false
			}
		}
	}
	return true
}

// routesFor returns rs's IR routes for a listener of port: the
// remembered ones when there are.
func (t *translation) routesFor(rs *routeState, port uint32) []*ir.Route {
	m := rs.memo
	if m == nil {
		return rs.irRoutes(port)
	}
	for _, p := range m.ports {
		if p.port == port {
			return p.routes
		}
	}
	out := rs.irRoutes(port)
	m.ports = append(m.ports, portRoutes{port: port, routes: out})
	return out
}
