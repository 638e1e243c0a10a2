package emissary

import (
	"fmt"
	"slices"
	"strings"
	"time"

	v3 "github.com/legateproxy/legate/apis/getambassador.io/v3alpha1"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

// Emissary's defaults.
const (
	defaultTimeout        = 3000 * time.Millisecond
	defaultConnectTimeout = 3000 * time.Millisecond
	defaultRewrite        = "/"
	defaultRedirectCode   = 301
)

// mapping is what one Mapping contributes: its match, where it sends
// traffic, and what was wrong with it.
type mapping struct {
	obj      *v3.Mapping
	problems []translators.Problem
	// ok is false when the Mapping is left out.
	ok bool

	vhost      string
	match      ir.Match
	precedence int32
	weight     *int
	shadow     bool
	// redirect is set for host_redirect Mappings.
	redirect *ir.Redirect
	// cluster is the backend's cluster, "" when there is none (yet).
	cluster string
	filters ir.Filters
	// annotationsOut are the route's annotations (see annotations).
	annotationsOut map[string]string
}

func (m *mapping) ref() translators.ObjectRef {
	return translators.ObjectRef{Group: Group, Kind: "Mapping", Namespace: m.obj.Namespace, Name: m.obj.Name}
}

func (m *mapping) source() ir.Source {
	return ir.Source{Translator: Name, Group: Group, Kind: "Mapping", Namespace: m.obj.Namespace, Name: m.obj.Name, Field: "spec"}
}

func (m *mapping) routeName() string { return "mapping/" + m.obj.Namespace + "/" + m.obj.Name }

func (m *mapping) add(sev translators.Severity, field, reason, format string, args ...any) {
	p := translators.Problem{Severity: sev, Field: field, Reason: reason, Message: fmt.Sprintf(format, args...)}
	if !slices.Contains(m.problems, p) {
		m.problems = append(m.problems, p)
	}
}

// reject leaves the Mapping out with an Error on field.
func (m *mapping) reject(field, reason, format string, args ...any) {
	m.add(translators.SeverityError, field, reason, format+"; the Mapping is left out", args...)
	m.ok = false
}

func (m *mapping) warn(field, reason, format string, args ...any) {
	m.add(translators.SeverityWarning, field, reason, format, args...)
}

func (m *mapping) notYet(field string) {
	m.warn(field, "NotSupportedYet", "%s is not supported yet and has no effect", field)
}

// mapping checks and translates one Mapping (except the group-wide parts:
// weights, canary routes).
func (tr *translation) mapping(obj *v3.Mapping) *mapping {
	m := &mapping{obj: obj, ok: true}
	sp := &obj.Spec
	if sp.EnvoyOverride != nil {
		m.reject("spec.envoy_override", "EnvoyOverrideRejected",
			"envoy_override injects raw Envoy configuration that Legate cannot validate, so it is not accepted")
	}
	tr.unsupportedFields(m)
	m.vhost = m.hostMatch()
	m.pathMatch()
	m.headerMatches()
	if sp.Precedence != nil {
		p := *sp.Precedence
		if p < -1<<31 || p > 1<<31-1 {
			m.reject("spec.precedence", "InvalidPrecedence", "precedence %d is out of range", p)
		} else {
			m.precedence = int32(p)
		}
	}
	m.weight = sp.Weight
	m.shadow = sp.Shadow != nil && *sp.Shadow
	m.setFilters()
	m.routePolicies()
	if sp.CORS != nil {
		m.filters.CORS = m.cors(sp.CORS)
	}
	if sp.HostRedirect != nil && *sp.HostRedirect {
		m.setRedirect()
	} else {
		for _, f := range []struct{ name, v string }{
			{"path_redirect", sp.PathRedirect}, {"prefix_redirect", sp.PrefixRedirect},
		} {
			if f.v != "" {
				m.warn("spec."+f.name, "IgnoredField", "%s has no effect without host_redirect: true", f.name)
			}
		}
		if sp.RegexRedirect != nil {
			m.warn("spec.regex_redirect", "IgnoredField", "regex_redirect has no effect without host_redirect: true")
		}
		if sp.RedirectResponseCode != nil {
			m.warn("spec.redirect_response_code", "IgnoredField", "redirect_response_code has no effect without host_redirect: true")
		}
		if m.ok {
			m.cluster = tr.backend(m)
		}
	}
	return m
}

// unsupportedFields warns about each set field that is not implemented yet.
func (tr *translation) unsupportedFields(m *mapping) {
	sp := &m.obj.Spec
	set := []struct {
		field string
		isSet bool
	}{
		{"add_linkerd_headers", sp.AddLinkerdHeaders != nil && *sp.AddLinkerdHeaders},
		{"keepalive", sp.KeepAlive != nil},
		{"cluster_max_connection_lifetime_ms", sp.ClusterMaxConnectionLifetimeMs != nil},
		{"error_response_overrides", len(sp.ErrorResponseOverrides) > 0},
		{"modules", len(sp.Modules) > 0},
		{"resolver", sp.Resolver != ""},
		{"dns_type", sp.DNSType != ""},
		{"respect_dns_ttl", sp.RespectDNSTTL != nil},
		{"enable_ipv4", sp.EnableIPv4 != nil},
		{"enable_ipv6", sp.EnableIPv6 != nil},
		{"priority", sp.Priority != ""},
	}
	for _, f := range set {
		if f.isSet {
			m.notYet("spec." + f.field)
		}
	}
}

// hostMatch returns the virtual host of the Mapping and adds any
// ":authority" match that hostname globs cannot express.
func (m *mapping) hostMatch() string {
	sp := &m.obj.Spec
	host, field, regex := "", "", false
	for _, k := range sortedKeys(sp.Headers) {
		if strings.EqualFold(k, ":authority") {
			host, field = sp.Headers[k], "spec.headers"
		}
	}
	if sp.Host != "" {
		host, field, regex = sp.Host, "spec.host", sp.HostRegex != nil && *sp.HostRegex
	}
	if sp.Hostname != "" {
		if sp.Host != "" {
			m.warn("spec.host", "IgnoredField", "both host and hostname are set: hostname is used and host ignored")
		}
		h := strings.ToLower(sp.Hostname)
		if err := ir.ValidateHostname(h); err != nil {
			m.reject("spec.hostname", "InvalidHostname", "hostname %q is not supported: want a DNS name, \"*.\" followed by one, or \"*\"", sp.Hostname)
			return "*"
		}
		return h
	}
	switch {
	case host == "":
		return "*"
	case regex:
		if err := ir.ValidateRegex(host); err != nil {
			m.reject(field, "InvalidRegex", "host_regex: %v", err)
			return "*"
		}
		m.match.Headers = append(m.match.Headers, ir.HeaderMatch{Name: ":authority", Type: ir.MatchRegex, Value: host})
		return "*"
	case strings.Contains(host, "*"):
		m.reject(field, "InvalidHost", "exact host %q contains *, which cannot match anything", host)
		return "*"
	}
	if h := strings.ToLower(host); ir.ValidateHostname(h) == nil {
		return h
	}
	if strings.ContainsAny(host, "\x00\r\n") {
		m.reject(field, "InvalidHost", "host %q contains a control character", host)
		return "*"
	}
	// Not a DNS name (e.g. it has a port): match ":authority" exactly.
	m.match.Headers = append(m.match.Headers, ir.HeaderMatch{Name: ":authority", Type: ir.MatchExact, Value: host})
	return "*"
}

func (m *mapping) pathMatch() {
	sp := &m.obj.Spec
	p := sp.Prefix
	switch {
	case p == "":
		m.reject("spec.prefix", "InvalidPrefix", "prefix is required")
		return
	case sp.PrefixRegex != nil && *sp.PrefixRegex:
		if err := ir.ValidateRegex(p); err != nil {
			m.reject("spec.prefix", "InvalidRegex", "prefix_regex: %v", err)
			return
		}
		m.match.Path = ir.PathMatch{Type: ir.PathRegex, Value: p}
	default:
		if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#\x00\r\n") {
			m.reject("spec.prefix", "InvalidPrefix", "prefix %q must start with / and contain no ?, # or control characters", p)
			return
		}
		t := ir.PathPrefix
		if sp.PrefixExact != nil && *sp.PrefixExact {
			t = ir.PathExact
		}
		m.match.Path = ir.PathMatch{Type: t, Value: p}
	}
	if sp.CaseSensitive != nil && !*sp.CaseSensitive {
		f := false
		m.match.Path.CaseSensitive = &f
	}
}

