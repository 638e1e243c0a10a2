// Package ir is the intermediate representation shared by every Legate
// translator and by the xDS stage.
//
// Translators (Ingress, Gateway API, Emissary) each produce an ir.Config
// fragment; the translators package merges the fragments into one Config; the
// xds package turns that Config into Envoy resources. The IR knows neither
// Kubernetes nor Envoy: it speaks of listeners, virtual hosts, routes,
// clusters and secrets. It imports nothing of Legate's.
//
// Names are stable: every element is named after the object it came from,
// never after a list position that shifts when another object is added, so
// that an unrelated change does not rename (and so re-push) a resource.
package ir

import (
	"fmt"
	"time"
)

// Source says which object an IR element came from, so that an error found
// late (in validation, or by Envoy) can be reported on what a person wrote.
type Source struct {
	// Translator is the registry name of the translator ("ingress", ...).
	Translator string `json:"translator,omitempty"`
	Group      string `json:"group,omitempty"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	// Field is the path inside the object, e.g. "spec.rules[0].http.paths[1]".
	Field string `json:"field,omitempty"`
}

// String renders the source as Kind/namespace/name[:field].
func (s Source) String() string {
	out := s.Kind + "/"
	if s.Namespace != "" {
		out += s.Namespace + "/"
	}
	out += s.Name
	if s.Field != "" {
		out += ":" + s.Field
	}
	return out
}

// Config is everything one data-plane group (one fleet of Envoys) is given.
type Config struct {
	Listeners []*Listener `json:"listeners,omitempty"`
	Clusters  []*Cluster  `json:"clusters,omitempty"`
	Secrets   []*Secret   `json:"secrets,omitempty"`
}

// Protocol is what a Listener speaks to clients.
type Protocol string

const (
	ProtocolHTTP  Protocol = "HTTP"
	ProtocolHTTPS Protocol = "HTTPS"
	ProtocolTCP   Protocol = "TCP"
	ProtocolTLS   Protocol = "TLS"
	ProtocolUDP   Protocol = "UDP"
)

// Listener is one address and port Envoy accepts connections on.
type Listener struct {
	// Name is unique in a Config, e.g. "http-8080".
	Name     string   `json:"name"`
	Address  string   `json:"address"`
	Port     uint32   `json:"port"`
	Protocol Protocol `json:"protocol"`
	// VirtualHosts serve HTTP and HTTPS listeners. On an HTTPS listener each
	// VirtualHost with TLS gets its own filter chain selected by SNI (a "*"
	// virtual host's chain is the default one); virtual hosts without TLS
	// are not served there, since no certificate covers them.
	VirtualHosts []*VirtualHost `json:"virtualHosts,omitempty"`
	// TCPRoutes serve TCP listeners, and TLS listeners (matched by SNI).
	TCPRoutes []*TCPRoute `json:"tcpRoutes,omitempty"`
	// HTTPConnection, on an HTTP or HTTPS listener, changes how every
	// request it takes is handled, whatever its virtual host; nil keeps
	// Legate's defaults.
	HTTPConnection *HTTPConnection `json:"httpConnection,omitempty"`
	// StatPrefix names the listener's connection statistics (the
	// connection manager's or TCP proxy's stat_prefix, as in
	// "http.<prefix>.downstream_rq_total"); empty uses the listener's
	// Name. Like HTTPConnection it belongs to the whole listener: Merge
	// keeps the first fragment's and reports a later one that differs.
	StatPrefix string  `json:"statPrefix,omitempty"`
	Source     *Source `json:"source,omitempty"`
}

// HTTPConnection are the settings of an HTTP listener's connection
// handling (Envoy's HTTP connection manager) that are not per route. They
// belong to the listener, so every source sharing it gets them: Merge
// keeps the first fragment's and reports a later one that differs.
type HTTPConnection struct {
	// Source is the object the settings came from.
	Source Source `json:"source"`
	// ServerName is the value of the Server response header; empty keeps
	// Envoy's, "envoy".
	ServerName string `json:"serverName,omitempty"`
	// UseRemoteAddress says the client address is the peer's, as seen
	// on the connection, rather than one read from X-Forwarded-For; nil
	// keeps Legate's default, true (Envoy at the edge).
	UseRemoteAddress *bool `json:"useRemoteAddress,omitempty"`
	// XFFNumTrustedHops is the number of proxies in front of Envoy whose
	// X-Forwarded-For entries are trusted when finding the client address.
	XFFNumTrustedHops uint32 `json:"xffNumTrustedHops,omitempty"`
	// StripMatchingHostPort removes the port from the Host header before
	// routing when it is the listener's own port, so "a.example:8080"
	// matches the virtual host of "a.example".
	StripMatchingHostPort bool `json:"stripMatchingHostPort,omitempty"`
	// IdleTimeout closes a client connection with no request in flight
	// for this long; zero keeps Envoy's default (1h), a negative value
	// disables it.
	IdleTimeout time.Duration `json:"idleTimeout,omitempty"`
}

// VirtualHost is a set of hostnames and the routes that serve them.
type VirtualHost struct {
	// Name is unique within its Listener; by convention the first hostname.
	Name string `json:"name"`
	// Hostnames are exact ("foo.example.com"), suffix wildcards
	// ("*.example.com": any name ending in ".example.com") or "*" (any).
	Hostnames []string `json:"hostnames"`
	// Routes are in evaluation order: the first that matches wins.
	Routes []*Route `json:"routes,omitempty"`
	// TLS terminates TLS for these hostnames on an HTTPS listener.
	TLS *TLSConfig `json:"tls,omitempty"`
	// Group names what serves this virtual host's hostnames alike, e.g. the
	// Gateway listener that claims them. On an HTTPS listener a request
	// whose Host names another group's hostnames, arriving on this virtual
	// host's connection (chosen by server name), is misdirected: Envoy
	// answers 421. Virtual hosts without a group are each a group of
	// their own.
	Group string `json:"group,omitempty"`
}

// TLSConfig is how a listener terminates TLS for a virtual host.
type TLSConfig struct {
	// SecretNames are names of Secrets in Config.Secrets: one certificate
	// each (several allow e.g. RSA and ECDSA side by side).
	SecretNames []string `json:"secretNames"`
	// MinVersion and MaxVersion are "1.0", "1.1", "1.2" or "1.3"; empty
	// leaves Envoy's defaults (1.2 and 1.3).
	MinVersion string `json:"minVersion,omitempty"`
	MaxVersion string `json:"maxVersion,omitempty"`
	// CipherSuites (BoringSSL names) and ECDHCurves for TLS 1.0-1.2;
	// empty keeps Envoy's defaults.
	CipherSuites []string `json:"cipherSuites,omitempty"`
	ECDHCurves   []string `json:"ecdhCurves,omitempty"`
	// ClientCA names a Secret in Config.Secrets holding a CA bundle that
	// client certificates are checked against; with ClientCertRequired a
	// client without a valid certificate is refused.
	ClientCA           string `json:"clientCA,omitempty"`
	ClientCertRequired bool   `json:"clientCertRequired,omitempty"`
	// ALPN protocols offered, e.g. ["h2", "http/1.1"].
	ALPN []string `json:"alpn,omitempty"`
}

// Route is one match and what to do with the requests it matches.
type Route struct {
	// Name is stable and derived from the source object:
	// "<kind>/<namespace>/<name>/<rule>/<match>".
	Name   string `json:"name"`
	Source Source `json:"source"`
	// Precedence orders routes before any other rule (higher first); it is
	// Emissary's Mapping precedence, the GRPCRoute precedence (service,
	// method and header match sizes, which the path order cannot express)
	// on virtual hosts that serve only GRPCRoutes, and zero elsewhere.
	Precedence int32 `json:"precedence,omitempty"`
	Match      Match `json:"match"`

	// Exactly one action is set.
	Forward        *ForwardAction  `json:"forward,omitempty"`
	Redirect       *Redirect       `json:"redirect,omitempty"`
	DirectResponse *DirectResponse `json:"directResponse,omitempty"`

	Filters Filters `json:"filters,omitzero"`

	// MatchesNarrowerHosts says the route is a predicate on the request's
	// host (an Emissary Mapping) rather than a member of its virtual host
	// alone: it also serves requests for a narrower hostname that another
	// virtual host of its listener claims, which Envoy would otherwise send
	// only to that more specific virtual host. Merge copies it there.
	MatchesNarrowerHosts bool `json:"matchesNarrowerHosts,omitempty"`

	// Annotations are what the source says about the route that Envoy's
	// routing does not act on (documentation links, authentication and
	// rate limiting labels): kept so diagnostics can show them, and sent
	// to Envoy as route metadata.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// PathMatchType says how Match.Path.Value is compared with the request path.
type PathMatchType string

const (
	// PathExact matches the whole path.
	PathExact PathMatchType = "Exact"
	// PathPrefix is a plain string prefix: "/foo" matches "/foobar".
	PathPrefix PathMatchType = "Prefix"
	// PathSegmentPrefix matches whole path elements: "/foo" matches "/foo"
	// and "/foo/bar", not "/foobar" (Ingress Prefix, Gateway PathPrefix).
	PathSegmentPrefix PathMatchType = "SegmentPrefix"
	// PathRegex is an RE2 regular expression matched against the whole path.
	PathRegex PathMatchType = "RegularExpression"
)

// PathMatch matches the request path (without the query string).
type PathMatch struct {
	Type          PathMatchType `json:"type"`
	Value         string        `json:"value"`
	CaseSensitive *bool         `json:"caseSensitive,omitempty"` // nil: sensitive
}

// StringMatchType says how a header or query value is compared.
type StringMatchType string

const (
	MatchExact   StringMatchType = "Exact"
	MatchPrefix  StringMatchType = "Prefix"
	MatchRegex   StringMatchType = "RegularExpression"
	MatchPresent StringMatchType = "Present"
)

// HeaderMatch matches one request header.
type HeaderMatch struct {
	Name   string          `json:"name"`
	Type   StringMatchType `json:"type"`
	Value  string          `json:"value,omitempty"`
	Invert bool            `json:"invert,omitempty"`
}

// QueryMatch matches one query parameter.
type QueryMatch struct {
	Name  string          `json:"name"`
	Type  StringMatchType `json:"type"`
	Value string          `json:"value,omitempty"`
}

// Match is the conjunction of its parts.
type Match struct {
	Path        PathMatch     `json:"path"`
	Headers     []HeaderMatch `json:"headers,omitempty"`
	QueryParams []QueryMatch  `json:"queryParams,omitempty"`
	// Method, e.g. "GET"; empty matches any.
	Method string `json:"method,omitempty"`
}

// ForwardAction sends requests to one or more weighted backends.
type ForwardAction struct {
	Backends []WeightedBackend `json:"backends"`
	// InvalidBackendStatus is the HTTP status that answers the shares of
	// invalid backends (a WeightedBackend without Cluster): 500 when zero,
	// as Gateway API's HTTPRoute requires; or 503, which Envoy's local
	// reply to a gRPC request turns into grpc-status UNAVAILABLE, as
	// GRPCRoute requires.
	InvalidBackendStatus int `json:"invalidBackendStatus,omitempty"`
}

// WeightedBackend is one share of a ForwardAction.
type WeightedBackend struct {
	// Cluster names a Cluster in Config.Clusters. Empty marks the share of
	// an invalid backend (missing, not permitted): its requests are
	// answered with 500, as Gateway API requires, while the other shares
	// still flow.
	Cluster string `json:"cluster"`
	Weight  uint32 `json:"weight"`
	// RequestHeaders and ResponseHeaders change requests sent to, and
	// responses received from, this backend only (Gateway API's
	// backendRefs[].filters). They apply after the route's own header
	// changes. HTTP routes only.
	RequestHeaders  *HeaderModifier `json:"requestHeaders,omitempty"`
	ResponseHeaders *HeaderModifier `json:"responseHeaders,omitempty"`
}

// Redirect answers with an HTTP redirect. Unset fields keep the request's.
type Redirect struct {
	Scheme   string `json:"scheme,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	Port     uint32 `json:"port,omitempty"`
	// Path replaces the whole path; PrefixReplace replaces the matched prefix.
	Path          string `json:"path,omitempty"`
	PrefixReplace string `json:"prefixReplace,omitempty"`
	// Regex rewrites the path; not set together with Path or PrefixReplace.
	Regex *RegexSubstitution `json:"regex,omitempty"`
	// StatusCode is 301, 302, 303, 307 or 308; zero means 302.
	StatusCode int `json:"statusCode,omitempty"`
}

