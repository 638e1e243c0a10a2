package gatewayapi

import (
	"fmt"
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/translators/ir"
)

// ruleFilters is what a rule's filters ask for.
type ruleFilters struct {
	// filters holds header changes, the URL rewrite and mirrors.
	filters ir.Filters
	// redirect, if set, answers with a redirect; its port depends on the
	// listener (see redirectFor), so it is kept in the API's form.
	redirect *gatewayv1.HTTPRequestRedirectFilter
	// extensionRef is set when the rule has an ExtensionRef filter. Legate
	// defines no extension kinds, so none resolves, and the spec says such
	// a filter must not be skipped: requests it would have processed
	// answer 500.
	extensionRef bool
}

// invalidRule says why a rule is left out, with the reason of the route's
// Accepted condition when no rule is left.
type invalidRule struct {
	reason gatewayv1.RouteConditionReason
	msg    string
}

func unsupported(format string, args ...any) *invalidRule {
	return &invalidRule{reason: gatewayv1.RouteReasonUnsupportedValue, msg: fmt.Sprintf(format, args...)}
}

// ruleFiltersFor translates a rule's filters. matches are the rule's
// translated matches (a prefix replacement needs prefix matches). Mirror
// backends that do not resolve are left out and returned as failures; a
// filter Legate cannot apply as written makes the whole rule invalid.
func (t *translation) ruleFiltersFor(rs *routeState, fs []gatewayv1.HTTPRouteFilter, field string, matches []ir.Match) (ruleFilters, []*refFailure, *invalidRule) {
	var out ruleFilters
	var fails []*refFailure
	seen := map[gatewayv1.HTTPRouteFilterType]bool{}
	for i, f := range fs {
		ff := fmt.Sprintf("%s[%d]", field, i)
		if seen[f.Type] && f.Type != gatewayv1.HTTPRouteFilterRequestMirror && f.Type != gatewayv1.HTTPRouteFilterExtensionRef {
			return out, nil, &invalidRule{gatewayv1.RouteReasonIncompatibleFilters, fmt.Sprintf("%s: filter %s appears more than once", ff, f.Type)}
		}
		seen[f.Type] = true
		switch f.Type {
		case gatewayv1.HTTPRouteFilterRequestHeaderModifier:
			hm, err := headerModifier(f.RequestHeaderModifier)
			if err != nil {
				return out, nil, unsupported("%s.requestHeaderModifier: %v", ff, err)
			}
			out.filters.RequestHeaders = hm
		case gatewayv1.HTTPRouteFilterResponseHeaderModifier:
			hm, err := headerModifier(f.ResponseHeaderModifier)
			if err != nil {
				return out, nil, unsupported("%s.responseHeaderModifier: %v", ff, err)
			}
			out.filters.ResponseHeaders = hm
		case gatewayv1.HTTPRouteFilterRequestRedirect:
			if err := checkRedirect(f.RequestRedirect, matches); err != nil {
				return out, nil, unsupported("%s.requestRedirect: %v", ff, err)
			}
			out.redirect = f.RequestRedirect
		case gatewayv1.HTTPRouteFilterURLRewrite:
			rw, err := rewrite(f.URLRewrite, matches)
			if err != nil {
				return out, nil, unsupported("%s.urlRewrite: %v", ff, err)
			}
			out.filters.Rewrite = rw
		case gatewayv1.HTTPRouteFilterRequestMirror:
			m, fail, err := t.mirror(rs, f.RequestMirror, ff+".requestMirror")
			if err != nil {
				return out, nil, unsupported("%s.requestMirror: %v", ff, err)
			}
			if fail != nil {
				fails = append(fails, fail)
			} else if m != nil {
				out.filters.Mirrors = append(out.filters.Mirrors, *m)
			}
		case gatewayv1.HTTPRouteFilterExtensionRef:
			out.extensionRef = true
			desc := "(unset)"
			if e := f.ExtensionRef; e != nil {
				desc = fmt.Sprintf("%s/%s %s", e.Group, e.Kind, e.Name)
			}
			fails = append(fails, failRef(gatewayv1.RouteReasonInvalidKind, ff+".extensionRef",
				"extension filter %s is not a kind Legate knows; requests of this rule are answered with an error (500, or UNAVAILABLE on a GRPCRoute)", desc))
		case gatewayv1.HTTPRouteFilterCORS:
			c, warnings, err := corsFor(f.CORS)
			if err != nil {
				return out, nil, unsupported("%s.cors: %v", ff, err)
			}
			for _, w := range warnings {
				rs.problems.add(warnSev, ff+".cors", "Degraded", "%s", w)
			}
			out.filters.CORS = c
		default:
			// ExternalAuth and any unknown type.
			return out, nil, unsupported("%s: filter type %q is not supported", ff, f.Type)
		}
	}
	if out.redirect != nil && out.filters.Rewrite != nil {
		return out, nil, &invalidRule{gatewayv1.RouteReasonIncompatibleFilters, field + ": RequestRedirect and URLRewrite cannot be combined"}
	}
	return out, fails, nil
}

