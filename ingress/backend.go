package ingress

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"

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
			cl.Protocol = upstreamProtocol(sp.AppProtocol)
		}
		return cl.Name, cl, ""
	}
	if sp == nil || sp.Port < 1 || sp.Port > 65535 {
		return "", nil, ""
	}
	cl := &ir.Cluster{
		Name:      clusterName(svc, sp.Port),
		Source:    src,
		Kind:      ir.ClusterEDS,
		Endpoints: Endpoints(t.in.EndpointSlicesFor(svc.Namespace, svc.Name), sp.Name),
		Protocol:  upstreamProtocol(sp.AppProtocol),
	}
	return cl.Name, cl, ""
}

func clusterName(svc *corev1.Service, port int32) string {
	return fmt.Sprintf("%s/%s/%d", svc.Namespace, svc.Name, port)
}

// upstreamProtocol maps a Service port's appProtocol to what Envoy speaks
// to the endpoints; empty keeps the default, HTTP/1.1.
func upstreamProtocol(appProtocol *string) ir.UpstreamProtocol {
	if appProtocol == nil {
		return ""
	}
	switch *appProtocol {
	case "h2c", "kubernetes.io/h2c", "grpc":
		return ir.UpstreamHTTP2
	}
	return ""
}

// Endpoints returns the endpoints of the Service port named portName from
// its EndpointSlices, sorted by address and port, each once. The slice port
// of the same name gives the target port, which may differ between slices
// (e.g. during a rollout). An endpoint is ready unless conditions.ready is
// false; an address listed twice is ready if either copy is.
func Endpoints(slicesOfSvc []*discoveryv1.EndpointSlice, portName string) []ir.Endpoint {
	type key struct {
		addr string
		port uint32
	}
	seen := map[key]int{}
	var out []ir.Endpoint
	for _, es := range slicesOfSvc {
		if es == nil || (es.AddressType != discoveryv1.AddressTypeIPv4 && es.AddressType != discoveryv1.AddressTypeIPv6) {
			continue
		}
		var port int32
		found := false
		for _, p := range es.Ports {
			if p.Port != nil && ptrOr(p.Name, "") == portName {
				port, found = *p.Port, true
				break
			}
		}
		if !found || port < 1 || port > 65535 {
			continue
		}
		for _, ep := range es.Endpoints {
			ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			for _, a := range ep.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil || ip.Zone() != "" {
					continue
				}
				k := key{ip.String(), uint32(port)}
				if i, ok := seen[k]; ok {
					out[i].Ready = out[i].Ready || ready
					continue
				}
				seen[k] = len(out)
				out = append(out, ir.Endpoint{Address: k.addr, Port: k.port, Ready: ready})
			}
		}
	}
	slices.SortFunc(out, func(a, b ir.Endpoint) int {
		return cmp.Or(cmp.Compare(a.Address, b.Address), cmp.Compare(a.Port, b.Port))
	})
	return out
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
