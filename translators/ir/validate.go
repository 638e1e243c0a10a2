package ir

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Validate returns every problem in c, not just the first. A Config with no
// problems can be turned into Envoy resources that Envoy accepts (the xds
// stage validates its own output again, more deeply).
func (c *Config) Validate() []Error {
	var errs []Error
	secrets := map[string]bool{}
	secretByName := map[string]*Secret{}
	for _, s := range c.Secrets {
		if secrets[s.Name] {
			errs = append(errs, Error{s.Source, "secret " + s.Name, "duplicate secret name"})
		} else {
			secretByName[s.Name] = s
		}
		secrets[s.Name] = true
		for _, m := range validateSecret(s) {
			errs = append(errs, Error{s.Source, "secret " + s.Name, m})
		}
	}
	clusters := map[string]bool{}
	for _, cl := range c.Clusters {
		if clusters[cl.Name] {
			errs = append(errs, Error{cl.Source, "cluster " + cl.Name, "duplicate cluster name"})
		}
		clusters[cl.Name] = true
		for _, m := range validateCluster(cl, secretByName) {
			errs = append(errs, Error{cl.Source, "cluster " + cl.Name, m})
		}
	}
	listeners := map[string]bool{}
	ports := map[string]string{}
	for _, l := range c.Listeners {
		src := Source{}
		if l.Source != nil {
			src = *l.Source
		}
		el := "listener " + l.Name
		if listeners[l.Name] {
			errs = append(errs, Error{src, el, "duplicate listener name"})
		}
		listeners[l.Name] = true
		key := fmt.Sprintf("%s:%d/%s", l.Address, l.Port, udpOrTCP(l.Protocol))
		if other, ok := ports[key]; ok {
			errs = append(errs, Error{src, el, "address and port already used by listener " + other})
		}
		ports[key] = l.Name
		for _, m := range validateListener(l) {
			errs = append(errs, Error{src, el, m})
		}
		if l.StatPrefix != "" {
			if err := ValidateStatPrefix(l.StatPrefix); err != nil {
				errs = append(errs, Error{src, el, err.Error()})
			}
		}
		for _, m := range validateHTTPConnection(l) {
			errs = append(errs, Error{l.HTTPConnection.Source, el, m})
		}
		hosts := map[string]string{}
		vhosts := map[string]bool{}
		for _, vh := range l.VirtualHosts {
			vel := el + " virtual host " + vh.Name
			if vhosts[vh.Name] {
				errs = append(errs, Error{src, vel, "duplicate virtual host name"})
			}
			vhosts[vh.Name] = true
			for _, h := range vh.Hostnames {
				if other, ok := hosts[h]; ok {
					errs = append(errs, Error{src, vel, fmt.Sprintf("hostname %q already served by virtual host %s", h, other)})
				}
				hosts[h] = vh.Name
			}
			for _, m := range validateVirtualHost(vh, l.Protocol, secretByName) {
				errs = append(errs, Error{src, vel, m})
			}
			routes := map[string]bool{}
			for _, r := range vh.Routes {
				if routes[r.Name] {
					errs = append(errs, Error{r.Source, "route " + r.Name, "duplicate route name in virtual host " + vh.Name})
				}
				routes[r.Name] = true
				for _, m := range ValidateRoute(r, clusters) {
					errs = append(errs, Error{r.Source, "route " + r.Name, m})
				}
			}
		}
		sni := map[string]string{}
		for i, t := range l.TCPRoutes {
			msgs := append(validateTCPBackends(t.Backends, clusters), validateTCPRoute(l, i, t, sni)...)
			msgs = append(msgs, validateTCPRouteTLS(l, t, secretByName)...)
			for _, m := range msgs {
				errs = append(errs, Error{t.Source, "tcp route " + t.Name, m})
			}
		}
	}
	return errs
}

