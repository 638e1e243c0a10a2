package diagnostics

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// Request is what the explainer is asked about: one HTTP request as Envoy
// would see it after the connection manager parsed it.
type Request struct {
	Method string `json:"method"`
	Scheme string `json:"scheme"`
	// Host is the Host header (HTTP/1) or :authority (HTTP/2), with any port.
	Host string `json:"host"`
	// Path is the request target: path and optional query string.
	Path    string   `json:"path"`
	Headers []Header `json:"headers,omitempty"`
}

// Header is one request header.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Explanation is the explainer's answer for one request and one
// RouteConfiguration.
type Explanation struct {
	Request     Request `json:"request"`
	RouteConfig string  `json:"routeConfig"`
	// VirtualHost is the selected virtual host, "" when no domain matched
	// (Envoy answers 404).
	VirtualHost string `json:"virtualHost,omitempty"`
	// Domain is the domain entry that selected VirtualHost.
	Domain string `json:"domain,omitempty"`
	// Skipped are the routes before the matching one (all routes when none
	// matched), each with the first reason it did not match.
	Skipped []Miss `json:"skipped,omitempty"`
	// Route is the name of the route that matched, "" when none did.
	Route      string `json:"route,omitempty"`
	RouteIndex int    `json:"routeIndex"`
	Action     Action `json:"action"`
}

