package gatewayapi

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

// refFailure is why a reference of a route did not resolve: the reason of
// its ResolvedRefs=False condition and a message naming the field.
type refFailure struct {
	reason gatewayv1.RouteConditionReason
	field  string
	msg    string
	// policy marks a backend that resolved but that a BackendTLSPolicy
	// makes unusable (no valid CA): its share answers 500, but the
	// route's references did resolve, so ResolvedRefs stays True; the
	// policy's status says why.
	policy bool
}

func (f *refFailure) String() string { return f.field + ": " + f.msg }

func failRef(reason gatewayv1.RouteConditionReason, field, format string, args ...any) *refFailure {
	return &refFailure{reason: reason, field: field, msg: fmt.Sprintf(format, args...)}
}

// backend resolves a backend reference of a route of namespace routeNS to
// the name of a cluster, which it adds to the translation. Only core
// Services are backends; a Service in another namespace needs a
// ReferenceGrant; the Service and its port must exist; its appProtocol must
// be one Legate speaks. A GRPCRoute's backend is spoken to over HTTP/2
// (h2c), whatever its appProtocol says, as gRPC needs (see grpcCluster).
func (t *translation) backend(routeKind, routeNS string, br gatewayv1.BackendObjectReference, field string) (string, *refFailure) {
	t.lastTargets, t.lastWebSocket = nil, false
	sb, f := t.serviceBackend(routeKind, routeNS, br, field)
	if f != nil {
		return "", f
	}
	svc, ns, name, port, idx := sb.svc, sb.ns, sb.name, sb.port, sb.idx
	var sp *corev1.ServicePort
	if idx >= 0 {
		sp = &svc.Spec.Ports[idx]
		if routeKind == "GRPCRoute" && !speaksGRPC(sp.AppProtocol) {
			return "", failRef(gatewayv1.RouteReasonUnsupportedProtocol, field,
				"port %d of Service %s/%s has appProtocol %q, over which gRPC cannot be spoken (it needs HTTP/2)", port, ns, name, *sp.AppProtocol)
		}
		if !speaksHTTP(sp.AppProtocol) && !(speaksHTTPS(sp.AppProtocol) && t.tlsPolicyFor(svc, sp) != nil) {
			return "", failRef(gatewayv1.RouteReasonUnsupportedProtocol, field,
				"port %d of Service %s/%s has appProtocol %q, which Legate does not speak to backends", port, ns, name, *sp.AppProtocol)
		}
	}
	cl, msg := t.serviceCluster(svc, sp, port, idx)
	if cl == nil {
		if msg == "" {
			msg = fmt.Sprintf("Service %s/%s has no port %d", ns, name, port)
		}
		return "", failRef(gatewayv1.RouteReasonBackendNotFound, field, "%s", msg)
	}
	if routeKind == "GRPCRoute" {
		cl = grpcCluster(cl)
	}
	t.lastWebSocket = sp != nil && sp.AppProtocol != nil && *sp.AppProtocol == "kubernetes.io/ws"
	t.lastTargets = []string{tlsTargetKey(ns, name, "")}
	if sp != nil && sp.Name != "" {
		t.lastTargets = append(t.lastTargets, tlsTargetKey(ns, name, sp.Name))
	}
	if tp := t.tlsPolicyFor(svc, sp); tp != nil {
		if tp.tls == nil {
			f := failRef(gatewayv1.RouteReasonBackendNotFound, field,
				"BackendTLSPolicy %s/%s applies to Service %s/%s but is not accepted (%s); requests to it answer 500", tp.policy.Namespace, tp.policy.Name, ns, name, tp.reason)
			f.policy = true
			return "", f
		}
		cl = t.withTLS(cl, tp)
	}
	t.registered(t.register(cl), nil)
	return cl.Name, nil
}

// serviceBackend is a backendRef resolved to a Service of the Inputs: its
// port, and the index of that port in the Service's spec (-1 when the
// Service does not list it, which an ExternalName Service need not).
type serviceBackend struct {
	svc      *corev1.Service
	ns, name string
	port     int32
	idx      int
}

// serviceBackend checks what every route kind asks of a backendRef: it is
// a core Service, one in another namespace is granted by a ReferenceGrant,
// and the Service exists with a port number.
func (t *translation) serviceBackend(routeKind, routeNS string, br gatewayv1.BackendObjectReference, field string) (serviceBackend, *refFailure) {
	group, kind := "", "Service"
	if br.Group != nil {
		group = string(*br.Group)
	}
	if br.Kind != nil {
		kind = string(*br.Kind)
	}
	if group != "" || kind != "Service" {
		return serviceBackend{}, failRef(gatewayv1.RouteReasonInvalidKind, field, "backend kind %s/%s is not supported; only core Services are", group, kind)
	}
	ns := routeNS
	if br.Namespace != nil && *br.Namespace != "" {
		ns = string(*br.Namespace)
	}
	name := string(br.Name)
	if !t.grants.permits(ref{gatewayv1.GroupName, routeKind, routeNS, ""}, ref{"", "Service", ns, name}) {
		return serviceBackend{}, failRef(gatewayv1.RouteReasonRefNotPermitted, field,
			"no ReferenceGrant in namespace %s lets %ss of namespace %s refer to Service %s", ns, routeKind, routeNS, name)
	}
	if br.Port == nil {
		return serviceBackend{}, failRef(gatewayv1.RouteReasonBackendNotFound, field, "a Service backend needs a port")
	}
	port := int32(*br.Port)
	t.readService(ns, name)
	svc := t.in.Service(ns, name)
	if svc == nil {
		return serviceBackend{}, failRef(gatewayv1.RouteReasonBackendNotFound, field, "Service %s/%s does not exist", ns, name)
	}
	idx := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == port })
	return serviceBackend{svc: svc, ns: ns, name: name, port: port, idx: idx}, nil
}

