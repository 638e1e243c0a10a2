package gatewayapi

import (
	"cmp"
	"maps"
	"reflect"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
//     non-empty resourceVersion. The lists of Services and EndpointSlices
//     are compared with the last run's once per run (both are sorted), so
//     that checking a route's Services costs a lookup in the few that
//     changed;
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
	routes   routeMemos
	// services and endpointSlices are the run's lists (Inputs is
	// immutable), to tell which Services changed in the next.
	services       []*corev1.Service
	endpointSlices []*discoveryv1.EndpointSlice
	// world is what attach reads besides the route (see attachRoute);
	// nil when this run remembered no attachment.
	world []objectVersion
	// vhosts are the virtual hosts of each port listener by its name,
	// sorted by name (see vhBuild).
	vhosts map[string][]*ir.VirtualHost
	// clusters is how many clusters the run registered, clusterNames
	// their names, sorted; clusterMap the clusters by name, when the
	// next run may reuse them (see clusters.go).
	clusters     int
	clusterNames []string
	clusterMap   map[string]*ir.Cluster
	// objects are the ObjectStatuses the run returned (see statuses),
	// objectsFrom the place each had in the run's list before it was
	// sorted (see sortObjects).
	objects     []*translators.ObjectStatus
	objectsFrom []int32
	// httpRoutes and grpcRoutes are the run's lists of routes when they
	// were strictly sorted by namespace and name, order its routes
	// oldest first (see collectRoutes): the next run checks its own
	// lists only where they differ, and finds the memo entry of a route
	// at the place it had (see translateRoute).
	httpRoutes []*gatewayv1.HTTPRoute
	grpcRoutes []*gatewayv1.GRPCRoute
	order      []placedRoute
	// verdicts are the run's verdicts on the HTTPRoutes of its list,
	// verdictsOf (see routeVerdicts).
	verdicts   []routeVerdict
	verdictsOf []*gatewayv1.HTTPRoute
	// orderFrom is, for each route of order, its place in the run's
	// list of routes before they were sorted; nil when the list was in
	// order (see sortRoutes).
	orderFrom []int32
}

// placedRoute is a route of a run, in its place among the routes: its
// metadata (which is the route: objects are never written once handed
// over) and its memo entry at the end of the run (nil if none).
type placedRoute struct {
	meta *metav1.ObjectMeta
	memo *routeMemo
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
	// With spec set, a new version of the object counts as the same
	// when only its metadata or status changed (see withSpec).
	ns, name string
	gen      int64
	spec     any
}

// withSpec makes v count as the same as a version of the same namespace,
// name and generation with an equal spec: for an object of which only
// the spec is read, and whose status Legate writes (a Gateway, a
// GatewayClass), so that its own status write does not make it look
// changed. The name counts: objects without a UID (from files) would
// otherwise match a renamed one.
func (v objectVersion) withSpec(m *metav1.ObjectMeta, spec any) objectVersion {
	v.ns, v.name, v.gen, v.spec = m.Namespace, m.Name, m.Generation, spec
	return v
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
	if v.obj == w.obj {
		return true
	}
	if v.rv == "" || v.uid != w.uid {
		return false
	}
	return v.rv == w.rv || (v.spec != nil && w.spec != nil && v.ns == w.ns && v.name == w.name && v.gen == w.gen &&
		reflect.DeepEqual(v.spec, w.spec))
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
	// key is the route's key (routeState.key); uid, rv and gen the
	// version of the route it was made from, and spec that version's
	// spec (*HTTPRouteSpec or *GRPCRouteSpec).
	key  string
	uid  types.UID
	rv   string
	gen  int64
	spec any

	// deps are the Services (namespace/name) its backends named,
	// present or not.
	deps []string

	routeResult
	problems problems

	clusters []*ir.Cluster
	secrets  []*ir.Secret

	// ports are the IR routes of the route per listener port (irRoutes).
	ports []portRoutes
	// attach is what attach did with the route, in the memo's world.
	attach *attachMemo
}

// attachMemo is the outcome of attach for one route: its parent
// statuses, the problems attach added, the listeners it attached to with
// the hostnames it serves there, and those whose attachedRoutes it
// raised. Listeners are named by Gateway and index, to be found in the
// next run's Gateways (which are the same).
type attachMemo struct {
	parents     []gatewayv1.RouteParentStatus
	problems    problems
	attachments []attachedTo
	counted     []listenerRef
}

type listenerRef struct {
	gateway string
	index   int
}