// validateTCPRoute checks what a listener can serve: one route on a TCP or
// UDP listener (nothing tells connections apart there), one backend for UDP,
// and SNI names that no earlier route of a TLS listener claimed (sni).
func validateTCPRoute(l *Listener, i int, t *TCPRoute, sni map[string]string) []string {
	var errs []string
	if p := invalidUTF8(t); p != "" {
		errs = append(errs, fmt.Sprintf("%s is not valid UTF-8", p))
	}
	switch l.Protocol {
	case ProtocolTCP, ProtocolUDP:
		if i > 0 {
			errs = append(errs, fmt.Sprintf("a %s listener serves one route; %s is served", l.Protocol, l.TCPRoutes[0].Name))
		}
		if n := weighted(t.Backends); l.Protocol == ProtocolUDP && n > 1 {
			errs = append(errs, fmt.Sprintf("a UDP route forwards to one backend with weight, has %d", n))
		}
	case ProtocolTLS:
		names := t.SNI
		if len(names) == 0 {
			names = []string{"*"}
		}
		for _, n := range names {
			if other, ok := sni[n]; ok {
				errs = append(errs, fmt.Sprintf("server name %q already served by tcp route %s", n, other))
			}
		}
		if len(errs) == 0 {
			for _, n := range names {
				sni[n] = t.Name
			}
		}
	}
	return errs
}

// validateTCPRouteTLS checks a TCP route that terminates TLS: only on a
// TLS listener, with at least one certificate, each a Secret of the Config,
// and TLS parameters as a virtual host's.
func validateTCPRouteTLS(l *Listener, t *TCPRoute, secrets map[string]*Secret) []string {
	if t.TLS == nil {
		return nil
	}
	var errs []string
	if l.Protocol != ProtocolTLS {
		errs = append(errs, "only a route of a TLS listener can terminate TLS")
	}
	if len(t.TLS.SecretNames) == 0 {
		errs = append(errs, "TLS termination needs a certificate")
	}
	for _, n := range t.TLS.SecretNames {
		if secrets[n] == nil {
			errs = append(errs, fmt.Sprintf("secret %q does not exist", n))
		}
	}
	return append(errs, validateTLSParams(t.TLS, secrets)...)
}

func weighted(bs []WeightedBackend) int {
	n := 0
	for _, b := range bs {
		if b.Weight > 0 {
			n++
		}
	}
	return n
}

func udpOrTCP(p Protocol) string {
	if p == ProtocolUDP {
		return "udp"
	}
	return "tcp"
}

func validateListener(l *Listener) []string {
	var errs []string
	if l.Name == "" {
		errs = append(errs, "name is empty")
	}
	if _, err := netip.ParseAddr(l.Address); err != nil {
		errs = append(errs, fmt.Sprintf("address %q is not an IP address", l.Address))
	}
	if l.Port == 0 || l.Port > 65535 {
		errs = append(errs, fmt.Sprintf("port %d is out of range", l.Port))
	}
	switch l.Protocol {
	case ProtocolHTTP, ProtocolHTTPS:
		if len(l.TCPRoutes) > 0 {
			errs = append(errs, "an HTTP listener cannot carry TCP routes")
		}
	case ProtocolTCP, ProtocolTLS, ProtocolUDP:
		if len(l.VirtualHosts) > 0 {
			errs = append(errs, "a "+string(l.Protocol)+" listener cannot carry virtual hosts")
		}
	default:
		errs = append(errs, fmt.Sprintf("unknown protocol %q", l.Protocol))
	}
	return errs
}

// validateHTTPConnection checks l's connection settings, if any.
func validateHTTPConnection(l *Listener) []string {
	hc := l.HTTPConnection
	if hc == nil {
		return nil
	}
	var errs []string
	if l.Protocol != ProtocolHTTP && l.Protocol != ProtocolHTTPS {
		errs = append(errs, "a "+string(l.Protocol)+" listener has no HTTP connection settings")
	}
	if err := ValidateServerName(hc.ServerName); err != nil {
		errs = append(errs, err.Error())
	}
	return errs
}

