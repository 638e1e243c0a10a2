package gatewayapi

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/translators/ir"
)

// Rule-level policies of an HTTPRoute: the CORS filter, retries,
// timeouts, session persistence, backend-level filters and rule names.

// defaultCORSMaxAge is what the API defaults cors.maxAge to (a folder of
// YAML gets no defaults from an API server).
const defaultCORSMaxAge = 5 * time.Second

// corsFor translates a CORS filter. The CRD already rules out malformed
// origins and wildcards next to other values; objects from files are
// checked here the same way.
func corsFor(f *gatewayv1.HTTPCORSFilter) (*ir.CORS, []string, error) {
	if f == nil {
		return nil, nil, fmt.Errorf("the filter's configuration is missing")
	}
	out := &ir.CORS{MaxAge: defaultCORSMaxAge}
	var warnings []string
	for _, o := range f.AllowOrigins {
		if err := ir.ValidateCORSOrigin(string(o)); err != nil {
			return nil, nil, fmt.Errorf("allowOrigins: %w", err)
		}
		out.AllowOrigins = append(out.AllowOrigins, string(o))
	}
	for _, m := range f.AllowMethods {
		if m != "*" && !validToken(string(m)) {
			return nil, nil, fmt.Errorf("allowMethods: %q is not a method", m)
		}
		out.AllowMethods = append(out.AllowMethods, string(m))
	}
	for _, h := range f.AllowHeaders {
		if h != "*" && !validToken(string(h)) {
			return nil, nil, fmt.Errorf("allowHeaders: %q is not a header name", h)
		}
		out.AllowHeaders = append(out.AllowHeaders, string(h))
	}
	for _, h := range f.ExposeHeaders {
		if h != "*" && !validToken(string(h)) {
			return nil, nil, fmt.Errorf("exposeHeaders: %q is not a header name", h)
		}
		out.ExposeHeaders = append(out.ExposeHeaders, string(h))
	}
	for _, l := range []struct {
		field  string
		values []string
	}{{"allowOrigins", out.AllowOrigins}, {"allowMethods", out.AllowMethods}, {"allowHeaders", out.AllowHeaders}} {
		for _, v := range l.values {
			if v == "*" && len(l.values) > 1 {
				return nil, nil, fmt.Errorf(`%s: "*" cannot be combined with other values`, l.field)
			}
		}
	}
	if f.AllowCredentials != nil && *f.AllowCredentials {
		out.AllowCredentials = true
		if len(out.ExposeHeaders) == 1 && out.ExposeHeaders[0] == "*" {
			// Envoy sends the list as written; with credentials a browser
			// reads "*" as a header named "*", exposing nothing more.
			warnings = append(warnings, `exposeHeaders "*" with allowCredentials is sent as is, and browsers then expose no extra header`)
		}
	}
	switch {
	case f.MaxAge < 0:
		return nil, nil, fmt.Errorf("maxAge %d is negative", f.MaxAge)
	case f.MaxAge > 0:
		out.MaxAge = time.Duration(f.MaxAge) * time.Second
	}
	return out, warnings, nil
}

// retryOnConnectionErrors are the Envoy retry conditions a Gateway API
// retry stanza always implies: the spec says connection errors (a refused
// or failed connection, a reset, no response) should be retried once a
// retry is configured. Status codes are only retried when listed.
var retryOnConnectionErrors = []string{"connect-failure", "refused-stream", "reset"}

// retryFor translates a rule's retry. attempts is the number of retries
// after the first try (the conformance suite counts it so); unset keeps
// Envoy's default of one.
func retryFor(r *gatewayv1.HTTPRouteRetry) (*ir.Retry, error) {
	out := &ir.Retry{On: append([]string(nil), retryOnConnectionErrors...)}
	seen := map[uint32]bool{}
	for _, c := range r.Codes {
		if c < 400 || c > 599 {
			return nil, fmt.Errorf("codes: %d is not in 400-599", c)
		}
		if !seen[uint32(c)] {
			seen[uint32(c)] = true
			out.StatusCodes = append(out.StatusCodes, uint32(c))
		}
	}
	if r.Attempts != nil {
		if *r.Attempts < 1 || *r.Attempts > 1000 {
			return nil, fmt.Errorf("attempts %d is not in 1-1000", *r.Attempts)
		}
		out.NumRetries = uint32(*r.Attempts)
	}
	if r.Backoff != nil {
		d, err := parseDuration(string(*r.Backoff))
		if err != nil {
			return nil, fmt.Errorf("backoff: %w", err)
		}
		out.Backoff = d
	}
	return out, nil
}

// defaultSessionName names the cookie or header of a session persistence
// that gives no sessionName.
const defaultSessionName = "legate-session"

