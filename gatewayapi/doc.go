// Package gatewayapi translates Gateway API (gateway.networking.k8s.io/v1)
// objects into Legate's IR, with the status the spec asks for.
//
// It reads GatewayClass, Gateway (HTTP, HTTPS, TLS, TCP and UDP
// listeners), HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, UDPRoute,
// ReferenceGrant and BackendTLSPolicy (with the ConfigMaps and Secrets its
// CA references name; see backendtls.go). The features Legate
// implements are listed once, in SupportedFeatures, which every
// GatewayClass of Legate's shows in status.supportedFeatures.
//
// # Which objects are Legate's
//
// A GatewayClass is Legate's when spec.controllerName is ControllerName. It
// is accepted unless it sets parametersRef (Legate takes no parameters:
// InvalidParameters). A Gateway is Legate's when its class is; a route is
// reported on for each parentRef naming such a Gateway. A route that names
// none any more, but whose status still holds entries of Legate's
// controller, is reported with no parents: the status writer then removes
// Legate's entries and keeps other controllers'. A parentRef to a
// missing Gateway, a Gateway of another controller, or of a class that is
// not accepted gets no status entry from Legate: it cannot know that the
// parent is its own, and writing one would fight the owner.
//
// # Gateways and Envoy listeners
//
// All Gateways of Legate's classes are translated into one IR Config, the
// one data-plane group Legate publishes to (the Envoys whose node.cluster
// is `legate serve --node-cluster`): every Envoy of that fleet serves every
// Gateway. Isolation between Gateways comes from the Envoy listeners, not
// from node groups: each port of a Gateway with programmed listeners
// becomes one IR listener of its own, named
// "gateway-<namespace>-<name>-<port>" (see ListenerName), so no two
// Gateways ever share an Envoy listener, and a route attached to one
// Gateway is never reachable through another. The one exception is the
// shared HTTP listener, which one Gateway at a time may join (see
// "Joining the shared HTTP listener").
//
// Where a Gateway's listeners bind depends on Settings.GatewayAddressPool
// (`--gateway-address-pool`):
//
//   - Without a pool, every Gateway binds Settings.ListenAddress, so two
//     Gateways cannot use the same port. The oldest Gateway (creation
//     timestamp, then namespace/name) keeps the port; the younger one's
//     listeners on it are not accepted (PortUnavailable) and, if none is
//     left, the Gateway is not programmed. spec.addresses must name
//     addresses of Settings.StatusAddresses (AddressNotUsable otherwise;
//     types other than IPAddress and Hostname are UnsupportedAddress), and
//     status.addresses are Settings.StatusAddresses (IPAddress for IPs,
//     Hostname otherwise).
//   - With a pool, every Gateway has an IP address of its own, which its
//     Envoy listeners bind and status.addresses reports (type IPAddress);
//     Gateways may then all use the same ports. An IPAddress entry of
//     spec.addresses is honoured when it lies in the pool and no older
//     Gateway holds it (AddressNotUsable otherwise; an entry with no value
//     asks for any address). A Gateway binds one address: a second distinct
//     one is AddressNotUsable, and Hostname (or any other type) is
//     UnsupportedAddress. A Gateway that names no address gets the one at
//     the FNV-1a hash of "<namespace>/<name>" in the pool, or, if an older
//     Gateway holds that, the next free one after it. Gateways are given
//     addresses oldest first, so a new Gateway never moves an existing one,
//     and the same Gateways always get the same addresses. In an IPv4 pool
//     of four or more addresses the first and last are not handed out
//     (network and broadcast). A full pool is AddressNotUsable.
//
// The ports of the shared Ingress listeners (Settings.HTTPPort and
// HTTPSPort) are not available to a Gateway that binds
// Settings.ListenAddress, or any Gateway when that is a wildcard address
// (0.0.0.0 or ::), since the kernel would refuse the second bind, with one
// exception: an HTTP listener joins the shared HTTP listener (below).
//
// # Joining the shared HTTP listener
//
// Ingresses and Emissary Mappings share Legate's shared listeners. A
// Gateway of Legate's class whose listeners bind exactly
// Settings.ListenAddress (no address pool, or a pool that hands out that
// very address) joins the shared HTTP listener with its HTTP listeners on
// Settings.HTTPPort, so that an Ingress, a Mapping and an HTTPRoute for
// the same hostname are served side by side on one port:
//
//   - The IR listener of that port is named Settings.HTTPListenerName()
//     ("http-8080"), the name the Ingress and Emissary translators give the
//     shared HTTP listener, at the same address, port and protocol, so
//     ir.Merge makes one listener of them. Virtual hosts of one name (the
//     hostname) are one virtual host: their routes are put together and
//     ordered by the IR's shared precedence (ir.SortRoutes: exact path,
//     longest path, method, most headers, most query parameters; Mapping
//     precedence first). A route whose match equals that of a route of an
//     earlier translator (registry order: Ingress, Gateway API, Emissary)
//     on that virtual host can never be reached: the merge leaves it out
//     and reports it on its object.
//   - Hostname isolation works as on a Gateway's own listener among the
//     Gateway's listeners, and across sources by the most specific
//     hostname: Envoy gives a request to the virtual host with the most
//     specific matching name (exact, then the longest wildcard, then "*"),
//     whichever source claimed it. So an Ingress or Mapping for
//     "a.example.com" owns that name against a Gateway listener
//     "*.example.com" (the Gateway's routes do not serve it), and a
//     Gateway listener "shop.example.com" owns it against an Ingress
//     wildcard; where two sources claim the same name, they share its
//     virtual host. Mappings are the exception the IR already makes:
//     they also serve narrower names other sources claim
//     (ir.Route.MatchesNarrowerHosts).
//   - Listener-wide settings of the shared listener (the ambassador
//     Module's connection settings, ir.HTTPConnection) hold for the
//     Gateway's requests too.
//   - Status: the listeners that join are Accepted and Programmed, and
//     attachedRoutes counts their routes as anywhere else;
//     status.addresses are Settings.StatusAddresses, where the shared
//     listener is reached. Only one Gateway holds a port of one address
//     (the oldest, as above): a younger Gateway's listener on the shared
//     HTTP port is PortUnavailable.
//   - HTTPS does not join. On the shared HTTPS listener, Ingresses and
//     Emissary Hosts pick certificates per hostname, each virtual host a
//     filter chain of its own (ir.VirtualHost.Group empty), while a Gateway
//     listener's virtual hosts form one group under its certificate. A
//     hostname both claimed would be merged into one virtual host under one
//     certificate and one chain, and group names (listener names) of two
//     Gateways could meet, so the TLS grouping that keeps certificates and
//     421 answers right could not be kept. A Gateway's listener on
//     Settings.HTTPSPort at the shared address stays PortUnavailable, and
//     its message says so; so does a listener of another protocol on
//     either shared port.
//   - Gateways with addresses of their own (an address pool, as the
//     conformance runs use) never join: their listeners bind another
//     address, so they keep their own Envoy listeners even on the shared
//     port numbers (unless the shared address is a wildcard that covers
//     theirs: then those ports are PortUnavailable, as before).
//
// # Listeners
//
// Listeners of one Gateway on one port must be distinct: listeners of
// different protocols on one port all conflict (ProtocolConflict), and
// listeners of one protocol conflict when they share a hostname
// (HostnameConflict). As the spec requires, no conflicting listener wins.
// An HTTPS listener terminates TLS with the Secrets its certificateRefs
// name (core Secrets with tls.crt and tls.key forming a valid PEM pair; in
// another namespace only with a ReferenceGrant from Gateways of the
// Gateway's namespace). A bad reference makes ResolvedRefs False
// (InvalidCertificateRef, or RefNotPermitted) and the listener is not
// programmed. allowedRoutes.kinds may only name HTTPRoute and GRPCRoute,
// the kinds HTTP and HTTPS listeners take (others: InvalidRouteKinds, and
// are left out of supportedKinds);
// allowedRoutes.namespaces is Same (default), All or Selector (matched
// against the Namespace's labels, plus kubernetes.io/metadata.name, which
// the API server always sets). attachedRoutes counts the routes whose
// parentRefs select the listener, that its allowedRoutes admit and whose
// hostnames meet the listener's (the upstream conformance suite does not
// count a route refused with NoMatchingListenerHostname), whatever the
// validity of their rules.
//
// Listener isolation: on an IR listener, each programmed listener's
// hostname (or "*" when it has none) is a virtual host of its own, even
// with no routes, and a hostname a route serves goes to the virtual host
// of the most specific listener matching it (exact before wildcard, longer
// wildcard before shorter, any before none). So a request for
// "foo.example.com" on a Gateway with listeners "foo.example.com" and
// "*.example.com" only ever sees the former's routes, and answers 404 if it
// has none. On HTTPS, each virtual host carries its listener's
// certificates and is selected by SNI.
//
// # TLS, TCP and UDP listeners
//
// A TLS listener passes TLS through unopened (tls.mode Passthrough) or
// terminates it with its certificateRefs (Terminate, the API's default)
// and forwards the decrypted bytes; both modes may share a port, told apart
// by SNI. TCP and UDP listeners are told apart by port alone (their
// hostname is ignored, with a Warning problem); a TCP-based and a UDP
// listener may share a port number. By default a TLS listener takes
// TLSRoutes, a TCP listener TCPRoutes and a UDP listener UDPRoutes; any
// other kind in allowedRoutes.kinds is InvalidRouteKinds. Among listeners
// of one port that terminate TLS (HTTPS, or TLS in Terminate mode), one
// whose hostname a wildcard of another covers, or covers another's, gets
// OverlappingTLSConfig (OverlappingHostnames); it stays programmed.
//
// # TLSRoute, TCPRoute and UDPRoute
//
// All three are read in gateway.networking.k8s.io/v1, the version
// Gateway API v1.6 stores (v1alpha2 and v1alpha3 are served only by the
// experimental CRDs and convert to it). parentRefs, sectionName, port,
// allowedRoutes and ReferenceGrants work as for HTTPRoute, with the same
// reasons (NoMatchingParent, NotAllowedByListeners; BackendNotFound,
// InvalidKind, RefNotPermitted). A TLSRoute's hostnames intersect with the
// listener's as an HTTPRoute's do and become server names (SNI) of a
// filter chain of its own; a route counts in attachedRoutes only on
// listeners its hostnames meet (NoMatchingListenerHostname when none).
// Backends are Service ports with any appProtocol, weighted; a backend
// that does not resolve keeps its weight as a share of connections that
// are closed at once (they go to the endpointless cluster
// "gatewayapi/unavailable"), as the spec requires. Only the first rule is
// served (the API allows one; others are dropped: PartiallyInvalid).
//
// Where routes compete, the oldest wins and all stay Accepted, as the
// upstream conformance tests require: a TCP or UDP listener forwards to
// its oldest route, and a server name on a TLS listener goes to the oldest
// route serving it; the others get a Warning problem (NotServed). Envoy's
// UDP proxy has no weighted clusters, so a UDPRoute with more than one
// backend of non-zero weight gets an EDS cluster of its own,
// "udproute/<namespace>/<name>", holding its backends' endpoints with
// load-balancing weights that give each backend its share of sessions
// whatever its endpoint count; invalid backends' shares are left out of
// that mix, and an ExternalName backend cannot be weighted so
// (UnsupportedValue).
//
// # HTTPRoute
//
// Hostnames intersect with the listener's hostname: a route hostname
// matching the listener's is served as written; a route wildcard broader
// than the listener's hostname is narrowed to the listener's; a route
// without hostnames serves the listener's. No intersection on any listener
// is NoMatchingListenerHostname. A parentRef's sectionName and port select
// listeners (none: NoMatchingParent); the listeners' allowedRoutes must
// admit the route (none: NotAllowedByListeners).
//
// Each match of each rule becomes one IR route named
// "httproute/<namespace>/<name>/rules[i]/matches[j]" (a rule without
// matches matches every path). PathPrefix matches whole path elements and
// ignores a trailing slash ("/" matches everything); Exact and
// RegularExpression (RE2) paths, Exact and RegularExpression headers
// (first entry of a name wins, names case-insensitive) and query parameters,
// and the method are supported. Precedence across rules and routes is the
// IR's route order (exact path, longest prefix, method, most headers, most
// query parameters); ties keep the order routes are emitted in: oldest
// route first (creation timestamp, then namespace/name), then rule and
// match order.
//
// Filters: RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect
// (scheme, hostname, port, ReplaceFullPath, ReplacePrefixMatch, status
// 301/302/303/307/308; with no port, the scheme's well-known port, or the
// listener's port when no scheme is given), URLRewrite (hostname, full path,
// prefix) and RequestMirror (to a Service, with percent or fraction). An
// ExtensionRef filter never resolves (Legate defines no extension kinds):
// the rule answers 500 and ResolvedRefs is False (InvalidKind). CORS is
// Envoy's CORS filter with the rule's policy: preflights from allowed
// origins are answered by Envoy (the Origin echoed, "*" methods and headers
// echoed from the preflight, maxAge 5s unless given), preflights from other
// origins get 200 without CORS headers and are not forwarded. On a
// backendRef, RequestHeaderModifier and ResponseHeaderModifier apply to
// that backend only. ExternalAuth, unknown filter types, other filters on
// a backendRef, a filter type given twice, RequestRedirect with
// URLRewrite, and any value Legate cannot serve as written leave the rule
// out: the route is PartiallyInvalid ("Dropped Rule(s): ...") or, with no
// rule left, not accepted (UnsupportedValue or IncompatibleFilters).
//
// timeouts.request bounds the request ("0s" disables the timeout).
// timeouts.backendRequest bounds each try: Envoy's per-try timeout when the
// rule retries, else the route's timeout (there is one try), never longer
// than timeouts.request. retry retries connection failures, resets and
// refused streams, plus the listed codes, attempts times (Envoy's default,
// once, without attempts), waiting at least backoff. sessionPersistence is
// Envoy's stateful sessions: a cookie (Session, or Permanent with
// absoluteTimeout as Max-Age; default name legate-session) or a header
// holding the endpoint; an absoluteTimeout Envoy cannot enforce (a header
// session, a Session cookie) is UnsupportedValue. A named rule's routes
// are named "<kind>/<namespace>/<name>/<rule name>/matches[j]", so they
// keep their names when other rules move; a name given twice, or not a
// valid section name, drops the rule.
//
// Backends are core Services (other kinds: InvalidKind), in another
// namespace only with a ReferenceGrant (RefNotPermitted); the Service and
// port must exist (BackendNotFound) and the port's appProtocol must be one
// Legate speaks (none, http, h2c, kubernetes.io/h2c, grpc, kubernetes.io/ws,
// and https where a BackendTLSPolicy applies; others: UnsupportedProtocol). Clusters are the very ones every Legate
// translator builds for a Service port ("<namespace>/<service>/<port>",
// endpoints from EndpointSlices, HTTP/2 for h2c and gRPC). A rule whose
// backends all fail, weigh zero, or that has none, answers 500. When only
// some backends fail, each failed backend keeps its weight as a share with
// no cluster, which Envoy answers with 500, as the spec requires; the valid
// shares still flow (and ResolvedRefs is False).
//
// # GRPCRoute
//
// A GRPCRoute attaches, intersects hostnames and is reported on exactly as
// an HTTPRoute (the same code). Its matches become path matches (see
// grpcroute.go) ordered by the GRPCRoute precedence; header matches,
// RequestHeaderModifier, ResponseHeaderModifier, RequestMirror and
// ExtensionRef (which never resolves) are those of an HTTPRoute, and so are
// backendRef header filters, session persistence and rule names. Its
// clusters speak HTTP/2 (h2c): a Service port without appProtocol gets a
// cluster of its own for gRPC, "<namespace>/<service>/<port>/h2c"; ports
// whose appProtocol is HTTP/1.1 or WebSocket are UnsupportedProtocol. The
// share of an invalid backend, or a rule without a valid one, is answered
// 503, which Envoy's local reply to a gRPC call turns into grpc-status
// UNAVAILABLE, as the spec asks. Routes are named
// "grpcroute/<namespace>/<name>/rules[i]/matches[j]". An HTTPRoute and a
// GRPCRoute whose hostnames intersect on a listener are never merged: the
// older is accepted there, the younger is not (RouteKindConflict).
//
// # Status
//
// Translate returns the status in the API's types (Status): GatewayClass
// Accepted; Gateway Accepted (ListenersNotValid when some listeners are
// not) and Programmed, addresses, and per listener supportedKinds,
// attachedRoutes and Accepted, Conflicted, ResolvedRefs and Programmed; and
// per route one parent entry per parentRef naming a Gateway of Legate's,
// with Accepted, ResolvedRefs and, where rules were dropped,
// PartiallyInvalid. Every condition carries the object's generation as
// observedGeneration; lastTransitionTime is left to the status writer.
package gatewayapi