func (m *mapping) headerMatches() {
	sp := &m.obj.Spec
	for _, k := range sortedKeys(sp.Headers) {
		if strings.EqualFold(k, ":authority") {
			continue // handled as host
		}
		if !validHeaderName(k) {
			m.reject("spec.headers", "InvalidHeader", "header name %q is not valid", k)
			continue
		}
		if strings.ContainsAny(sp.Headers[k], "\x00\r\n") {
			m.reject("spec.headers", "InvalidHeader", "header %s: value contains a control character", k)
			continue
		}
		m.match.Headers = append(m.match.Headers, ir.HeaderMatch{Name: k, Type: ir.MatchExact, Value: sp.Headers[k]})
	}
	for _, k := range sp.V2BoolHeaders {
		if !validHeaderName(k) {
			m.reject("spec.v2BoolHeaders", "InvalidHeader", "header name %q is not valid", k)
			continue
		}
		m.match.Headers = append(m.match.Headers, ir.HeaderMatch{Name: k, Type: ir.MatchPresent})
	}
	for _, k := range sortedKeys(sp.RegexHeaders) {
		if !validHeaderName(k) {
			m.reject("spec.regex_headers", "InvalidHeader", "header name %q is not valid", k)
			continue
		}
		if err := ir.ValidateRegex(sp.RegexHeaders[k]); err != nil {
			m.reject("spec.regex_headers", "InvalidRegex", "header %s: %v", k, err)
			continue
		}
		m.match.Headers = append(m.match.Headers, ir.HeaderMatch{Name: k, Type: ir.MatchRegex, Value: sp.RegexHeaders[k]})
	}
	for _, k := range sortedKeys(sp.QueryParameters) {
		if k == "" || strings.ContainsAny(k+sp.QueryParameters[k], "\x00\r\n") {
			m.reject("spec.query_parameters", "InvalidQueryParameter", "query parameter %q is not valid", k)
			continue
		}
		m.match.QueryParams = append(m.match.QueryParams, ir.QueryMatch{Name: k, Type: ir.MatchExact, Value: sp.QueryParameters[k]})
	}
	for _, k := range sp.V2BoolQueryParameters {
		if k == "" || strings.ContainsAny(k, "\x00\r\n") {
			m.reject("spec.v2BoolQueryParameters", "InvalidQueryParameter", "query parameter %q is not valid", k)
			continue
		}
		m.match.QueryParams = append(m.match.QueryParams, ir.QueryMatch{Name: k, Type: ir.MatchPresent})
	}
	for _, k := range sortedKeys(sp.RegexQueryParameters) {
		if k == "" || strings.ContainsAny(k, "\x00\r\n") {
			m.reject("spec.regex_query_parameters", "InvalidQueryParameter", "query parameter %q is not valid", k)
			continue
		}
		if err := ir.ValidateRegex(sp.RegexQueryParameters[k]); err != nil {
			m.reject("spec.regex_query_parameters", "InvalidRegex", "query parameter %s: %v", k, err)
			continue
		}
		m.match.QueryParams = append(m.match.QueryParams, ir.QueryMatch{Name: k, Type: ir.MatchRegex, Value: sp.RegexQueryParameters[k]})
	}
	if sp.Method != "" {
		if sp.MethodRegex != nil && *sp.MethodRegex {
			if err := ir.ValidateRegex(sp.Method); err != nil {
				m.reject("spec.method", "InvalidRegex", "method_regex: %v", err)
			} else {
				m.match.Headers = append(m.match.Headers, ir.HeaderMatch{Name: ":method", Type: ir.MatchRegex, Value: sp.Method})
			}
		} else if !validToken(sp.Method) {
			m.reject("spec.method", "InvalidMethod", "method %q is not a valid HTTP method", sp.Method)
		} else {
			m.match.Method = sp.Method
		}
	}
}