type attachedTo struct {
	l         listenerRef
	hostnames []string
}

type portRoutes struct {
	port   uint32
	routes []*ir.Route
}

// startMemo readies the memo of this run: prev, the last run's, is kept
// only if the run-wide facts are unchanged; next is started unless some
// of them cannot be compared (an object without resourceVersion).
func (t *translation) startMemo(prev *memo) {
	t.last = prev
	// Without a last run the entries start empty: the first run's go
	// into the patch, which settle then folds into a base of their number.
	next := &memo{settings: t.s}
	if prev != nil {
		next.routes = prev.routes.from()
	}
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
	next.services, next.endpointSlices = t.in.Services, t.in.EndpointSlices
	next.world = t.attachWorld()
	t.next = next
	if prev != nil && reflect.DeepEqual(prev.settings, next.settings) &&
		slices.EqualFunc(prev.grants, next.grants, objectVersion.same) &&
		reflect.DeepEqual(prev.policies, next.policies) {
		t.prev = prev
		t.replayAttach = next.world != nil && prev.world != nil && slices.EqualFunc(prev.world, next.world, objectVersion.same)
		t.changed = map[string]bool{}
		diffObjects(prev.services, next.services, func(s *corev1.Service) string { return s.Namespace + "/" + s.Name }, t.changed)
		diffObjects(prev.endpointSlices, next.endpointSlices, func(es *discoveryv1.EndpointSlice) string {
			return es.Namespace + "/" + es.Labels[discoveryv1.LabelServiceName]
		}, t.changed)
	}
}

// diffObjects walks two lists sorted by namespace and name (Inputs.Sort)
// side by side and marks, by key, every object added, removed, or not the
// same version in both (see objectVersion; without a resourceVersion it
// never is).
func diffObjects[T interface {
	comparable
	GetNamespace() string
	GetName() string
	GetUID() types.UID
	GetResourceVersion() string
}](prev, cur []T, key func(T) string, changed map[string]bool) {
	i, j := 0, 0
	for i < len(prev) || j < len(cur) {
		if i < len(prev) && j < len(cur) && prev[i] == cur[j] {
			// One object in both (providers share what did not
			// change): its names need no comparing.
			if a := prev[i]; a.GetResourceVersion() == "" {
				changed[key(a)] = true
			}
			i, j = i+1, j+1
			continue
		}
		var c int
		switch {
		case i == len(prev):
			c = 1
		case j == len(cur):
			c = -1
		default:
			c = cmp.Or(cmp.Compare(prev[i].GetNamespace(), cur[j].GetNamespace()), cmp.Compare(prev[i].GetName(), cur[j].GetName()))
		}
		switch {
		case c < 0:
			changed[key(prev[i])] = true
			i++
		case c > 0:
			changed[key(cur[j])] = true
			j++
		default:
			a, b := prev[i], cur[j]
			if a != b {
				if a.GetResourceVersion() == "" || a.GetUID() != b.GetUID() || a.GetResourceVersion() != b.GetResourceVersion() {
					changed[key(a)], changed[key(b)] = true, true
				}
			} else if a.GetResourceVersion() == "" {
				// Without a version, even the same object is not
				// trusted to be unchanged.
				changed[key(a)] = true
			}
			i, j = i+1, j+1
		}
	}
}

