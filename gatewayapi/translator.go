package gatewayapi

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

// Name is the translator's registry name.
const Name = "gatewayapi"

// ControllerName is the GatewayClass spec.controllerName Legate owns.
const ControllerName gatewayv1.GatewayController = "legate.dev/gateway-controller"

// translator remembers, from one run to the next, what each route
// translated to (see memo.go), so that re-translating a snapshot in which
// few routes changed costs little more than those routes.
type translator struct {
	mu   sync.Mutex
	memo *memo
	// scratch are the buffers of a run, taken by one run at a time.
	scratch *scratch
}

// scratch are buffers and maps a run needs and leaves for the next,
// rather than making them anew each time (at 10k routes, each is a
// list or an index of 10k entries): nothing the run returns or
// remembers refers to them, and they are cleared after use, so that
// they hold nothing of the run alive (but usage and picked, which hold
// virtual hosts, clusters and the memo the run's memo holds, or is).
type scratch struct {
	// objects gathers the ObjectStatuses (see statuses), sorted sorts
	// them.
	objects, sorted []translators.ObjectStatus
	// clusters is translation.clusters.
	clusters map[string]*ir.Cluster
	// usage is what the virtual hosts of the last run's listeners name,
	// picked the clusters in use it handed out: unlike the rest, they are
	// kept from one run to the next (see usage, clustersInUse).
	usage  usage
	picked pickedClusters
	// builds and at gather a port listener's virtual hosts.
	builds []vhBuild
	at     map[string]int
	// attachments are where replayed attachments are put.
	attachments []attachment
	// key is where memo keys are made to be looked up.
	key []byte
	// states are the routes' states, routes the list of them (see
	// collectRoutes).
	states []routeState
	routes []*routeState
	// sortedRoutes is where routes are sorted into (see sortRoutes).
	sortedRoutes []*routeState
}

// done clears what the run left in sc.
func (sc *scratch) done() {
	clear(sc.objects)
	sc.objects = sc.objects[:0]
	clear(sc.sorted)
	sc.sorted = sc.sorted[:0]
	clear(sc.clusters)
	clear(sc.builds)
	sc.builds = sc.builds[:0]
	clear(sc.at)
	clear(sc.attachments)
	sc.attachments = sc.attachments[:0]
	clear(sc.states)
	sc.states = sc.states[:0]
	clear(sc.routes)
	sc.routes = sc.routes[:0]
}

// New returns the Gateway API translator. It may be shared: runs on
// several goroutines at once are safe (each reads the memo it started
// from, and the last to finish leaves its own).
func New() translators.Translator { return &translator{} }

func (*translator) Name() string { return Name }

func (*translator) Kinds() []client.Object {
	return []client.Object{
		&gatewayv1.GatewayClass{},
		&gatewayv1.Gateway{},
		&gatewayv1.HTTPRoute{},
		&gatewayv1.GRPCRoute{},
		&gatewayv1.TLSRoute{},
		&gatewayv1.TCPRoute{},
		&gatewayv1.UDPRoute{},
		&gatewayv1.ReferenceGrant{},
		&gatewayv1.BackendTLSPolicy{},
		&corev1.ConfigMap{},
		&corev1.Service{},
		&discoveryv1.EndpointSlice{},
		&corev1.Secret{},
		&corev1.Namespace{},
	}
}

// AddToScheme registers gateway.networking.k8s.io/v1 and the core kinds.
// v1beta1 is left out: its Go types are distinct from v1's, and Inputs has
// no place for them, so decoding them would only hide them.
func (*translator) AddToScheme(s *runtime.Scheme) error {
	for _, add := range []func(*runtime.Scheme) error{gatewayv1.Install, corev1.AddToScheme, discoveryv1.AddToScheme} {
		if err := add(s); err != nil {
			return fmt.Errorf("gatewayapi: adding types to scheme: %w", err)
		}
	}
	return nil
}

func (tr *translator) Translate(in *translators.Inputs, s translators.Settings) (*ir.Config, []*translators.ObjectStatus) {
	// The registry reads the ObjectStatuses only: the Gateway API
	// Status (a list of every route's) is not made.
	res := tr.translate(in, s, false)
	return res.IR, res.Objects
}

