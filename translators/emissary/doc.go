// Package emissary translates Emissary-ingress getambassador.io/v3alpha1
// resources into Legate's IR, so that existing Mappings keep routing as
// they did under Emissary.
//
// # Which resources are Legate's
//
// Options.AmbassadorID names the installation (default "default"). A
// resource belongs to it when its ambassador_id lists that ID or
// "_automatic_"; a resource without ambassador_id belongs to "default".
// Resources of other installations are ignored without a status.
//
// # Listeners, Hosts and where Mappings are served
//
// Listener: port, protocol (HTTP, HTTPS) or protocolStack ([HTTP, TCP],
// [TLS, HTTP, TCP]), securityModel (XFP, SECURE, INSECURE) and hostBinding
// (namespace SELF, the default, or ALL, and a label selector). A Listener on
// --http-port (HTTP) or --https-port (HTTPS) is the listener Ingress and
// Gateway routes share; others are listeners of their own. An HTTPS
// Listener serves TLS only (Emissary also takes cleartext on it). A TCP
// ([TCP]) or TLS ([TLS, TCP]) Listener is the listener of the TCPMappings
// of its port (see TCPMappings). The PROXY protocol and UDP are Errors;
// http2MaxConcurrentStreams is reported as not supported.
//
// l7Depth is the number of layer 7 proxies in front of the Listener that
// Envoy trusts: its connection manager's xff_num_trusted_hops, so the
// client address is read that many entries back in X-Forwarded-For, and
// the X-Forwarded-Proto those proxies set is kept. It takes precedence
// over the ambassador Module's xff_num_trusted_hops on that listener
// (Emissary 2 and later read only l7Depth; the Module's setting is
// Emissary 1's, which Legate keeps as the default for listeners whose
// l7Depth is 0 or unset). With securityModel XFP and trusted hops (from
// either), a request on a cleartext listener is secure when the proxy in
// front set X-Forwarded-Proto: https: it is routed as on HTTPS, while the
// others get the Host's insecure action; without trusted hops Envoy
// writes X-Forwarded-Proto from the connection itself, so every request
// on a cleartext listener is insecure. statsPrefix names the listener's
// statistics (the stat_prefix of its connection manager, or of the TCP
// proxy of a TCP or TLS Listener's TCPMappings): letters, digits, "_",
// "-" and "." between other characters, at most 128. Without it the
// listener's name is used (Emissary's default is "ingress_http",
// "ingress_https", "ingress_tls_<port>" or "ingress_tcp_<port>"; set
// statsPrefix to keep dashboards built on those). On the shared listeners
// the first source's prefix holds, as with the Module's settings. A
// negative l7Depth or an invalid statsPrefix is an Error on that field
// and is left out, the Listener still serving with the defaults; l7Depth
// on a TCP or TLS Listener has no effect (Warning). With no
// Listener at all, Emissary's documented defaults apply: HTTP on 8080 and
// HTTPS on 8443 (Legate's --http-port and --https-port), security model
// XFP, Hosts of every namespace.
//
// Host: hostname (a DNS glob, "*" by default; "host.example.*" is not
// supported), tlsSecret (TLS is terminated only with one), tlsContext or
// inline tls (not both) for min/max TLS version, cipher suites, ECDH
// curves, ALPN, and ca_secret with cert_required for client certificates;
// without either, a TLSContext whose hosts list the hostname applies. A
// TLSContext naming another secret than the tlsSecret is an Error, as
// Emissary disables TLS then. requestPolicy.insecure.action: Redirect (the
// default with TLS: 301 to https), Reject (400) or Route (the default
// without TLS); ACME challenges (/.well-known/acme-challenge/) are routed
// in cleartext anyway. additionalPort -1 serves no insecure requests, a
// port serves the insecure action there too. acmeProvider is reported as
// not supported (unless its authority is "none").
//
// A Mapping is served by every Host whose hostname overlaps its own and
// whose mappingSelector (if set) matches its labels, both required (the
// corrected semantics of Emissary 3.2), on every listener that binds the
// Host; a Host wider than the Mapping's hostname gets an ":authority"
// match narrowing the route. A Mapping no Host takes is not served
// (Warning). With no Host at all, Mappings are served on the cleartext
// listeners under their own hostname, as before Hosts: Emissary would make
// a "*" Host with a self-signed certificate that redirects to HTTPS;
// Legate makes up no certificate.
//
// TLSContext: used by Hosts (above), by TCPMappings whose host it lists
// (TLS termination), and by Mappings and TCPMappings that originate TLS;
// one nothing uses gets a Warning.
//
// Module: only the one named "ambassador" is read (the first by namespace
// and name; others get a Warning). Its circuit_breakers, load_balancer,
// retry_policy, cors, cluster_idle_timeout_ms and cluster_request_timeout_ms
// (as timeout_ms) apply to every Mapping that does not set them itself.
// regex_type: safe and merge_slashes: false are what Legate builds anyway
// and are accepted.
//
// The Module's connection settings hold, as in Emissary, for every HTTP
// and HTTPS listener of Emissary's (the shared listeners when no Listener
// names other ports), which then exists even with no Mapping on it: they
// become the listeners' ir.HTTPConnection and so also hold for the
// Ingresses and Gateways that share those listeners. With Emissary's
// defaults: server_name is the Server response header ("envoy");
// use_remote_address (true) takes the client address from the connection
// rather than X-Forwarded-For; xff_num_trusted_hops (0) is how many
// proxies in front are trusted in X-Forwarded-For (with
// use_remote_address false the client is the (N+1)th address from the
// right, with true the Nth); strip_matching_host_port (false) removes the
// port from Host when it is the listener's own, before routing and so
// also for the backend (Legate matches virtual hosts ignoring the port
// either way); listener_idle_timeout_ms (1 hour, Envoy's) closes a client
// connection with no request in flight, and 0 disables the timeout, as
// Emissary's reference says. A value of the wrong type or out of range is
// an Error on its own field (spec.config.<name>) and left out; the other
// settings and every route still apply. diagnostics is reported as not
// applied: Emissary's diagnostics routes (/ambassador/v0/diag/) are never
// served through Envoy's listeners, and Legate's own diagnostics are on
// its admin address whatever the Module says. Every other setting is
// reported by name as not supported.
//
// # TCPMappings
//
// A TCPMapping forwards the connections of its port (on address, or the
// listen address) to service; a service without a port gets 80, or 443
// when TLS is originated (tls set), as in Emissary. Without host the port
// is a TCP listener; TCPMappings of one port split its connections by
// weight as Mappings do (weighted ones get their weight, the others share
// the rest of 100). With host the port is a TLS listener that terminates
// TLS and forwards the decrypted bytes to the TCPMapping whose host is the
// ClientHello's server name; a server name no TCPMapping has fails the
// handshake. The certificate is found as Emissary documents it: the TLS of
// a Host with a tlsSecret whose hostname covers host (exact, else the
// longest "*." wildcard, else "*"), else a TLSContext whose hosts list
// host exactly (its secret, TLS versions, cipher suites, ALPN and
// ca_secret with cert_required); with neither, the TCPMapping is an Error
// and left out, as Emissary discards it. Without a Listener on the port,
// a TCPMapping without host there takes the connections no host matches,
// unopened. A TCP Listener ([TCP]) or TLS Listener ([TLS, TCP]) on the
// port must agree: a TCPMapping with host on a TCP Listener, or without
// one on a TLS Listener, is an Error (Emissary discards it); its
// statsPrefix names the TCP proxy's statistics. A TCPMapping on the port
// of an HTTP or HTTPS listener is an Error (Emissary can mix them on one
// port; Legate cannot yet). tls (a TLSContext) or an https:// service
// originates TLS to the service as for Mappings, independently of host;
// circuit_breakers and stats_name shape the cluster; idle_timeout_ms
// closes a connection with no bytes either way for that long (unset:
// Envoy's default, one hour, as Emissary leaves it; 0 turns the timeout
// off, as for Mappings; TCPMappings sharing a port and host take the
// first one's); resolver, cluster_tag, enable_ipv4/6 are not supported
// yet (Warning).
//
// Every Mapping field that is not implemented yet gives a Warning naming
// the field while the rest of the Mapping is still served; fields that
// cannot be ignored safely (envoy_override, an invalid regular expression,
// ...) leave the Mapping out with an Error.
//
// # Matching
//
//   - prefix is a plain string prefix ("/foo" matches "/foobar"); with
//     prefix_regex it is an RE2 expression matched against the whole path,
//     with prefix_exact the whole path. case_sensitive defaults to true.
//   - hostname is a DNS glob: exact, "*.suffix" or "*" (the default). Each
//     becomes a virtual host of that name, shared with the other
//     translators. The deprecated host is treated as hostname when it is a
//     valid DNS name, else as an exact ":authority" match; with host_regex
//     it is a regular expression on ":authority". hostname wins over host.
//     An exact ":authority" entry in headers counts as host, as in Emissary.
//   - headers / query_parameters are exact matches, regex_headers /
//     regex_query_parameters RE2 matches; method is exact, or RE2 with
//     method_regex.
//
// # Services and clusters
//
// service is "[scheme://]name[.namespace][:port]". The port defaults to 80
// (443 for https://). "name" is a Service in the Mapping's namespace,
// "name.namespace" (also "name.namespace.svc[.cluster.local]") a Service in
// that namespace when it exists; a name that is no Service of the inputs
// and whose namespace part is unknown is a DNS name (so "httpbin.org:80" is
// a DNS cluster), and an IP address a static one. A Service port is found by
// its port number; the cluster's endpoints come from the Service's
// EndpointSlices (the slice port of the same name), an ExternalName Service
// becomes a DNS cluster.
//
// Clusters are named "emissary/<namespace>/<service>/<port>",
// "emissary/dns/<name>/<port>" and "emissary/static/<ip>/<port>", with a
// suffix hashing the Mapping's cluster settings when they differ from the
// defaults: Emissary makes one cluster per service and settings too, so
// Mappings to one service with different settings get distinct clusters.
// The cluster settings are connect_timeout_ms (default 3000),
// cluster_idle_timeout_ms (default one hour, Envoy's; 0 turns it off),
// grpc (HTTP/2 to the service), load_balancer.policy (round_robin,
// least_request, ring_hash, maglev), circuit_breakers (per priority default
// or high; unset limits keep 1024 connections, pending and requests and 3
// retries), health_checks (timeout 3s, interval 5s, unhealthy_threshold 2,
// healthy_threshold 1 by default; http with path, hostname, headers and
// expected_statuses, 100-499 when unset as only 5xx fail; grpc with
// upstream_name and authority, which needs grpc: true), outlier_detection
// and stats_name. A distinct prefix keeps these clusters apart from the
// Ingress translator's.
//
// stats_name names the cluster in Envoy's statistics; by default it is the
// service as written with every character but letters and digits replaced
// by "_", as Emissary does.
//
// outlier_detection is a string in Emissary's CRD, with no documented
// format (Emissary does not apply it). Legate reads it as a YAML object
// with Envoy's field names: consecutive_5xx, consecutive_gateway_failure,
// interval, base_ejection_time (durations such as "10s") and
// max_ejection_percent.
//
// # Route settings
//
//   - load_balancer with ring_hash or maglev hashes one of cookie (name,
//     ttl: Envoy sets the cookie when the request has none, path), header
//     or source_ip: true (sticky sessions); with other policies they are
//     ignored (Warning), and setting more than one is an Error.
//   - idle_timeout_ms bounds the time a request may be idle; 0 turns it off.
//   - allow_upgrade lists protocols (e.g. websocket) a request may upgrade
//     to; the deprecated use_websocket: true means allow_upgrade: [websocket].
//   - regex_rewrite {pattern, substitution} rewrites the path; rewrite is then
//     ignored, as in Emissary.
//   - bypass_auth, auth_context_extensions, labels (rate limiting) and docs
//     configure services Legate does not run (AuthService, RateLimitService,
//     the developer portal): they are kept as route annotations, which the
//     diagnostics pages and Envoy's route metadata ("legate") show.
//
// TLS origination: an https:// service originates TLS without checking
// the service's certificate, as Emissary does; tls names a TLSContext (in
// the Mapping's namespace, else by a name unique across namespaces) whose
// secret is the client certificate, ca_secret the CA the service's
// certificate must chain to, sni the server name sent, alpn_protocols and
// min/max_tls_version the rest. A secret "name.namespace" is read from that
// namespace unless secret_namespacing is false.
//
// cors: origins, methods, headers, exposed_headers (lists, or
// comma-separated strings inside them), credentials, max_age (whole
// seconds).
//
// A Service or port that does not exist (yet), or TLS origination that
// cannot be set up (a TLSContext or Secret missing), gives a Warning; if
// no backend of the route is left, the route answers 503, never sending
// cleartext where TLS was asked for.
//
// # Canaries
//
// Mappings with the same hostname, match and precedence form a group that
// shares one route, as in Emissary. A group of one gets all the traffic.
// Otherwise each Mapping with a weight gets that percentage and the
// Mappings without one share what is left of 100 equally (rounded); weights
// over 100 in total are an Error for the group. If the weights add up to less
// than 100 and no Mapping is unweighted, Legate splits in proportion to the
// weights (Emissary would let the rest fall through to later routes) and
// warns. Mappings with shadow: true in a group mirror its traffic instead of
// taking a share. The route is named after the first Mapping of the group
// (by namespace and name) and uses that Mapping's rewrite, headers, timeout
// and retries; a Mapping whose settings differ gets a Warning. A Mapping with
// host_redirect in a group turns the group's route into that redirect.
//
// # Forwarding
//
//   - rewrite replaces the matched prefix, default "/" ("" turns it off); for
//     prefix_regex it replaces the whole path (as Envoy's prefix_rewrite does
//     on a regex route).
//   - host_rewrite sets the Host header; auto_host_rewrite sets it to the
//     upstream's hostname, the DNS name of an external service or of an
//     ExternalName Service (host_rewrite wins if both are set, with a
//     Warning); Kubernetes endpoints have no hostname, so Host stays.
//   - timeout_ms bounds each request, default 3000; 0 turns the timeout off.
//   - add_request_headers / add_response_headers: append defaults to true;
//     append: false replaces. Values with Envoy's %COMMAND% operators are
//     not supported yet (Warning, the header is left out).
//   - host_redirect answers with a redirect to the host (and port, scheme) of
//     service, code redirect_response_code (default 301); path_redirect and
//     prefix_redirect replace the path or the matched prefix; regex_redirect
//     {pattern, substitution} rewrites the path when neither is set.
//
// Routes are named "mapping/<namespace>/<name>" and ordered by the IR's
// shared rules, precedence first.
package emissary