// Miss is a route that did not match and why.
type Miss struct {
	Route  string `json:"route"`
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// ActionKind is what Envoy does with a request.
type ActionKind string

const (
	// ActionNotFound: no virtual host or no route matched; Envoy answers 404.
	ActionNotFound ActionKind = "NotFound"
	// ActionForward: forwarded to Clusters (one, or a weighted split).
	ActionForward ActionKind = "Forward"
	// ActionRedirect: answered with a redirect of Status.
	ActionRedirect ActionKind = "Redirect"
	// ActionDirect: answered directly with Status.
	ActionDirect ActionKind = "DirectResponse"
)

// Action is the outcome of a match.
type Action struct {
	Kind     ActionKind      `json:"kind"`
	Clusters []ClusterWeight `json:"clusters,omitempty"`
	Status   int             `json:"status,omitempty"`
	// Location parts of a redirect that Envoy changes; empty keeps the
	// request's.
	RedirectScheme string `json:"redirectScheme,omitempty"`
	RedirectHost   string `json:"redirectHost,omitempty"`
	RedirectPath   string `json:"redirectPath,omitempty"`
}

// ClusterWeight is one backend of a forward action. Weight is zero for a
// single cluster.
type ClusterWeight struct {
	Cluster string `json:"cluster"`
	Weight  uint32 `json:"weight,omitempty"`
}

// Explain evaluates req against rc the way Envoy's router does: it selects
// a virtual host by the Host header, then takes the first route whose match
// holds.
func Explain(rc *routev3.RouteConfiguration, req Request) Explanation {
	ex := Explanation{Request: req, RouteConfig: rc.GetName(), RouteIndex: -1, Action: Action{Kind: ActionNotFound, Status: 404}}
	vh, domain := SelectVirtualHost(rc, req.Host)
	if vh == nil {
		return ex
	}
	ex.VirtualHost, ex.Domain = vh.GetName(), domain
	in := newRequestView(req)
	for i, r := range vh.GetRoutes() {
		if reason := routeMiss(r.GetMatch(), in); reason != "" {
			ex.Skipped = append(ex.Skipped, Miss{Route: r.GetName(), Index: i, Reason: reason})
			continue
		}
		ex.Route, ex.RouteIndex = r.GetName(), i
		ex.Action = routeAction(r)
		return ex
	}
	return ex
}

// SelectVirtualHost picks the virtual host of rc for a Host header, in
// Envoy's order: an exact domain, then the longest suffix wildcard
// ("*.example.com", "*-bar.example.com"), then the longest prefix wildcard
// ("foo.*"), then "*". Matching is case-insensitive; with
// ignore_port_in_host_matching the port of host is dropped first.
func SelectVirtualHost(rc *routev3.RouteConfiguration, host string) (*routev3.VirtualHost, string) {
	host = strings.ToLower(host)
	if rc.GetIgnorePortInHostMatching() {
		host = stripPort(host)
	}
	var (
		suffixVH, prefixVH, defaultVH *routev3.VirtualHost
		suffixD, prefixD              string
	)
	for _, vh := range rc.GetVirtualHosts() {
		for _, d := range vh.GetDomains() {
			d = strings.ToLower(d)
			switch {
			case d == "*":
				if defaultVH == nil {
					defaultVH = vh
				}
			case strings.HasPrefix(d, "*"):
				// The wildcard stands for at least one character.
				sfx := d[1:]
				if len(host) > len(sfx) && strings.HasSuffix(host, sfx) && (suffixVH == nil || len(d) > len(suffixD)) {
					suffixVH, suffixD = vh, d
				}
			case strings.HasSuffix(d, "*"):
				pfx := d[:len(d)-1]
				if len(host) > len(pfx) && strings.HasPrefix(host, pfx) && (prefixVH == nil || len(d) > len(prefixD)) {
					prefixVH, prefixD = vh, d
				}
			case d == host:
				return vh, d
			}
		}
	}
	switch {
	case suffixVH != nil:
		return suffixVH, suffixD
	case prefixVH != nil:
		return prefixVH, prefixD
	case defaultVH != nil:
		return defaultVH, "*"
	}
	return nil, ""
}

// stripPort removes a trailing ":port" from a host, leaving a bare IPv6
// address ("::1") alone and unwrapping none of "[::1]:80" but the port.
func stripPort(host string) string {
	i := strings.LastIndexByte(host, ':')
	if i < 0 {
		return host
	}
	if strings.HasPrefix(host, "[") {
		if j := strings.LastIndexByte(host, ']'); j > i || j < 0 {
			return host
		}
	} else if strings.Count(host, ":") > 1 {
		return host
	}
	return host[:i]
}

// requestView is the request in the shapes the matchers need.
type requestView struct {
	path     string // without query and fragment
	fullPath string
	headers  map[string][]string // lower-case names, pseudo headers included
	query    map[string][]string
}

func newRequestView(req Request) requestView {
	v := requestView{fullPath: req.Path, path: req.Path, headers: map[string][]string{}}
	if i := strings.IndexAny(v.path, "?#"); i >= 0 {
		v.path = v.path[:i]
	}
	for _, h := range req.Headers {
		n := strings.ToLower(h.Name)
		v.headers[n] = append(v.headers[n], h.Value)
	}
	method := req.Method
	if method == "" {
		method = "GET"
	}
	scheme := req.Scheme
	if scheme == "" {
		scheme = "http"
	}
	v.headers[":method"] = []string{method}
	v.headers[":scheme"] = []string{scheme}
	v.headers[":authority"] = []string{req.Host}
	v.headers[":path"] = []string{req.Path}
	v.query = parseQuery(req.Path)
	return v
}

// parseQuery splits the query string of a request target into decoded
// parameters, keeping their order; a parameter without "=" has value "".
func parseQuery(target string) map[string][]string {
	out := map[string][]string{}
	i := strings.IndexByte(target, '?')
	if i < 0 {
		return out
	}
	q := target[i+1:]
	if j := strings.IndexByte(q, '#'); j >= 0 {
		q = q[:j]
	}
	for _, part := range strings.Split(q, "&") {
		if part == "" {
			continue
		}
		k, val, _ := strings.Cut(part, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.QueryUnescape(val); err == nil {
			val = dv
		}
		out[k] = append(out[k], val)
	}
	return out
}

// routeMiss returns why m does not match the request, "" if it matches.
func routeMiss(m *routev3.RouteMatch, in requestView) string {
	if reason := pathMiss(m, in); reason != "" {
		return reason
	}
	for _, h := range m.GetHeaders() {
		if !headerMatches(h, in.headers) {
			return "header " + describeHeaderMatcher(h) + " does not hold"
		}
	}
	for _, q := range m.GetQueryParameters() {
		if !queryMatches(q, in.query) {
			return "query parameter " + describeQueryMatcher(q) + " does not hold"
		}
	}
	if m.GetRuntimeFraction() != nil || m.GetGrpc() != nil || m.GetTlsContext() != nil ||
		len(m.GetDynamicMetadata()) > 0 || m.GetFilterState() != nil {
		// Never built by Legate; say so rather than guess.
		return "unsupported match criterion"
	}
	return ""
}

func pathMiss(m *routev3.RouteMatch, in requestView) string {
	sensitive := m.GetCaseSensitive() == nil || m.GetCaseSensitive().GetValue()
	fold := func(s string) string {
		if sensitive {
			return s
		}
		return strings.ToLower(s)
	}
	switch p := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		// Envoy compares a prefix with the whole :path, query included.
		if !strings.HasPrefix(fold(in.fullPath), fold(p.Prefix)) {
			return fmt.Sprintf("path does not start with %q%s", p.Prefix, caseNote(sensitive))
		}
	case *routev3.RouteMatch_Path:
		if fold(in.path) != fold(p.Path) {
			return fmt.Sprintf("path is not %q%s", p.Path, caseNote(sensitive))
		}
	case *routev3.RouteMatch_SafeRegex:
		re, err := fullRegexp(p.SafeRegex.GetRegex())
		if err != nil {
			return "path regex does not compile: " + err.Error()
		}
		if !re.MatchString(in.path) {
			return fmt.Sprintf("path does not match regex %q", p.SafeRegex.GetRegex())
		}
	case *routev3.RouteMatch_PathSeparatedPrefix:
		path, pfx := fold(in.path), fold(p.PathSeparatedPrefix)
		if path != pfx && !strings.HasPrefix(path, pfx+"/") {
			return fmt.Sprintf("path is not %q or below it%s", p.PathSeparatedPrefix, caseNote(sensitive))
		}
	case nil:
		return "route has no path match"
	default:
		return fmt.Sprintf("unsupported path match %T", p)
	}
	return ""
}

func caseNote(sensitive bool) string {
	if sensitive {
		return ""
	}
	return " (case-insensitive)"
}

// regexCache holds compiled expressions: the differential test and the
// admin server explain many requests against the same route tables.
var regexCache sync.Map

// fullRegexp compiles an RE2 expression anchored at both ends: Envoy's
// safe_regex matches the whole value.
func fullRegexp(expr string) (*regexp.Regexp, error) {
	if re, ok := regexCache.Load(expr); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(`^(?:` + expr + `)$`)
	if err != nil {
		return nil, err
	}
	regexCache.Store(expr, re)
	return re, nil
}

// headerMatches applies Envoy's HeaderMatcher: several values of one header
// are joined with ","; an absent header fails every value matcher, inverted
// or not; present_match compares presence, then invert_match flips it.
func headerMatches(h *routev3.HeaderMatcher, headers map[string][]string) bool {
	vals, present := headers[strings.ToLower(h.GetName())]
	if pm, ok := h.GetHeaderMatchSpecifier().(*routev3.HeaderMatcher_PresentMatch); ok {
		return (present == pm.PresentMatch) != h.GetInvertMatch()
	}
	if !present {
		if !h.GetTreatMissingHeaderAsEmpty() {
			return false
		}
		vals = []string{""}
	}
	value := strings.Join(vals, ",")
	var ok bool
	switch s := h.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_StringMatch:
		ok = stringMatches(s.StringMatch, value)
	// The deprecated exact/prefix/suffix/contains/safe_regex forms are
	// never published by Legate (it uses string_match), so they are not
	// modelled: such a matcher is reported as not matching.
	case nil:
		// No specifier: the header only has to be present.
		ok = true
	default:
		ok = false
	}
	return ok != h.GetInvertMatch()
}