// sessionFor translates a rule's session persistence into Envoy's
// stateful sessions: a cookie (session or permanent with
// absoluteTimeout as its Max-Age) or a header. What Envoy cannot do is
// refused: a gateway-tracked absolute timeout on a session cookie, and
// any timeout on a header session.
func sessionFor(sp *gatewayv1.SessionPersistence) (*ir.SessionPersistence, error) {
	out := &ir.SessionPersistence{Type: ir.SessionCookie, Name: defaultSessionName}
	if sp.Type != nil {
		switch *sp.Type {
		case gatewayv1.CookieBasedSessionPersistence:
		case gatewayv1.HeaderBasedSessionPersistence:
			out.Type = ir.SessionHeader
		default:
			return nil, fmt.Errorf("type %q is not Cookie or Header", *sp.Type)
		}
	}
	if sp.SessionName != nil {
		if !validToken(*sp.SessionName) {
			return nil, fmt.Errorf("sessionName %q is not a valid cookie or header name", *sp.SessionName)
		}
		out.Name = *sp.SessionName
	}
	var timeout time.Duration
	if sp.AbsoluteTimeout != nil {
		d, err := parseDuration(string(*sp.AbsoluteTimeout))
		if err != nil {
			return nil, fmt.Errorf("absoluteTimeout: %w", err)
		}
		timeout = d
	}
	permanent := false
	if cc := sp.CookieConfig; cc != nil {
		if out.Type != ir.SessionCookie {
			return nil, fmt.Errorf("cookieConfig can only be set with type Cookie")
		}
		if cc.LifetimeType != nil {
			switch *cc.LifetimeType {
			case gatewayv1.PermanentCookieLifetimeType:
				permanent = true
			case gatewayv1.SessionCookieLifetimeType:
			default:
				return nil, fmt.Errorf("cookieConfig.lifetimeType %q is not Permanent or Session", *cc.LifetimeType)
			}
		}
	}
	switch {
	case out.Type == ir.SessionHeader && sp.AbsoluteTimeout != nil:
		return nil, fmt.Errorf("absoluteTimeout is not supported for header sessions: Envoy's header session state has no expiry")
	case permanent && sp.AbsoluteTimeout == nil:
		return nil, fmt.Errorf("a Permanent cookie needs absoluteTimeout")
	case permanent:
		if timeout <= 0 {
			return nil, fmt.Errorf("absoluteTimeout of a Permanent cookie must be positive")
		}
		out.TTL = timeout
	case sp.AbsoluteTimeout != nil:
		return nil, fmt.Errorf("absoluteTimeout with a Session cookie is not supported: Envoy cannot expire a session cookie it does not give a Max-Age")
	}
	return out, nil
}

// backendFiltersFor translates the filters of one backendRef. Header
// changes are applied to requests sent to (and responses from) that
// backend alone; other filter types are not supported there.
func backendFiltersFor(fs []gatewayv1.HTTPRouteFilter) (req, resp *ir.HeaderModifier, err error) {
	seen := map[gatewayv1.HTTPRouteFilterType]bool{}
	for i, f := range fs {
		if seen[f.Type] {
			return nil, nil, fmt.Errorf("filters[%d]: filter %s appears more than once", i, f.Type)
		}
		seen[f.Type] = true
		switch f.Type {
		case gatewayv1.HTTPRouteFilterRequestHeaderModifier:
			if req, err = headerModifier(f.RequestHeaderModifier); err != nil {
				return nil, nil, fmt.Errorf("filters[%d].requestHeaderModifier: %w", i, err)
			}
		case gatewayv1.HTTPRouteFilterResponseHeaderModifier:
			if resp, err = headerModifier(f.ResponseHeaderModifier); err != nil {
				return nil, nil, fmt.Errorf("filters[%d].responseHeaderModifier: %w", i, err)
			}
		default:
			return nil, nil, fmt.Errorf("filters[%d]: filter type %q is not supported on a backendRef; only RequestHeaderModifier and ResponseHeaderModifier are", i, f.Type)
		}
	}
	return req, resp, nil
}

// sectionNameRE is the API's SectionName syntax, which rule names use.
var sectionNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// ruleNameFor checks a rule's name: valid, and not the name of an earlier
// rule of the route (names must be unique within a route).
func ruleNameFor(r *gatewayv1.HTTPRoute, i int) (string, error) {
	n := r.Spec.Rules[i].Name
	if n == nil {
		return "", nil
	}
	name := string(*n)
	if len(name) > 253 || !sectionNameRE.MatchString(name) {
		return "", fmt.Errorf("name %q is not a valid rule name (lower-case letters, digits and '-')", name)
	}
	for k := 0; k < i; k++ {
		if o := r.Spec.Rules[k].Name; o != nil && strings.EqualFold(string(*o), name) {
			return "", fmt.Errorf("name %q is already the name of rules[%d]", name, k)
		}
	}
	return name, nil
}