// translate is Translate with the Result, through the memo; its Status
// only withStatus.
func (tr *translator) translate(in *translators.Inputs, s translators.Settings, withStatus bool) Result {
	tr.mu.Lock()
	prev, sc := tr.memo, tr.scratch
	tr.scratch = nil
	tr.mu.Unlock()
	if sc == nil {
		// None left (the first run, or another run holds it).
		sc = &scratch{}
	}
	res, next := translateMemo(in, s, prev, sc, withStatus)
	tr.mu.Lock()
	tr.memo, tr.scratch = next, sc
	tr.mu.Unlock()
	return res
}

// Result is one translation: the IR fragment, the Gateway API status of
// every object Legate owns, and the same as translators.ObjectStatuses
// (conditions of GatewayClasses and Gateways, load balancer addresses, and
// every problem found, for events and diagnostics).
type Result struct {
	IR      *ir.Config
	Status  *Status
	Objects []*translators.ObjectStatus
}

// Translate translates the Gateway API objects of in. It is what the
// Translator does, with the full Gateway API status besides.
func Translate(in *translators.Inputs, s translators.Settings) Result {
	res, _ := translate(in, s, nil, false, true)
	return res
}

// translateMemo is translate remembering, with sc's buffers.
func translateMemo(in *translators.Inputs, s translators.Settings, prev *memo, sc *scratch, withStatus bool) (Result, *memo) {
	// The clusters' map is picked once the routes are known (see
	// startClusters).
	t := newTranslation(in, s, prev, nil)
	t.scratch = sc
	res, next := t.run(prev, true, withStatus)
	sc.done()
	return res, next
}

// translate translates in, reusing what prev remembers; with remember, it
// returns what the next run may reuse.
func translate(in *translators.Inputs, s translators.Settings, prev *memo, remember, withStatus bool) (Result, *memo) {
	nClusters := 0
	if prev != nil {
		// Sized as last run's, not grown to it on every run.
		nClusters = prev.clusters
	}
	return newTranslation(in, s, prev, make(map[string]*ir.Cluster, nClusters)).run(prev, remember, withStatus)
}

// newTranslation starts a translation of in, registering clusters in
// clusters (empty; nil to let startClusters pick).
func newTranslation(in *translators.Inputs, s translators.Settings, prev *memo, clusters map[string]*ir.Cluster) *translation {
	t := &translation{
		in:           in,
		s:            s,
		controller:   gatewayv1.GatewayController(cmp.Or(s.GatewayController, string(ControllerName))),
		classes:      map[string]*classState{},
		gatewayByKey: map[string]*gatewayState{},
		clusters:     clusters,
		secrets:      map[string]*ir.Secret{},
		grants:       newGrants(in.ReferenceGrants),
	}
	if s.GatewayAddressPool.IsValid() {
		t.pool = newAddressPool(s.GatewayAddressPool)
	}
	return t
}

func (t *translation) run(prev *memo, remember, withStatus bool) (Result, *memo) {
	t.collectClasses()
	t.collectGateways()
	t.collectBackendTLSPolicies()
	if remember {
		t.startMemo(prev)
	}
	t.collectRoutes()
	t.collectL4Routes()
	t.tlsPolicyAncestors()
	cfg := t.emit()
	if t.next != nil {
		t.finishMemo()
		t.next.clusters = len(t.clusters)
		if t.keepClusters {
			t.next.clusterMap = t.clusters
		}
	}
	st, objs := t.statuses(withStatus)
	if t.next != nil {
		t.next.objects = objs
	}
	return Result{IR: cfg, Status: st, Objects: objs}, t.next
}