// speaksHTTP reports whether a Service port's appProtocol is one an HTTP
// route may forward to: none, plain HTTP, h2c (and gRPC over h2c), or
// WebSocket over plain HTTP.
func speaksHTTP(appProtocol *string) bool {
	if appProtocol == nil {
		return true
	}
	switch *appProtocol {
	case "", "http", "HTTP", "h2c", "kubernetes.io/h2c", "grpc", "kubernetes.io/ws":
		return true
	}
	return false
}

// speaksHTTPS reports whether a Service port's appProtocol says HTTP over
// TLS, which Legate speaks to a backend a BackendTLSPolicy applies to.
func speaksHTTPS(appProtocol *string) bool {
	return appProtocol != nil && strings.EqualFold(*appProtocol, "https")
}

// speaksGRPC reports whether a Service port's appProtocol allows gRPC:
// none (a GRPCRoute says the port speaks gRPC), h2c or grpc. HTTP/1.1
// ("http") and WebSocket ports cannot carry it.
func speaksGRPC(appProtocol *string) bool {
	if appProtocol == nil {
		return true
	}
	switch *appProtocol {
	case "", "h2c", "kubernetes.io/h2c", "grpc":
		return true
	}
	return false
}

// grpcCluster returns the cluster a GRPCRoute forwards to for the Service
// port cluster cl: cl itself when it already speaks HTTP/2 (appProtocol
// h2c or grpc), else a copy that does, named "<cl>/h2c" so that it never
// differs from the HTTP/1.1 cluster other routes and translators build
// for the same port under cl's name.
func grpcCluster(cl *ir.Cluster) *ir.Cluster {
	if cl.Protocol == ir.UpstreamHTTP2 {
		return cl
	}
	out := *cl
	out.Name += "/h2c"
	out.Protocol = ir.UpstreamHTTP2
	out.Endpoints = slices.Clone(cl.Endpoints)
	return &out
}

// serviceCluster builds the cluster of one Service port. It must give the
// very Cluster every other translator gives for the same port (the merge
// requires clusters of one name to be identical): named
// "<namespace>/<service>/<port>", endpoints from the EndpointSlices over
// EDS, HTTP/2 for h2c and gRPC ports, Envoy's default connect timeout; an
// ExternalName Service is a DNS cluster of its externalName. sp is the
// Service port (nil if the Service lists none of that number: allowed for
// ExternalName only). A nil cluster with an empty message means the port
// does not exist.
func (t *translation) serviceCluster(svc *corev1.Service, sp *corev1.ServicePort, port int32, idx int) (*ir.Cluster, string) {
	src := ir.Source{Translator: Name, Kind: "Service", Namespace: svc.Namespace, Name: svc.Name}
	if idx >= 0 {
		src.Field = fmt.Sprintf("spec.ports[%d]", idx)
	}
	name := fmt.Sprintf("%s/%s/%d", svc.Namespace, svc.Name, port)
	if port < 1 || port > 65535 {
		return nil, ""
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		dns := svc.Spec.ExternalName
		if dns == "" || strings.HasPrefix(dns, "*") || ir.ValidateHostname(strings.TrimSuffix(dns, ".")) != nil {
			return nil, fmt.Sprintf("ExternalName Service %s/%s has externalName %q, which is not a valid DNS name", svc.Namespace, svc.Name, dns)
		}
		cl := &ir.Cluster{Name: name, Source: src, Kind: ir.ClusterDNS, DNSName: dns, DNSPort: uint32(port)}
		if sp != nil {
			cl.Protocol = translators.UpstreamProtocol(sp.AppProtocol)
		}
		return cl, ""
	}
	if sp == nil {
		return nil, ""
	}
	return &ir.Cluster{
		Name:          name,
		Source:        src,
		Kind:          ir.ClusterEDS,
		Endpoints:     translators.ServiceEndpoints(t.in.EndpointSlicesFor(svc.Namespace, svc.Name), sp.Name),
		EndpointsFrom: &ir.ServicePort{Namespace: svc.Namespace, Service: svc.Name, PortName: sp.Name},
		Protocol:      translators.UpstreamProtocol(sp.AppProtocol),
	}, ""
}