// translateRoute is translateRules through the memo, for the route at
// place i of t.routes.
func (t *translation) translateRoute(i int, rs *routeState) {
	if t.next == nil || rs.meta.ResourceVersion == "" {
		t.unlistedRoute(i)
		rs.routeResult = &routeResult{}
		t.translateRules(rs)
		return
	}
	var old *routeMemo
	if t.prev != nil {
		old = t.prev.placed(i, rs)
	}
	if t.prev != nil && old == nil {
		// Looked up with a key made in a buffer, and the remembered
		// key taken: no key is made for an unchanged route.
		var kb []byte
		if t.scratch != nil {
			kb = t.scratch.key[:0]
		}
		kb = append(append(append(append(append(kb, rs.kind...), '/'), rs.meta.Namespace...), '/'), rs.meta.Name...)
		if t.scratch != nil {
			t.scratch.key = kb
		}
		old = t.prev.routes.get(string(kb))
	}
	if old != nil {
		rs.key = old.key
		if old.uid == rs.meta.UID && t.depsUnchanged(old.deps) {
			if old.rv == rs.meta.ResourceVersion {
				t.restore(rs, old)
				t.next.routes.kept()
				return
			}
			if old.gen == rs.meta.Generation && reflect.DeepEqual(old.spec, rs.spec()) {
				// A new version with the same spec and generation: only
				// metadata or status changed (Legate's own status write
				// does that to every route it reports on), and the
				// translation reads neither. The entry is taken under
				// the new version, so that the next run matches it at
				// once and the old object can go.
				cp := *old
				cp.rv, cp.spec = rs.meta.ResourceVersion, rs.spec()
				t.restore(rs, &cp)
				rs.memoOwned = true
				t.next.routes.set(rs.key, &cp)
				return
			}
		}
	}
	if rs.key == "" {
		rs.key = rs.kind + "/" + rs.meta.Namespace + "/" + rs.meta.Name
	}
	rec := &routeMemo{key: rs.key, uid: rs.meta.UID, rv: rs.meta.ResourceVersion, gen: rs.meta.Generation, spec: rs.spec()}
	// The route's result is made in its memo entry, which later runs
	// share: nothing writes into it once this one is over.
	rs.routeResult = &rec.routeResult
	t.rec, t.recOld = rec, old
	t.translateRules(rs)
	t.rec, t.recOld = nil, nil
	// Clipped, so that whatever attach adds to the route's slices later
	// (problems) does not land in the memo's arrays.
	rs.hostnames, rs.rules, rs.dropped = slices.Clip(rs.hostnames), slices.Clip(rs.rules), slices.Clip(rs.dropped)
	rs.refFailures, rs.targets, rs.problems = slices.Clip(rs.refFailures), slices.Clip(rs.targets), slices.Clip(rs.problems)
	rec.problems = rs.problems
	rs.memo, rs.memoOwned, rs.translated = rec, true, true
	t.next.routes.set(rs.key, rec)
}

// spec is the route's spec, as a memo entry keeps it.
func (rs *routeState) spec() any {
	if rs.grpc != nil {
		return &rs.grpc.Spec
	}
	return &rs.route.Spec
}

// placed returns the memo entry of rs when the route at its place i last
// run was the very same: then that route's entry is its entry (the one
// its key would find), without a key made and looked up.
func (m *memo) placed(i int, rs *routeState) *routeMemo {
	if i < len(m.order) && m.order[i].meta == rs.meta {
		return m.order[i].memo
	}
	return nil
}

// sameCluster returns, while a changed route is translated, the cluster
// of cl's name the route's last version registered, if it was built from
// the same Service as then (so is equal to cl); else cl. A route edited
// without touching its backends thus keeps its clusters' pointers.
func (t *translation) sameCluster(cl *ir.Cluster) *ir.Cluster {
	old := t.recOld
	if old == nil || cl.Source.Kind != "Service" {
		return cl
	}
	i := slices.IndexFunc(old.clusters, func(c *ir.Cluster) bool { return c.Name == cl.Name })
	if i < 0 {
		return cl
	}
	key := cl.Source.Namespace + "/" + cl.Source.Name
	if !slices.Contains(old.deps, key) || t.changed[key] {
		return cl
	}
	return old.clusters[i]
}

// restore gives rs the remembered result m, and registers what it had
// registered.
func (t *translation) restore(rs *routeState, m *routeMemo) {
	// Shared, not copied: nothing writes into a route's result after
	// translateRules (its slices were clipped when it was made).
	rs.routeResult = &m.routeResult
	rs.problems = slices.Clip(m.problems)
	if !t.sharedClusters {
		// Shared, the clusters hold them already (see clusters.go).
		for _, c := range m.clusters {
			if _, ok := t.clusters[c.Name]; !ok {
				t.clusters[c.Name] = c
			}
		}
	}
	for _, s := range m.secrets {
		if _, ok := t.secrets[s.Name]; !ok {
			t.secrets[s.Name] = s
		}
	}
	// m is the last run's, which others may read (it is shared, not
	// written; see finishMemo), or a copy of it the caller owns. The
	// caller sets or keeps it in this run's entries.
	rs.memo, rs.ports = m, slices.Clip(m.ports)
}