// DirectResponse answers without contacting a backend.
type DirectResponse struct {
	StatusCode int    `json:"statusCode"`
	Body       string `json:"body,omitempty"`
}

// Filters are changes made to requests and responses on their way through.
type Filters struct {
	RequestHeaders  *HeaderModifier `json:"requestHeaders,omitempty"`
	ResponseHeaders *HeaderModifier `json:"responseHeaders,omitempty"`
	Rewrite         *Rewrite        `json:"rewrite,omitempty"`
	Mirrors         []Mirror        `json:"mirrors,omitempty"`
	// Timeout bounds the whole request; zero keeps Envoy's default (15s),
	// a negative value disables it.
	Timeout time.Duration `json:"timeout,omitempty"`
	Retry   *Retry        `json:"retry,omitempty"`
	// IdleTimeout ends a request with no activity for this long; zero
	// keeps the default, a negative value disables it.
	IdleTimeout time.Duration `json:"idleTimeout,omitempty"`
	// HashPolicies say what a consistent-hash cluster hashes (sticky
	// sessions); without them such a cluster picks at random.
	HashPolicies []HashPolicy `json:"hashPolicies,omitempty"`
	// Upgrades are the protocols (e.g. "websocket") a request may switch
	// to with "Connection: Upgrade".
	Upgrades []string `json:"upgrades,omitempty"`
	// CORS answers preflight requests and adds the CORS response headers
	// for the origins it allows.
	CORS *CORS `json:"cors,omitempty"`
	// SessionPersistence pins a client to the endpoint that served it.
	SessionPersistence *SessionPersistence `json:"sessionPersistence,omitempty"`
}

