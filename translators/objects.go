package translators

import (
	"cmp"
	"crypto/tls"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/legateproxy/legate/translators/ir"
)

// Helpers for Services and Secrets, shared by every translator so that two
// translators naming the same Service port build the very same cluster
// (ir.Merge reports clusters of one name that differ).

// ServiceEndpoints returns the endpoints of the Service port named portName
// (unnamed: "") from the Service's IPv4 and IPv6 EndpointSlices, sorted by
// address and port, each once. The slice port of the same name gives the
// target port, which may differ between slices (during a rollout). An
// endpoint is ready unless conditions.ready is false; an address listed
// twice is ready if either copy is.
func ServiceEndpoints(slicesOfSvc []*discoveryv1.EndpointSlice, portName string) []ir.Endpoint {
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
		port, ok := slicePort(es, portName)
		if !ok {
			continue
		}
		for _, ep := range es.Endpoints {
			ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			for _, a := range ep.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil || ip.Zone() != "" {
					continue
				}
				k := key{ip.String(), port}
				if i, dup := seen[k]; dup {
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

// slicePort is the number of the first port of es named portName, when it
// is a valid port.
func slicePort(es *discoveryv1.EndpointSlice, portName string) (uint32, bool) {
	for _, p := range es.Ports {
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		if p.Port != nil && name == portName {
			return uint32(*p.Port), *p.Port >= 1 && *p.Port <= 65535
		}
	}
	return 0, false
}

// UpstreamProtocol maps a Service port's appProtocol to what Envoy speaks
// to its endpoints: HTTP/2 for h2c and gRPC, else empty (HTTP/1.1).
func UpstreamProtocol(appProtocol *string) ir.UpstreamProtocol {
	if appProtocol != nil {
		switch *appProtocol {
		case "h2c", "kubernetes.io/h2c", "grpc":
			return ir.UpstreamHTTP2
		}
	}
	return ""
}

// TLSSecret reads the TLS Secret namespace/name of in as an ir.Secret named
// "<namespace>/<name>", the name every translator gives it. It fails, with
// a message naming the Secret, when the Secret is missing, lacks tls.crt or
// tls.key, or they do not hold a matching PEM certificate and key (Envoy
// would refuse them).
func TLSSecret(in *Inputs, translator, namespace, name string) (*ir.Secret, error) {
	irName := namespace + "/" + name
	s := in.Secret(namespace, name)
	if s == nil {
		return nil, fmt.Errorf("secret %s does not exist", irName)
	}
	crt, key := secretData(s, corev1.TLSCertKey), secretData(s, corev1.TLSPrivateKeyKey)
	if len(crt) == 0 || len(key) == 0 {
		return nil, fmt.Errorf("secret %s needs both %s and %s", irName, corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	}
	if _, err := tls.X509KeyPair(crt, key); err != nil {
		return nil, fmt.Errorf("secret %s does not hold a valid PEM certificate and key: %w", irName, err)
	}
	return &ir.Secret{
		Name:        irName,
		Source:      ir.Source{Translator: translator, Kind: "Secret", Namespace: namespace, Name: name},
		Certificate: crt,
		PrivateKey:  key,
	}, nil
}

// secretData reads key from data, or from stringData for Secrets read from
// files, where no API server folded stringData into data.
func secretData(s *corev1.Secret, key string) []byte {
	if v, ok := s.Data[key]; ok {
		return v
	}
	if v, ok := s.StringData[key]; ok {
		return []byte(v)
	}
	return nil
}
