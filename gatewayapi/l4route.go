package gatewayapi

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/translators/ir"
)

// unavailableCluster is the cluster the shares of invalid backends of
// TLS, TCP and UDP routes go to: it has no endpoints, so Envoy closes those
// connections (and drops those datagrams), as the spec requires ("if an
// invalid backend is requested to have 80% of requests, then 80% of
// requests must be rejected"). Its name cannot be a Service cluster's,
// which always has two slashes.
const unavailableCluster = "gatewayapi/unavailable"

// l4Route is what the translation decided about one TLSRoute, TCPRoute or
// UDPRoute: routes that forward whole connections (or datagrams), picked by
// listener and, for TLSRoute, by the SNI of the ClientHello.
type l4Route struct {
	kind       string // "TLSRoute", "TCPRoute" or "UDPRoute"
	meta       *metav1.ObjectMeta
	parentRefs []gatewayv1.ParentReference
	// hostnames are a TLSRoute's spec.hostnames; hostnameErr is set if one
	// is invalid.
	hostnames   []string
	hostnameErr string
	// backends are the shares of the served rule (the first); an invalid
	// backend's share goes to unavailableCluster.
	backends    []ir.WeightedBackend
	refFailures []*refFailure
	// unsupported is why the route cannot be served as written
	// (Accepted=False, UnsupportedValue); dropped lists rules left out.
	unsupported string
	dropped     []string

	parents     []gatewayv1.RouteParentStatus
	attachments []attachment
	problems    problems
	// stale marks a route naming none of Legate's Gateways whose status
	// still holds entries Legate wrote: they are to be removed.
	stale bool
}

func (r *l4Route) key() string { return r.meta.Namespace + "/" + r.meta.Name }

// irName names the route's IR TCP route on a listener. A TLSRoute may be
// served by several listeners of one port (with different hostnames), so
// the listener's name is part of it.
func (r *l4Route) irName(l *listenerState) string {
	name := fmt.Sprintf("%s/%s/%s", strings.ToLower(r.kind), r.meta.Namespace, r.meta.Name)
	if r.kind == "TLSRoute" {
		name += "/" + string(l.spec.Name)
	}
	return name
}

// collectL4Routes reads every TLSRoute, TCPRoute and UDPRoute with a
// parentRef to a Gateway of Legate's, oldest first (creation timestamp,
// then kind, namespace and name): where routes compete for a listener or
// a server name, the oldest is served.
func (t *translation) collectL4Routes() {
	seen := map[string]bool{}
	var stale []*l4Route
	add := func(kind string, meta *metav1.ObjectMeta, spec *gatewayv1.CommonRouteSpec, status *gatewayv1.RouteStatus, hostnames []gatewayv1.Hostname, rules [][]gatewayv1.BackendRef) {
		key := kind + "/" + meta.Namespace + "/" + meta.Name
		if seen[key] {
			return
		}
		seen[key] = true
		if !t.namesOurGatewayIn(meta.Namespace, spec.ParentRefs) {
			if slices.ContainsFunc(status.Parents, func(p gatewayv1.RouteParentStatus) bool { return p.ControllerName == t.controller }) {
				stale = append(stale, &l4Route{kind: kind, meta: meta, stale: true, parents: []gatewayv1.RouteParentStatus{}})
			}
			return
		}
		r := &l4Route{kind: kind, meta: meta, parentRefs: spec.ParentRefs}
		t.translateL4(r, hostnames, rules)
		t.l4Routes = append(t.l4Routes, r)
	}
	for _, r := range t.in.TLSRoutes {
		if r != nil {
			rules := make([][]gatewayv1.BackendRef, len(r.Spec.Rules))
			for i, rule := range r.Spec.Rules {
				rules[i] = rule.BackendRefs
			}
			add("TLSRoute", &r.ObjectMeta, &r.Spec.CommonRouteSpec, &r.Status.RouteStatus, r.Spec.Hostnames, rules)
		}
	}
	for _, r := range t.in.TCPRoutes {
		if r != nil {
			rules := make([][]gatewayv1.BackendRef, len(r.Spec.Rules))
			for i, rule := range r.Spec.Rules {
				rules[i] = rule.BackendRefs
			}
			add("TCPRoute", &r.ObjectMeta, &r.Spec.CommonRouteSpec, &r.Status.RouteStatus, nil, rules)
		}
	}
	for _, r := range t.in.UDPRoutes {
		if r != nil {
			rules := make([][]gatewayv1.BackendRef, len(r.Spec.Rules))
			for i, rule := range r.Spec.Rules {
				rules[i] = rule.BackendRefs
			}
			add("UDPRoute", &r.ObjectMeta, &r.Spec.CommonRouteSpec, &r.Status.RouteStatus, nil, rules)
		}
	}
	slices.SortStableFunc(t.l4Routes, func(a, b *l4Route) int {
		return cmp.Or(a.meta.CreationTimestamp.Compare(b.meta.CreationTimestamp.Time), cmp.Compare(a.kind, b.kind),
			byNamespacedName(a.meta.Namespace, a.meta.Name, b.meta.Namespace, b.meta.Name))
	})
	for _, r := range t.l4Routes {
		t.attachL4(r)
	}
	// Stale routes get a status (an empty list of Legate's parents, which
	// the status writer applies by removing Legate's entries) and nothing
	// else.
	t.l4Routes = append(t.l4Routes, stale...)
}