// ValidateStatPrefix checks a listener's statistics prefix: 1 to 128
// letters, digits, "_", "-" and ".", with dots only between other
// characters. A dot splits Envoy's statistic names into levels, so an
// empty level ("a..b", a leading or trailing dot) would make names that
// statistics sinks and tag extraction misread; other characters (":" in
// particular, which Envoy rewrites to "_") are refused rather than
// silently changed.
func ValidateStatPrefix(p string) error {
	if p == "" || len(p) > 128 {
		return fmt.Errorf("stat prefix %q must be 1 to 128 characters long", p)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		case c == '.':
			if i == 0 || i == len(p)-1 || p[i-1] == '.' {
				return fmt.Errorf("stat prefix %q has an empty level: a dot must sit between other characters", p)
			}
		default:
			return fmt.Errorf("stat prefix %q contains %q: use letters, digits, \"_\", \"-\" and \".\"", p, string(rune(c)))
		}
	}
	return nil
}

// ValidateServerName checks a Server header value: printable, with no
// control characters (which Envoy refuses in a header value), and not
// longer than a header line should be.
func ValidateServerName(v string) error {
	if len(v) > 1024 {
		return fmt.Errorf("server name is %d bytes long, more than 1024", len(v))
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("server name is not valid UTF-8")
	}
	for _, c := range v {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return fmt.Errorf("server name %q contains a control character", v)
		}
	}
	return nil
}