type translation struct {
	in         *translators.Inputs
	s          translators.Settings
	controller gatewayv1.GatewayController
	grants     *grants
	// pool hands out Gateway addresses; nil without
	// Settings.GatewayAddressPool.
	pool *addressPool

	classes    map[string]*classState
	classOrder []*classState
	// gateways are oldest first; gatewayByKey finds them by namespace/name.
	gateways     []*gatewayState
	gatewayByKey map[string]*gatewayState
	// routes are oldest first.
	routes []*routeState

	// tlsPolicies are the BackendTLSPolicies, oldest first; tlsTargets
	// the one that applies to each target (see tlsTargetKey).
	tlsPolicies []*tlsPolicy
	tlsTargets  map[string]*tlsPolicy
	// lastTargets are the BackendTLSPolicy targets of the Service port the
	// last call of backend resolved (the Service, and the port by name),
	// for the caller to record on its route: the Gateways of the routes
	// using a target are the ancestors of the policies targeting it.
	lastTargets []string
	// lastWebSocket says the Service port backend last resolved has
	// appProtocol kubernetes.io/ws (GEP-1911).
	lastWebSocket bool
	configMaps    map[string]*corev1.ConfigMap
	// stale are routes that name none of Legate's Gateways but whose
	// status still holds entries of Legate's controller.
	stale []*routeState
	// l4Routes are the TLSRoutes, TCPRoutes and UDPRoutes, oldest first.
	l4Routes []*l4Route

	// clusters are the clusters registered, by name; with
	// sharedClusters, the last run's, never written (see clusters.go).
	// keepClusters says they are remembered for the next run; placing is
	// the place of the route being translated.
	clusters       map[string]*ir.Cluster
	sharedClusters bool
	keepClusters   bool
	placing        int
	secrets        map[string]*ir.Secret

	// prev is the last run's memo when this run may reuse it; next is
	// this run's, nil when not remembering; rec is the route being
	// translated, recording what it reads and registers (see memo.go).
	prev, next *memo
	// last is the last run's memo, whatever changed since: what is
	// reused from it by content, not by unchanged inputs (the virtual
	// hosts, see vhBuild), is read from it.
	last *memo
	rec  *routeMemo
	// recOld is the last run's entry of the route being translated anew,
	// whose clusters it may keep (sameCluster).
	recOld *routeMemo
	// changed are the Services (namespace/name) that are not as they
	// were last run, with prev.
	changed map[string]bool
	// replayAttach says remembered attachments hold (attachWorld is as
	// last run).
	replayAttach bool
	// scratch, when set, are buffers to use (see scratch).
	scratch *scratch
	// lastRef and lastListener are the last listener found by reference
	// (see listener).
	lastRef      listenerRef
	lastListener *listenerState
	// lastParent is the last Gateway parentGateway looked up (nil: none
	// yet, or none found): most routes name the one Gateway the last did.
	lastParent                   *gatewayState
	lastParentNS, lastParentName string
}

// ListenerName names the IR listener of a Gateway's port.
func ListenerName(namespace, name string, port int32) string {
	return fmt.Sprintf("gateway-%s-%s-%d", namespace, name, port)
}

// emit builds the fragment. Each Gateway port with programmed listeners is
// one IR listener. On it, each programmed listener's hostname (or "*") is
// a virtual host, so that a request for a listener's hostname never
// reaches another listener's routes; and each hostname a route serves on a
// listener is a virtual host with the route's routes, when that listener
// is the most specific one for the hostname (see the package doc).
func (t *translation) emit() *ir.Config {
	cfg := &ir.Config{}
	// What the virtual hosts name is counted across runs (see usage);
	// what TCP routes and clusters name, which are few, is gathered anew.
	u := &usage{}
	if t.scratch != nil {
		u = &t.scratch.usage
	}
	var usedClusters, usedSecrets map[string]bool
	use := func(m *map[string]bool, name string) {
		if *m == nil {
			*m = map[string]bool{}
		}
		(*m)[name] = true
	}
	gws := slices.Clone(t.gateways)
	slices.SortFunc(gws, func(a, b *gatewayState) int { return cmp.Compare(a.key(), b.key()) })
	type portKey struct {
		port      int32
		transport string
	}
	for _, gs := range gws {
		byPort := map[portKey][]*listenerState{}
		for _, l := range gs.listeners {
			if l.programmed() {
				k := portKey{int32(l.spec.Port), transport(l.spec.Protocol)}
				byPort[k] = append(byPort[k], l)
			}
		}
		ports := make([]portKey, 0, len(byPort))
		for p := range byPort {
			ports = append(ports, p)
		}
		slices.SortFunc(ports, func(a, b portKey) int {
			return cmp.Or(cmp.Compare(a.port, b.port), cmp.Compare(a.transport, b.transport))
		})
		for _, pk := range ports {
			ls := byPort[pk]
			var l *ir.Listener
			switch ls[0].spec.Protocol {
			case gatewayv1.TLSProtocolType, gatewayv1.TCPProtocolType, gatewayv1.UDPProtocolType:
				l = t.l4Listener(gs, pk.port, ls)
			default:
				l = t.portListener(gs, pk.port, ls)
			}
			for _, r := range l.TCPRoutes {
				for _, b := range r.Backends {
					use(&usedClusters, b.Cluster)
				}
				if r.TLS != nil {
					for _, s := range r.TLS.SecretNames {
						use(&usedSecrets, s)
					}
				}
			}
			u.count(len(cfg.Listeners), l.VirtualHosts)
			cfg.Listeners = append(cfg.Listeners, l)
		}
	}
	u.keep(len(cfg.Listeners))
	cfg.Clusters = t.clustersInUse(u, usedClusters, func(s string) { use(&usedSecrets, s) })
	for _, n := range sortedKeys(t.secrets) {
		if u.secrets[n] > 0 || usedSecrets[n] {
			cfg.Secrets = append(cfg.Secrets, t.secrets[n])
		}
	}
	return cfg
}

