package gatewayapi

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// classState is what the translation decided about one GatewayClass of
// Legate's.
type classState struct {
	class    *gatewayv1.GatewayClass
	accepted bool
	reason   gatewayv1.GatewayClassConditionReason
	message  string
}

// collectClasses picks the GatewayClasses whose controllerName is Legate's.
// A class is accepted unless it names parameters: Legate defines no
// parameters kind, so any parametersRef is one it cannot honour.
func (t *translation) collectClasses() {
	for _, c := range t.in.GatewayClasses {
		if c == nil || c.Spec.ControllerName != t.controller {
			continue
		}
		if _, dup := t.classes[c.Name]; dup {
			continue
		}
		cs := &classState{class: c, accepted: true, reason: gatewayv1.GatewayClassReasonAccepted,
			message: "Legate handles Gateways of this class"}
		if p := c.Spec.ParametersRef; p != nil {
			cs.accepted = false
			cs.reason = gatewayv1.GatewayClassReasonInvalidParameters
			cs.message = "parametersRef " + string(p.Group) + "/" + string(p.Kind) + " " + p.Name +
				": Legate takes no GatewayClass parameters"
		}
		t.classes[c.Name] = cs
		t.classOrder = append(t.classOrder, cs)
	}
}

func (cs *classState) status(withPool, port8080 bool) gatewayv1.GatewayClassStatus {
	c := cs.class
	return gatewayv1.GatewayClassStatus{
		Conditions: []metav1.Condition{
			condition(gatewayv1.GatewayClassConditionStatusAccepted, cs.accepted, cs.reason, c.Generation, "%s", cs.message),
		},
		SupportedFeatures: supportedFeatures(withPool, port8080),
	}
}
