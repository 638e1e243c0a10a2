package emissary

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"

	v3 "github.com/legateproxy/legate/apis/getambassador.io/v3alpha1"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

// tcpMapping is one TCPMapping being translated.
type tcpMapping struct {
	obj *v3.TCPMapping
	rep *report
	// sni is the host it is chosen by ("" for any); cluster "" when its
	// service has nothing to send to.
	sni     string
	address string
	cluster string
}

func (t *tcpMapping) reject(field, reason, format string, args ...any) {
	t.rep.add(translators.SeverityError, field, reason, format+"; the TCPMapping is left out", args...)
}

func (t *tcpMapping) warn(field, reason, format string, args ...any) {
	t.rep.add(translators.SeverityWarning, field, reason, format, args...)
}

func (t *tcpMapping) source() ir.Source { return t.rep.source("spec") }

// tcpMappings translates TCPMappings: those of one port (and address)
// share a listener. Without host a TCPMapping takes every connection
// (a TCP listener, one route, weights split it among TCPMappings without
// host); with host the listener is TLS and connections are passed through
// unopened to the TCPMapping whose host is the ClientHello's SNI (Legate
// does not terminate TLS on TCPMappings).
func (tr *translation) tcpMappings(objs []*v3.TCPMapping) []*ir.Listener {
	type portKey struct {
		address string
		port    int
	}
	byPort := map[portKey][]*tcpMapping{}
	var keys []portKey
	for _, obj := range objs {
		t := tr.tcpMapping(obj)
		if t == nil {
			continue
		}
		k := portKey{t.address, obj.Spec.Port}
		if _, ok := byPort[k]; !ok {
			keys = append(keys, k)
		}
		byPort[k] = append(byPort[k], t)
	}
	slices.SortFunc(keys, func(a, b portKey) int {
		if a.port != b.port {
			return a.port - b.port
		}
		return strings.Compare(a.address, b.address)
	})
	var out []*ir.Listener
	for _, k := range keys {
		ts := byPort[k]
		tlsPort := slices.ContainsFunc(ts, func(t *tcpMapping) bool { return t.sni != "" })
		l := &ir.Listener{Name: fmt.Sprintf("emissary-tcp-%d", k.port), Address: k.address, Port: uint32(k.port), Protocol: ir.ProtocolTCP}
		if k.address != tr.settings.ListenAddress {
			l.Name = fmt.Sprintf("emissary-tcp-%s-%d", k.address, k.port)
		}
		src := ts[0].source()
		l.Source = &src
		if tlsPort {
			l.Protocol = ir.ProtocolTLS
		}
		bySNI := map[string][]*tcpMapping{}
		var snis []string
		for _, t := range ts {
			if _, ok := bySNI[t.sni]; !ok {
				snis = append(snis, t.sni)
			}
			bySNI[t.sni] = append(bySNI[t.sni], t)
		}
		slices.Sort(snis)
		for _, sni := range snis {
			group := bySNI[sni]
			backends, ok := tcpWeights(group)
			if !ok {
				continue
			}
			if len(backends) == 0 {
				for _, t := range group {
					t.warn("spec.service", "NoBackend", "no backend of the TCPMappings for this port and host can take connections; it is not served")
				}
				continue
			}
			r := &ir.TCPRoute{Name: "tcpmapping/" + group[0].obj.Namespace + "/" + group[0].obj.Name, Source: group[0].source(), Backends: backends}
			if sni != "" {
				r.SNI = []string{sni}
			}
			l.TCPRoutes = append(l.TCPRoutes, r)
		}
		if len(l.TCPRoutes) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// tcpWeights splits traffic among the TCPMappings of one port and host as
// among Mappings: weighted ones get their weight, the others share the rest
// of 100; over 100 in total is an Error for all.
func tcpWeights(ts []*tcpMapping) ([]ir.WeightedBackend, bool) {
	if len(ts) == 1 {
		if ts[0].cluster == "" {
			return nil, true
		}
		return []ir.WeightedBackend{{Cluster: ts[0].cluster, Weight: 100}}, true
	}
	total, unweighted := 0, 0
	for _, t := range ts {
		if w := t.obj.Spec.Weight; w != nil {
			if *w < 0 || *w > 100 {
				t.reject("spec.weight", "InvalidWeight", "weight %d is not in 0-100", *w)
				return nil, false
			}
			total += *w
		} else {
			unweighted++
		}
	}
	if total > 100 {
		for _, t := range ts {
			t.reject("spec.weight", "InvalidWeight", "the weights of the TCPMappings of this port and host add up to %d, more than 100", total)
		}
		return nil, false
	}
	share := 0
	if unweighted > 0 {
		share = int(math.RoundToEven(float64(100-total) / float64(unweighted)))
	}
	var out []ir.WeightedBackend
	for _, t := range ts {
		w := share
		if t.obj.Spec.Weight != nil {
			w = *t.obj.Spec.Weight
		}
		if t.cluster != "" && w > 0 {
			out = append(out, ir.WeightedBackend{Cluster: t.cluster, Weight: uint32(w)})
		}
	}
	return out, true
}

func (tr *translation) tcpMapping(obj *v3.TCPMapping) *tcpMapping {
	rep := newReport("TCPMapping", obj)
	tr.reports = append(tr.reports, rep)
	sp := &obj.Spec
	t := &tcpMapping{obj: obj, rep: rep, address: tr.settings.ListenAddress}
	if sp.Port < 1 || sp.Port > 65535 {
		t.reject("spec.port", "InvalidPort", "port %d is not in 1-65535", sp.Port)
		return nil
	}
	if sp.Address != "" {
		a, err := netip.ParseAddr(sp.Address)
		if err != nil || a.Zone() != "" {
			t.reject("spec.address", "InvalidAddress", "address %q is not an IP address", sp.Address)
			return nil
		}
		t.address = a.String()
	}
	if sp.Host != "" {
		h := strings.ToLower(sp.Host)
		if err := ir.ValidateHostname(h); err != nil || h == "*" {
			t.reject("spec.host", "InvalidHost", "host %q is not a DNS name or \"*.\" wildcard", sp.Host)
			return nil
		}
		t.sni = h
		for _, c := range tr.tlsContexts {
			if slices.Contains(c.Spec.Hosts, h) {
				t.warn("spec.host", "NotSupported", "TLSContext %s/%s lists this host, but Legate does not terminate TLS on TCPMappings: connections are passed through by SNI", c.Namespace, c.Name)
				break
			}
		}
	}
	svc, err := parseService(sp.Service)
	if err != nil {
		t.reject("spec.service", "InvalidService", "%v", err)
		return nil
	}
	if !svc.hasPort {
		t.reject("spec.service", "InvalidService", "service %q needs a port: a TCPMapping has no default", sp.Service)
		return nil
	}
	cs := clusterSettings{connectTimeout: defaultConnectTimeout, statsName: sp.StatsName}
	cbs := make([]*v3.CircuitBreaker, len(sp.CircuitBreakers))
	for i := range sp.CircuitBreakers {
		cbs[i] = &sp.CircuitBreakers[i]
	}
	var ok bool
	if cs.circuitBreakers, ok = circuitBreakers(t, cbs); !ok {
		return nil
	}
	if svc.scheme == "https" || sp.TLS != "" {
		up, ok := tr.originationTLS(t, obj.Namespace, sp.TLS)
		if !ok {
			return t
		}
		cs.tls = up
	}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"idle_timeout_ms", sp.IdleTimeoutMs != ""}, {"resolver", sp.Resolver != ""}, {"cluster_tag", sp.ClusterTag != ""},
		{"enable_ipv4", sp.EnableIPv4 != nil}, {"enable_ipv6", sp.EnableIPv6 != nil},
	} {
		if f.set {
			t.warn("spec."+f.name, "NotSupportedYet", "%s is not supported yet and has no effect", f.name)
		}
	}
	t.cluster = tr.clusterFor(t, obj.Namespace, sp.Service, svc, cs, t.source())
	if rep.failed {
		return nil
	}
	return t
}