func (t *translation) namesOurGatewayIn(ns string, refs []gatewayv1.ParentReference) bool {
	for _, p := range refs {
		if t.parentGateway(ns, p) != nil {
			return true
		}
	}
	return false
}

// translateL4 validates the hostnames and resolves the backends of the
// first rule. The API allows one rule; further rules (possible in a folder
// of YAML, which no API server validated) are left out.
func (t *translation) translateL4(r *l4Route, hostnames []gatewayv1.Hostname, rules [][]gatewayv1.BackendRef) {
	for i, h := range hostnames {
		if err := validHostname(string(h)); err != nil && r.hostnameErr == "" {
			r.hostnameErr = fmt.Sprintf("spec.hostnames[%d]: %v", i, err)
			r.problems.add(errSev, fmt.Sprintf("spec.hostnames[%d]", i), string(gatewayv1.RouteReasonUnsupportedValue), "%v; the route is not accepted", err)
		}
		r.hostnames = append(r.hostnames, string(h))
	}
	for i := 1; i < len(rules); i++ {
		field := fmt.Sprintf("spec.rules[%d]", i)
		r.dropped = append(r.dropped, field+": a "+r.kind+" has one rule")
		r.problems.add(errSev, field, string(gatewayv1.RouteReasonUnsupportedValue), "a %s has one rule; this one is left out", r.kind)
	}
	if len(rules) > 0 {
		for j, br := range rules[0] {
			field := fmt.Sprintf("spec.rules[0].backendRefs[%d]", j)
			weight := int32(1)
			if br.Weight != nil {
				weight = *br.Weight
			}
			if weight < 0 || weight > 1000000 {
				r.unsupported = fmt.Sprintf("%s.weight %d is not in 0-1000000", field, weight)
				break
			}
			cluster, fail := t.l4Backend(r.kind, r.meta.Namespace, br.BackendObjectReference, field)
			if fail != nil {
				r.refFailures = append(r.refFailures, fail)
				r.problems.add(warnSev, fail.field, string(fail.reason), "%s", fail.msg)
				cluster = t.unavailable()
			}
			if weight > 0 {
				r.backends = append(r.backends, ir.WeightedBackend{Cluster: cluster, Weight: uint32(weight)})
			}
		}
	}
	if r.unsupported != "" {
		r.problems.add(errSev, "spec.rules[0]", string(gatewayv1.RouteReasonUnsupportedValue), "%s; the route is not served", r.unsupported)
		r.backends = nil
		return
	}
	if len(r.backends) == 0 {
		// No backend with weight: every connection is rejected.
		r.backends = []ir.WeightedBackend{{Cluster: t.unavailable(), Weight: 1}}
	}
	if r.kind == "UDPRoute" && len(r.backends) > 1 {
		cl, err := t.udpWeightedCluster(r)
		if err != nil {
			r.unsupported = fmt.Sprintf("spec.rules[0].backendRefs: %v", err)
			r.problems.add(errSev, "spec.rules[0].backendRefs", string(gatewayv1.RouteReasonUnsupportedValue), "%s; the route is not served", r.unsupported)
			r.backends = nil
			return
		}
		r.backends = []ir.WeightedBackend{{Cluster: cl, Weight: 1}}
	}
}