func (m *mapping) setFilters() {
	sp := &m.obj.Spec
	f := &m.filters
	// timeout_ms: Emissary's default is 3 s; 0 turns the timeout off.
	f.Timeout = defaultTimeout
	if sp.TimeoutMs != nil {
		switch ms := *sp.TimeoutMs; {
		case ms < 0 || ms > 1<<40:
			m.reject("spec.timeout_ms", "InvalidTimeout", "timeout_ms %d is out of range", ms)
		case ms == 0:
			f.Timeout = -1
		default:
			f.Timeout = time.Duration(ms) * time.Millisecond
		}
	}
	rw := defaultRewrite
	if sp.Rewrite != nil {
		rw = *sp.Rewrite
	}
	if sp.RegexRewrite != nil {
		rw = "" // Emissary ignores rewrite when regex_rewrite is set
	}
	if re := sp.RegexRewrite; re != nil {
		if err := ir.ValidateRegex(re.Pattern); err != nil {
			m.reject("spec.regex_rewrite.pattern", "InvalidRegex", "regex_rewrite: %v", err)
		} else if strings.ContainsAny(re.Substitution, "\x00\r\n") {
			m.reject("spec.regex_rewrite.substitution", "InvalidRewrite", "regex_rewrite: substitution contains a control character")
		} else {
			f.Rewrite = &ir.Rewrite{Regex: &ir.RegexSubstitution{Pattern: re.Pattern, Substitution: re.Substitution}}
		}
	}
	if rw != "" && m.match.Path.Value != "" {
		switch {
		case !strings.HasPrefix(rw, "/") || strings.ContainsAny(rw, "\x00\r\n"):
			m.reject("spec.rewrite", "InvalidRewrite", "rewrite %q must start with / and contain no control characters", rw)
		case m.match.Path.Type == ir.PathRegex:
			// Envoy's prefix_rewrite on a regex route swaps the whole path.
			f.Rewrite = &ir.Rewrite{FullPath: rw}
		default:
			f.Rewrite = &ir.Rewrite{PrefixReplace: rw}
		}
	}
	if sp.HostRewrite != "" {
		if strings.ContainsAny(sp.HostRewrite, "/?#@ \x00\r\n") {
			m.reject("spec.host_rewrite", "InvalidHostRewrite", "host_rewrite %q is not a valid host", sp.HostRewrite)
		} else {
			if f.Rewrite == nil {
				f.Rewrite = &ir.Rewrite{}
			}
			f.Rewrite.Hostname = sp.HostRewrite
		}
	}
	if sp.AutoHostRewrite != nil && *sp.AutoHostRewrite {
		switch {
		case f.Rewrite != nil && f.Rewrite.Hostname != "":
			m.warn("spec.auto_host_rewrite", "HostRewriteWins", "host_rewrite is set and names the Host header itself; auto_host_rewrite is ignored")
		default:
			// Envoy puts the chosen endpoint's hostname in the Host
			// header: the DNS name of an external service. Endpoints of a
			// Kubernetes Service have no hostname, so Host stays as sent.
			if f.Rewrite == nil {
				f.Rewrite = &ir.Rewrite{}
			}
			f.Rewrite.AutoHostname = true
		}
	}
	f.RequestHeaders = m.headerModifier("add_request_headers", sp.AddRequestHeaders, "remove_request_headers", sp.RemoveRequestHeaders)
	f.ResponseHeaders = m.headerModifier("add_response_headers", sp.AddResponseHeaders, "remove_response_headers", sp.RemoveResponseHeaders)
	if rp := sp.RetryPolicy; rp != nil {
		r := &ir.Retry{}
		if rp.RetryOn != "" {
			r.On = []string{rp.RetryOn}
		}
		if rp.NumRetries != nil {
			if n := *rp.NumRetries; n < 0 || n > 1<<20 {
				m.reject("spec.retry_policy.num_retries", "InvalidRetryPolicy", "num_retries %d is out of range", n)
			} else {
				r.NumRetries = uint32(n)
			}
		}
		if rp.PerTryTimeout != "" {
			d, err := time.ParseDuration(rp.PerTryTimeout)
			if err != nil || d <= 0 {
				m.reject("spec.retry_policy.per_try_timeout", "InvalidRetryPolicy", "per_try_timeout %q is not a positive duration such as \"1.5s\"", rp.PerTryTimeout)
			} else {
				r.PerTry = d
			}
		}
		f.Retry = r
	}
}

