package gatewayapi

import (
	"cmp"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/translators/ir"
)

// BackendTLSPolicy: how Legate applies it.
//
//   - A policy targets core Services (targetRefs kind Service), the whole
//     Service or one port by name (sectionName). For a port, a policy
//     naming that port wins over one naming the whole Service; two
//     policies naming the same target are ordered by creation time, then
//     namespace/name: the first applies, the others are not accepted
//     (Conflicted). Any other target kind is ignored (and reported).
//   - It applies where a route of a Gateway of Legate's forwards (or
//     mirrors) to the Service: the route's cluster for that port becomes a
//     TLS cluster of its own, named after the port and the policy, with
//     SNI validation.hostname, the CA bundle of caCertificateRefs
//     (ConfigMaps, or Secrets, each with a PEM "ca.crt") or the system
//     CAs (wellKnownCACertificates: System), and the subjectAltNames (or,
//     without them, the hostname) as the names the certificate must carry.
//   - Its status has one ancestor per Gateway whose routes use it, with
//     Accepted and ResolvedRefs as the spec gives them. A policy none of
//     whose CA references resolves is not accepted (NoValidCACertificate),
//     and requests to the backend are answered with 500 instead of being
//     sent in clear text or to an unverified server.

// tlsPolicy is what the translation decided about one BackendTLSPolicy.
type tlsPolicy struct {
	policy *gatewayv1.BackendTLSPolicy
	// tls is the upstream TLS of the backends it applies to; nil when the
	// policy cannot be applied (accepted false for a reason other than a
	// conflict), and the backends answer 500.
	tls *ir.UpstreamTLS
	ca  *ir.Secret

	// accepted, reason and msg are the Accepted condition.
	accepted bool
	reason   gatewayv1.PolicyConditionReason
	msg      string
	// resolvedReason and resolvedMsg are the ResolvedRefs condition (True
	// when the reason is ResolvedRefs).
	resolvedReason gatewayv1.PolicyConditionReason
	resolvedMsg    string

	problems problems
	// targets are the keys (see tlsTargetKey) of its Service targets.
	targets []string
	// ancestors are the Gateways whose routes use the policy, by key.
	ancestors map[string]*gatewayState
}

// tlsTargetKey names a BackendTLSPolicy target: a Service port name, or ""
// for the whole Service.
func tlsTargetKey(namespace, service, section string) string {
	return namespace + "/" + service + "/" + section
}

// collectBackendTLSPolicies reads every BackendTLSPolicy, oldest first, and
// decides which one applies to each target.
func (t *translation) collectBackendTLSPolicies() {
	t.tlsTargets = map[string]*tlsPolicy{}
	seen := map[string]bool{}
	var pols []*gatewayv1.BackendTLSPolicy
	for _, p := range t.in.BackendTLSPolicies {
		if p != nil && !seen[p.Namespace+"/"+p.Name] {
			seen[p.Namespace+"/"+p.Name] = true
			pols = append(pols, p)
		}
	}
	slices.SortStableFunc(pols, func(a, b *gatewayv1.BackendTLSPolicy) int {
		return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time),
			byNamespacedName(a.Namespace, a.Name, b.Namespace, b.Name))
	})
	for _, p := range pols {
		tp := &tlsPolicy{policy: p, accepted: true, reason: gatewayv1.PolicyReasonAccepted,
			resolvedReason: gatewayv1.BackendTLSPolicyReasonResolvedRefs, ancestors: map[string]*gatewayState{}}
		t.tlsPolicies = append(t.tlsPolicies, tp)
		var keys []string
		var conflict string
		for i, ref := range p.Spec.TargetRefs {
			field := fmt.Sprintf("spec.targetRefs[%d]", i)
			if ref.Group != "" || ref.Kind != "Service" {
				tp.problems.add(warnSev, field, string(gatewayv1.PolicyReasonTargetNotFound),
					"target %s/%s %s is not a core Service; only Services are supported and this target is ignored", ref.Group, ref.Kind, ref.Name)
				continue
			}
			section := ""
			if ref.SectionName != nil {
				section = string(*ref.SectionName)
			}
			key := tlsTargetKey(p.Namespace, string(ref.Name), section)
			if other, ok := t.tlsTargets[key]; ok && conflict == "" {
				conflict = fmt.Sprintf("%s: BackendTLSPolicy %s/%s, which takes precedence, already targets Service %s%s",
					field, other.policy.Namespace, other.policy.Name, ref.Name, sectionSuffix(section))
			}
			keys = append(keys, key)
		}
		tp.targets = keys
		if conflict != "" {
			tp.accepted, tp.reason, tp.msg = false, gatewayv1.PolicyReasonConflicted, conflict
			tp.problems.add(errSev, "spec.targetRefs", string(tp.reason), "%s", conflict)
			continue
		}
		t.resolveTLSPolicy(tp)
		for _, k := range keys {
			if _, ok := t.tlsTargets[k]; !ok {
				t.tlsTargets[k] = tp
			}
		}
	}
}

