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
	gw        *gatewayv1.Gateway
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

	problems problems
}

func (g *gatewayState) key() string { return g.gw.Namespace + "/" + g.gw.Name }

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
		gs := &gatewayState{gw: gw, class: cs, byName: map[gatewayv1.SectionName]*listenerState{}}
		t.gateways = append(t.gateways, gs)
	}
	slices.SortStableFunc(t.gateways, func(a, b *gatewayState) int {
		return cmp.Or(a.gw.CreationTimestamp.Compare(b.gw.CreationTimestamp.Time),
			cmp.Compare(a.gw.Namespace, b.gw.Namespace), cmp.Compare(a.gw.Name, b.gw.Name))
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

// claimPorts gives each port to one Gateway. Every Gateway's listeners
// bind Settings.ListenAddress, so two Gateways cannot both listen on one
// port: the oldest Gateway keeps it, and a younger Gateway's listeners on
// it are not accepted (PortUnavailable).
func (t *translation) claimPorts() {
	owner := map[gatewayv1.PortNumber]*gatewayState{}
	for _, gs := range t.gateways {
		if !gs.programmable() {
			continue
		}
		for _, l := range gs.listeners {
			if !l.accepted || l.conflict != "" || !l.certsOK {
				continue
			}
			if o, ok := owner[l.spec.Port]; ok && o != gs {
				l.reject(gatewayv1.ListenerReasonPortUnavailable,
					"port %d is already used by Gateway %s, which is older; Gateways share one address", l.spec.Port, o.key())
				continue
			}
			owner[l.spec.Port] = gs
		}
	}
}

// addresses checks spec.addresses against where Envoy is reached
// (Settings.StatusAddresses) and fills the status addresses. Legate cannot
// assign addresses: a requested address must be one of those.
func (t *translation) addresses(gs *gatewayState) {
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
