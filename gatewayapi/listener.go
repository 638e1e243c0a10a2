package gatewayapi

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

// listenerState is what the translation decided about one listener of a
// Gateway.
type listenerState struct {
	gw    *gatewayState
	spec  *gatewayv1.Listener
	index int
	field string

	// hostname is spec.hostname, "" when unset (matches everything).
	hostname string

	// accepted, with its reason, says whether the listener can give data
	// plane configuration at all (protocol, port, hostname, conflicts).
	accepted       bool
	acceptedReason gatewayv1.ListenerConditionReason
	acceptedMsg    string
	// conflict is set (HostnameConflict or ProtocolConflict) when the
	// listener is indistinct from another of the same Gateway.
	conflict    gatewayv1.ListenerConditionReason
	conflictMsg string
	// refsOK, with its reason, is ResolvedRefs: certificates and route kinds.
	refsOK     bool
	refsReason gatewayv1.ListenerConditionReason
	refsMsg    []string
	// certsOK is false when a certificate reference failed: such a listener
	// is not programmed, since it cannot serve TLS as written.
	certsOK bool

	// supportedKinds are the route kinds the listener accepts.
	supportedKinds []gatewayv1.RouteGroupKind
	// claims are the hostnames accepted routes serve here, by route kind,
	// each in the order routes attached (oldest first): an HTTPRoute and a
	// GRPCRoute never share one (see kindConflict). Kept per kind so that a
	// route is compared with the routes of the other kinds only, not with
	// every route of its own (which made attaching N routes of one kind
	// quadratic).
	claims map[string][]kindClaim
	// claimSeq numbers claims in attach order across kinds.
	claimSeq int
	// from and selector say which namespaces' routes may attach.
	from     gatewayv1.FromNamespaces
	selector labels.Selector

	// tls names the IR secrets of an HTTPS listener, or of a TLS listener
	// that terminates; passthrough is set on a TLS listener that does not.
	tls         *ir.TLSConfig
	passthrough bool
	// overlap, when set, is the OverlappingTLSConfig reason: the listener
	// terminates TLS for hostnames another listener on its port covers too.
	overlap    gatewayv1.ListenerConditionReason
	overlapMsg string

	// attached counts routes attached to the listener.
	attached int32
	// shared is set on an HTTP listener that joins Legate's shared HTTP
	// listener (see sharedPort).
	shared bool
}

// programmed reports whether the listener gets data-plane configuration.
func (l *listenerState) programmed() bool {
	return l.accepted && l.conflict == "" && l.certsOK && l.gw.programmable()
}

func (l *listenerState) reject(reason gatewayv1.ListenerConditionReason, format string, args ...any) {
	if !l.accepted {
		return // the first reason stands
	}
	l.accepted = false
	l.acceptedReason = reason
	l.acceptedMsg = fmt.Sprintf(format, args...)
	l.gw.problems.add(errSev, l.field, string(reason), "%s", l.acceptedMsg)
}

func (l *listenerState) refFailed(reason gatewayv1.ListenerConditionReason, field, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if l.refsOK {
		l.refsOK = false
		l.refsReason = reason
	}
	l.refsMsg = append(l.refsMsg, msg)
	l.gw.problems.add(errSev, field, string(reason), "%s", msg)
}

// routeKindsByProtocol lists, for each listener protocol, the route kinds
// (of gateway.networking.k8s.io) Legate attaches to such a listener, in
// the order supportedKinds shows them. A listener without
// allowedRoutes.kinds takes all of them. Adding a route kind starts here
// (and in SupportedFeatures).
var routeKindsByProtocol = map[gatewayv1.ProtocolType][]gatewayv1.Kind{
	gatewayv1.HTTPProtocolType:  {"HTTPRoute", "GRPCRoute"},
	gatewayv1.HTTPSProtocolType: {"HTTPRoute", "GRPCRoute"},
	gatewayv1.TLSProtocolType:   {"TLSRoute"},
	gatewayv1.TCPProtocolType:   {"TCPRoute"},
	gatewayv1.UDPProtocolType:   {"UDPRoute"},
}