// CORS is a Cross-Origin Resource Sharing policy.
//
// What is answered: a preflight request (OPTIONS with Origin and
// Access-Control-Request-Method) from an allowed origin gets 200 with
// Access-Control-Allow-Origin echoing the request's Origin, and
// Allow-Methods, Allow-Headers, Max-Age and Allow-Credentials from the
// policy; a preflight from any other origin gets 200 without CORS headers
// (it is not forwarded). An actual request from an allowed origin gets
// Allow-Origin (the Origin echoed), Allow-Credentials and Expose-Headers
// added to the response.
type CORS struct {
	// AllowOrigins are origins "<scheme>://<host>[:<port>]": exact, "*"
	// (any origin), or with a "*" in the host that matches any run of
	// characters, dots included, e.g. "https://*.example.com" matches
	// "https://a.b.example.com". An origin without a port also matches the
	// scheme's default port written out (":443" for https, ":80" for http).
	// Scheme and host compare case-insensitively. Empty allows no origin.
	AllowOrigins []string `json:"allowOrigins,omitempty"`
	// AllowMethods, e.g. "GET"; the single value "*" answers a preflight
	// with the method it asks for (so it is never a literal "*", which
	// browsers refuse with credentials).
	AllowMethods []string `json:"allowMethods,omitempty"`
	// AllowHeaders are request header names; the single value "*" answers a
	// preflight with the headers it asks for.
	AllowHeaders []string `json:"allowHeaders,omitempty"`
	// ExposeHeaders are response header names scripts may read.
	ExposeHeaders []string `json:"exposeHeaders,omitempty"`
	// MaxAge is how long a preflight answer may be cached (whole seconds);
	// zero leaves Access-Control-Max-Age out.
	MaxAge time.Duration `json:"maxAge,omitempty"`
	// AllowCredentials sends Access-Control-Allow-Credentials: true.
	AllowCredentials bool `json:"allowCredentials,omitempty"`
}

