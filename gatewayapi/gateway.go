package gatewayapi

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// gatewayState is what the translation decided about one Gateway of a class
// of Legate's.
type gatewayState struct {
	gw *gatewayv1.Gateway
	// keyOf is key(), made once: the memo entries of the routes a run
	// attaches name their listeners' Gateway by this one string, which
	// is then compared (listener) without reading it.
	keyOf     string
	class     *classState
	listeners []*listenerState
	// byName finds a listener by spec name (the first of duplicates).
	byName map[gatewayv1.SectionName]*listenerState

	// addressProblem, if set, is why spec.addresses cannot be honoured:
	// UnsupportedAddress makes the Gateway not accepted, AddressNotUsable
	// not programmed.
	addressReason gatewayv1.GatewayConditionReason
	addressMsg    string
	addresses     []gatewayv1.GatewayStatusAddress
	// bind is the IP the Gateway's Envoy listeners bind:
	// Settings.ListenAddress, or its own address from the pool.
	bind string

	problems problems
}

// key is namespace/name.
func (g *gatewayState) key() string { return g.keyOf }

// programmable reports whether the Gateway as a whole may give data-plane
// configuration: its class is accepted and its addresses are Legate's.
func (g *gatewayState) programmable() bool {
	return g.class.accepted && g.addressReason == ""
}

// collectGateways picks the Gateways of Legate's classes, oldest first
// (creation timestamp, then namespace/name): where two Gateways want one
// port, the older keeps it.
func (t *translation) collectGateways() {
	seen := map[string]bool{}
	for _, gw := range t.in.Gateways {
		if gw == nil {
			continue
		}
		cs, ok := t.classes[string(gw.Spec.GatewayClassName)]
		key := gw.Namespace + "/" + gw.Name
		if !ok || seen[key] {
			continue
		}
		seen[key] = true
		gs := &gatewayState{gw: gw, keyOf: key, class: cs, byName: map[gatewayv1.SectionName]*listenerState{}}
		t.gateways = append(t.gateways, gs)
	}
	slices.SortStableFunc(t.gateways, func(a, b *gatewayState) int {
		return cmp.Or(a.gw.CreationTimestamp.Compare(b.gw.CreationTimestamp.Time),
			byNamespacedName(a.gw.Namespace, a.gw.Name, b.gw.Namespace, b.gw.Name))
	})
	for _, gs := range t.gateways {
		t.gatewayByKey[gs.key()] = gs
		t.addresses(gs)
		for i := range gs.gw.Spec.Listeners {
			l := t.newListener(gs, i)
			if _, dup := gs.byName[l.spec.Name]; dup {
				// Listener statuses are keyed by name: the duplicate gets
				// none, only a problem.
				gs.problems.add(errSev, l.field, string(gatewayv1.ListenerReasonUnsupportedValue),
					"another listener of this Gateway is named %q; this one is left out", l.spec.Name)
				continue
			}
			gs.byName[l.spec.Name] = l
			gs.listeners = append(gs.listeners, l)
		}
		findConflicts(gs.listeners)
	}
	t.claimPorts()
}

// claimPorts gives each address and port to one Gateway. Without an
// address pool every Gateway's listeners bind Settings.ListenAddress, so
// two Gateways cannot both listen on one port: the oldest Gateway keeps
// it, and a younger Gateway's listeners on it are not accepted
// (PortUnavailable). With a pool each Gateway has an address of its own
// and this never happens.
func (t *translation) claimPorts() {
	type addrPort struct {
		addr      string
		port      gatewayv1.PortNumber
		transport string
	}
	owner := map[addrPort]*gatewayState{}
	for _, gs := range t.gateways {
		if !gs.programmable() {
			continue
		}
		for _, l := range gs.listeners {
			if !l.accepted || l.conflict != "" || !l.certsOK {
				continue
			}
			k := addrPort{gs.bind, l.spec.Port, transport(l.spec.Protocol)}
			if o, ok := owner[k]; ok && o != gs {
				l.reject(gatewayv1.ListenerReasonPortUnavailable,
					"port %d is already used by Gateway %s, which is older; Gateways share one address", l.spec.Port, o.key())
				continue
			}
			owner[k] = gs
		}
	}
}

