package ingress

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

// unavailable is what a route answers while its Service or port is
// missing; a new value each time, since routes must not share state.
func unavailable() *ir.DirectResponse { return &ir.DirectResponse{StatusCode: 503} }

// setAction sets r's action from the backend at field. It returns false,
// with an Error on st, when the backend is invalid and the route must be
// left out; a backend that merely cannot be resolved yet gives a 503 route
// and a Warning.
func (t *translation) setAction(st *ingressState, r *ir.Route, be *networkingv1.IngressBackend, field string) bool {
	switch {
	case be.Resource != nil && be.Service != nil:
		st.problem(errSev, field, "InvalidBackend", "a backend cannot set both resource and service; the path is left out")
		return false
	case be.Resource != nil:
		st.problem(errSev, field+".resource", "ResourceBackendUnsupported",
			"resource backends (%s %q) are not supported; the path is left out", be.Resource.Kind, be.Resource.Name)
		return false
	case be.Service == nil:
		st.problem(errSev, field, "InvalidBackend", "a backend needs a service; the path is left out")
		return false
	}
	svcRef := be.Service
	if svcRef.Name == "" {
		st.problem(errSev, field+".service.name", "InvalidBackend", "the service name is empty; the path is left out")
		return false
	}
	port := svcRef.Port
	switch {
	case port.Name != "" && port.Number != 0:
		st.problem(errSev, field+".service.port", "InvalidBackend", "a service port cannot have both a name and a number; the path is left out")
		return false
	case port.Name == "" && port.Number == 0:
		st.problem(errSev, field+".service.port", "InvalidBackend", "a service port needs a name or a number; the path is left out")
		return false
	case port.Name == "" && (port.Number < 1 || port.Number > 65535):
		st.problem(errSev, field+".service.port.number", "InvalidBackend", "service port %d is not in 1-65535; the path is left out", port.Number)
		return false
	}
	portField := field + ".service.port.number"
	portDesc := fmt.Sprint(port.Number)
	if port.Name != "" {
		portField = field + ".service.port.name"
		portDesc = fmt.Sprintf("%q", port.Name)
	}

	ns := st.ing.Namespace
	svc := t.in.Service(ns, svcRef.Name)
	if svc == nil {
		st.problem(warnSev, field+".service.name", "ServiceNotFound",
			"Service %s/%s does not exist; requests answer 503 until it does", ns, svcRef.Name)
		r.DirectResponse = unavailable()
		return true
	}
	idx := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool {
		if port.Name != "" {
			return p.Name == port.Name
		}
		return p.Port == port.Number
	})
	var sp *corev1.ServicePort
	if idx >= 0 {
		sp = &svc.Spec.Ports[idx]
	}

	name, cl, msg := t.cluster(svc, sp, port.Number, idx)
	if cl == nil {
		if msg == "" {
			msg = fmt.Sprintf("Service %s/%s has no port %s; requests answer 503 until it does", ns, svc.Name, portDesc)
			st.problem(warnSev, portField, "ServicePortNotFound", "%s", msg)
		} else {
			st.problem(warnSev, field+".service.name", "InvalidService", "%s; requests answer 503", msg)
		}
		r.DirectResponse = unavailable()
		return true
	}
	if _, ok := t.clusters[name]; !ok {
		t.clusters[name] = cl
	}
	r.Forward = &ir.ForwardAction{Backends: []ir.WeightedBackend{{Cluster: name, Weight: 1}}}
	return true
}

// cluster builds the cluster of one Service port. sp is the Service port
// found (nil if none); number is the port number the Ingress asked for (0
// when it named the port). It returns a nil cluster when there is none to
// build: msg is empty when the port is missing, else says what is wrong.
func (t *translation) cluster(svc *corev1.Service, sp *corev1.ServicePort, number int32, idx int) (string, *ir.Cluster, string) {
	src := ir.Source{Translator: Name, Kind: "Service", Namespace: svc.Namespace, Name: svc.Name}
	if idx >= 0 {
		src.Field = fmt.Sprintf("spec.ports[%d]", idx)
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		// An ExternalName Service need not list ports: a port number the
		// Ingress names is used as is.
		p := number
		if sp != nil {
			p = sp.Port
		}
		if p < 1 || p > 65535 {
			return "", nil, ""
		}
		dns := svc.Spec.ExternalName
		if err := ir.ValidateHostname(strings.TrimSuffix(dns, ".")); err != nil || dns == "" || strings.HasPrefix(dns, "*") {
			return "", nil, fmt.Sprintf("ExternalName Service %s/%s has externalName %q, which is not a valid DNS name", svc.Namespace, svc.Name, dns)
		}
		cl := &ir.Cluster{
			Name:    clusterName(svc, p),
			Source:  src,
			Kind:    ir.ClusterDNS,
			DNSName: dns,
			DNSPort: uint32(p),
		}
		if sp != nil {
			cl.Protocol = translators.UpstreamProtocol(sp.AppProtocol)
		}
		return cl.Name, cl, ""
	}
	if sp == nil || sp.Port < 1 || sp.Port > 65535 {
		return "", nil, ""
	}
	cl := &ir.Cluster{
		Name:          clusterName(svc, sp.Port),
		Source:        src,
		Kind:          ir.ClusterEDS,
		Endpoints:     translators.ServiceEndpoints(t.in.EndpointSlicesFor(svc.Namespace, svc.Name), sp.Name),
		EndpointsFrom: &ir.ServicePort{Namespace: svc.Namespace, Service: svc.Name, PortName: sp.Name},
		Protocol:      translators.UpstreamProtocol(sp.AppProtocol),
	}
	return cl.Name, cl, ""
}

func clusterName(svc *corev1.Service, port int32) string {
	return fmt.Sprintf("%s/%s/%d", svc.Namespace, svc.Name, port)
}
