// Package ingress translates Kubernetes networking.k8s.io/v1 Ingress objects
// into Legate's IR.
//
// # Which Ingresses are Legate's
//
// Legate owns every IngressClass whose spec.controller equals
// Settings.IngressController. An Ingress is Legate's when:
//
//   - spec.ingressClassName names one of those classes; or
//   - spec.ingressClassName is unset and the legacy annotation
//     kubernetes.io/ingress.class names one of those classes, or is the
//     literal "legate"; or
//   - neither is set and one of Legate's classes carries the annotation
//     ingressclass.kubernetes.io/is-default-class: "true".
//
// Every other Ingress belongs to another controller and is ignored without a
// status: writing one would fight that controller.
//
// # Hosts and paths
//
// Each rule's host becomes a virtual host of that name on the shared HTTP
// listener; a rule without a host goes to the virtual host "*". A wildcard
// host "*.foo.com" matches exactly one DNS label in the Ingress spec, while
// Envoy's suffix wildcard would also match "a.bar.foo.com"; so every route of
// a wildcard rule also matches ":authority" against a regular expression
// that allows one label and an optional ":port".
//
// Path types:
//
//   - Exact matches the whole path.
//   - Prefix matches element by element, ignoring a trailing slash: "/foo"
//     and "/foo/" both match "/foo" and "/foo/bar" but not "/foobar". "/"
//     matches every path.
//   - ImplementationSpecific is a plain string prefix: "/foo" also matches
//     "/foobar". An empty ImplementationSpecific path means "/".
//
// Routes of one virtual host are ordered by the IR merge (exact before
// prefix, longest prefix first). Where two Ingresses claim the same host,
// path and type, Ingresses are emitted oldest first (creation timestamp, then
// namespace/name) so the oldest wins and the merge reports the other.
//
// # Backends
//
// A Service backend names a port by number or by name; it is resolved
// against the Service's ports. The cluster "<namespace>/<service>/<port>"
// gets its endpoints from the Service's EndpointSlices (the slice port whose
// name equals the Service port's name gives the target port; an endpoint is
// ready unless conditions.ready is false). A Service port whose appProtocol
// is h2c, kubernetes.io/h2c or grpc is spoken to over HTTP/2 without TLS. An
// ExternalName Service becomes a DNS cluster of its externalName.
//
// A Service or port that does not exist (yet) still gives a route, which
// answers 503, and a Warning. A resource backend is not supported: that path
// is left out with an Error.
//
// # Default backend
//
// The Ingress spec says spec.defaultBackend handles requests that match no
// rule and leaves the rest to the controller. Legate adds it as a catch-all
// route (prefix "/") to the "*" virtual host and to every virtual host of the
// same Ingress (its rule hosts and TLS hosts) that has no "/" prefix route
// of its own, so that a request for one of the Ingress's hosts that matches
// none of its paths reaches the default backend rather than a 404. In a
// wildcard virtual host the catch-all carries no ":authority" match: a
// request for "a.b.foo.com" that Envoy sends to "*.foo.com" matches none of
// the Ingress's rules, so per the spec it belongs to the default backend.
// When two Ingresses set a default backend for the same virtual host, the
// oldest wins and the other is reported as conflicting.
//
// # TLS
//
// Each spec.tls entry names a Secret in the Ingress's namespace holding
// tls.crt and tls.key that form a valid PEM key pair. Its hosts are served on
// the shared HTTPS listener with that certificate (selected by SNI); an entry
// without hosts applies to every host of the Ingress's rules. TLS is a
// property of the host: every Legate Ingress's routes for a host some
// Ingress serves over TLS are served on HTTPS too, as in other Ingress
// controllers. Rules without a host are served over plain HTTP only, since
// SNI cannot select them. When two Ingresses name different Secrets for one
// host, the oldest Ingress's Secret is used and the other gets a Warning.
//
// Every route is also served on the HTTP listener, unless the Ingress carries
// the annotation ingress.kubernetes.io/force-ssl-redirect: "true": then, for
// hosts served over HTTPS, plain HTTP answers with a 301 redirect to https.
// The redirect names no port: it suits deployments where clients reach
// Envoy on the standard ports 80 and 443.
//
// # Errors
//
// Every invalid part (host, path, backend, TLS entry) is left out with an
// Error problem naming its field; the rest of the Ingress, and every other
// Ingress, still flows. Each Legate Ingress gets a status with its problems
// and the load balancer addresses of Settings.StatusAddresses.
package ingress