func routeKind(k gatewayv1.Kind) gatewayv1.RouteGroupKind {
	return gatewayv1.RouteGroupKind{Group: ptr(gatewayv1.Group(gatewayv1.GroupName)), Kind: k}
}

// allowsKind reports whether routes of kind may attach to the listener.
func (l *listenerState) allowsKind(kind string) bool {
	return slices.ContainsFunc(l.supportedKinds, func(k gatewayv1.RouteGroupKind) bool { return string(k.Kind) == kind })
}

// kindClaim is a route's claim on hostnames of a listener.
type kindClaim struct {
	route     *routeState
	hostnames []string
	seq       int
}

// claim records rs's claim on hosts.
func (l *listenerState) claim(rs *routeState, hosts []string) {
	if l.claims == nil {
		l.claims = map[string][]kindClaim{}
	}
	l.claims[rs.kind] = append(l.claims[rs.kind], kindClaim{route: rs, hostnames: hosts, seq: l.claimSeq})
	l.claimSeq++
}

// ReasonRouteKindConflict is the reason of a route's Accepted=False
// condition when a route of the other kind (HTTPRoute against GRPCRoute),
// older, already serves one of its hostnames on the listener. The spec
// requires exactly one of the two to be accepted, the older, but names no
// reason.
const ReasonRouteKindConflict gatewayv1.RouteConditionReason = "RouteKindConflict"

// kindConflict returns the claim of a route of the other kind whose
// hostnames here intersect hosts, or nil. The GRPCRoute spec: an HTTPRoute
// and a GRPCRoute must not be merged on a hostname of one listener; the
// older is accepted there, the younger is not.
func (l *listenerState) kindConflict(rs *routeState, hosts []string) *kindClaim {
	var first *kindClaim
	for kind, claims := range l.claims {
		if kind == rs.kind {
			continue
		}
	next:
		for i := range claims {
			c := &claims[i]
			if first != nil && first.seq < c.seq {
				break
			}
			for _, a := range c.hostnames {
				for _, b := range hosts {
					if covers(a, b) || covers(b, a) {
						first = c
						break next
					}
				}
			}
		}
	}
	return first
}

// transport is the transport protocol a listener's port is bound with:
// a UDP and a TCP-based listener may share a port number.
func transport(p gatewayv1.ProtocolType) string {
	if p == gatewayv1.UDPProtocolType {
		return "udp"
	}
	return "tcp"
}

// newListener validates one listener on its own: protocol, port, hostname,
// TLS and allowed routes. Conflicts with other listeners are found later.
func (t *translation) newListener(gs *gatewayState, i int) *listenerState {
	spec := &gs.gw.Spec.Listeners[i]
	l := &listenerState{
		gw: gs, spec: spec, index: i, field: fmt.Sprintf("spec.listeners[%d]", i),
		accepted: true, acceptedReason: gatewayv1.ListenerReasonAccepted,
		refsOK: true, refsReason: gatewayv1.ListenerReasonResolvedRefs, certsOK: true,
	}
	if spec.Hostname != nil {
		l.hostname = string(*spec.Hostname)
	}
	switch spec.Protocol {
	case gatewayv1.HTTPProtocolType, gatewayv1.HTTPSProtocolType, gatewayv1.TLSProtocolType:
	case gatewayv1.TCPProtocolType, gatewayv1.UDPProtocolType:
		// The spec: hostname is not used for TCP and UDP listeners, which
		// are told apart by port alone.
		if spec.Hostname != nil {
			gs.problems.add(warnSev, l.field+".hostname", "Ignored", "hostname is not used on a %s listener and is ignored", spec.Protocol)
		}
		l.hostname = ""
	default:
		l.reject(gatewayv1.ListenerReasonUnsupportedProtocol, "protocol %q is not supported; Legate serves HTTP, HTTPS, TLS, TCP and UDP listeners", spec.Protocol)
	}
	if spec.Port < 1 || spec.Port > 65535 {
		l.reject(gatewayv1.ListenerReasonPortUnavailable, "port %d is not in 1-65535", spec.Port)
	} else if p := uint32(spec.Port); (p == t.s.HTTPPort || p == t.s.HTTPSPort) && t.sharesIngressAddress(gs) {
		t.sharedPort(l, p)
	}
	if l.hostname != "" {
		if err := validHostname(l.hostname); err != nil {
			l.reject(gatewayv1.ListenerReasonUnsupportedValue, "%v", err)
		}
	}
	t.allowedRoutes(l)
	switch spec.Protocol {
	case gatewayv1.HTTPSProtocolType:
		t.listenerTLS(l)
	case gatewayv1.TLSProtocolType:
		if spec.TLS != nil && spec.TLS.Mode != nil && *spec.TLS.Mode == gatewayv1.TLSModePassthrough {
			// Passthrough forwards the TLS stream unopened: there is no
			// certificate to resolve.
			l.passthrough = true
			break
		}
		t.listenerTLS(l)
	}
	return l
}

