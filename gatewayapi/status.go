package gatewayapi

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/translators"
)

// Status is the Gateway API status the translator computed for every
// object it owns, in the API's own types, ready to be written onto the
// objects' status subresources.
//
// Conditions carry no LastTransitionTime: the translator is a pure function
// and has no clock. The status writer sets it, keeping the previous time for
// a condition whose status did not change.
type Status struct {
	GatewayClasses []GatewayClassStatus `json:"gatewayClasses,omitempty"`
	Gateways       []GatewayStatus      `json:"gateways,omitempty"`
	HTTPRoutes     []RouteStatus        `json:"httpRoutes,omitempty"`
	GRPCRoutes     []RouteStatus        `json:"grpcRoutes,omitempty"`
	TLSRoutes      []RouteStatus        `json:"tlsRoutes,omitempty"`
	TCPRoutes      []RouteStatus        `json:"tcpRoutes,omitempty"`
	UDPRoutes      []RouteStatus        `json:"udpRoutes,omitempty"`
	// BackendTLSPolicies holds the policies with at least one ancestor
	// (a Gateway of Legate's whose routes use the policy).
	BackendTLSPolicies []BackendTLSPolicyStatus `json:"backendTLSPolicies,omitempty"`
}

// GatewayClassStatus is the status of one GatewayClass Legate owns.
type GatewayClassStatus struct {
	Name   string                       `json:"name"`
	Status gatewayv1.GatewayClassStatus `json:"status"`
}

// GatewayStatus is the status of one Gateway of a class Legate owns.
type GatewayStatus struct {
	Namespace string                  `json:"namespace"`
	Name      string                  `json:"name"`
	Status    gatewayv1.GatewayStatus `json:"status"`
}

// RouteStatus holds Legate's entries of a route's status.parents: one per
// parentRef naming a Gateway of Legate's. Entries of other controllers are
// not Legate's to write; the status writer keeps them. Parents is empty
// for a route that no longer names any Gateway of Legate's but whose
// status still holds entries Legate wrote: they are to be removed.
type RouteStatus struct {
	Namespace string                        `json:"namespace"`
	Name      string                        `json:"name"`
	Parents   []gatewayv1.RouteParentStatus `json:"parents"`
}

// condition builds a condition; its LastTransitionTime is left for the
// status writer (see Status).
func condition[T ~string, R ~string](typ T, ok bool, reason R, generation int64, format string, args ...any) metav1.Condition {
	st := metav1.ConditionFalse
	if ok {
		st = metav1.ConditionTrue
	}
	var msg string
	switch {
	case len(args) == 0 && !strings.Contains(format, "%"):
		msg = format
	case format == "%s" && len(args) == 1:
		if s, ok := args[0].(string); ok {
			msg = s
			break
		}
		fallthrough
	default:
		msg = fmt.Sprintf(format, args...)
	}
	return metav1.Condition{
		Type:               string(typ),
		Status:             st,
		Reason:             string(reason),
		Message:            msg,
		ObservedGeneration: generation,
	}
}

// problems collects the translators.Problems of one object: what events
// and diagnostics show, next to the conditions.
type problems []translators.Problem

func (p *problems) add(sev translators.Severity, field, reason, format string, args ...any) {
	*p = append(*p, translators.Problem{Severity: sev, Field: field, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

const (
	errSev  = translators.SeverityError
	warnSev = translators.SeverityWarning
)