// headerModifier translates a header filter. A header named twice (names
// are case-insensitive) in set, add or remove is ambiguous and rejected.
func headerModifier(f *gatewayv1.HTTPHeaderFilter) (*ir.HeaderModifier, error) {
	if f == nil {
		return nil, fmt.Errorf("the filter's configuration is missing")
	}
	out := &ir.HeaderModifier{}
	seen := map[string]string{}
	claim := func(list, name string) error {
		if !validToken(name) {
			return fmt.Errorf("%s: %q is not a valid header name", list, name)
		}
		key := strings.ToLower(name)
		if prev, ok := seen[key]; ok {
			return fmt.Errorf("%s: header %q is already named in %s", list, name, prev)
		}
		seen[key] = list
		return nil
	}
	for _, h := range f.Set {
		if err := claim("set", string(h.Name)); err != nil {
			return nil, err
		}
		if strings.ContainsAny(h.Value, "\x00\r\n") {
			return nil, fmt.Errorf("set: the value of %s contains a control character", h.Name)
		}
		out.Set = append(out.Set, ir.Header{Name: string(h.Name), Value: h.Value})
	}
	for _, h := range f.Add {
		if err := claim("add", string(h.Name)); err != nil {
			return nil, err
		}
		if strings.ContainsAny(h.Value, "\x00\r\n") {
			return nil, fmt.Errorf("add: the value of %s contains a control character", h.Name)
		}
		out.Add = append(out.Add, ir.Header{Name: string(h.Name), Value: h.Value})
	}
	for _, n := range f.Remove {
		if err := claim("remove", n); err != nil {
			return nil, err
		}
		out.Remove = append(out.Remove, n)
	}
	if len(out.Set)+len(out.Add)+len(out.Remove) == 0 {
		return nil, nil
	}
	return out, nil
}

// prefixMatchesOnly checks what ReplacePrefixMatch needs: every match of
// the rule is a PathPrefix match.
func prefixMatchesOnly(matches []ir.Match) error {
	for _, m := range matches {
		if m.Path.Type != ir.PathPrefix && m.Path.Type != ir.PathSegmentPrefix {
			return fmt.Errorf("ReplacePrefixMatch needs PathPrefix matches, the rule has a %s match", m.Path.Type)
		}
	}
	return nil
}

// pathModifier returns the full path or the prefix replacement of m.
func pathModifier(m *gatewayv1.HTTPPathModifier, matches []ir.Match) (full, prefix string, err error) {
	switch m.Type {
	case gatewayv1.FullPathHTTPPathModifier:
		if m.ReplaceFullPath == nil {
			return "", "", fmt.Errorf("path: replaceFullPath is missing")
		}
		full = *m.ReplaceFullPath
		if !strings.HasPrefix(full, "/") || strings.ContainsAny(full, "\x00\r\n") {
			return "", "", fmt.Errorf("path: %q is not a valid path", full)
		}
		return full, "", nil
	case gatewayv1.PrefixMatchHTTPPathModifier:
		if m.ReplacePrefixMatch == nil {
			return "", "", fmt.Errorf("path: replacePrefixMatch is missing")
		}
		if err := prefixMatchesOnly(matches); err != nil {
			return "", "", fmt.Errorf("path: %w", err)
		}
		// An empty replacement removes the prefix: the path then starts
		// with what followed it, or is "/".
		prefix = *m.ReplacePrefixMatch
		if prefix == "" {
			prefix = "/"
		}
		if !strings.HasPrefix(prefix, "/") || strings.ContainsAny(prefix, "\x00\r\n") {
			return "", "", fmt.Errorf("path: %q is not a valid path", prefix)
		}
		return "", prefix, nil
	}
	return "", "", fmt.Errorf("path: modifier type %q is not supported", m.Type)
}

func checkPreciseHostname(h string) error {
	if isWildcard(h) {
		return fmt.Errorf("hostname %q must not be a wildcard", h)
	}
	return validHostname(h)
}

