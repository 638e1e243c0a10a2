package ingress

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

const (
	errSev  = translators.SeverityError
	warnSev = translators.SeverityWarning
)

// collectRules turns every valid rule path of one Ingress into routes.
func (t *translation) collectRules(st *ingressState) {
	ing := st.ing
	if len(ing.Spec.Rules) == 0 && ing.Spec.DefaultBackend == nil {
		st.problem(errSev, "spec", "NoRules", "the Ingress has neither rules nor a default backend")
		return
	}
	redirect := ing.Annotations[AnnotationForceSSLRedirect] == "true"
	for i, rule := range ing.Spec.Rules {
		hostField := fmt.Sprintf("spec.rules[%d].host", i)
		vhost, err := VirtualHostName(rule.Host)
		if err != nil {
			st.problem(errSev, hostField, "InvalidHost", "%v; the rule is left out", err)
			continue
		}
		st.addVHost(vhost)
		if rule.HTTP == nil {
			continue
		}
		var authority *ir.HeaderMatch
		if strings.HasPrefix(vhost, "*.") {
			authority = &ir.HeaderMatch{Name: ":authority", Type: ir.MatchRegex, Value: WildcardAuthorityRegex(vhost)}
		}
		for j, p := range rule.HTTP.Paths {
			field := fmt.Sprintf("spec.rules[%d].http.paths[%d]", i, j)
			pm, err := PathMatchFor(p.Path, p.PathType)
			if err != nil {
				st.problem(errSev, pathErrField(field, p.PathType), "InvalidPath", "%v; the path is left out", err)
				continue
			}
			m := ir.Match{Path: pm}
			if authority != nil {
				m.Headers = []ir.HeaderMatch{*authority}
			}
			r := &ir.Route{
				Name:   st.routeName(fmt.Sprintf("rules[%d]/paths[%d]", i, j)),
				Source: st.source(field),
				Match:  m,
			}
			if !t.setAction(st, r, &p.Backend, field+".backend") {
				continue
			}
			if msgs := ir.ValidateRoute(r, t.clusterNames(r)); len(msgs) > 0 {
				st.problem(errSev, field, "InvalidPath", "%s; the path is left out", strings.Join(msgs, "; "))
				continue
			}
			t.addRoute(vhost, r, redirect)
		}
	}
}

func pathErrField(field string, pt *networkingv1.PathType) string {
	if pt == nil || !knownPathType(*pt) {
		return field + ".pathType"
	}
	return field + ".path"
}

func knownPathType(pt networkingv1.PathType) bool {
	switch pt {
	case networkingv1.PathTypeExact, networkingv1.PathTypePrefix, networkingv1.PathTypeImplementationSpecific:
		return true
	}
	return false
}

// collectDefaultBackend adds the Ingress's default backend as a catch-all
// route to "*" and to each of its own virtual hosts that has no "/" prefix
// route without further matches (see the package doc).
func (t *translation) collectDefaultBackend(st *ingressState) {
	ing := st.ing
	if ing.Spec.DefaultBackend == nil {
		return
	}
	const field = "spec.defaultBackend"
	proto := &ir.Route{
		Name:   st.routeName("defaultBackend"),
		Source: st.source(field),
		Match:  ir.Match{Path: ir.PathMatch{Type: ir.PathPrefix, Value: "/"}},
	}
	if !t.setAction(st, proto, ing.Spec.DefaultBackend, field) {
		return
	}
	redirect := ing.Annotations[AnnotationForceSSLRedirect] == "true"
	vhosts := []string{"*"}
	for _, vh := range st.vhostOrder {
		if vh != "*" {
			vhosts = append(vhosts, vh)
		}
	}
	for _, vh := range vhosts {
		if t.hasCatchAll(vh) {
			continue
		}
		r := *proto
		t.addRoute(vh, &r, redirect)
		t.hosts[vh].routes[len(t.hosts[vh].routes)-1].isDefault = true
	}
}