// queryMatches applies Envoy's QueryParameterMatcher to the first value of
// the parameter.
func queryMatches(q *routev3.QueryParameterMatcher, query map[string][]string) bool {
	vals, present := query[q.GetName()]
	switch s := q.GetQueryParameterMatchSpecifier().(type) {
	case *routev3.QueryParameterMatcher_PresentMatch:
		return present == s.PresentMatch
	case *routev3.QueryParameterMatcher_StringMatch:
		return present && stringMatches(s.StringMatch, vals[0])
	case nil:
		return present
	}
	return false
}

func stringMatches(m *matcherv3.StringMatcher, v string) bool {
	ic := m.GetIgnoreCase()
	low := func(s string) string {
		if ic {
			return strings.ToLower(s)
		}
		return s
	}
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		return low(v) == low(p.Exact)
	case *matcherv3.StringMatcher_Prefix:
		return strings.HasPrefix(low(v), low(p.Prefix))
	case *matcherv3.StringMatcher_Suffix:
		return strings.HasSuffix(low(v), low(p.Suffix))
	case *matcherv3.StringMatcher_Contains:
		return strings.Contains(low(v), low(p.Contains))
	case *matcherv3.StringMatcher_SafeRegex:
		re, err := fullRegexp(p.SafeRegex.GetRegex())
		return err == nil && re.MatchString(v)
	}
	return false
}

