package translators

import (
	"cmp"
	"net/netip"
	"slices"

	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/legateproxy/legate/translators/ir"
)

// The Service helpers below are shared by every translator, so that two
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