// SessionPersistenceType says where a session is remembered.
type SessionPersistenceType string

const (
	// SessionCookie: the endpoint is remembered in a cookie the proxy sets.
	SessionCookie SessionPersistenceType = "Cookie"
	// SessionHeader: the endpoint is remembered in a response header the
	// client sends back on later requests.
	SessionHeader SessionPersistenceType = "Header"
)

// SessionPersistence sends the requests of one session to the endpoint
// that served its first request, while that endpoint is healthy.
type SessionPersistence struct {
	Type SessionPersistenceType `json:"type"`
	// Name of the cookie or header.
	Name string `json:"name"`
	// TTL is the cookie's lifetime (Max-Age); zero makes a session cookie.
	TTL time.Duration `json:"ttl,omitempty"`
	// Path of the cookie; empty means "/".
	Path string `json:"path,omitempty"`
}

// HeaderModifier sets, appends and removes headers.
type HeaderModifier struct {
	Set    []Header `json:"set,omitempty"`
	Add    []Header `json:"add,omitempty"`
	Remove []string `json:"remove,omitempty"`
}

// Header is one header name and value.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// Format marks Value as an Envoy format string (%REQ(...)% and other
	// command operators, as Emissary allows); otherwise Value is literal
	// and a "%" in it means a percent sign.
	Format bool `json:"format,omitempty"`
}