func describeStringMatcher(m *matcherv3.StringMatcher) string {
	var s string
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		s = fmt.Sprintf("== %q", p.Exact)
	case *matcherv3.StringMatcher_Prefix:
		s = fmt.Sprintf("starts with %q", p.Prefix)
	case *matcherv3.StringMatcher_Suffix:
		s = fmt.Sprintf("ends with %q", p.Suffix)
	case *matcherv3.StringMatcher_Contains:
		s = fmt.Sprintf("contains %q", p.Contains)
	case *matcherv3.StringMatcher_SafeRegex:
		s = fmt.Sprintf("matches regex %q", p.SafeRegex.GetRegex())
	default:
		s = "?"
	}
	if m.GetIgnoreCase() {
		s += " (case-insensitive)"
	}
	return s
}

func describeHeaderMatcher(h *routev3.HeaderMatcher) string {
	var s string
	switch p := h.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_PresentMatch:
		if p.PresentMatch {
			s = h.GetName() + " present"
		} else {
			s = h.GetName() + " absent"
		}
	case *routev3.HeaderMatcher_StringMatch:
		s = h.GetName() + " " + describeStringMatcher(p.StringMatch)
	case nil:
		s = h.GetName() + " present"
	default:
		s = h.GetName() + " (a deprecated matcher form Legate does not publish)"
	}
	if h.GetInvertMatch() {
		return "NOT (" + s + ")"
	}
	return s
}

func describeQueryMatcher(q *routev3.QueryParameterMatcher) string {
	switch p := q.GetQueryParameterMatchSpecifier().(type) {
	case *routev3.QueryParameterMatcher_PresentMatch:
		return q.GetName() + " present"
	case *routev3.QueryParameterMatcher_StringMatch:
		return q.GetName() + " " + describeStringMatcher(p.StringMatch)
	}
	return q.GetName() + " present"
}

// DescribeMatch renders a route's match criteria for people, e.g.
// `prefix "/api" · header x-env == "canary" · query v present`.
func DescribeMatch(m *routev3.RouteMatch) string {
	var parts []string
	switch p := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		parts = append(parts, fmt.Sprintf("prefix %q", p.Prefix))
	case *routev3.RouteMatch_Path:
		parts = append(parts, fmt.Sprintf("path %q", p.Path))
	case *routev3.RouteMatch_SafeRegex:
		parts = append(parts, fmt.Sprintf("regex %q", p.SafeRegex.GetRegex()))
	case *routev3.RouteMatch_PathSeparatedPrefix:
		parts = append(parts, fmt.Sprintf("segment prefix %q", p.PathSeparatedPrefix))
	}
	if cs := m.GetCaseSensitive(); cs != nil && !cs.GetValue() {
		parts = append(parts, "case-insensitive")
	}
	for _, h := range m.GetHeaders() {
		parts = append(parts, "header "+describeHeaderMatcher(h))
	}
	for _, q := range m.GetQueryParameters() {
		parts = append(parts, "query "+describeQueryMatcher(q))
	}
	return strings.Join(parts, " · ")
}