// finishMemo records the IR routes emit made for ports a route had none
// remembered for, and what attach did: into its entry if this run made
// it, else into a copy.
func (t *translation) finishMemo() {
	for i, rs := range t.routes {
		t.next.order[i].memo = rs.memo
		if rs.memo == nil || !rs.portsAdded && rs.attachRec == nil {
			continue
		}
		m := rs.memo
		if !rs.memoOwned {
			cp := *m
			m = &cp
			t.next.routes.replace(rs.key, m)
		}
		t.next.order[i].memo = m
		if rs.portsAdded {
			m.ports = rs.ports
		}
		if rs.attachRec != nil {
			m.attach = rs.attachRec
		}
	}
	t.next.routes.settle(func(keep func(key string)) {
		for _, rs := range t.routes {
			if rs.memo != nil {
				keep(rs.key)
			}
		}
	})
}

// attachWorld lists what attach reads besides the route itself: the
// Gateways and GatewayClasses (listeners, classes), and the Namespaces
// (listener selectors). It is nil, and attachments are not remembered,
// when one of them has no resourceVersion, or when there are GRPCRoutes:
// an HTTPRoute's attachment then depends on the other routes (a
// GRPCRoute claiming its hostname, see kindConflict). Without GRPCRoutes
// listener claims are never read, so a replayed attachment makes none.
func (t *translation) attachWorld() []objectVersion {
	if len(t.in.GRPCRoutes) > 0 {
		return nil
	}
	out := make([]objectVersion, 0, len(t.in.Gateways)+len(t.in.GatewayClasses)+len(t.in.Namespaces)+3)
	// A marker between kinds, so that lists of different kinds never
	// line up as equal.
	add := func(v objectVersion, ok bool) bool {
		out = append(out, v)
		return ok
	}
	// Attach reads the spec of Gateways and classes, never their status,
	// which Legate writes.
	for _, o := range t.in.Gateways {
		v, ok := versionOf(o)
		if o != nil {
			v = v.withSpec(&o.ObjectMeta, &o.Spec)
		}
		if !add(v, ok) {
			return nil
		}
	}
	add(objectVersion{}, true)
	for _, o := range t.in.GatewayClasses {
		v, ok := versionOf(o)
		if o != nil {
			v = v.withSpec(&o.ObjectMeta, &o.Spec)
		}
		if !add(v, ok) {
			return nil
		}
	}
	add(objectVersion{}, true)
	for _, o := range t.in.Namespaces {
		if !add(versionOf(o)) {
			return nil
		}
	}
	return out
}

// attachRoute is attach through the memo: a remembered route whose
// world (attachWorld) is unchanged gets the attachment it got last run,
// and raises the same listeners' attachedRoutes.
func (t *translation) attachRoute(rs *routeState) {
	if t.replayAttach && rs.memo != nil && !rs.translated && rs.memo.attach != nil {
		if t.replay(rs, rs.memo.attach) {
			return
		}
	}
	n := len(rs.problems)
	counted := t.attach(rs)
	if rs.memo == nil || t.next.world == nil {
		return
	}
	var rec *attachMemo
	if len(rs.attachments) == 1 && len(counted) == 1 {
		// As most routes: the record and its one attachment and
		// listener in one allocation, read together when replayed.
		one := &struct {
			attachMemo
			attachments [1]attachedTo
			counted     [1]listenerRef
		}{}
		rec = &one.attachMemo
		rec.attachments, rec.counted = one.attachments[:0:1], one.counted[:0:1]
	} else {
		rec = &attachMemo{}
	}
	rec.parents, rec.problems = rs.parents, slices.Clip(rs.problems[n:])
	for _, a := range rs.attachments {
		rec.attachments = append(rec.attachments, attachedTo{l: refOf(a.l), hostnames: a.hostnames})
	}
	for l := range counted {
		rec.counted = append(rec.counted, refOf(l))
	}
	rs.attachRec = rec
}

func refOf(l *listenerState) listenerRef {
	return listenerRef{gateway: l.gw.key(), index: l.index}
}

// listener finds a listener of this run by reference. The last one
// found is kept: most routes name the one listener the last did.
func (t *translation) listener(r listenerRef) *listenerState {
	if l := t.lastListener; l != nil && t.lastRef == r {
		return l
	}
	if gs := t.gatewayByKey[r.gateway]; gs != nil {
		for _, l := range gs.listeners {
			if l.index == r.index {
				t.lastRef, t.lastListener = r, l
				return l
			}
		}
	}
	return nil
}