// sharedPort decides about a listener on port p, a port of Legate's
// shared listeners at an address that overlaps theirs: an HTTP listener
// binding exactly the shared address on the shared HTTP port joins the
// shared HTTP listener; every other is not accepted (PortUnavailable),
// with the reason in the message. See "Joining the shared HTTP listener"
// in the package doc.
func (t *translation) sharedPort(l *listenerState, p uint32) {
	switch {
	case l.gw.bind != t.s.ListenAddress:
		l.reject(gatewayv1.ListenerReasonPortUnavailable,
			"port %d is Legate's shared Ingress listener port on %s, which covers this Gateway's address %s; only a Gateway bound to %s itself may join that listener",
			p, t.s.ListenAddress, l.gw.bind, t.s.ListenAddress)
	case p == t.s.HTTPPort && l.spec.Protocol == gatewayv1.HTTPProtocolType:
		l.shared = true
	case p == t.s.HTTPPort:
		l.reject(gatewayv1.ListenerReasonPortUnavailable,
			"port %d is Legate's shared HTTP listener (Ingresses, Mappings): only an HTTP listener may join it", p)
	case l.spec.Protocol != gatewayv1.HTTPSProtocolType:
		l.reject(gatewayv1.ListenerReasonPortUnavailable,
			"port %d is Legate's shared HTTPS listener (TLS for Ingresses and Emissary Hosts): a %s listener cannot join it", p, l.spec.Protocol)
	default:
		l.reject(gatewayv1.ListenerReasonPortUnavailable,
			"port %d is Legate's shared HTTPS listener, where Ingresses and Emissary Hosts choose their own certificates by server name; "+
				"a Gateway listener there could not keep its certificate and hostname isolation (a hostname both claim would be served under one filter chain), "+
				"so only HTTP listeners join the shared listener on port %d", p, t.s.HTTPPort)
	}
}

// sharesIngressAddress reports whether the Gateway's listeners bind where
// the shared Ingress listeners do (or a wildcard address overlapping it),
// so that it cannot use their ports.
func (t *translation) sharesIngressAddress(gs *gatewayState) bool {
	if gs.bind == t.s.ListenAddress {
		return true
	}
	a, err := netip.ParseAddr(t.s.ListenAddress)
	return err != nil || a.IsUnspecified()
}