// routeAction is the outcome of a matched route.
func routeAction(r *routev3.Route) Action {
	switch a := r.GetAction().(type) {
	case *routev3.Route_Route:
		out := Action{Kind: ActionForward}
		switch c := a.Route.GetClusterSpecifier().(type) {
		case *routev3.RouteAction_Cluster:
			out.Clusters = []ClusterWeight{{Cluster: c.Cluster}}
		case *routev3.RouteAction_WeightedClusters:
			for _, w := range c.WeightedClusters.GetClusters() {
				out.Clusters = append(out.Clusters, ClusterWeight{Cluster: w.GetName(), Weight: w.GetWeight().GetValue()})
			}
		}
		return out
	case *routev3.Route_Redirect:
		out := Action{Kind: ActionRedirect, Status: redirectStatus(a.Redirect.GetResponseCode()),
			RedirectHost: a.Redirect.GetHostRedirect(), RedirectPath: a.Redirect.GetPathRedirect()}
		switch s := a.Redirect.GetSchemeRewriteSpecifier().(type) {
		case *routev3.RedirectAction_HttpsRedirect:
			if s.HttpsRedirect {
				out.RedirectScheme = "https"
			}
		case *routev3.RedirectAction_SchemeRedirect:
			out.RedirectScheme = s.SchemeRedirect
		}
		return out
	case *routev3.Route_DirectResponse:
		return Action{Kind: ActionDirect, Status: int(a.DirectResponse.GetStatus())}
	}
	return Action{Kind: ActionNotFound, Status: 404}
}

func redirectStatus(c routev3.RedirectAction_RedirectResponseCode) int {
	switch c {
	case routev3.RedirectAction_FOUND:
		return 302
	case routev3.RedirectAction_SEE_OTHER:
		return 303
	case routev3.RedirectAction_TEMPORARY_REDIRECT:
		return 307
	case routev3.RedirectAction_PERMANENT_REDIRECT:
		return 308
	}
	return 301
}

// ClusterNames returns the clusters of a forward action, sorted.
func (a Action) ClusterNames() []string {
	var out []string
	for _, c := range a.Clusters {
		out = append(out, c.Cluster)
	}
	sort.Strings(out)
	return out
}

func sortStrings(s []string) { sort.Strings(s) }

// NormalizePath does to the path part of a request target what Envoy's
// connection manager does before routing when normalize_path is set, as it
// is on every listener Legate builds: percent-encoded unreserved characters
// (letters, digits, "-", ".", "_", "~") are decoded, so "%2e%2e" is a dot
// segment too, and then "." and ".." segments are removed (RFC 3986
// sections 6.2.2.2 and 5.2.4). Other escapes, "%2F" included, stay as they
// were written; the query is left alone.
func NormalizePath(target string) string {
	path, rest := target, ""
	if i := strings.IndexAny(target, "?#"); i >= 0 {
		path, rest = target[:i], target[i:]
	}
	path = decodeUnreserved(path)
	if !strings.Contains(path, "/.") {
		return path + rest
	}
	segs := strings.Split(path, "/")
	out := make([]string, 0, len(segs))
	for i, seg := range segs {
		last := i == len(segs)-1
		switch seg {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, seg)
		}
	}
	p := strings.Join(out, "/")
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p + rest
}

// decodeUnreserved replaces each percent-encoding of an unreserved
// character by the character itself.
func decodeUnreserved(path string) string {
	if !strings.Contains(path, "%") {
		return path
	}
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		if path[i] == '%' && i+2 < len(path) {
			if c, ok := unhex(path[i+1], path[i+2]); ok && isUnreserved(c) {
				b.WriteByte(c)
				i += 2
				continue
			}
		}
		b.WriteByte(path[i])
	}
	return b.String()
}

func unhex(hi, lo byte) (byte, bool) {
	h, ok1 := hexValue(hi)
	l, ok2 := hexValue(lo)
	return h<<4 | l, ok1 && ok2
}

func hexValue(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}