// portListener builds the IR listener of one port of a Gateway from its
// programmed listeners there (all of one protocol: a protocol conflict
// leaves none programmed).
func (t *translation) portListener(gs *gatewayState, port int32, ls []*listenerState) *ir.Listener {
	proto := ir.ProtocolHTTP
	if ls[0].spec.Protocol == gatewayv1.HTTPSProtocolType {
		proto = ir.ProtocolHTTPS
	}
	name := ListenerName(gs.gw.Namespace, gs.gw.Name, port)
	if ls[0].shared {
		// The name the Ingress and Emissary translators give the shared
		// HTTP listener, so that ir.Merge joins them.
		name = t.s.HTTPListenerName()
	}
	out := &ir.Listener{
		Name:     name,
		Address:  gs.bind,
		Port:     uint32(port),
		Protocol: proto,
		Source: &ir.Source{Translator: Name, Group: gatewayv1.GroupName, Kind: "Gateway",
			Namespace: gs.gw.Namespace, Name: gs.gw.Name, Field: ls[0].field},
	}
	// The virtual hosts are gathered as their names, owners and routes,
	// and made at the end: one equal to a virtual host of the last run's
	// listener of this name is that very one (see virtualHost).
	var prevVH []*ir.VirtualHost
	if t.last != nil {
		prevVH = t.last.vhosts[name]
	}
	var builds []vhBuild
	var at map[string]int
	if sc := t.scratch; sc != nil && sc.at != nil {
		// Used by one port listener after another: cleared for this
		// one.
		clear(sc.builds)
		clear(sc.at)
		builds, at = sc.builds[:0], sc.at
	} else {
		builds = make([]vhBuild, 0, max(len(prevVH), len(ls)))
		at = make(map[string]int, cap(builds))
	}
	vhost := func(h string, owner *listenerState) int {
		i, ok := at[h]
		if !ok {
			i = len(builds)
			builds = append(builds, vhBuild{name: h, owner: owner})
			at[h] = i
		}
		return i
	}
	for _, l := range ls {
		vhost(orDefault(l.hostname, "*"), l)
	}
	var added []int
	for _, rs := range t.routes {
		if len(rs.rules) == 0 {
			continue
		}
		// Route names are the route's own: two routes never give one,
		// so a route's IR routes are added to a virtual host once, even
		// when it attaches to several listeners serving the hostname.
		added = added[:0]
		for _, a := range rs.attachments {
			if !slices.Contains(ls, a.l) {
				continue
			}
			for _, h := range a.hostnames {
				if owner := mostSpecific(ls, h); owner != a.l {
					continue // a more specific listener takes this hostname
				}
				i := vhost(h, a.l)
				if slices.Contains(added, i) {
					continue
				}
				added = append(added, i)
				b := &builds[i]
				routes := t.routesFor(rs, uint32(port))
				b.contributors++
				if b.routes == nil {
					// The route's own list, shared until a second
					// route's are added (clipped: the append copies).
					b.routes = slices.Clip(routes)
				} else {
					b.routes = append(b.routes, routes...)
				}
			}
		}
	}
	if t.scratch != nil {
		t.scratch.builds, t.scratch.at = builds, at
	}
	slices.SortFunc(builds, func(a, b vhBuild) int { return cmp.Compare(a.name, b.name) })
	out.VirtualHosts = make([]*ir.VirtualHost, 0, len(builds))
	var scratch []*ir.Route
	at0 := 0
	for i := range builds {
		var vh *ir.VirtualHost
		vh, scratch, at0 = builds[i].virtualHost(prevVH, at0, scratch)
		out.VirtualHosts = append(out.VirtualHosts, vh)
	}
	if t.next != nil {
		if t.next.vhosts == nil {
			t.next.vhosts = map[string][]*ir.VirtualHost{}
		}
		t.next.vhosts[name] = out.VirtualHosts
	}
	return out
}