func sectionSuffix(section string) string {
	if section == "" {
		return ""
	}
	return " port " + section
}

// resolveTLSPolicy validates a policy and builds its upstream TLS.
func (t *translation) resolveTLSPolicy(tp *tlsPolicy) {
	p := tp.policy
	v := p.Spec.Validation
	invalid := func(field, format string, args ...any) {
		tp.accepted, tp.reason, tp.msg = false, gatewayv1.PolicyReasonInvalid, fmt.Sprintf(format, args...)
		tp.problems.add(errSev, field, string(tp.reason), "%s", tp.msg)
	}
	host := string(v.Hostname)
	if err := checkPreciseHostname(host); err != nil {
		invalid("spec.validation.hostname", "validation.hostname: %v", err)
		return
	}
	out := &ir.UpstreamTLS{SNI: host}
	for i, san := range v.SubjectAltNames {
		field := fmt.Sprintf("spec.validation.subjectAltNames[%d]", i)
		switch san.Type {
		case gatewayv1.HostnameSubjectAltNameType:
			if err := validHostname(string(san.Hostname)); err != nil || san.Hostname == "" {
				invalid(field, "subjectAltNames[%d]: hostname %q is not valid", i, san.Hostname)
				return
			}
			out.SubjectAltNames = append(out.SubjectAltNames, string(san.Hostname))
		case gatewayv1.URISubjectAltNameType:
			if !strings.Contains(string(san.URI), "://") || strings.ContainsAny(string(san.URI), " \x00\r\n") {
				invalid(field, "subjectAltNames[%d]: uri %q is not an absolute URI", i, san.URI)
				return
			}
			out.SubjectAltNames = append(out.SubjectAltNames, string(san.URI))
		default:
			invalid(field, "subjectAltNames[%d]: type %q is not Hostname or URI", i, san.Type)
			return
		}
	}
	if len(out.SubjectAltNames) == 0 {
		// Without subjectAltNames the hostname is what the certificate
		// must be valid for.
		out.SubjectAltNames = []string{host}
	}
	options := make([]string, 0, len(p.Spec.Options))
	for k := range p.Spec.Options {
		options = append(options, string(k))
	}
	slices.Sort(options)
	for _, k := range options {
		tp.problems.add(warnSev, "spec.options", "UnsupportedOption", "option %q is not one Legate knows and is ignored", k)
	}
	switch {
	case len(v.CACertificateRefs) > 0 && v.WellKnownCACertificates != nil && *v.WellKnownCACertificates != "":
		invalid("spec.validation", "caCertificateRefs and wellKnownCACertificates cannot both be set")
		return
	case v.WellKnownCACertificates != nil && *v.WellKnownCACertificates != "":
		if *v.WellKnownCACertificates != gatewayv1.WellKnownCACertificatesSystem {
			invalid("spec.validation.wellKnownCACertificates", "wellKnownCACertificates %q is not supported; only System is", *v.WellKnownCACertificates)
			return
		}
		out.WellKnownCA = true
	case len(v.CACertificateRefs) == 0:
		invalid("spec.validation", "one of caCertificateRefs and wellKnownCACertificates must be set")
		return
	default:
		var bundle []byte
		for i, ref := range v.CACertificateRefs {
			field := fmt.Sprintf("spec.validation.caCertificateRefs[%d]", i)
			pemData, reason, err := t.caCertificate(p.Namespace, ref)
			if err != nil {
				if tp.resolvedReason == gatewayv1.BackendTLSPolicyReasonResolvedRefs {
					tp.resolvedReason, tp.resolvedMsg = reason, fmt.Sprintf("%s: %v", field, err)
				}
				tp.problems.add(errSev, field, string(reason), "%v", err)
				continue
			}
			bundle = append(bundle, pemData...)
		}
		if len(bundle) == 0 {
			tp.accepted, tp.reason = false, gatewayv1.BackendTLSPolicyReasonNoValidCACertificate
			tp.msg = "no CA certificate reference resolves to a PEM certificate; requests to the targeted backends answer 500"
			return
		}
		tp.ca = &ir.Secret{
			Name:   fmt.Sprintf("backendtlspolicy/%s/%s/ca", p.Namespace, p.Name),
			Source: ir.Source{Translator: Name, Group: gatewayv1.GroupName, Kind: "BackendTLSPolicy", Namespace: p.Namespace, Name: p.Name, Field: "spec.validation.caCertificateRefs"},
			CA:     bundle,
		}
		out.CASecret = tp.ca.Name
	}
	tp.tls = out
	if tp.resolvedReason == gatewayv1.BackendTLSPolicyReasonResolvedRefs {
		tp.msg = "policy is accepted"
	} else {
		tp.msg = "policy is accepted; some CA certificate references do not resolve and are left out"
	}
}