// addresses works out where the Gateway is reached and what its listeners
// bind: with an address pool, an address of its own (poolAddress);
// otherwise Settings.ListenAddress, with spec.addresses checked against
// Settings.StatusAddresses, since Legate cannot assign addresses then.
func (t *translation) addresses(gs *gatewayState) {
	gs.bind = t.s.ListenAddress
	if t.pool != nil {
		t.poolAddress(gs)
		return
	}
	for _, a := range t.s.StatusAddresses {
		typ := gatewayv1.HostnameAddressType
		if _, err := netip.ParseAddr(a); err == nil {
			typ = gatewayv1.IPAddressType
		}
		gs.addresses = append(gs.addresses, gatewayv1.GatewayStatusAddress{Type: ptr(typ), Value: a})
	}
	if len(gs.gw.Spec.Addresses) == 0 {
		return
	}
	var kept []gatewayv1.GatewayStatusAddress
	for i, a := range gs.gw.Spec.Addresses {
		typ := gatewayv1.IPAddressType
		if a.Type != nil {
			typ = *a.Type
		}
		field := fmt.Sprintf("spec.addresses[%d]", i)
		if typ != gatewayv1.IPAddressType && typ != gatewayv1.HostnameAddressType {
			gs.addressReason = gatewayv1.GatewayReasonUnsupportedAddress
			gs.addressMsg = fmt.Sprintf("address type %q is not supported", typ)
			gs.problems.add(errSev, field, string(gs.addressReason), "%s", gs.addressMsg)
			return
		}
		idx := slices.IndexFunc(gs.addresses, func(s gatewayv1.GatewayStatusAddress) bool {
			return *s.Type == typ && (a.Value == "" || s.Value == a.Value)
		})
		if idx < 0 {
			if gs.addressReason == "" {
				gs.addressReason = gatewayv1.GatewayReasonAddressNotUsable
				gs.addressMsg = fmt.Sprintf("address %s %q is not one Legate is reached at (%s)", typ, a.Value, strings.Join(t.s.StatusAddresses, ", "))
				gs.problems.add(errSev, field, string(gs.addressReason), "%s", gs.addressMsg)
			}
			continue
		}
		if !slices.Contains(kept, gs.addresses[idx]) {
			kept = append(kept, gs.addresses[idx])
		}
	}
	gs.addresses = kept
}