func (m *mapping) headerModifier(addField string, add map[string]v3.AddedHeader, removeField string, remove []string) *ir.HeaderModifier {
	hm := &ir.HeaderModifier{}
	for _, k := range sortedKeys(add) {
		h := add[k]
		field := "spec." + addField
		switch {
		case !validToken(k):
			m.reject(field, "InvalidHeader", "header name %q is not valid", k)
			continue
		case strings.ContainsAny(h.Value, "\x00\r\n"):
			m.reject(field, "InvalidHeader", "header %s: value contains a control character", k)
			continue
		case strings.Contains(h.Value, "%"):
			// Envoy reads %...% as a command operator; the IR has no way yet
			// to say a value is meant that way, and a stray % is rejected.
			m.warn(field, "NotSupportedYet", "header %s: values with Envoy %%COMMAND%% operators are not supported yet; the header is not added", k)
			continue
		}
		if h.Append != nil && !*h.Append {
			hm.Set = append(hm.Set, ir.Header{Name: k, Value: h.Value})
		} else {
			hm.Add = append(hm.Add, ir.Header{Name: k, Value: h.Value})
		}
	}
	for _, k := range remove {
		if !validToken(k) {
			m.reject("spec."+removeField, "InvalidHeader", "header name %q is not valid", k)
			continue
		}
		hm.Remove = append(hm.Remove, k)
	}
	if len(hm.Set)+len(hm.Add)+len(hm.Remove) == 0 {
		return nil
	}
	return hm
}