// Rewrite changes the request before it is forwarded.
type Rewrite struct {
	Hostname string `json:"hostname,omitempty"`
	// AutoHostname sets the Host header to the hostname of the upstream
	// endpoint chosen (the DNS name of a DNS cluster); not with Hostname.
	AutoHostname bool `json:"autoHostname,omitempty"`
	// FullPath replaces the path; PrefixReplace replaces the matched prefix.
	FullPath      string `json:"fullPath,omitempty"`
	PrefixReplace string `json:"prefixReplace,omitempty"`
	// Regex rewrites the path; not set together with the two above.
	Regex *RegexSubstitution `json:"regex,omitempty"`
}

// Mirror sends a copy of a share of the requests to another cluster.
type Mirror struct {
	Cluster string `json:"cluster"`
	// Percent of requests mirrored, 0-100; 100 if zero.
	Percent float64 `json:"percent,omitempty"`
}

// Retry re-sends failed requests.
type Retry struct {
	On         []string      `json:"on,omitempty"` // Envoy retry_on values
	NumRetries uint32        `json:"numRetries,omitempty"`
	PerTry     time.Duration `json:"perTryTimeout,omitempty"`
	// StatusCodes are response codes (400-599) that are retried besides
	// what On names.
	StatusCodes []uint32 `json:"statusCodes,omitempty"`
	// Backoff is the least time waited before a retry; zero keeps Envoy's
	// default (25ms, growing exponentially).
	Backoff time.Duration `json:"backoff,omitempty"`
}

// TCPRoute forwards connections on a TCP or TLS listener.
type TCPRoute struct {
	Name   string `json:"name"`
	Source Source `json:"source"`
	// SNI hostnames for TLS passthrough; empty matches any.
	SNI      []string          `json:"sni,omitempty"`
	Backends []WeightedBackend `json:"backends"`
	// TLS, on a TLS listener only, terminates TLS with these certificates
	// and forwards the decrypted bytes; nil passes TLS through unopened.
	TLS *TLSConfig `json:"tls,omitempty"`
	// IdleTimeout closes a connection on which no bytes went either way
	// for this long; zero keeps Envoy's default (1h), a negative value
	// disables it. TCP and TLS listeners only.
	IdleTimeout time.Duration `json:"idleTimeout,omitempty"`
}

// ClusterKind says where a Cluster's endpoints come from.
type ClusterKind string

const (
	// ClusterEDS clusters get their Endpoints over EDS (Service endpoints).
	ClusterEDS ClusterKind = "EDS"
	// ClusterStatic clusters have fixed Endpoints.
	ClusterStatic ClusterKind = "Static"
	// ClusterDNS clusters resolve DNSName (ExternalName, hostnames).
	ClusterDNS ClusterKind = "DNS"
)

// UpstreamProtocol is what a cluster speaks to its endpoints.
type UpstreamProtocol string

const (
	UpstreamHTTP1 UpstreamProtocol = "HTTP/1.1"
	UpstreamHTTP2 UpstreamProtocol = "HTTP/2" // h2c, gRPC
)