// allowedRoutes reads spec.allowedRoutes: the route kinds (those of
// routeKindsByProtocol for the listener's protocol; all of them by
// default) and the namespaces routes may come from (Same by default).
func (t *translation) allowedRoutes(l *listenerState) {
	ar := l.spec.AllowedRoutes
	l.from = gatewayv1.NamespacesFromSame
	if ar != nil && ar.Namespaces != nil && ar.Namespaces.From != nil {
		l.from = *ar.Namespaces.From
	}
	switch l.from {
	case gatewayv1.NamespacesFromSame, gatewayv1.NamespacesFromAll:
	case gatewayv1.NamespacesFromSelector:
		var sel *metav1.LabelSelector
		if ar.Namespaces.Selector != nil {
			sel = ar.Namespaces.Selector
		}
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil || sel == nil {
			l.reject(gatewayv1.ListenerReasonUnsupportedValue, "allowedRoutes.namespaces.selector is missing or invalid: %v", err)
			s = labels.Nothing()
		}
		l.selector = s
	default:
		l.reject(gatewayv1.ListenerReasonUnsupportedValue, "allowedRoutes.namespaces.from %q is not supported", l.from)
	}

	kinds := routeKindsByProtocol[l.spec.Protocol]
	l.supportedKinds = []gatewayv1.RouteGroupKind{}
	if len(kinds) == 0 {
		return
	}
	if ar == nil || len(ar.Kinds) == 0 {
		for _, k := range kinds {
			l.supportedKinds = append(l.supportedKinds, routeKind(k))
		}
		return
	}
	for j, k := range ar.Kinds {
		g := gatewayv1.GroupName
		if k.Group != nil {
			g = string(*k.Group)
		}
		if g == gatewayv1.GroupName && slices.Contains(kinds, k.Kind) {
			if !l.allowsKind(string(k.Kind)) {
				l.supportedKinds = append(l.supportedKinds, routeKind(k.Kind))
			}
			continue
		}
		l.refFailed(gatewayv1.ListenerReasonInvalidRouteKinds, fmt.Sprintf("%s.allowedRoutes.kinds[%d]", l.field, j),
			"route kind %s/%s is not supported on a %s listener", g, k.Kind, l.spec.Protocol)
	}
}

// listenerTLS resolves the certificates of an HTTPS listener. Each
// certificateRef must name a core Secret, in the Gateway's namespace or in
// one whose ReferenceGrant lets Gateways of the Gateway's namespace refer
// to it, holding a valid PEM certificate and key.
func (t *translation) listenerTLS(l *listenerState) {
	cfg := l.spec.TLS
	field := l.field + ".tls"
	if cfg == nil {
		l.certsOK = false
		l.refFailed(gatewayv1.ListenerReasonInvalidCertificateRef, field, "a %s listener that terminates TLS needs tls.certificateRefs", l.spec.Protocol)
		return
	}
	if cfg.Mode != nil && *cfg.Mode != gatewayv1.TLSModeTerminate {
		l.reject(gatewayv1.ListenerReasonUnsupportedValue, "tls.mode %q is not allowed on a %s listener", *cfg.Mode, l.spec.Protocol)
		return
	}
	if len(cfg.CertificateRefs) == 0 {
		l.certsOK = false
		l.refFailed(gatewayv1.ListenerReasonInvalidCertificateRef, field+".certificateRefs", "a %s listener that terminates TLS needs at least one certificateRef", l.spec.Protocol)
		return
	}
	gw := l.gw.gw
	var names []string
	for j, cr := range cfg.CertificateRefs {
		f := fmt.Sprintf("%s.certificateRefs[%d]", field, j)
		group, kind := "", "Secret"
		if cr.Group != nil {
			group = string(*cr.Group)
		}
		if cr.Kind != nil {
			kind = string(*cr.Kind)
		}
		ns := gw.Namespace
		if cr.Namespace != nil && *cr.Namespace != "" {
			ns = string(*cr.Namespace)
		}
		if group != "" || kind != "Secret" {
			l.certsOK = false
			l.refFailed(gatewayv1.ListenerReasonInvalidCertificateRef, f, "certificateRef %s/%s %s is not a core Secret", group, kind, cr.Name)
			continue
		}
		from := ref{gatewayv1.GroupName, "Gateway", gw.Namespace, gw.Name}
		if !t.grants.permits(from, ref{"", "Secret", ns, string(cr.Name)}) {
			l.certsOK = false
			l.refFailed(gatewayv1.ListenerReasonRefNotPermitted, f,
				"no ReferenceGrant in namespace %s lets Gateways of namespace %s refer to Secret %s", ns, gw.Namespace, cr.Name)
			continue
		}
		name, err := t.tlsSecret(ns, string(cr.Name))
		if err != nil {
			l.certsOK = false
			l.refFailed(gatewayv1.ListenerReasonInvalidCertificateRef, f, "%v", err)
			continue
		}
		names = append(names, name)
	}
	if l.certsOK {
		l.tls = &ir.TLSConfig{SecretNames: names}
	}
}