// vhBuild is a virtual host of a port listener being gathered: its name
// (the one hostname it serves), the Gateway listener it belongs to, and
// its routes in the order routes attached.
type vhBuild struct {
	name   string
	owner  *listenerState
	routes []*ir.Route
	// contributors counts the routes whose IR routes are in routes.
	contributors int
}

// virtualHost makes the virtual host b describes, its routes sorted
// (ir.SortRoutes). When prev, the last run's virtual hosts of the
// listener sorted by name (all made here, so with no TLS setting but
// secrets), holds an equal one (same name, group and TLS secrets, the
// same route pointers in the same order) it is returned
// instead of a new one: an unchanged virtual host is then the same
// pointer run after run, which Merge, Prune and the xDS stages reuse
// what they made of; nobody writes into a virtual host once returned.
// scratch is a buffer to sort in, returned for the next call. Virtual
// hosts are made in order of names: from is where in prev to look from,
// and the place to look from for the next name is returned.
func (b *vhBuild) virtualHost(prev []*ir.VirtualHost, from int, scratch []*ir.Route) (*ir.VirtualHost, []*ir.Route, int) {
	routes := b.routes
	if b.contributors > 1 {
		// One route's routes are sorted already (routesFor).
		scratch = append(scratch[:0], b.routes...)
		ir.SortRoutes(scratch)
		routes = scratch
	}
	var secrets []string
	if b.owner.tls != nil {
		secrets = b.owner.tls.SecretNames
	}
	for from < len(prev) && prev[from].Name < b.name {
		from++
	}
	if from < len(prev) && prev[from].Name == b.name {
		old := prev[from]
		if len(old.Hostnames) == 1 && old.Hostnames[0] == b.name && old.Group == string(b.owner.spec.Name) &&
			(old.TLS == nil) == (b.owner.tls == nil) && (old.TLS == nil || slices.Equal(old.TLS.SecretNames, secrets)) &&
			slices.Equal(old.Routes, routes) {
			return old, scratch, from
		}
	}
	// The virtual hosts of one Gateway listener are one group: a
	// request for another listener's hostname on a connection made for
	// this one is misdirected (421).
	vh := &ir.VirtualHost{Name: b.name, Hostnames: []string{b.name}, Group: string(b.owner.spec.Name)}
	if b.owner.tls != nil {
		vh.TLS = &ir.TLSConfig{SecretNames: slices.Clone(secrets)}
	}
	if len(routes) > 0 {
		vh.Routes = slices.Clone(routes)
	}
	return vh, scratch, from
}

// mostSpecific returns the listener of ls whose hostname matches h most
// specifically: the one a request for h is matched to.
func mostSpecific(ls []*listenerState, h string) *listenerState {
	var best *listenerState
	for _, l := range ls {
		if !covers(l.hostname, h) {
			continue
		}
		if best == nil || specificity(l.hostname) > specificity(best.hostname) {
			best = l
		}
	}
	return best
}