// hasCatchAll reports whether a rule (of any Ingress) already sends every
// path of vhost somewhere, so that a default backend would never be reached.
// Other Ingresses' default backends do not count: two default backends for
// one virtual host are a conflict the merge reports on the younger Ingress.
func (t *translation) hasCatchAll(vhost string) bool {
	h, ok := t.hosts[vhost]
	if !ok {
		return false
	}
	for _, hr := range h.routes {
		if hr.isDefault {
			continue
		}
		m := hr.route.Match
		if m.Path.Type == ir.PathPrefix && m.Path.Value == "/" && len(m.Headers) == 0 {
			return true
		}
	}
	return false
}

// VirtualHostName validates an Ingress rule host and returns the virtual
// host it belongs to: the host itself, or "*" when it is empty.
func VirtualHostName(host string) (string, error) {
	if host == "" {
		return "*", nil
	}
	if err := validateHost(host); err != nil {
		return "", err
	}
	return host, nil
}

func validateHost(host string) error {
	if host == "*" {
		return fmt.Errorf("host %q is not valid: a wildcard must be followed by a domain, as in \"*.example.com\"", host)
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return fmt.Errorf("host %q must be a DNS name, not an IP address", host)
	}
	if err := ir.ValidateHostname(host); err != nil {
		return fmt.Errorf("host %q is not a valid lower-case DNS name or \"*.\" wildcard", host)
	}
	return nil
}

// WildcardAuthorityRegex returns the RE2 expression an ":authority" header
// must match for the wildcard host "*.suffix": exactly one DNS label before
// ".suffix", then an optional ":port". Host names compare case-insensitively.
func WildcardAuthorityRegex(wildcard string) string {
	suffix := strings.TrimPrefix(wildcard, "*")
	return `(?i)^[^.:]+` + regexp.QuoteMeta(suffix) + `(:[0-9]+)?$`
}

// Sequences and suffixes the API server rejects in Exact and Prefix paths.
var (
	invalidPathSequences = []string{"//", "/./", "/../", "%2f", "%2F"}
	invalidPathSuffixes  = []string{"/..", "/."}
)

// PathMatchFor turns an Ingress path and path type into the IR path match:
// Exact -> exact; Prefix -> element-wise prefix without its trailing slash
// ("/" -> plain prefix "/"); ImplementationSpecific -> plain string prefix
// (empty means "/").
func PathMatchFor(path string, pathType *networkingv1.PathType) (ir.PathMatch, error) {
	if pathType == nil {
		return ir.PathMatch{}, fmt.Errorf("pathType must be specified")
	}
	// A request path never holds these: "?" and "#" end it, and control
	// characters cannot be matched on.
	if strings.ContainsAny(path, "?#\x00\r\n") {
		return ir.PathMatch{}, fmt.Errorf("path %q contains a character not allowed in a path", path)
	}
	switch *pathType {
	case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
		if !strings.HasPrefix(path, "/") {
			return ir.PathMatch{}, fmt.Errorf("path %q must be an absolute path", path)
		}
		for _, seq := range invalidPathSequences {
			if strings.Contains(path, seq) {
				return ir.PathMatch{}, fmt.Errorf("path %q must not contain %q", path, seq)
			}
		}
		for _, suf := range invalidPathSuffixes {
			if strings.HasSuffix(path, suf) {
				return ir.PathMatch{}, fmt.Errorf("path %q must not end with %q", path, suf)
			}
		}
		if *pathType == networkingv1.PathTypeExact {
			return ir.PathMatch{Type: ir.PathExact, Value: path}, nil
		}
		trimmed := strings.TrimRight(path, "/")
		if trimmed == "" {
			return ir.PathMatch{Type: ir.PathPrefix, Value: "/"}, nil
		}
		return ir.PathMatch{Type: ir.PathSegmentPrefix, Value: trimmed}, nil
	case networkingv1.PathTypeImplementationSpecific:
		if path == "" {
			return ir.PathMatch{Type: ir.PathPrefix, Value: "/"}, nil
		}
		if !strings.HasPrefix(path, "/") {
			return ir.PathMatch{}, fmt.Errorf("path %q must be an absolute path", path)
		}
		return ir.PathMatch{Type: ir.PathPrefix, Value: path}, nil
	default:
		return ir.PathMatch{}, fmt.Errorf("pathType %q is not one of Exact, Prefix, ImplementationSpecific", *pathType)
	}
}