// tlsSecret loads the TLS Secret namespace/name into the IR secrets and
// returns its IR name, "<namespace>/<name>" as every translator names it.
func (t *translation) tlsSecret(namespace, name string) (string, error) {
	irName := namespace + "/" + name
	if _, ok := t.secrets[irName]; !ok {
		s, err := translators.TLSSecret(t.in, Name, namespace, name)
		if err != nil {
			return "", err
		}
		t.secrets[irName] = s
	}
	return irName, nil
}

// findConflicts marks the listeners of one Gateway that are not distinct
// (see the Listener docs): on one port, listeners of different protocols
// all conflict (ProtocolConflict); listeners of one protocol conflict when
// they share a hostname (HostnameConflict). As the spec requires, no
// conflicting listener wins: all of them are left out.
func findConflicts(ls []*listenerState) {
	type portKey struct {
		port      gatewayv1.PortNumber
		transport string
	}
	byPort := map[portKey][]*listenerState{}
	var ports []portKey
	for _, l := range ls {
		if !l.accepted {
			continue
		}
		k := portKey{l.spec.Port, transport(l.spec.Protocol)}
		if _, ok := byPort[k]; !ok {
			ports = append(ports, k)
		}
		byPort[k] = append(byPort[k], l)
	}
	for _, k := range ports {
		group, p := byPort[k], k.port
		protocols := map[gatewayv1.ProtocolType]bool{}
		for _, l := range group {
			protocols[l.spec.Protocol] = true
		}
		if len(protocols) > 1 {
			for _, l := range group {
				l.conflict = gatewayv1.ListenerReasonProtocolConflict
				l.conflictMsg = fmt.Sprintf("port %d is used by listeners of different protocols", p)
			}
			continue
		}
		byHost := map[string][]*listenerState{}
		for _, l := range group {
			byHost[l.hostname] = append(byHost[l.hostname], l)
		}
		for _, l := range group {
			if same := byHost[l.hostname]; len(same) > 1 {
				l.conflict = gatewayv1.ListenerReasonHostnameConflict
				l.conflictMsg = fmt.Sprintf("listeners %s share port %d and hostname %q", listenerNames(same), p, l.hostname)
			}
		}
		findOverlappingTLS(group)
	}
	for _, l := range ls {
		if l.conflict != "" {
			l.gw.problems.add(errSev, l.field, string(l.conflict), "%s", l.conflictMsg)
		}
	}
}

// findOverlappingTLS marks, among listeners of one port, those that
// terminate TLS for a hostname another such listener's wildcard covers
// (OverlappingTLSConfig, reason OverlappingHostnames): a client may then
// reuse a connection made for one listener's hostname for the other's. It
// is a warning: both listeners stay accepted and programmed. Listeners
// without a hostname are left out: they would overlap every other.
func findOverlappingTLS(group []*listenerState) {
	for _, a := range group {
		if a.conflict != "" || a.tls == nil || a.hostname == "" {
			continue
		}
		var with []*listenerState
		for _, b := range group {
			if b == a || b.conflict != "" || b.tls == nil || b.hostname == "" || b.hostname == a.hostname {
				continue
			}
			if covers(a.hostname, b.hostname) || covers(b.hostname, a.hostname) {
				with = append(with, b)
			}
		}
		if len(with) > 0 {
			a.overlap = gatewayv1.ListenerReasonOverlappingHostnames
			a.overlapMsg = fmt.Sprintf("hostname %q overlaps those of listeners %s on port %d", a.hostname, listenerNames(with), a.spec.Port)
		}
	}
}