// rewrite translates a URLRewrite filter.
func rewrite(f *gatewayv1.HTTPURLRewriteFilter, matches []ir.Match) (*ir.Rewrite, error) {
	if f == nil {
		return nil, fmt.Errorf("the filter's configuration is missing")
	}
	out := &ir.Rewrite{}
	if f.Hostname != nil {
		out.Hostname = string(*f.Hostname)
		if err := checkPreciseHostname(out.Hostname); err != nil {
			return nil, err
		}
	}
	if f.Path != nil {
		full, prefix, err := pathModifier(f.Path, matches)
		if err != nil {
			return nil, err
		}
		out.FullPath, out.PrefixReplace = full, prefix
	}
	if *out == (ir.Rewrite{}) {
		return nil, nil
	}
	return out, nil
}

// checkRedirect validates a RequestRedirect filter; redirectFor builds it.
func checkRedirect(f *gatewayv1.HTTPRequestRedirectFilter, matches []ir.Match) error {
	if f == nil {
		return fmt.Errorf("the filter's configuration is missing")
	}
	if f.Scheme != nil && *f.Scheme != "http" && *f.Scheme != "https" {
		return fmt.Errorf("scheme %q is not http or https", *f.Scheme)
	}
	if f.Hostname != nil {
		if err := checkPreciseHostname(string(*f.Hostname)); err != nil {
			return err
		}
	}
	if f.Port != nil && (*f.Port < 1 || *f.Port > 65535) {
		return fmt.Errorf("port %d is not in 1-65535", *f.Port)
	}
	if f.StatusCode != nil {
		switch *f.StatusCode {
		case 301, 302, 303, 307, 308:
		default:
			return fmt.Errorf("status code %d is not one of 301, 302, 303, 307, 308", *f.StatusCode)
		}
	}
	if f.Path != nil {
		if _, _, err := pathModifier(f.Path, matches); err != nil {
			return err
		}
	}
	return nil
}

// redirectFor builds the redirect of a checked filter for a listener of
// the given protocol and port. The port follows the spec: the one given;
// else the well-known port of the scheme given (80 for http, 443 for
// https); else the listener's port. (The Location header should name no
// port where it is the scheme's default; that is the xDS stage's job.)
func redirectFor(f *gatewayv1.HTTPRequestRedirectFilter, matches []ir.Match, listenerPort uint32) *ir.Redirect {
	out := &ir.Redirect{StatusCode: 302}
	if f.StatusCode != nil {
		out.StatusCode = *f.StatusCode
	}
	if f.Scheme != nil {
		out.Scheme = *f.Scheme
	}
	if f.Hostname != nil {
		out.Hostname = string(*f.Hostname)
	}
	switch {
	case f.Port != nil:
		out.Port = uint32(*f.Port)
	case out.Scheme == "http":
		out.Port = 80
	case out.Scheme == "https":
		out.Port = 443
	default:
		out.Port = listenerPort
	}
	if f.Path != nil {
		out.Path, out.PrefixReplace, _ = pathModifier(f.Path, matches)
	}
	return out
}

// mirror resolves a RequestMirror filter. A backend that does not resolve
// is returned as a failure (the mirror is left out, the rule kept); a
// share of zero mirrors nothing and gives no mirror.
func (t *translation) mirror(rs *routeState, f *gatewayv1.HTTPRequestMirrorFilter, field string) (*ir.Mirror, *refFailure, error) {
	if f == nil {
		return nil, nil, fmt.Errorf("the filter's configuration is missing")
	}
	percent := 100.0
	switch {
	case f.Percent != nil && f.Fraction != nil:
		return nil, nil, fmt.Errorf("percent and fraction cannot both be set")
	case f.Percent != nil:
		if *f.Percent < 0 || *f.Percent > 100 {
			return nil, nil, fmt.Errorf("percent %d is not in 0-100", *f.Percent)
		}
		percent = float64(*f.Percent)
	case f.Fraction != nil:
		den := int32(100)
		if f.Fraction.Denominator != nil {
			den = *f.Fraction.Denominator
		}
		if den < 1 || f.Fraction.Numerator < 0 || f.Fraction.Numerator > den {
			return nil, nil, fmt.Errorf("fraction %d/%d is not a share between 0 and 1", f.Fraction.Numerator, den)
		}
		percent = 100 * float64(f.Fraction.Numerator) / float64(den)
	}
	cluster, fail := t.backend(rs.kind, rs.meta.Namespace, f.BackendRef, field+".backendRef")
	rs.useTargets(t.lastTargets)
	if fail != nil {
		return nil, fail, nil
	}
	if percent == 0 {
		return nil, nil, nil
	}
	return &ir.Mirror{Cluster: cluster, Percent: percent}, nil, nil
}