// statuses renders the Status and the ObjectStatuses.
//
// Without withStatus, the Status is nil (only ObjectStatuses are made).
// The ObjectStatuses are sorted by object, with no empty slices. They are
// gathered in t.scratch, not in a new list of every object's: when they
// equal the last run's (the common case: an edit changes the status of
// the edited route at most), they are the last run's very list, and
// otherwise a list that holds the last run's entries of the objects
// whose status did not change.
func (t *translation) statuses(withStatus bool) (*Status, []*translators.ObjectStatus) {
	st := &Status{}
	n := len(t.classOrder) + len(t.gateways) + len(t.routes) + len(t.stale) + len(t.l4Routes) + len(t.tlsPolicies)
	var objs []translators.ObjectStatus
	if t.scratch != nil && cap(t.scratch.objects) >= n {
		objs = t.scratch.objects[:0]
	} else {
		objs = make([]translators.ObjectStatus, 0, n)
	}
	for _, cs := range t.classOrder {
		s := cs.status(t.pool != nil, port8080Free(t.s))
		st.GatewayClasses = append(st.GatewayClasses, GatewayClassStatus{Name: cs.class.Name, Status: s})
		var ps problems
		if !cs.accepted {
			ps.add(errSev, "spec.parametersRef", string(cs.reason), "%s", cs.message)
		}
		objs = append(objs, translators.ObjectStatus{
			Object:       translators.ObjectRef{Group: gatewayv1.GroupName, Kind: "GatewayClass", Name: cs.class.Name},
			Generation:   cs.class.Generation,
			Problems:     ps,
			Conditions:   s.Conditions,
			GatewayClass: &s,
		})
	}
	for _, gs := range t.gateways {
		s := gs.status()
		st.Gateways = append(st.Gateways, GatewayStatus{Namespace: gs.gw.Namespace, Name: gs.gw.Name, Status: s})
		var lb []string
		for _, a := range s.Addresses {
			lb = append(lb, a.Value)
		}
		objs = append(objs, translators.ObjectStatus{
			Object:       translators.ObjectRef{Group: gatewayv1.GroupName, Kind: "Gateway", Namespace: gs.gw.Namespace, Name: gs.gw.Name},
			Generation:   gs.gw.Generation,
			Problems:     gs.problems,
			Conditions:   s.Conditions,
			LoadBalancer: lb,
			Gateway:      &s,
		})
	}
	// Stale routes name none of Legate's Gateways any more but still hold
	// entries Legate wrote: their status is an empty list of Legate's
	// parents, which the status writer applies by removing those entries
	// (and keeping other controllers').
	for _, rs := range t.stale {
		rs.parents = []gatewayv1.RouteParentStatus{}
	}
	for _, rs := range append(slices.Clip(t.routes), t.stale...) {
		rst := RouteStatus{Namespace: rs.meta.Namespace, Name: rs.meta.Name, Parents: rs.parents}
		switch {
		case !withStatus:
		case rs.grpc != nil:
			st.GRPCRoutes = append(st.GRPCRoutes, rst)
		default:
			if st.HTTPRoutes == nil {
				st.HTTPRoutes = make([]RouteStatus, 0, len(t.routes)+len(t.stale))
			}
			st.HTTPRoutes = append(st.HTTPRoutes, rst)
		}
		objs = append(objs, translators.ObjectStatus{
			Object:          translators.ObjectRef{Group: gatewayv1.GroupName, Kind: rs.kind, Namespace: rs.meta.Namespace, Name: rs.meta.Name},
			Generation:      rs.meta.Generation,
			Problems:        rs.problems,
			RouteParents:    rs.parents,
			RouteController: t.controller,
		})
	}
	for _, r := range t.l4Routes {
		rs := RouteStatus{Namespace: r.meta.Namespace, Name: r.meta.Name, Parents: r.parents}
		switch r.kind {
		case "TLSRoute":
			st.TLSRoutes = append(st.TLSRoutes, rs)
		case "TCPRoute":
			st.TCPRoutes = append(st.TCPRoutes, rs)
		case "UDPRoute":
			st.UDPRoutes = append(st.UDPRoutes, rs)
		}
		objs = append(objs, translators.ObjectStatus{
			Object:          translators.ObjectRef{Group: gatewayv1.GroupName, Kind: r.kind, Namespace: r.meta.Namespace, Name: r.meta.Name},
			Generation:      r.meta.Generation,
			Problems:        r.problems,
			RouteParents:    r.parents,
			RouteController: t.controller,
		})
	}
	for _, list := range [][]RouteStatus{st.TLSRoutes, st.TCPRoutes, st.UDPRoutes} {
		slices.SortFunc(list, func(a, b RouteStatus) int {
			return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
		})
	}
	for _, tp := range t.tlsPolicies {
		ancestors := tp.status(t.controller)
		p := tp.policy
		if len(ancestors) > 0 {
			st.BackendTLSPolicies = append(st.BackendTLSPolicies, BackendTLSPolicyStatus{Namespace: p.Namespace, Name: p.Name, Ancestors: ancestors})
		}
		// A policy Legate once wrote ancestors of, but that has none now,
		// is still reported: the writer then removes Legate's entries.
		stale := slices.ContainsFunc(p.Status.Ancestors, func(a gatewayv1.PolicyAncestorStatus) bool { return a.ControllerName == t.controller })
		if len(ancestors) == 0 && len(tp.problems) == 0 && !stale {
			continue
		}
		objs = append(objs, translators.ObjectStatus{
			Object:          translators.ObjectRef{Group: gatewayv1.GroupName, Kind: "BackendTLSPolicy", Namespace: p.Namespace, Name: p.Name},
			Generation:      p.Generation,
			Problems:        tp.problems,
			PolicyAncestors: ancestors,
			// The entries of this controller are Legate's to replace.
			RouteController: t.controller,
		})
	}
	slices.SortFunc(st.BackendTLSPolicies, func(a, b BackendTLSPolicyStatus) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	slices.SortFunc(st.Gateways, func(a, b GatewayStatus) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	for _, l := range [][]RouteStatus{st.HTTPRoutes, st.GRPCRoutes} {
		slices.SortFunc(l, func(a, b RouteStatus) int {
			return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
		})
	}
	if !withStatus {
		st = nil
	}
	if t.scratch != nil {
		t.scratch.objects = objs
		if t.objectsAsLast(objs) {
			return st, t.last.objects
		}
	}
	// In the registry's order (by object), so that it can take the list
	// as it is rather than index and sort a copy of it; normalized as it
	// would (no room behind, no empty slices), so that it writes nothing.
	objs = t.sortObjects(objs)
	for i := range objs {
		translators.Normalize(&objs[i])
	}
	if t.scratch != nil {
		t.scratch.sorted = objs
	}
	return st, t.entries(objs)
}

// entries is the list of objs (sorted, normalized) to hand out: the last
// run's very list if it says the same, else one that takes the last
// run's entry of every object whose status did not change, and a copy of
// the others (objs may be t.scratch's). Each copy is an allocation of its
// own: entries live on from run to run, and one kept in an array of a
// run's copies would keep them all, and what they point to, alive.
func (t *translation) entries(objs []translators.ObjectStatus) []*translators.ObjectStatus {
	var last []*translators.ObjectStatus
	if t.last != nil {
		last = t.last.objects
	}
	out := make([]*translators.ObjectStatus, len(objs))
	changed, j := false, 0
	for i := range objs {
		// Both lists are sorted by object.
		for j < len(last) && last[j].Object.Compare(objs[i].Object) < 0 {
			j++
		}
		if j < len(last) && sameObjectStatus(objs[i], *last[j]) {
			out[i] = last[j]
			continue
		}
		changed = true
		o := objs[i]
		out[i] = &o
	}
	if t.last != nil && !changed && len(objs) == len(last) {
		return last
	}
	return out
}

// objectsAsLast reports whether objs, once sorted and normalized, would
// be the last run's ObjectStatuses (sameObjectStatus), without sorting
// them: they are when, at the places the last run's sort took each of
// its objects from, objs hold that object saying the same (see
// sortObjects). The places are then remembered for the next run.
func (t *translation) objectsAsLast(objs []translators.ObjectStatus) bool {
	last := t.last
	if last == nil || len(last.objectsFrom) != len(objs) || len(last.objects) != len(objs) {
		return false
	}
	for k, i := range last.objectsFrom {
		o := objs[i]
		translators.Normalize(&o)
		if !sameObjectStatus(o, *last.objects[k]) {
			return false
		}
	}
	if t.next != nil {
		t.next.objectsFrom = last.objectsFrom
	}
	return true
}

// sortObjects returns objs sorted by object, in t.scratch when there is
// one. Objects come in the order of the run's states (classes, Gateways,
// routes oldest first...), which is mostly the last run's: when objs hold,
// at the places the last run's sort took each of its objects from, that
// very object, they are in the same order as then, and the same sort
// would give the same order (it depends on the comparisons only). They
// are then gathered in that order, not sorted. The places are remembered
// for the next run.
func (t *translation) sortObjects(objs []translators.ObjectStatus) []translators.ObjectStatus {
	var sorted []translators.ObjectStatus
	if t.scratch != nil && cap(t.scratch.sorted) >= len(objs) {
		sorted = t.scratch.sorted[:0]
	} else {
		sorted = make([]translators.ObjectStatus, 0, len(objs))
	}
	var from []int32
	if last := t.last; last != nil && len(last.objectsFrom) == len(objs) && len(last.objects) == len(objs) {
		from = last.objectsFrom
		for k, i := range from {
			if objs[i].Object != last.objects[k].Object {
				from = nil
				clear(sorted)
				sorted = sorted[:0]
				break
			}
			sorted = append(sorted, objs[i])
		}
	}
	if from == nil {
		// Sorted as places: the same sort of the objects themselves
		// would order them so.
		from = make([]int32, len(objs))
		for i := range from {
			from[i] = int32(i)
		}
		slices.SortFunc(from, func(a, b int32) int {
			x, y := objs[a].Object, objs[b].Object
			return cmp.Or(cmp.Compare(x.Group, y.Group), cmp.Compare(x.Kind, y.Kind),
				cmp.Compare(x.Namespace, y.Namespace), cmp.Compare(x.Name, y.Name))
		})
		for _, i := range from {
			sorted = append(sorted, objs[i])
		}
	}
	if t.next != nil {
		t.next.objectsFrom = from
	}
	return sorted
}

// sameObjectStatus reports whether a and b say the same. Most slices of
// an unchanged object's status are the very slices of the last run's
// (remembered by the memo), so they are compared by identity first.
func sameObjectStatus(a, b translators.ObjectStatus) bool {
	return a.Object == b.Object && a.Generation == b.Generation && a.RouteController == b.RouteController &&
		sameSlice(a.Problems, b.Problems, slices.Equal) &&
		sameSlice(a.Conditions, b.Conditions, slices.Equal) &&
		sameSlice(a.LoadBalancer, b.LoadBalancer, slices.Equal) &&
		sameSlice(a.RouteParents, b.RouteParents, deepEqual) &&
		sameSlice(a.PolicyAncestors, b.PolicyAncestors, deepEqual) &&
		(a.GatewayClass == b.GatewayClass || a.GatewayClass != nil && b.GatewayClass != nil && reflect.DeepEqual(*a.GatewayClass, *b.GatewayClass)) &&
		(a.Gateway == b.Gateway || a.Gateway != nil && b.Gateway != nil && reflect.DeepEqual(*a.Gateway, *b.Gateway))
}

// sameSlice reports whether a and b are both nil, both the same array and
// length, or equal by eq.
func sameSlice[T any](a, b []T, eq func(a, b []T) bool) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	return eq(a, b)
}

func deepEqual[T any](a, b []T) bool { return reflect.DeepEqual(a, b) }

// clustersInUse returns the clusters registered that the listeners use
// (the virtual hosts', counted in u, and tcp, the TCP routes'), sorted by
// name, and gives caSecret the CA secret of each that has one.
//
// When the clusters are the last run's (see clusters.go), and so are the
// names in use (no count went to or from zero since), the list is the
// one the scratch kept from the last run, copied: it is the same.
func (t *translation) clustersInUse(u *usage, tcp map[string]bool, caSecret func(string)) []*ir.Cluster {
	names := t.clusterNames()
	var pick *pickedClusters
	if t.scratch != nil {
		pick = &t.scratch.picked
	}
	if pick != nil && pick.memo != nil && pick.memo == t.prev && t.sharedClusters && tcp == nil &&
		pick.flips == u.flips && len(names) == len(pick.names) && (len(names) == 0 || &names[0] == &pick.names[0]) {
		for _, s := range pick.caSecrets {
			caSecret(s)
		}
		// The same again, for the next run.
		pick.memo = t.next
		if len(pick.clusters) == 0 {
			return nil
		}
		return slices.Clone(pick.clusters)
	}
	var out []*ir.Cluster
	if len(names) > 0 {
		out = make([]*ir.Cluster, 0, len(names))
	}
	var cas []string
	for _, n := range names {
		if u.clusters[n] > 0 || tcp[n] {
			cl := t.clusters[n]
			out = append(out, cl)
			if cl.TLS != nil && cl.TLS.CASecret != "" {
				caSecret(cl.TLS.CASecret)
				cas = append(cas, cl.TLS.CASecret)
			}
		}
	}
	if len(out) == 0 {
		out = nil // as when none was ever added
	}
	if pick != nil {
		// Kept for the next run when it may take it (it is the list
		// returned: nobody writes into a result's lists).
		*pick = pickedClusters{}
		if t.keepClusters && tcp == nil {
			*pick = pickedClusters{memo: t.next, names: names, flips: u.flips, clusters: out, caSecrets: cas}
		}
	}
	return out
}

// pickedClusters are the clusters in use a run handed out (see
// clustersInUse), with what they were picked from: the run's memo (whose
// clusters they are), the names of its clusters, and usage's flips then.
type pickedClusters struct {
	memo      *memo
	names     []string
	flips     int
	clusters  []*ir.Cluster
	caSecrets []string
}

// clusterNames are the names of the clusters registered, sorted: the
// last run's list when it holds the same names (as after most edits),
// else a new one. It is remembered for the next run.
func (t *translation) clusterNames() []string {
	var names []string
	if t.sharedClusters && t.last.clusterNames != nil {
		// The very clusters of the last run.
		names = t.last.clusterNames
	} else if t.last != nil && len(t.last.clusterNames) == len(t.clusters) {
		names = t.last.clusterNames
		for _, n := range names {
			if _, ok := t.clusters[n]; !ok {
				names = nil
				break
			}
		}
	}
	if names == nil {
		names = sortedKeys(t.clusters)
	}
	if t.next != nil {
		t.next.clusterNames = names
	}
	return names
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