// caCertificate reads the PEM CA bundle of one caCertificateRef: the
// "ca.crt" key of a ConfigMap or a Secret in the policy's namespace. The
// reason says why it does not resolve.
func (t *translation) caCertificate(namespace string, ref gatewayv1.LocalObjectReference) ([]byte, gatewayv1.PolicyConditionReason, error) {
	const key = "ca.crt"
	var data []byte
	found := false
	switch {
	case ref.Group == "" && ref.Kind == "ConfigMap":
		if cm := t.configMap(namespace, string(ref.Name)); cm != nil {
			found = true
			if v, ok := cm.Data[key]; ok {
				data = []byte(v)
			} else {
				data = cm.BinaryData[key]
			}
		}
	case ref.Group == "" && ref.Kind == "Secret":
		if s := t.in.Secret(namespace, string(ref.Name)); s != nil {
			found = true
			if v, ok := s.Data[key]; ok {
				data = v
			} else if v, ok := s.StringData[key]; ok {
				data = []byte(v)
			}
		}
	default:
		return nil, gatewayv1.BackendTLSPolicyReasonInvalidKind,
			fmt.Errorf("%s/%s %s is not a kind Legate reads CA certificates from; ConfigMaps and Secrets are", ref.Group, ref.Kind, ref.Name)
	}
	if !found {
		return nil, gatewayv1.BackendTLSPolicyReasonInvalidCACertificateRef, fmt.Errorf("%s %s/%s does not exist", ref.Kind, namespace, ref.Name)
	}
	if len(data) == 0 {
		return nil, gatewayv1.BackendTLSPolicyReasonInvalidCACertificateRef, fmt.Errorf("%s %s/%s has no %s", ref.Kind, namespace, ref.Name, key)
	}
	if err := checkCABundle(data); err != nil {
		return nil, gatewayv1.BackendTLSPolicyReasonInvalidCACertificateRef, fmt.Errorf("%s %s/%s: %s %v", ref.Kind, namespace, ref.Name, key, err)
	}
	if !strings.HasSuffix(string(data), "\n") {
		data = append(append([]byte(nil), data...), '\n')
	}
	return data, "", nil
}