// Cluster is a group of endpoints that routes forward to (a Backend).
type Cluster struct {
	// Name is unique in a Config and stable, e.g. "default/echo/80".
	Name   string      `json:"name"`
	Source Source      `json:"source"`
	Kind   ClusterKind `json:"kind"`
	// Endpoints of EDS and Static clusters, sorted.
	Endpoints []Endpoint `json:"endpoints,omitempty"`
	// EndpointsFrom, when set, promises that Endpoints are exactly
	// translators.ServiceEndpoints of that Service port's EndpointSlices,
	// and that nothing else in the translation depends on them: the
	// pipeline then recomputes Endpoints alone when only EndpointSlices
	// changed. A translator that derives endpoints any other way leaves it
	// nil (which makes every EndpointSlice change a full translation).
	EndpointsFrom *ServicePort `json:"-"`
	// DNSName and DNSPort for DNS clusters.
	DNSName        string           `json:"dnsName,omitempty"`
	DNSPort        uint32           `json:"dnsPort,omitempty"`
	Protocol       UpstreamProtocol `json:"protocol,omitempty"`
	ConnectTimeout time.Duration    `json:"connectTimeout,omitempty"`
	// IdleTimeout closes an upstream connection with no request for this
	// long; zero keeps Envoy's default (1h), a negative value disables it.
	IdleTimeout time.Duration `json:"idleTimeout,omitempty"`
	// LoadBalancer nil means round robin.
	LoadBalancer     *LoadBalancer     `json:"loadBalancer,omitempty"`
	CircuitBreakers  []CircuitBreaker  `json:"circuitBreakers,omitempty"`
	HealthChecks     []HealthCheck     `json:"healthChecks,omitempty"`
	OutlierDetection *OutlierDetection `json:"outlierDetection,omitempty"`
	// StatsName replaces the cluster's name in its statistics.
	StatsName string `json:"statsName,omitempty"`
	// TLS makes connections to the endpoints TLS (originated by Envoy).
	TLS *UpstreamTLS `json:"tls,omitempty"`
}

// ServicePort names the port of a Service by the port's name ("" for an
// unnamed port), as EndpointSlices name their ports.
type ServicePort struct {
	Namespace, Service, PortName string
}

// UpstreamTLS is how Envoy speaks TLS to a cluster's endpoints.
type UpstreamTLS struct {
	// SNI is the server name sent; empty sends none.
	SNI string `json:"sni,omitempty"`
	// CASecret names a Secret of Config.Secrets whose CA bundle the
	// endpoints' certificates must chain to. When it is empty and
	// WellKnownCA is false, certificates are not verified at all. It and
	// WellKnownCA exclude each other.
	CASecret string `json:"caSecret,omitempty"`
	// WellKnownCA verifies against the system's trust store of the machine
	// Envoy runs on.
	WellKnownCA bool `json:"wellKnownCA,omitempty"`
	// SubjectAltNames: the certificate must carry one of these DNS names
	// or URIs ("spiffe://...", told apart by "://"). DNS names compare as
	// Envoy compares them: a wildcard certificate name "*.example.com"
	// covers "a.example.com", and a name "*.example.com" here matches only
	// that wildcard certificate name. Empty: no check beyond the chain.
	// Needs CASecret or WellKnownCA (Envoy refuses SAN checks without a CA).
	SubjectAltNames []string `json:"subjectAltNames,omitempty"`
	// ClientCertSecret names a Secret of Config.Secrets with a certificate
	// and key Envoy presents to the endpoints (mutual TLS); optional.
	ClientCertSecret string `json:"clientCertSecret,omitempty"`
	// MinVersion and MaxVersion are "1.0", "1.1", "1.2" or "1.3"; empty
	// keeps Envoy's defaults (1.2 and 1.3).
	MinVersion string `json:"minVersion,omitempty"`
	MaxVersion string `json:"maxVersion,omitempty"`
	// ALPN protocols offered, e.g. ["h2"]; empty offers none.
	ALPN []string `json:"alpn,omitempty"`
}

// Endpoint is one address of a cluster.
type Endpoint struct {
	Address string `json:"address"`
	Port    uint32 `json:"port"`
	// Ready is false for endpoints that exist but must not get traffic.
	Ready bool `json:"ready"`
	// Weight is the endpoint's share of the cluster's traffic relative to
	// the others' (load balancing weight); zero counts as 1.
	Weight uint32 `json:"weight,omitempty"`
}

// Secret is TLS material, delivered to Envoy over SDS.
type Secret struct {
	// Name is unique in a Config, e.g. "default/tls-cert".
	Name   string `json:"name"`
	Source Source `json:"source"`
	// Certificate chain and private key, PEM.
	Certificate []byte `json:"-"`
	PrivateKey  []byte `json:"-"`
	// CA bundle, PEM, for validating peers.
	CA []byte `json:"-"`
}

// Error is one problem found in the IR, with where it came from.
type Error struct {
	Source  Source
	Element string // e.g. "route default/foo/0/0"
	Message string
}

func (e Error) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Source, e.Element, e.Message)
}