// udpWeightedCluster builds the cluster of a UDPRoute with several
// weighted backends. Envoy's UDP proxy sends a route's sessions to one
// cluster and has no weighted clusters, so the backends' endpoints are put
// together in one cluster of the route's own, each endpoint weighted so
// that each backend gets its share of sessions however many endpoints it
// has: backend weight times lcm(ready endpoints of each backend) divided
// by its own count, reduced by their greatest common divisor. Only
// Service backends with endpoints (not ExternalName) can be weighted so;
// the shares of invalid backends are left out of the mix (their
// ResolvedRefs failure is reported) rather than answered, since there is
// no endpoint to stand for "drop".
func (t *translation) udpWeightedCluster(r *l4Route) (string, error) {
	type share struct {
		cl     *ir.Cluster
		weight uint64
		ready  uint64
	}
	var shares []share
	lcm := uint64(1)
	for _, b := range r.backends {
		if b.Cluster == unavailableCluster {
			continue
		}
		cl := t.clusters[b.Cluster]
		if cl == nil || cl.Kind != ir.ClusterEDS {
			return "", fmt.Errorf("backend %s is not a Service with endpoints; Legate weights UDP backends by their endpoints", b.Cluster)
		}
		n := uint64(0)
		for _, e := range cl.Endpoints {
			if e.Ready {
				n++
			}
		}
		if n > 0 {
			lcm = lcm / gcd(lcm, n) * n
			if lcm > 1<<20 {
				return "", fmt.Errorf("the backends' endpoint counts are too many to weight exactly")
			}
		}
		shares = append(shares, share{cl: cl, weight: uint64(b.Weight), ready: n})
	}
	if len(shares) == 0 {
		return t.unavailable(), nil
	}
	type key struct {
		addr string
		port uint32
	}
	weights := map[key]uint64{}
	ready := map[key]bool{}
	var keys []key
	for _, sh := range shares {
		per := uint64(1)
		if sh.ready > 0 {
			per = sh.weight * (lcm / sh.ready)
		}
		for _, e := range sh.cl.Endpoints {
			k := key{e.Address, e.Port}
			if _, ok := weights[k]; !ok {
				keys = append(keys, k)
			}
			weights[k] += per
			ready[k] = ready[k] || e.Ready
		}
	}
	g := uint64(0)
	for _, w := range weights {
		g = gcd(g, w)
	}
	total := uint64(0)
	cl := &ir.Cluster{
		Name:   fmt.Sprintf("udproute/%s/%s", r.meta.Namespace, r.meta.Name),
		Source: ir.Source{Translator: Name, Group: gatewayv1.GroupName, Kind: "UDPRoute", Namespace: r.meta.Namespace, Name: r.meta.Name, Field: "spec.rules[0].backendRefs"},
		Kind:   ir.ClusterEDS,
	}
	for _, k := range keys {
		w := weights[k] / max(g, 1)
		total += w
		if total > 1<<32-1 {
			return "", fmt.Errorf("the backend weights are too large to weight %d endpoints exactly", len(keys))
		}
		cl.Endpoints = append(cl.Endpoints, ir.Endpoint{Address: k.addr, Port: k.port, Ready: ready[k], Weight: uint32(w)})
	}
	slices.SortFunc(cl.Endpoints, func(a, b ir.Endpoint) int {
		return cmp.Or(cmp.Compare(a.Address, b.Address), cmp.Compare(a.Port, b.Port))
	})
	t.clusters[cl.Name] = cl
	return cl.Name, nil
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// unavailable adds the cluster of invalid backends' shares and names it.
func (t *translation) unavailable() string {
	if _, ok := t.clusters[unavailableCluster]; !ok {
		t.clusters[unavailableCluster] = &ir.Cluster{
			Name:   unavailableCluster,
			Source: ir.Source{Translator: Name, Kind: "Gateway API", Name: "invalid backends"},
			Kind:   ir.ClusterStatic,
		}
	}
	return unavailableCluster
}

// l4Backend resolves a backendRef of a TLS, TCP or UDP route as backend
// does for HTTP routes, except that any appProtocol will do: the bytes
// are forwarded as they come.
func (t *translation) l4Backend(routeKind, routeNS string, br gatewayv1.BackendObjectReference, field string) (string, *refFailure) {
	sb, f := t.serviceBackend(routeKind, routeNS, br, field)
	if f != nil {
		return "", f
	}
	svc, ns, name, port, idx := sb.svc, sb.ns, sb.name, sb.port, sb.idx
	cl, msg := t.serviceCluster(svc, portAt(svc.Spec.Ports, idx), port, idx)
	if cl == nil {
		if msg == "" {
			msg = fmt.Sprintf("Service %s/%s has no port %d", ns, name, port)
		}
		return "", failRef(gatewayv1.RouteReasonBackendNotFound, field, "%s", msg)
	}
	if _, ok := t.clusters[cl.Name]; !ok {
		t.clusters[cl.Name] = cl
	}
	return cl.Name, nil
}

// attachL4 works out, for each parentRef naming a Gateway of Legate's,
// which listeners the route attaches to and the parent's status.
func (t *translation) attachL4(r *l4Route) {
	counted := map[*listenerState]bool{}
	served := map[*listenerState]bool{}
	for k, p := range r.parentRefs {
		gs := t.parentGateway(r.meta.Namespace, p)
		if gs == nil {
			continue
		}
		accepted := t.attachL4ToGateway(r, gs, p, counted, served, fmt.Sprintf("spec.parentRefs[%d]", k))
		r.parents = append(r.parents, gatewayv1.RouteParentStatus{
			ParentRef:      p,
			ControllerName: t.controller,
			Conditions:     parentConditions(accepted, r.meta.Generation, r.refFailures, r.dropped),
		})
	}
}

func (t *translation) attachL4ToGateway(r *l4Route, gs *gatewayState, p gatewayv1.ParentReference, counted, served map[*listenerState]bool, field string) metav1.Condition {
	gen := r.meta.Generation
	fail := func(reason gatewayv1.RouteConditionReason, format string, args ...any) metav1.Condition {
		c := condition(gatewayv1.RouteConditionAccepted, false, reason, gen, format, args...)
		r.problems.add(errSev, field, string(reason), "%s", c.Message)
		return c
	}
	var selected []*listenerState
	for _, l := range gs.listeners {
		if (p.SectionName == nil || l.spec.Name == *p.SectionName) && (p.Port == nil || l.spec.Port == *p.Port) {
			selected = append(selected, l)
		}
	}
	if len(selected) == 0 {
		return fail(gatewayv1.RouteReasonNoMatchingParent, "Gateway %s has no listener matching the sectionName and port of this parentRef", gs.key())
	}
	var allowed []*listenerState
	for _, l := range selected {
		if l.allowsKind(r.kind) && t.allowsNamespace(l, r.meta.Namespace) {
			allowed = append(allowed, l)
		}
	}
	if len(allowed) == 0 {
		return fail(gatewayv1.RouteReasonNotAllowedByListeners, "no listener of Gateway %s allows %ss from namespace %s", gs.key(), r.kind, r.meta.Namespace)
	}
	if r.hostnameErr != "" {
		for _, l := range allowed {
			if !counted[l] {
				counted[l] = true
				l.attached++
			}
		}
		return fail(gatewayv1.RouteReasonUnsupportedValue, "%s", r.hostnameErr)
	}
	matched := false
	for _, l := range allowed {
		var hosts []string
		if r.kind == "TLSRoute" {
			// A TLSRoute attaches only where its hostnames meet the
			// listener's: the upstream conformance tests count no route
			// on a listener whose hostname matches none of it.
			if hosts = routeHostnames(l.hostname, r.hostnames); len(hosts) == 0 {
				continue
			}
		}
		matched = true
		if !counted[l] {
			counted[l] = true
			l.attached++
		}
		if !served[l] {
			served[l] = true
			r.attachments = append(r.attachments, attachment{l: l, hostnames: hosts})
		}
	}
	if !matched {
		return fail(gatewayv1.RouteReasonNoMatchingListenerHostname, "no hostname of the route matches a listener of Gateway %s it may attach to", gs.key())
	}
	if r.unsupported != "" {
		return condition(gatewayv1.RouteConditionAccepted, false, gatewayv1.RouteReasonUnsupportedValue, gen, "%s", r.unsupported)
	}
	return condition(gatewayv1.RouteConditionAccepted, true, gatewayv1.RouteReasonAccepted, gen, "route is accepted")
}

// l4Listener builds the IR listener of one port of a Gateway from its
// programmed TLS, TCP or UDP listeners there (one protocol: others on the
// port conflict). Routes are taken oldest first:
//
//   - TCP and UDP: a listener forwards to one route, the oldest attached;
//     younger routes stay accepted (as the spec asks) but get no traffic,
//     which a Warning problem on them says.
//   - TLS: each hostname a route serves goes to the most specific listener
//     matching it, as on HTTP listeners, and becomes a server name of the
//     route's chain there, unless an older route already took it. A
//     listener that terminates TLS terminates it in each of its routes'
//     chains, with its certificates, and proxies the plain bytes.
func (t *translation) l4Listener(gs *gatewayState, port int32, ls []*listenerState) *ir.Listener {
	proto := ir.Protocol(ls[0].spec.Protocol)
	name := ListenerName(gs.gw.Namespace, gs.gw.Name, port)
	if proto == ir.ProtocolUDP {
		name += "-udp"
	}
	out := &ir.Listener{
		Name: name, Address: gs.bind, Port: uint32(port), Protocol: proto,
		Source: &ir.Source{Translator: Name, Group: gatewayv1.GroupName, Kind: "Gateway",
			Namespace: gs.gw.Namespace, Name: gs.gw.Name, Field: ls[0].field},
	}
	sniOwner := map[string]*l4Route{}
	for _, r := range t.l4Routes {
		if r.backends == nil || r.stale {
			continue
		}
		for _, a := range r.attachments {
			if !slices.Contains(ls, a.l) {
				continue
			}
			src := ir.Source{Translator: Name, Group: gatewayv1.GroupName, Kind: r.kind, Namespace: r.meta.Namespace, Name: r.meta.Name, Field: "spec.rules[0]"}
			if proto != ir.ProtocolTLS {
				if len(out.TCPRoutes) > 0 {
					r.problems.add(warnSev, "spec.parentRefs", "NotServed",
						"listener %s of Gateway %s forwards to the older %s; this route gets no traffic there", a.l.spec.Name, gs.key(), out.TCPRoutes[0].Source.Name)
					continue
				}
				out.TCPRoutes = append(out.TCPRoutes, &ir.TCPRoute{Name: r.irName(a.l), Source: src, Backends: slices.Clone(r.backends)})
				continue
			}
			var sni []string
			for _, h := range a.hostnames {
				if mostSpecific(ls, h) != a.l {
					continue // a more specific listener takes this hostname
				}
				if o, taken := sniOwner[h]; taken {
					r.problems.add(warnSev, "spec.hostnames", "NotServed",
						"server name %q on listener %s of Gateway %s is served by the older %s %s", h, a.l.spec.Name, gs.key(), o.kind, o.key())
					continue
				}
				sniOwner[h] = r
				sni = append(sni, h)
			}
			if len(sni) == 0 {
				continue
			}
			tr := &ir.TCPRoute{Name: r.irName(a.l), Source: src, SNI: sni, Backends: slices.Clone(r.backends)}
			if a.l.tls != nil {
				tr.TLS = &ir.TLSConfig{SecretNames: slices.Clone(a.l.tls.SecretNames)}
			}
			out.TCPRoutes = append(out.TCPRoutes, tr)
		}
	}
	return out
}

// portAt returns &ports[i], or nil when i is negative.
func portAt(ports []corev1.ServicePort, i int) *corev1.ServicePort {
	if i < 0 {
		return nil
	}
	return &ports[i]
}