// checkCABundle requires at least one PEM certificate and only certificates
// that parse: Envoy refuses a bundle it cannot load.
func checkCABundle(data []byte) error {
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("holds a PEM %q block, not only certificates", block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("holds a certificate that does not parse: %v", err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("holds no PEM certificate")
	}
	return nil
}

// configMap finds a ConfigMap among the inputs' other objects.
func (t *translation) configMap(namespace, name string) *corev1.ConfigMap {
	if t.configMaps == nil {
		t.configMaps = map[string]*corev1.ConfigMap{}
		for _, o := range t.in.Others {
			if cm, ok := o.(*corev1.ConfigMap); ok {
				key := cm.Namespace + "/" + cm.Name
				if _, dup := t.configMaps[key]; !dup {
					t.configMaps[key] = cm
				}
			}
		}
	}
	return t.configMaps[namespace+"/"+name]
}

// tlsPolicyFor returns the policy that applies to port sp of svc: the one
// naming the port, else the one naming the whole Service; nil if none.
func (t *translation) tlsPolicyFor(svc *corev1.Service, sp *corev1.ServicePort) *tlsPolicy {
	if sp != nil && sp.Name != "" {
		if tp := t.tlsTargets[tlsTargetKey(svc.Namespace, svc.Name, sp.Name)]; tp != nil {
			return tp
		}
	}
	return t.tlsTargets[tlsTargetKey(svc.Namespace, svc.Name, "")]
}

// withTLS gives cl the upstream TLS of tp: a cluster of its own, since the
// plain cluster of the same port may be used elsewhere (an Ingress). The
// policy's CA secret joins the translation.
func (t *translation) withTLS(cl *ir.Cluster, tp *tlsPolicy) *ir.Cluster {
	out := *cl
	out.Name = fmt.Sprintf("%s/backendtlspolicy/%s", cl.Name, tp.policy.Name)
	tls := *tp.tls
	tls.SubjectAltNames = slices.Clone(tp.tls.SubjectAltNames)
	if out.Protocol == ir.UpstreamHTTP2 {
		// HTTP/2 over TLS is negotiated by ALPN; servers (gRPC ones among
		// them) refuse a TLS connection that does not offer h2.
		tls.ALPN = []string{"h2"}
	}
	out.TLS = &tls
	if tp.ca != nil {
		if _, ok := t.secrets[tp.ca.Name]; !ok {
			t.secrets[tp.ca.Name] = tp.ca
		}
		t.registered(nil, t.secrets[tp.ca.Name])
	}
	return &out
}

// useTargets records BackendTLSPolicy targets a route's backend uses.
func (rs *routeState) useTargets(keys []string) {
	for _, k := range keys {
		if !slices.Contains(rs.targets, k) {
			rs.targets = append(rs.targets, k)
		}
	}
}

// tlsPolicyAncestors fills in each policy's ancestors: the Gateways of
// Legate's named as parents by the routes that use one of the policy's
// targets. A policy that lost a conflict has ancestors too, so that its
// Conflicted condition is written where the winner's Accepted is.
func (t *translation) tlsPolicyAncestors() {
	if len(t.tlsPolicies) == 0 {
		return // nothing to fill in; spare a walk of every route
	}
	byTarget := map[string]map[string]*gatewayState{}
	for _, rs := range t.routes {
		for _, key := range rs.targets {
			for _, p := range rs.parentRefs {
				if gs := t.parentGateway(rs.meta.Namespace, p); gs != nil {
					if byTarget[key] == nil {
						byTarget[key] = map[string]*gatewayState{}
					}
					byTarget[key][gs.key()] = gs
				}
			}
		}
	}
	for _, tp := range t.tlsPolicies {
		for _, key := range tp.targets {
			for k, gs := range byTarget[key] {
				tp.ancestors[k] = gs
			}
		}
	}
}

// BackendTLSPolicyStatus is the status of one BackendTLSPolicy: Legate's
// ancestor entries (other controllers' are kept by the status writer).
type BackendTLSPolicyStatus struct {
	Namespace string                           `json:"namespace"`
	Name      string                           `json:"name"`
	Ancestors []gatewayv1.PolicyAncestorStatus `json:"ancestors"`
}

// status renders a policy's ancestor entries, one per Gateway, sorted.
func (tp *tlsPolicy) status(controller gatewayv1.GatewayController) []gatewayv1.PolicyAncestorStatus {
	gen := tp.policy.Generation
	accepted := condition(gatewayv1.PolicyConditionAccepted, tp.accepted, tp.reason, gen, "%s", tp.msg)
	resolvedMsg := tp.resolvedMsg
	if resolvedMsg == "" {
		resolvedMsg = "all references resolved"
	}
	resolved := condition(gatewayv1.BackendTLSPolicyConditionResolvedRefs,
		tp.resolvedReason == gatewayv1.BackendTLSPolicyReasonResolvedRefs, tp.resolvedReason, gen, "%s", resolvedMsg)
	var out []gatewayv1.PolicyAncestorStatus
	for _, k := range sortedKeys(tp.ancestors) {
		gs := tp.ancestors[k]
		group := gatewayv1.Group(gatewayv1.GroupName)
		kind := gatewayv1.Kind("Gateway")
		ns := gatewayv1.Namespace(gs.gw.Namespace)
		out = append(out, gatewayv1.PolicyAncestorStatus{
			AncestorRef:    gatewayv1.ParentReference{Group: &group, Kind: &kind, Namespace: &ns, Name: gatewayv1.ObjectName(gs.gw.Name)},
			ControllerName: controller,
			Conditions:     []metav1.Condition{accepted, resolved},
		})
	}
	return out
}