func validateVirtualHost(vh *VirtualHost, p Protocol, secrets map[string]*Secret) []string {
	var errs []string
	if vh.Name == "" {
		errs = append(errs, "name is empty")
	}
	if !utf8.ValidString(vh.Name) {
		errs = append(errs, "name is not valid UTF-8")
	}
	if len(vh.Hostnames) == 0 {
		errs = append(errs, "no hostnames")
	}
	for _, h := range vh.Hostnames {
		if err := ValidateHostname(h); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if vh.TLS != nil {
		if p != ProtocolHTTPS {
			errs = append(errs, "TLS set on a virtual host of a "+string(p)+" listener")
		}
		if len(vh.TLS.SecretNames) == 0 {
			errs = append(errs, "TLS has no certificate")
		}
		for _, s := range vh.TLS.SecretNames {
			if secrets[s] == nil {
				errs = append(errs, fmt.Sprintf("TLS secret %q does not exist", s))
			}
		}
		errs = append(errs, validateTLSParams(vh.TLS, secrets)...)
	}
	return errs
}

// dnsLabel reports whether s is a DNS label as ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$
// describes it, of at most 63 characters. (Checked by hand: every virtual
// host's names are checked every run, and a regular expression and a
// split made that a visible part of it.)
func dnsLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ValidateHostname accepts "*", "*.suffix" wildcards and lower-case DNS names.
func ValidateHostname(h string) error {
	if h == "*" {
		return nil
	}
	name := strings.TrimPrefix(h, "*.")
	if name == "" || len(name) > 253 {
		return fmt.Errorf("hostname %q is not a valid DNS name", h)
	}
	for rest := name; ; {
		label, after, more := strings.Cut(rest, ".")
		if !dnsLabel(label) {
			return fmt.Errorf("hostname %q is not a valid DNS name", h)
		}
		if !more {
			return nil
		}
		rest = after
	}
}

// ValidateRoute returns the problems of one route; clusters holds the names
// of the clusters that exist.
func ValidateRoute(r *Route, clusters map[string]bool) []string {
	var errs []string
	if r.Name == "" {
		errs = append(errs, "name is empty")
	}
	errs = append(errs, validateMatch(r.Match)...)
	actions := 0
	if r.Forward != nil {
		actions++
		errs = append(errs, validateBackends(r.Forward.Backends, clusters)...)
		if c := r.Forward.InvalidBackendStatus; c != 0 && c != 500 && c != 503 {
			errs = append(errs, fmt.Sprintf("invalid backend status %d is not 500 or 503", c))
		}
	}
	if r.Redirect != nil {
		actions++
		errs = append(errs, validateRedirect(r.Redirect)...)
	}
	if r.DirectResponse != nil {
		actions++
		if c := r.DirectResponse.StatusCode; c < 200 || c > 599 {
			errs = append(errs, fmt.Sprintf("direct response status %d is not in 200-599", c))
		}
	}
	if actions != 1 {
		errs = append(errs, fmt.Sprintf("a route needs exactly one action, has %d", actions))
	}
	errs = append(errs, validateFilters(r, clusters)...)
	if p := invalidUTF8(r); p != "" {
		errs = append(errs, fmt.Sprintf("%s is not valid UTF-8", p))
	}
	return errs
}

func validateMatch(m Match) []string {
	var errs []string
	p := m.Path
	switch p.Type {
	case PathExact, PathPrefix, PathSegmentPrefix:
		if !strings.HasPrefix(p.Value, "/") {
			errs = append(errs, fmt.Sprintf("path %q must start with /", p.Value))
		}
		if strings.ContainsAny(p.Value, "?#\x00\r\n") {
			errs = append(errs, fmt.Sprintf("path %q contains a character not allowed in a path", p.Value))
		}
	case PathRegex:
		if err := ValidateRegex(p.Value); err != nil {
			errs = append(errs, "path: "+err.Error())
		}
	default:
		errs = append(errs, fmt.Sprintf("unknown path match type %q", p.Type))
	}
	for _, h := range m.Headers {
		if !validHeaderName(h.Name) {
			errs = append(errs, fmt.Sprintf("header name %q is not valid", h.Name))
		}
		errs = append(errs, validateStringMatch("header "+h.Name, h.Type, h.Value)...)
	}
	for _, q := range m.QueryParams {
		if q.Name == "" {
			errs = append(errs, "query parameter name is empty")
		}
		errs = append(errs, validateStringMatch("query parameter "+q.Name, q.Type, q.Value)...)
	}
	if m.Method != "" && !validToken(m.Method) {
		errs = append(errs, fmt.Sprintf("method %q is not a valid token", m.Method))
	}
	return errs
}

func validateStringMatch(what string, t StringMatchType, v string) []string {
	switch t {
	case MatchExact, MatchPrefix, MatchPresent:
		if strings.ContainsAny(v, "\x00\r\n") {
			return []string{what + ": value contains a control character"}
		}
		if t == MatchPrefix && v == "" {
			return []string{what + ": prefix is empty"}
		}
	case MatchRegex:
		if err := ValidateRegex(v); err != nil {
			return []string{what + ": " + err.Error()}
		}
	default:
		return []string{fmt.Sprintf("%s: unknown match type %q", what, t)}
	}
	return nil
}

// ValidateRegex accepts non-empty RE2 regular expressions (Go's regexp
// syntax is RE2's), the dialect Envoy's safe_regex uses.
func ValidateRegex(re string) error {
	if re == "" {
		return fmt.Errorf("regular expression is empty")
	}
	if _, err := regexp.Compile(re); err != nil {
		return fmt.Errorf("regular expression %q does not compile: %v", re, err)
	}
	return nil
}

func validHeaderName(n string) bool {
	return validToken(strings.TrimPrefix(n, ":"))
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

// validateBackends checks the backends of an HTTP route; TCP routes use
// validateTCPBackends, which has no unavailable (empty) share.
func validateBackends(bs []WeightedBackend, clusters map[string]bool) []string {
	var errs []string
	if len(bs) == 0 {
		return []string{"no backends"}
	}
	total := uint64(0)
	for _, b := range bs {
		if b.Cluster != "" && !clusters[b.Cluster] {
			errs = append(errs, fmt.Sprintf("backend cluster %q does not exist", b.Cluster))
		}
		total += uint64(b.Weight)
	}
	if total == 0 {
		errs = append(errs, "every backend weight is zero")
	}
	if total > 1<<32-1 {
		errs = append(errs, "backend weights add up to more than 2^32-1")
	}
	return errs
}

func validateTCPBackends(bs []WeightedBackend, clusters map[string]bool) []string {
	errs := validateBackends(bs, clusters)
	for _, b := range bs {
		if b.Cluster == "" {
			errs = append(errs, "a TCP backend needs a cluster")
		}
	}
	return errs
}

func validateRedirect(r *Redirect) []string {
	var errs []string
	switch r.StatusCode {
	case 0, 301, 302, 303, 307, 308:
	default:
		errs = append(errs, fmt.Sprintf("redirect status %d is not one of 301, 302, 303, 307, 308", r.StatusCode))
	}
	if r.Scheme != "" && r.Scheme != "http" && r.Scheme != "https" {
		errs = append(errs, fmt.Sprintf("redirect scheme %q is not http or https", r.Scheme))
	}
	if r.Hostname != "" && strings.ContainsAny(r.Hostname, "/?#@ \x00\r\n") {
		errs = append(errs, fmt.Sprintf("redirect hostname %q is not valid", r.Hostname))
	}
	if r.Port > 65535 {
		errs = append(errs, fmt.Sprintf("redirect port %d is out of range", r.Port))
	}
	if r.Path != "" && r.PrefixReplace != "" {
		errs = append(errs, "redirect sets both path and prefix replacement")
	}
	for _, p := range []string{r.Path, r.PrefixReplace} {
		if p != "" && (!strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\x00\r\n")) {
			errs = append(errs, fmt.Sprintf("redirect path %q is not valid", p))
		}
	}
	return errs
}

func validateFilters(r *Route, clusters map[string]bool) []string {
	var errs []string
	f := r.Filters
	for _, hm := range []*HeaderModifier{f.RequestHeaders, f.ResponseHeaders} {
		errs = append(errs, validateHeaderModifier(hm)...)
	}
	if rw := f.Rewrite; rw != nil {
		if rw.FullPath != "" && rw.PrefixReplace != "" {
			errs = append(errs, "rewrite sets both full path and prefix replacement")
		}
		if rw.FullPath != "" && !strings.HasPrefix(rw.FullPath, "/") {
			errs = append(errs, fmt.Sprintf("rewrite path %q must start with /", rw.FullPath))
		}
		if rw.PrefixReplace != "" && r.Match.Path.Type == PathRegex {
			errs = append(errs, "prefix rewrite needs a prefix or exact path match")
		}
		if rw.Hostname != "" && rw.AutoHostname {
			errs = append(errs, "rewrite sets both a hostname and the upstream's hostname")
		}
		if rw.Hostname != "" && strings.ContainsAny(rw.Hostname, "/?#@ \x00\r\n") {
			errs = append(errs, fmt.Sprintf("rewrite hostname %q is not valid", rw.Hostname))
		}
	}
	for _, m := range f.Mirrors {
		if !clusters[m.Cluster] {
			errs = append(errs, fmt.Sprintf("mirror cluster %q does not exist", m.Cluster))
		}
		if m.Percent < 0 || m.Percent > 100 {
			errs = append(errs, fmt.Sprintf("mirror percent %v is not in 0-100", m.Percent))
		}
	}
	if rt := f.Retry; rt != nil {
		if rt.PerTry < 0 {
			errs = append(errs, "retry per-try timeout is negative")
		}
		if rt.Backoff < 0 {
			errs = append(errs, "retry backoff is negative")
		}
		for _, c := range rt.StatusCodes {
			if c < 100 || c > 599 {
				errs = append(errs, fmt.Sprintf("retry status code %d is not in 100-599", c))
			}
		}
		for _, on := range rt.On {
			if !validToken(on) {
				errs = append(errs, fmt.Sprintf("retry condition %q is not valid", on))
			}
		}
	}
	if r.Forward != nil {
		for _, b := range r.Forward.Backends {
			for _, hm := range []*HeaderModifier{b.RequestHeaders, b.ResponseHeaders} {
				for _, m := range validateHeaderModifier(hm) {
					errs = append(errs, fmt.Sprintf("backend %q: %s", b.Cluster, m))
				}
			}
		}
	}
	if f.CORS != nil {
		errs = append(errs, validateCORS(f.CORS)...)
	}
	if sp := f.SessionPersistence; sp != nil {
		errs = append(errs, validateSessionPersistence(sp)...)
	}
	errs = append(errs, validateRoutePolicies(r)...)
	return errs
}

// corsOrigin is what an origin of CORS.AllowOrigins may look like: "*", or
// a scheme, a host (DNS labels, where "*" may stand for any run of
// characters) and an optional port.
var corsOrigin = regexp.MustCompile(`^(\*|[a-zA-Z][a-zA-Z0-9+.-]*://[a-zA-Z0-9*]([-a-zA-Z0-9.*]*[a-zA-Z0-9*])?(:[0-9]{1,5})?)$`)

// ValidateCORSOrigin reports whether o may be one of CORS.AllowOrigins.
func ValidateCORSOrigin(o string) error {
	if !corsOrigin.MatchString(o) {
		return fmt.Errorf("CORS origin %q is not \"*\" nor <scheme>://<host>[:<port>]", o)
	}
	if i := strings.LastIndex(o, ":"); i > strings.Index(o, "://") && o != "*" {
		var port int
		if _, err := fmt.Sscanf(o[i+1:], "%d", &port); err != nil || port < 1 || port > 65535 {
			return fmt.Errorf("CORS origin %q has a port out of range", o)
		}
	}
	return nil
}

func validateCORS(c *CORS) []string {
	var errs []string
	for _, o := range c.AllowOrigins {
		if err := ValidateCORSOrigin(o); err != nil {
			errs = append(errs, err.Error())
		}
	}
	for _, list := range []struct {
		what   string
		values []string
	}{{"method", c.AllowMethods}, {"allowed header", c.AllowHeaders}, {"exposed header", c.ExposeHeaders}} {
		for _, v := range list.values {
			if v == "*" {
				if len(list.values) > 1 {
					errs = append(errs, fmt.Sprintf("CORS %s \"*\" must be the only one", list.what))
				}
				continue
			}
			if !validToken(v) {
				errs = append(errs, fmt.Sprintf("CORS %s %q is not a valid token", list.what, v))
			}
		}
	}
	if c.MaxAge < 0 {
		errs = append(errs, "CORS max age is negative")
	} else if c.MaxAge%time.Second != 0 {
		errs = append(errs, fmt.Sprintf("CORS max age %s is not a whole number of seconds", c.MaxAge))
	}
	return errs
}

// validateSessionPersistence checks the name is a token (RFC 6265's
// cookie-name, and a header name) and the cookie path.
func validateSessionPersistence(sp *SessionPersistence) []string {
	var errs []string
	switch sp.Type {
	case SessionCookie:
		if sp.Path != "" && (!strings.HasPrefix(sp.Path, "/") || strings.ContainsAny(sp.Path, ";\x00\r\n ")) {
			errs = append(errs, fmt.Sprintf("session cookie path %q is not valid", sp.Path))
		}
	case SessionHeader:
		if sp.TTL != 0 || sp.Path != "" {
			errs = append(errs, "a header session has no TTL or path")
		}
	default:
		errs = append(errs, fmt.Sprintf("unknown session persistence type %q", sp.Type))
	}
	if !validToken(sp.Name) {
		errs = append(errs, fmt.Sprintf("session %s name %q is not a valid token", strings.ToLower(string(sp.Type)), sp.Name))
	}
	if sp.TTL < 0 {
		errs = append(errs, "session TTL is negative")
	}
	return errs
}

// validateCluster checks c; secrets are the Config's secrets by name, which
// upstream TLS refers to.
func validateCluster(c *Cluster, secrets map[string]*Secret) []string {
	var errs []string
	if c.Name == "" {
		errs = append(errs, "name is empty")
	}
	if p := invalidUTF8(c); p != "" {
		errs = append(errs, fmt.Sprintf("%s is not valid UTF-8", p))
	}
	switch c.Kind {
	case ClusterEDS, ClusterStatic:
		// Envoy refuses a locality whose endpoint weights add up to more
		// than 2^32-1.
		total := uint64(0)
		for _, e := range c.Endpoints {
			total += uint64(max(e.Weight, 1))
		}
		if total > 1<<32-1 {
			errs = append(errs, "endpoint weights add up to more than 2^32-1")
		}
		for _, e := range c.Endpoints {
			if _, err := netip.ParseAddr(e.Address); err != nil {
				errs = append(errs, fmt.Sprintf("endpoint address %q is not an IP address", e.Address))
			}
			if e.Port == 0 || e.Port > 65535 {
				errs = append(errs, fmt.Sprintf("endpoint port %d is out of range", e.Port))
			}
		}
	case ClusterDNS:
		if err := ValidateHostname(strings.TrimSuffix(c.DNSName, ".")); err != nil || strings.HasPrefix(c.DNSName, "*") {
			errs = append(errs, fmt.Sprintf("DNS name %q is not valid", c.DNSName))
		}
		if c.DNSPort == 0 || c.DNSPort > 65535 {
			errs = append(errs, fmt.Sprintf("DNS port %d is out of range", c.DNSPort))
		}
	default:
		errs = append(errs, fmt.Sprintf("unknown cluster kind %q", c.Kind))
	}
	switch c.Protocol {
	case "", UpstreamHTTP1, UpstreamHTTP2:
	default:
		errs = append(errs, fmt.Sprintf("unknown upstream protocol %q", c.Protocol))
	}
	if c.ConnectTimeout < 0 {
		errs = append(errs, "connect timeout is negative")
	}
	errs = append(errs, validateClusterPolicies(c)...)
	if c.TLS != nil {
		errs = append(errs, validateUpstreamTLS(c.TLS, secrets)...)
	}
	return errs
}

var tlsVersions = map[string]int{"": 0, "1.0": 1, "1.1": 2, "1.2": 3, "1.3": 4}

func validateUpstreamTLS(t *UpstreamTLS, secrets map[string]*Secret) []string {
	var errs []string
	if t.SNI != "" {
		if err := ValidateHostname(t.SNI); err != nil || strings.Contains(t.SNI, "*") {
			errs = append(errs, fmt.Sprintf("upstream TLS server name %q is not a valid DNS name", t.SNI))
		}
	}
	if t.CASecret != "" {
		if t.WellKnownCA {
			errs = append(errs, "upstream TLS names both a CA secret and the well-known CAs")
		}
		if s, ok := secrets[t.CASecret]; !ok {
			errs = append(errs, fmt.Sprintf("upstream TLS CA secret %q does not exist", t.CASecret))
		} else if len(s.CA) == 0 || len(s.Certificate) > 0 {
			// An SDS secret is either a certificate or a validation
			// context: one holding both is served as the certificate.
			errs = append(errs, fmt.Sprintf("upstream TLS CA secret %q must hold a CA bundle and no certificate", t.CASecret))
		}
	}
	if t.ClientCertSecret != "" {
		if s, ok := secrets[t.ClientCertSecret]; !ok {
			errs = append(errs, fmt.Sprintf("upstream TLS client certificate secret %q does not exist", t.ClientCertSecret))
		} else if len(s.Certificate) == 0 {
			errs = append(errs, fmt.Sprintf("upstream TLS client certificate secret %q holds no certificate", t.ClientCertSecret))
		}
	}
	if len(t.SubjectAltNames) > 0 && t.CASecret == "" && !t.WellKnownCA {
		errs = append(errs, "upstream TLS checks subject alternative names without verifying the certificate chain")
	}
	for _, san := range t.SubjectAltNames {
		if san == "" || strings.ContainsAny(san, " \x00\r\n") {
			errs = append(errs, fmt.Sprintf("upstream TLS subject alternative name %q is not valid", san))
		}
	}
	minV, okMin := tlsVersions[t.MinVersion]
	maxV, okMax := tlsVersions[t.MaxVersion]
	if !okMin {
		errs = append(errs, fmt.Sprintf("upstream TLS minimum version %q is not one of 1.0, 1.1, 1.2, 1.3", t.MinVersion))
	}
	if !okMax {
		errs = append(errs, fmt.Sprintf("upstream TLS maximum version %q is not one of 1.0, 1.1, 1.2, 1.3", t.MaxVersion))
	}
	if okMin && okMax && minV > 0 && maxV > 0 && minV > maxV {
		errs = append(errs, fmt.Sprintf("upstream TLS minimum version %s is above the maximum %s", t.MinVersion, t.MaxVersion))
	}
	for _, p := range t.ALPN {
		if p == "" || len(p) > 255 {
			errs = append(errs, fmt.Sprintf("upstream TLS ALPN protocol %q is not valid", p))
		}
	}
	return errs
}

func validateSecret(s *Secret) []string {
	var errs []string
	if s.Name == "" {
		errs = append(errs, "name is empty")
	}
	if len(s.Certificate) == 0 && len(s.CA) == 0 {
		errs = append(errs, "neither a certificate nor a CA bundle")
	}
	if len(s.Certificate) > 0 && len(s.PrivateKey) == 0 {
		errs = append(errs, "certificate without a private key")
	}
	return errs
}
