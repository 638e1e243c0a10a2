package emissary

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

// serviceRef is a parsed Mapping service: "[scheme://]host[:port]".
type serviceRef struct {
	scheme  string // "", "http" or "https"
	host    string
	port    uint32
	hasPort bool
}

// parseService parses Emissary's service syntax. The port defaults to 80,
// or 443 with https://.
func parseService(s string) (serviceRef, error) {
	var r serviceRef
	rest := strings.TrimSpace(s)
	if i := strings.Index(rest, "://"); i >= 0 {
		switch sch := strings.ToLower(rest[:i]); sch {
		case "http", "https":
			r.scheme = sch
		default:
			return r, fmt.Errorf("service %q: scheme %q is not http or https", s, rest[:i])
		}
		rest = rest[i+3:]
	}
	if rest == "" {
		return r, fmt.Errorf("service is empty")
	}
	if strings.ContainsAny(rest, "/?#@ \t\x00\r\n") {
		return r, fmt.Errorf("service %q: want [scheme://]name[.namespace][:port]", s)
	}
	host, port := rest, ""
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 {
			return r, fmt.Errorf("service %q: unterminated IPv6 address", s)
		}
		host, port = rest[1:end], rest[end+1:]
		if port != "" && !strings.HasPrefix(port, ":") {
			return r, fmt.Errorf("service %q: want [scheme://]name[.namespace][:port]", s)
		}
		port = strings.TrimPrefix(port, ":")
		if port == "" && strings.HasSuffix(rest, ":") {
			return r, fmt.Errorf("service %q: empty port", s)
		}
	} else if i := strings.LastIndex(rest, ":"); i >= 0 {
		if strings.Count(rest, ":") > 1 {
			return r, fmt.Errorf("service %q: an IPv6 address must be in brackets", s)
		}
		host, port = rest[:i], rest[i+1:]
		if port == "" {
			return r, fmt.Errorf("service %q: empty port", s)
		}
	}
	if host == "" {
		return r, fmt.Errorf("service %q: no host", s)
	}
	r.host = host
	r.port = 80
	if r.scheme == "https" {
		r.port = 443
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return r, fmt.Errorf("service %q: port %q is not in 1-65535", s, port)
		}
		r.port, r.hasPort = uint32(n), true
	}
	return r, nil
}

// backend resolves the Mapping's service to a cluster and returns its name,
// or "" (with a Warning) when there is nothing to send traffic to yet; an
// invalid service leaves the Mapping out.
func (tr *translation) backend(m *mapping) string {
	sp := &m.obj.Spec
	svc, err := parseService(sp.Service)
	if err != nil {
		m.reject("spec.service", "InvalidService", "%v", err)
		return ""
	}
	cs, ok := m.clusterSettings()
	if !ok {
		return ""
	}
	if svc.scheme == "https" || sp.TLS != "" {
		t, ok := tr.originationTLS(m, m.obj.Namespace, sp.TLS)
		if !ok {
			return ""
		}
		cs.tls = t
	}
	return tr.clusterFor(m, m.obj.Namespace, sp.Service, svc, cs, m.source())
}

// problems is where clusterFor reports: a Mapping or a TCPMapping.
type problems interface {
	reject(field, reason, format string, args ...any)
	warn(field, reason, format string, args ...any)
}

// clusterFor resolves the parsed service svc (written as service by an
// object in namespace ns) to a cluster with the settings cs, adds it to
// the fragment and returns its name; "" (with a problem reported) when
// there is nothing to send traffic to.
func (tr *translation) clusterFor(p problems, ns, service string, svc serviceRef, cs clusterSettings, src ir.Source) string {
	var cl *ir.Cluster
	if ip, err := netip.ParseAddr(svc.host); err == nil {
		if ip.Zone() != "" {
			p.reject("spec.service", "InvalidService", "service %q: an address with a zone is not supported", service)
			return ""
		}
		cl = &ir.Cluster{
			Name:      fmt.Sprintf("emissary/static/%s/%d", ip, svc.port),
			Source:    src,
			Kind:      ir.ClusterStatic,
			Endpoints: []ir.Endpoint{{Address: ip.String(), Port: svc.port, Ready: true}},
		}
	} else {
		host := strings.TrimSuffix(strings.ToLower(svc.host), ".")
		name, sns, dns := tr.serviceName(ns, host)
		switch {
		case !dns:
			var msg string
			cl, msg = tr.serviceCluster(sns, name, svc.port)
			if cl == nil {
				p.warn("spec.service", "ServiceNotFound", "%s; requests answer 503 until it does", msg)
				return ""
			}
		default:
			if err := ir.ValidateHostname(host); err != nil || strings.HasPrefix(host, "*") {
				p.reject("spec.service", "InvalidService", "service %q: %q is neither a Service nor a valid DNS name", service, svc.host)
				return ""
			}
			cl = &ir.Cluster{
				Name:    fmt.Sprintf("emissary/dns/%s/%d", host, svc.port),
				Source:  src,
				Kind:    ir.ClusterDNS,
				DNSName: host,
				DNSPort: svc.port,
			}
		}
	}
	cl = cs.apply(cl, service)
	if _, ok := tr.clusters[cl.Name]; !ok {
		tr.clusters[cl.Name] = cl
	}
	return cl.Name
}

// serviceName decides whether host names a Kubernetes Service (name,
// namespace) or is a DNS name.
func (tr *translation) serviceName(objNS, host string) (name, ns string, dns bool) {
	labels := strings.Split(host, ".")
	switch {
	case len(labels) == 1:
		return host, objNS, false
	case len(labels) == 3 && labels[2] == "svc",
		len(labels) == 5 && strings.Join(labels[2:], ".") == "svc.cluster.local",
		len(labels) == 2:
		name, ns = labels[0], labels[1]
		if tr.in.Service(ns, name) != nil || tr.in.Namespace(ns) != nil {
			return name, ns, false
		}
	}
	return "", "", true
}

// serviceCluster builds the cluster of port of the Service ns/name, or says
// why there is none.
func (tr *translation) serviceCluster(ns, name string, port uint32) (*ir.Cluster, string) {
	svc := tr.in.Service(ns, name)
	if svc == nil {
		return nil, fmt.Sprintf("Service %s/%s does not exist", ns, name)
	}
	idx := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return uint32(p.Port) == port })
	src := ir.Source{Translator: Name, Kind: "Service", Namespace: ns, Name: name}
	if idx >= 0 {
		src.Field = fmt.Sprintf("spec.ports[%d]", idx)
	}
	base := fmt.Sprintf("emissary/%s/%s/%d", ns, name, port)
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		dns := strings.TrimSuffix(strings.ToLower(svc.Spec.ExternalName), ".")
		if err := ir.ValidateHostname(dns); err != nil || strings.HasPrefix(dns, "*") {
			return nil, fmt.Sprintf("ExternalName Service %s/%s has externalName %q, which is not a valid DNS name", ns, name, svc.Spec.ExternalName)
		}
		return &ir.Cluster{Name: base, Source: src, Kind: ir.ClusterDNS, DNSName: dns, DNSPort: port}, ""
	}
	if idx < 0 {
		return nil, fmt.Sprintf("Service %s/%s has no port %d", ns, name, port)
	}
	return &ir.Cluster{
		Name:          base,
		Source:        src,
		Kind:          ir.ClusterEDS,
		Endpoints:     translators.ServiceEndpoints(tr.in.EndpointSlicesFor(ns, name), svc.Spec.Ports[idx].Name),
		EndpointsFrom: &ir.ServicePort{Namespace: ns, Service: name, PortName: svc.Spec.Ports[idx].Name},
	}, ""
}
