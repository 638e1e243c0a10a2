package gatewayapi

import (
	"fmt"
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/translators/ir"
)

// defaultMatch is what a rule without matches matches: every request.
var defaultMatch = ir.Match{Path: ir.PathMatch{Type: ir.PathPrefix, Value: "/"}}

// matchFor translates one HTTPRouteMatch. An error means the match cannot
// be served as written; the rule it belongs to is left out.
func matchFor(m gatewayv1.HTTPRouteMatch) (ir.Match, error) {
	var out ir.Match
	p, err := pathMatch(m.Path)
	if err != nil {
		return out, err
	}
	out.Path = p
	if out.Headers, err = headerMatches(m.Headers); err != nil {
		return out, err
	}
	// Query parameter names are case-sensitive; again the first entry of a
	// name counts.
	seenQ := map[string]bool{}
	for i, q := range m.QueryParams {
		name := string(q.Name)
		if seenQ[name] {
			continue
		}
		seenQ[name] = true
		if name == "" {
			return out, fmt.Errorf("queryParams[%d]: the name is empty", i)
		}
		var qt *gatewayv1.HeaderMatchType
		if q.Type != nil {
			qt = ptr(gatewayv1.HeaderMatchType(*q.Type))
		}
		t, err := stringMatchType(qt, i, "queryParams")
		if err != nil {
			return out, err
		}
		qm := ir.QueryMatch{Name: name, Type: t, Value: q.Value}
		if err := checkStringMatch(qm.Type, qm.Value); err != nil {
			return out, fmt.Errorf("queryParams[%d]: %w", i, err)
		}
		out.QueryParams = append(out.QueryParams, qm)
	}
	if m.Method != nil {
		out.Method = string(*m.Method)
		if !validToken(out.Method) {
			return out, fmt.Errorf("method %q is not a valid HTTP method", out.Method)
		}
	}
	return out, nil
}

// headerMatches translates header matches (of an HTTPRoute, or of a
// GRPCRoute in HTTPRoute form). Header names are case-insensitive: of two
// entries naming one header, only the first counts (as the spec says).
func headerMatches(hs []gatewayv1.HTTPHeaderMatch) ([]ir.HeaderMatch, error) {
	var out []ir.HeaderMatch
	seen := map[string]bool{}
	for i, h := range hs {
		name := strings.ToLower(string(h.Name))
		if !validToken(name) {
			return nil, fmt.Errorf("headers[%d]: %q is not a valid header name", i, h.Name)
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		t, err := stringMatchType(h.Type, i, "headers")
		if err != nil {
			return nil, err
		}
		hm := ir.HeaderMatch{Name: name, Type: t, Value: h.Value}
		if err := checkStringMatch(hm.Type, hm.Value); err != nil {
			return nil, fmt.Errorf("headers[%d]: %w", i, err)
		}
		out = append(out, hm)
	}
	return out, nil
}

// pathMatch translates a path match. PathPrefix matches whole path
// elements and ignores a trailing slash ("/abc" and "/abc/" both match
// "/abc" and "/abc/def", not "/abcd"): a segment prefix, except "/", which
// matches every path and is a plain prefix.
func pathMatch(p *gatewayv1.HTTPPathMatch) (ir.PathMatch, error) {
	typ, value := gatewayv1.PathMatchPathPrefix, "/"
	if p != nil {
		if p.Type != nil {
			typ = *p.Type
		}
		if p.Value != nil {
			value = *p.Value
		}
	}
	switch typ {
	case gatewayv1.PathMatchExact:
		if err := checkPath(value); err != nil {
			return ir.PathMatch{}, err
		}
		return ir.PathMatch{Type: ir.PathExact, Value: value}, nil
	case gatewayv1.PathMatchPathPrefix:
		if err := checkPath(value); err != nil {
			return ir.PathMatch{}, err
		}
		trimmed := strings.TrimRight(value, "/")
		if trimmed == "" {
			return ir.PathMatch{Type: ir.PathPrefix, Value: "/"}, nil
		}
		return ir.PathMatch{Type: ir.PathSegmentPrefix, Value: trimmed}, nil
	case gatewayv1.PathMatchRegularExpression:
		if err := ir.ValidateRegex(value); err != nil {
			return ir.PathMatch{}, fmt.Errorf("path: %w", err)
		}
		return ir.PathMatch{Type: ir.PathRegex, Value: value}, nil
	}
	return ir.PathMatch{}, fmt.Errorf("path match type %q is not supported", typ)
}

// checkPath applies the rules the API server's validation applies to Exact
// and PathPrefix values (a folder of YAML is not validated): an absolute
// path without "//", "/./", "/../", encoded slashes, "#" or a trailing "/."
// or "/..".
func checkPath(v string) error {
	switch {
	case !strings.HasPrefix(v, "/"):
		return fmt.Errorf("path %q must start with /", v)
	case len(v) > 1024:
		return fmt.Errorf("path is longer than 1024 characters")
	case strings.Contains(v, "//"), strings.Contains(v, "/./"), strings.Contains(v, "/../"),
		strings.Contains(strings.ToLower(v), "%2f"), strings.ContainsAny(v, "#?\x00\r\n \t"),
		strings.HasSuffix(v, "/."), strings.HasSuffix(v, "/.."):
		return fmt.Errorf("path %q is not a valid path", v)
	}
	return nil
}

func stringMatchType(t *gatewayv1.HeaderMatchType, i int, what string) (ir.StringMatchType, error) {
	if t == nil {
		return ir.MatchExact, nil
	}
	switch *t {
	case gatewayv1.HeaderMatchExact:
		return ir.MatchExact, nil
	case gatewayv1.HeaderMatchRegularExpression:
		return ir.MatchRegex, nil
	}
	return "", fmt.Errorf("%s[%d]: match type %q is not supported", what, i, *t)
}

func checkStringMatch(t ir.StringMatchType, v string) error {
	if t == ir.MatchRegex {
		return ir.ValidateRegex(v)
	}
	if strings.ContainsAny(v, "\x00\r\n") {
		return fmt.Errorf("value contains a control character")
	}
	return nil
}

// validToken is RFC 9110's token, what header names and methods are made of.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