func (m *mapping) setRedirect() {
	sp := &m.obj.Spec
	svc, err := parseService(sp.Service)
	if err != nil {
		m.reject("spec.service", "InvalidService", "host_redirect: %v", err)
		return
	}
	r := &ir.Redirect{Scheme: svc.scheme, Hostname: svc.host, StatusCode: defaultRedirectCode}
	if svc.hasPort {
		r.Port = svc.port
	}
	if strings.ContainsAny(r.Hostname, "/?#@ \x00\r\n") {
		m.reject("spec.service", "InvalidService", "host_redirect: %q is not a valid host", r.Hostname)
		return
	}
	if sp.RedirectResponseCode != nil {
		switch c := *sp.RedirectResponseCode; c {
		case 301, 302, 303, 307, 308:
			r.StatusCode = c
		default:
			m.reject("spec.redirect_response_code", "InvalidRedirect", "redirect_response_code %d is not one of 301, 302, 303, 307, 308", c)
		}
	}
	// Emissary prefers path_redirect over prefix_redirect, and both over
	// regex_redirect.
	if sp.RegexRedirect != nil && (sp.PathRedirect != "" || sp.PrefixRedirect != "") {
		m.warn("spec.regex_redirect", "IgnoredField", "regex_redirect is ignored because path_redirect or prefix_redirect is set")
	}
	switch {
	case sp.PathRedirect != "":
		if !strings.HasPrefix(sp.PathRedirect, "/") || strings.ContainsAny(sp.PathRedirect, "\x00\r\n") {
			m.reject("spec.path_redirect", "InvalidRedirect", "path_redirect %q must start with /", sp.PathRedirect)
		}
		r.Path = sp.PathRedirect
		if sp.PrefixRedirect != "" {
			m.warn("spec.prefix_redirect", "IgnoredField", "prefix_redirect is ignored because path_redirect is set")
		}
	case sp.PrefixRedirect != "":
		if !strings.HasPrefix(sp.PrefixRedirect, "/") || strings.ContainsAny(sp.PrefixRedirect, "\x00\r\n") {
			m.reject("spec.prefix_redirect", "InvalidRedirect", "prefix_redirect %q must start with /", sp.PrefixRedirect)
		}
		if m.match.Path.Type == ir.PathRegex {
			m.reject("spec.prefix_redirect", "InvalidRedirect", "prefix_redirect needs a prefix or exact match, not prefix_regex")
		}
		r.PrefixReplace = sp.PrefixRedirect
	case sp.RegexRedirect != nil:
		re := sp.RegexRedirect
		if err := ir.ValidateRegex(re.Pattern); err != nil {
			m.reject("spec.regex_redirect.pattern", "InvalidRegex", "regex_redirect: %v", err)
		} else if strings.ContainsAny(re.Substitution, "\x00\r\n") {
			m.reject("spec.regex_redirect.substitution", "InvalidRedirect", "regex_redirect: substitution contains a control character")
		}
		r.Regex = &ir.RegexSubstitution{Pattern: re.Pattern, Substitution: re.Substitution}
	}
	m.redirect = r
}

// validToken is RFC 9110's token: visible ASCII without separators.
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

// validHeaderName also allows HTTP/2 pseudo-headers such as ":path".
func validHeaderName(s string) bool { return validToken(strings.TrimPrefix(s, ":")) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