func listenerNames(ls []*listenerState) string {
	names := make([]string, len(ls))
	for i, l := range ls {
		names[i] = string(l.spec.Name)
	}
	return strings.Join(names, ", ")
}

// allowsNamespace reports whether a route of namespace ns may attach.
func (t *translation) allowsNamespace(l *listenerState, ns string) bool {
	switch l.from {
	case gatewayv1.NamespacesFromAll:
		return true
	case gatewayv1.NamespacesFromSame:
		return ns == l.gw.gw.Namespace
	case gatewayv1.NamespacesFromSelector:
		return l.selector != nil && l.selector.Matches(labels.Set(t.namespaceLabels(ns)))
	}
	return false
}

// namespaceLabels returns the labels of namespace ns. The API server sets
// kubernetes.io/metadata.name on every namespace; it is added here too, so
// that a folder of YAML without Namespace objects behaves the same.
func (t *translation) namespaceLabels(ns string) map[string]string {
	out := map[string]string{corev1.LabelMetadataName: ns}
	if n := t.in.Namespace(ns); n != nil {
		for k, v := range n.Labels {
			out[k] = v
		}
	}
	return out
}

// status renders the listener's status.
func (l *listenerState) status() gatewayv1.ListenerStatus {
	gen := l.gw.gw.Generation
	var conds []metav1.Condition
	switch {
	case l.conflict != "":
		conds = append(conds, condition(gatewayv1.ListenerConditionAccepted, false, l.conflict, gen, "%s", l.conflictMsg))
	default:
		conds = append(conds, condition(gatewayv1.ListenerConditionAccepted, l.accepted, l.acceptedReason, gen, "%s", orDefault(l.acceptedMsg, "listener is valid")))
	}
	if l.conflict != "" {
		conds = append(conds, condition(gatewayv1.ListenerConditionConflicted, true, l.conflict, gen, "%s", l.conflictMsg))
	} else {
		conds = append(conds, condition(gatewayv1.ListenerConditionConflicted, false, gatewayv1.ListenerReasonNoConflicts, gen, "no conflicts"))
	}
	conds = append(conds, condition(gatewayv1.ListenerConditionResolvedRefs, l.refsOK, l.refsReason, gen, "%s",
		orDefault(strings.Join(l.refsMsg, "; "), "all references resolved")))
	switch {
	case l.programmed():
		conds = append(conds, condition(gatewayv1.ListenerConditionProgrammed, true, gatewayv1.ListenerReasonProgrammed, gen, "listener is programmed"))
	case !l.gw.programmable():
		conds = append(conds, condition(gatewayv1.ListenerConditionProgrammed, false, gatewayv1.ListenerReasonInvalid, gen, "the Gateway is not programmed"))
	default:
		conds = append(conds, condition(gatewayv1.ListenerConditionProgrammed, false, gatewayv1.ListenerReasonInvalid, gen, "listener is not programmed: it is not accepted, conflicts, or its certificates did not resolve"))
	}
	if l.overlap != "" {
		conds = append(conds, condition(gatewayv1.ListenerConditionOverlappingTLSConfig, true, l.overlap, gen, "%s", l.overlapMsg))
	}
	return gatewayv1.ListenerStatus{
		Name:           l.spec.Name,
		SupportedKinds: l.supportedKinds,
		AttachedRoutes: l.attached,
		Conditions:     conds,
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func ptr[T any](v T) *T { return &v }