// replay gives rs the remembered attachment a; false if a listener it
// names is not found (then nothing was changed).
func (t *translation) replay(rs *routeState, a *attachMemo) bool {
	for _, r := range a.counted {
		if t.listener(r) == nil {
			return false
		}
	}
	// The attachments are put in the run's scratch when it has one:
	// nothing keeps them after the run.
	var slab []attachment
	if t.scratch != nil {
		slab = t.scratch.attachments
	}
	start := len(slab)
	for _, at := range a.attachments {
		l := t.listener(at.l)
		if l == nil {
			clear(slab[start:])
			return false
		}
		slab = append(slab, attachment{l: l, hostnames: at.hostnames})
	}
	attachments := slab[start:len(slab):len(slab)]
	if t.scratch != nil {
		t.scratch.attachments = slab
	} else if len(attachments) == 0 {
		attachments = nil
	}
	for _, r := range a.counted {
		t.listener(r).attached++
	}
	rs.attachments, rs.parents = attachments, a.parents
	rs.problems = append(rs.problems, a.problems...)
	return true
}

// readService records, while a route is translated, that it read the
// Service namespace/name.
func (t *translation) readService(ns, name string) {
	if t.rec == nil {
		return
	}
	key := ns + "/" + name
	if !slices.Contains(t.rec.deps, key) {
		t.rec.deps = append(t.rec.deps, key)
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

// depsUnchanged reports whether every Service a remembered route read is
// as it was last run.
func (t *translation) depsUnchanged(deps []string) bool {
	if len(t.changed) == 0 {
		return true
	}
	for _, d := range deps {
		if t.changed[d] {
			return false
		}
	}
	return true
}

// routesFor returns rs's IR routes for a listener of port, sorted
// (ir.SortRoutes): the remembered ones when there are. (A virtual host's
// routes are sorted stably, so sorting each route's own first changes
// nothing but spares sorting a virtual host of one route.)
func (t *translation) routesFor(rs *routeState, port uint32) []*ir.Route {
	if rs.memo == nil {
		out := rs.irRoutes(port)
		ir.SortRoutes(out)
		return out
	}
	for _, p := range rs.ports {
		if p.port == port {
			return p.routes
		}
	}
	out := rs.irRoutes(port)
	ir.SortRoutes(out)
	rs.ports, rs.portsAdded = append(rs.ports, portRoutes{port: port, routes: out}), true
	return out
}

// routeMemos are the memo entries of a run's routes by key. A run whose
// routes are the last run's, a few of them edited, sets 10k entries that
// are almost all the same as last run's: rather than a new map of them
// per run, the entries are a base map, shared by every run since it was
// made and never written, and a patch of the keys whose entry differs
// from the base's, which each run copies from its last (it is small) and
// writes into. When the routes' keys are not the base's (a route added or
// removed), or the patch grows past an eighth of the base, the run folds
// the entries it set into a new base (settle): memory follows the
// configuration, not its history.
type routeMemos struct {
	base  map[string]*routeMemo
	patch map[string]*routeMemo
	// added counts the patch's keys the base does not have, sets the
	// keys this run set.
	added, sets int
}

// from starts the next run's entries from these.
func (r routeMemos) from() routeMemos {
	return routeMemos{base: r.base, patch: maps.Clone(r.patch), added: r.added}
}

func (r *routeMemos) get(key string) *routeMemo {
	if m, ok := r.patch[key]; ok {
		return m
	}
	return r.base[key]
}

// set makes m the entry of key for this run: each route's key once.
func (r *routeMemos) set(key string, m *routeMemo) {
	r.sets++
	r.replace(key, m)
}

// kept counts, as set does, a key whose entry this run leaves as the
// last run's: each route's key once, instead of set.
func (r *routeMemos) kept() { r.sets++ }

// replace changes the entry of a key set this run.
func (r *routeMemos) replace(key string, m *routeMemo) {
	if p, ok := r.patch[key]; ok {
		if p != m {
			r.patch[key] = m
		}
		return
	}
	b, inBase := r.base[key]
	if inBase && b == m {
		return
	}
	if r.patch == nil {
		r.patch = map[string]*routeMemo{}
	}
	r.patch[key] = m
	if !inBase {
		r.added++
	}
}

// settle ends a run: unless its keys are exactly those of the entries
// (none of the base's or patch's left unset) and the patch is small, the
// entries the run set, which each(keep) names, become a new base.
func (r *routeMemos) settle(each func(keep func(key string))) {
	if r.sets == len(r.base)+r.added && len(r.patch) <= len(r.base)/8 {
		return
	}
	base := make(map[string]*routeMemo, r.sets)
	each(func(key string) { base[key] = r.get(key) })
	*r = routeMemos{base: base}
}
