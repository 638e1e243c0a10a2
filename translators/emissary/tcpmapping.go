package emissary

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

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
	// tls terminates TLS for sni (always set with sni).
	tls *ir.TLSConfig
	// idle closes connections idle this long (ir.TCPRoute.IdleTimeout).
	idle time.Duration
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
// host); with host the listener is TLS: it terminates TLS with the
// certificate of a Host or TLSContext for that host (see tcpTermination)
// and forwards the decrypted bytes to the TCPMapping whose host is the
// ClientHello's server name.
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
		if ll := tr.listenerOn(uint32(k.port)); ll != nil {
			l.StatPrefix = ll.statsPrefix
		}
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
			r := &ir.TCPRoute{Name: "tcpmapping/" + group[0].obj.Namespace + "/" + group[0].obj.Name, Source: group[0].source(), Backends: backends, IdleTimeout: group[0].idle}
			for _, t := range group[1:] {
				if t.idle != group[0].idle {
					t.warn("spec.idle_timeout_ms", "CanaryIdleTimeoutDiffers", "this TCPMapping shares its port and host with %s/%s, whose idle_timeout_ms applies to all their connections", group[0].obj.Namespace, group[0].obj.Name)
				}
			}
			if sni != "" {
				r.SNI = []string{sni}
				r.TLS = group[0].tls
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
	if ll := tr.listenerOn(uint32(sp.Port)); ll != nil {
		switch {
		case ll.protocol != ir.ProtocolTCP:
			t.reject("spec.port", "PortConflict", "port %d is the port of the %s listener %s; TCPMappings need a port of their own (or a TCP or TLS Listener)", sp.Port, ll.protocol, ll.name)
			return nil
		case ll.terminatesTLS && sp.Host == "":
			t.reject("spec.host", "ListenerMismatch", "Listener %s/%s on port %d terminates TLS (protocolStack [TLS, TCP]) but this TCPMapping has no host to choose it by", ll.ns, ll.rep.ref.Name, sp.Port)
			return nil
		case !ll.terminatesTLS && sp.Host != "":
			t.reject("spec.host", "ListenerMismatch", "Listener %s/%s on port %d does not terminate TLS (protocolStack [TCP]) but this TCPMapping's host asks for it", ll.ns, ll.rep.ref.Name, sp.Port)
			return nil
		}
	}
	if sp.Host != "" {
		h := strings.ToLower(sp.Host)
		if err := ir.ValidateHostname(h); err != nil || h == "*" {
			t.reject("spec.host", "InvalidHost", "host %q is not a DNS name or \"*.\" wildcard", sp.Host)
			return nil
		}
		t.sni = h
		if t.tls = tr.tcpTermination(t, h); t.tls == nil {
			return nil
		}
	}
	svc, err := parseService(sp.Service)
	if err != nil {
		t.reject("spec.service", "InvalidService", "%v", err)
		return nil
	}
	if !svc.hasPort && sp.TLS != "" {
		// Emissary's default port is 443 whenever TLS is originated,
		// even for an http:// service.
		svc.port = 443
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
		{"resolver", sp.Resolver != ""}, {"cluster_tag", sp.ClusterTag != ""},
		{"enable_ipv4", sp.EnableIPv4 != nil}, {"enable_ipv6", sp.EnableIPv6 != nil},
	} {
		if f.set {
			t.warn("spec."+f.name, "NotSupportedYet", "%s is not supported yet and has no effect", f.name)
		}
	}
	if v := strings.TrimSpace(sp.IdleTimeoutMs); v != "" {
		// Envoy takes durations up to about 315 576 000 000 seconds.
		const maxMs = 315_576_000_000_000
		switch n, err := strconv.ParseInt(v, 10, 64); {
		case err != nil || n < 0 || n > maxMs:
			rep.fieldError("spec.idle_timeout_ms", "idle_timeout_ms %q is not a whole number of milliseconds from 0 to %d; it is left out", sp.IdleTimeoutMs, int64(maxMs))
		case n == 0:
			t.idle = -1 // 0 turns the timeout off, as on Mappings
		default:
			t.idle = time.Duration(n) * time.Millisecond
		}
	}
	t.cluster = tr.clusterFor(t, obj.Namespace, sp.Service, svc, cs, t.source())
	if rep.failed {
		return nil
	}
	return t
}

// listenerOn returns the accepted Listener (or default listener) on port,
// if any.
func (tr *translation) listenerOn(port uint32) *listener {
	for _, l := range tr.listeners {
		if l.port == port {
			return l
		}
	}
	return nil
}

// tcpTermination finds how a TCPMapping with host terminates TLS, in
// Emissary's order: the TLS of a Host whose hostname covers host (exact,
// else the longest "*." wildcard, else "*"); else a TLSContext whose
// hosts list host exactly (one in the TCPMapping's namespace first), with
// its secret and settings. With neither, the TCPMapping is left out with
// an Error, as in Emissary.
func (tr *translation) tcpTermination(t *tcpMapping, hostname string) *ir.TLSConfig {
	var best *host
	for _, h := range tr.hosts {
		if h.tls == nil || !globCovers(h.hostname, hostname) {
			continue
		}
		if best == nil || len(strings.TrimPrefix(h.hostname, "*")) > len(strings.TrimPrefix(best.hostname, "*")) ||
			(h.hostname == hostname && best.hostname != hostname) {
			best = h
		}
	}
	if best != nil {
		return best.tls
	}
	var ctx *v3.TLSContext
	for _, c := range tr.tlsContexts {
		if slices.Contains(c.Spec.Hosts, hostname) && (ctx == nil || c.Namespace == t.obj.Namespace && ctx.Namespace != t.obj.Namespace) {
			ctx = c
		}
	}
	if ctx == nil {
		t.reject("spec.host", "NoCertificate", "no Host with a tlsSecret covers host %q and no TLSContext lists it in hosts: there is no certificate to terminate TLS with", hostname)
		return nil
	}
	tr.usedContext(ctx)
	field := "spec.host"
	if ctx.Spec.Secret == "" {
		t.reject(field, "NoCertificate", "TLSContext %s/%s lists host %q but names no secret: there is no certificate to terminate TLS with", ctx.Namespace, ctx.Name, hostname)
		return nil
	}
	ns, name := secretRef(ctx, ctx.Spec.Secret)
	secret, err := tr.certSecret(ns, name)
	if err != nil {
		t.reject(field, "InvalidSecret", "TLSContext %s/%s: %v", ctx.Namespace, ctx.Name, err)
		return nil
	}
	out := &ir.TLSConfig{SecretNames: []string{secret}}
	if !tr.tlsSettings(t.rep, field, &ctx.Spec, ctx, ctx.Namespace, out) {
		return nil
	}
	return out
}

// globCovers reports whether every name the DNS glob b matches is matched
// by the glob a, so a certificate for a serves b.
func globCovers(a, b string) bool {
	switch {
	case a == "*" || a == b:
		return true
	case strings.HasPrefix(a, "*."):
		return strings.HasSuffix(b, a[1:]) && b != a[1:]
	}
	return false
}