// poolAddress gives the Gateway its address from the pool: the IPAddress
// of spec.addresses if it names one (it must lie in the pool and not be
// held by an older Gateway: AddressNotUsable otherwise), else one
// allocated from the hash of its namespace/name. Only IPAddress addresses
// can be bound (others: UnsupportedAddress), and a Gateway binds one
// address (a second distinct one: AddressNotUsable).
func (t *translation) poolAddress(gs *gatewayState) {
	if !gs.class.accepted {
		return // it serves nothing, so it holds no address
	}
	fail := func(reason gatewayv1.GatewayConditionReason, field, format string, args ...any) {
		if gs.addressReason == "" {
			gs.addressReason = reason
			gs.addressMsg = fmt.Sprintf(format, args...)
			gs.problems.add(errSev, field, string(reason), "%s", gs.addressMsg)
		}
	}
	var want netip.Addr
	wantField := ""
	for i, a := range gs.gw.Spec.Addresses {
		field := fmt.Sprintf("spec.addresses[%d]", i)
		typ := gatewayv1.IPAddressType
		if a.Type != nil {
			typ = *a.Type
		}
		if typ != gatewayv1.IPAddressType {
			fail(gatewayv1.GatewayReasonUnsupportedAddress, field,
				"address type %q is not supported: Gateways get IP addresses from the pool %s", typ, t.pool.prefix)
			return
		}
		if a.Value == "" {
			continue // any address: the allocated one
		}
		ip, err := netip.ParseAddr(a.Value)
		if err != nil {
			fail(gatewayv1.GatewayReasonAddressNotUsable, field, "%q is not an IP address", a.Value)
			return
		}
		ip = ip.Unmap()
		if !t.pool.contains(ip) {
			fail(gatewayv1.GatewayReasonAddressNotUsable, field, "address %s is not in the Gateway address pool %s", ip, t.pool.prefix)
			return
		}
		if want.IsValid() && want != ip {
			fail(gatewayv1.GatewayReasonAddressNotUsable, field, "a Gateway binds one address; %s is already requested by %s", want, wantField)
			return
		}
		want, wantField = ip, field
	}
	if want.IsValid() {
		if o := t.pool.claim(want, gs.key()); o != gs.key() {
			fail(gatewayv1.GatewayReasonAddressNotUsable, wantField, "address %s is already used by Gateway %s, which is older", want, o)
			return
		}
	} else {
		a, err := t.pool.allocate(gs.key())
		if err != nil {
			fail(gatewayv1.GatewayReasonAddressNotUsable, "spec.addresses", "%v", err)
			return
		}
		want = a
	}
	gs.bind = want.String()
	gs.addresses = []gatewayv1.GatewayStatusAddress{{Type: ptr(gatewayv1.IPAddressType), Value: want.String()}}
}

// status renders the Gateway's status.
func (gs *gatewayState) status() gatewayv1.GatewayStatus {
	gen := gs.gw.Generation
	st := gatewayv1.GatewayStatus{Addresses: gs.addresses}
	accepted, invalid, programmed := 0, []string{}, 0
	for _, l := range gs.listeners {
		st.Listeners = append(st.Listeners, l.status())
		if l.accepted && l.conflict == "" {
			accepted++
		} else {
			invalid = append(invalid, string(l.spec.Name))
		}
		if l.programmed() {
			programmed++
		}
	}
	var acc, prog metav1.Condition
	switch {
	case !gs.class.accepted:
		acc = condition(gatewayv1.GatewayConditionAccepted, false, gatewayv1.GatewayReasonInvalid, gen, "GatewayClass %s is not accepted", gs.class.class.Name)
	case gs.addressReason == gatewayv1.GatewayReasonUnsupportedAddress:
		acc = condition(gatewayv1.GatewayConditionAccepted, false, gs.addressReason, gen, "%s", gs.addressMsg)
	case len(invalid) == 0:
		acc = condition(gatewayv1.GatewayConditionAccepted, true, gatewayv1.GatewayReasonAccepted, gen, "Gateway is accepted")
	case accepted > 0:
		acc = condition(gatewayv1.GatewayConditionAccepted, true, gatewayv1.GatewayReasonListenersNotValid, gen, "listeners not valid: %s", strings.Join(invalid, ", "))
	default:
		acc = condition(gatewayv1.GatewayConditionAccepted, false, gatewayv1.GatewayReasonListenersNotValid, gen, "no listener is valid: %s", strings.Join(invalid, ", "))
	}
	switch {
	case acc.Status != metav1.ConditionTrue:
		prog = condition(gatewayv1.GatewayConditionProgrammed, false, gatewayv1.GatewayReasonInvalid, gen, "Gateway is not accepted")
	case gs.addressReason != "":
		prog = condition(gatewayv1.GatewayConditionProgrammed, false, gs.addressReason, gen, "%s", gs.addressMsg)
	case programmed == 0:
		prog = condition(gatewayv1.GatewayConditionProgrammed, false, gatewayv1.GatewayReasonInvalid, gen, "no listener is programmed")
	default:
		prog = condition(gatewayv1.GatewayConditionProgrammed, true, gatewayv1.GatewayReasonProgrammed, gen, "Gateway is programmed")
	}
	st.Conditions = []metav1.Condition{acc, prog}
	return st
}
