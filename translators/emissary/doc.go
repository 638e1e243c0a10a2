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
// # What is translated so far
//
// Mappings are served on the shared HTTP listener (Settings.HTTPPort), as
// Emissary's default Listener on 8080 with no Host resources would serve
// them. Host, Listener, TLSContext, Module and TCPMapping resources are not
// translated yet: each gets a Warning saying so. Every Mapping field that is
// not implemented yet gives a Warning naming the field while the rest of the
// Mapping is still served; fields that cannot be ignored safely (envoy_override,
// an invalid regular expression, ...) leave the Mapping out with an Error.
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
// suffix hashing the Mapping-level cluster settings (connect_timeout_ms,
// grpc) when they differ from the defaults: Emissary names clusters per
// service and settings too, and a distinct prefix keeps them apart from the
// Ingress translator's clusters, which use another connect timeout
// (Emissary's default is 3 s).
//
// A Service or port that does not exist (yet), or a service that asks for
// TLS origination (https://, tls), which is not supported yet, gives a
// Warning; if no backend of the route is left, the route answers 503.
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
//   - timeout_ms bounds each request, default 3000; 0 turns the timeout off.
//   - add_request_headers / add_response_headers: append defaults to true;
//     append: false replaces. Values with Envoy's %COMMAND% operators are
//     not supported yet (Warning, the header is left out).
//   - host_redirect answers with a redirect to the host (and port, scheme) of
//     service, code redirect_response_code (default 301); path_redirect and
//     prefix_redirect replace the path or the matched prefix.
//
// Routes are named "mapping/<namespace>/<name>" and ordered by the IR's
// shared rules, precedence first.
package emissary
