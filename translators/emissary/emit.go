package emissary

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"

	"github.com/legateproxy/legate/translators/ir"
)

// group is the Mappings that share one route: same virtual host, match and
// precedence (Emissary's mapping group).
type group struct {
	vhost string
	// members take shares of the traffic; shadows mirror it; redirects
	// (host_redirect) answer instead.
	members, shadows, redirects []*mapping
}

func groupKey(m *mapping) string {
	b, err := json.Marshal(struct {
		V string
		M ir.Match
		P int32
	}{m.vhost, m.match, m.precedence})
	if err != nil {
		panic(fmt.Sprintf("emissary: encoding a match: %v", err)) // plain data: cannot fail
	}
	return string(b)
}

// emit groups the accepted Mappings and builds the fragment.
func (tr *translation) emit(ms []*mapping) *ir.Config {
	var groups []*group
	byKey := map[string]*group{}
	for _, m := range ms {
		if !m.ok {
			continue
		}
		k := groupKey(m)
		g, ok := byKey[k]
		if !ok {
			g = &group{vhost: m.vhost}
			byKey[k] = g
			groups = append(groups, g)
		}
		switch {
		case m.redirect != nil:
			g.redirects = append(g.redirects, m)
		case m.shadow:
			g.shadows = append(g.shadows, m)
		default:
			g.members = append(g.members, m)
		}
	}
	clusterNames := map[string]bool{}
	for n := range tr.clusters {
		clusterNames[n] = true
	}
	pl := newPlacement(tr)
	used := map[string]bool{}
	for _, g := range groups {
		r, members := tr.route(g)
		if r == nil {
			continue
		}
		if errs := ir.ValidateRoute(r, clusterNames); len(errs) > 0 {
			// A safety net: the checks above should have caught it.
			for _, m := range members {
				for _, e := range errs {
					m.reject("spec", "Invalid", "route %s: %s", r.Name, e)
				}
			}
			continue
		}
		if !pl.add(r, g.vhost, members[0]) {
			for _, m := range members {
				if len(tr.hosts) > 0 {
					m.warn("spec.hostname", "NoHost", "no Host takes this Mapping (its hostname %q and labels must match a Host's hostname and mappingSelector); it is not served", g.vhost)
				} else {
					m.warn("spec", "NoListener", "no HTTP Listener serves Mappings without a Host; it is not served")
				}
			}
			continue
		}
		if r.Forward != nil {
			for _, b := range r.Forward.Backends {
				used[b.Cluster] = true
			}
		}
		for _, mi := range r.Filters.Mirrors {
			used[mi.Cluster] = true
		}
	}
	cfg := &ir.Config{Listeners: append(pl.result(), tr.tcpListeners...)}
	for _, l := range tr.tcpListeners {
		for _, r := range l.TCPRoutes {
			for _, b := range r.Backends {
				used[b.Cluster] = true
			}
		}
	}
	tr.reportContexts()
	// Only the Secrets something served names: a Host left out, or a
	// Mapping whose share answers 503, loaded some for nothing.
	usedSecrets := map[string]bool{}
	useTLS := func(t *ir.TLSConfig) {
		if t != nil {
			for _, n := range t.SecretNames {
				usedSecrets[n] = true
			}
			usedSecrets[t.ClientCA] = true
		}
	}
	for _, l := range cfg.Listeners {
		for _, vh := range l.VirtualHosts {
			useTLS(vh.TLS)
		}
		for _, r := range l.TCPRoutes {
			useTLS(r.TLS)
		}
	}
	for n, c := range tr.clusters {
		if used[n] && c.TLS != nil {
			usedSecrets[c.TLS.CASecret] = true
			usedSecrets[c.TLS.ClientCertSecret] = true
		}
	}
	for _, n := range sortedKeys(tr.secrets) {
		if usedSecrets[n] {
			cfg.Secrets = append(cfg.Secrets, tr.secrets[n])
		}
	}
	for _, n := range sortedKeys(tr.clusters) {
		if used[n] {
			cfg.Clusters = append(cfg.Clusters, tr.clusters[n])
		}
	}
	return cfg
}

// route builds the route of one group, or nil when the group serves
// nothing; it also returns the Mappings the route came from.
func (tr *translation) route(g *group) (*ir.Route, []*mapping) {
	all := append(append(append([]*mapping{}, g.redirects...), g.members...), g.shadows...)
	if len(g.redirects) > 0 {
		p := g.redirects[0]
		for _, m := range all[1:] {
			m.warn("spec.host_redirect", "ShadowedByRedirect",
				"Mapping %s/%s with host_redirect has the same match and answers its requests with a redirect", p.obj.Namespace, p.obj.Name)
		}
		r := &ir.Route{Name: p.routeName(), Source: p.source(), Precedence: p.precedence, Match: p.match, Redirect: p.redirect, Annotations: p.annotationsOut}
		return r, all
	}
	if len(g.members) == 0 {
		for _, m := range g.shadows {
			m.warn("spec.shadow", "NothingToShadow", "no Mapping without shadow has the same match, so there is no traffic to mirror")
		}
		return nil, nil
	}
	weights, ok := canaryWeights(g.members)
	if !ok {
		return nil, nil
	}
	p := g.members[0]
	r := &ir.Route{Name: p.routeName(), Source: p.source(), Precedence: p.precedence, Match: p.match, Filters: p.filters, Annotations: p.annotationsOut}
	var backends []ir.WeightedBackend
	total := 0
	for i, m := range g.members {
		if i > 0 && !reflect.DeepEqual(m.filters, p.filters) {
			m.warn("spec", "CanaryFiltersDiffer",
				"this Mapping shares its match with %s/%s; its rewrite, headers, timeout and retry settings differ, and per-Mapping settings in a canary group are not supported yet: those of %s/%s apply",
				p.obj.Namespace, p.obj.Name, p.obj.Namespace, p.obj.Name)
		}
		if m.cluster == "" {
			continue
		}
		backends = append(backends, ir.WeightedBackend{Cluster: m.cluster, Weight: uint32(weights[i])})
		total += weights[i]
	}
	if total == 0 {
		r.DirectResponse = &ir.DirectResponse{StatusCode: 503}
		r.Filters = ir.Filters{ResponseHeaders: p.filters.ResponseHeaders}
	} else {
		r.Forward = &ir.ForwardAction{Backends: backends}
		for _, s := range g.shadows {
			if s.cluster == "" {
				continue
			}
			pct := 100.0
			if s.weight != nil && *s.weight >= 0 && *s.weight <= 100 {
				pct = float64(*s.weight)
			}
			r.Filters.Mirrors = append(r.Filters.Mirrors, ir.Mirror{Cluster: s.cluster, Percent: pct})
		}
	}
	return r, all
}

// canaryWeights applies Emissary's rule to the Mappings of one group: a
// Mapping alone gets 100; otherwise weighted Mappings get their weight and
// unweighted ones share the rest of 100 equally (rounded half to even, as
// Emissary's Python does). Weights outside 0-100 or adding up to more than
// 100 fail the group.
func canaryWeights(ms []*mapping) ([]int, bool) {
	out := make([]int, len(ms))
	if len(ms) == 1 {
		out[0] = 100
		return out, true
	}
	total, unweighted := 0, 0
	for i, m := range ms {
		if m.weight == nil {
			unweighted++
			continue
		}
		w := *m.weight
		if w < 0 || w > 100 {
			failGroup(ms, fmt.Sprintf("Mapping %s/%s has weight %d, which is not in 0-100", m.obj.Namespace, m.obj.Name, w))
			return nil, false
		}
		out[i] = w
		total += w
	}
	if total > 100 {
		failGroup(ms, fmt.Sprintf("the weights of the Mappings with this match add up to %d, more than 100", total))
		return nil, false
	}
	if unweighted == 0 {
		if total < 100 {
			for _, m := range ms {
				m.warn("spec.weight", "WeightsBelow100",
					"the weights of the Mappings with this match add up to %d; Legate splits the traffic in proportion to them", total)
			}
		}
		return out, true
	}
	share := int(math.RoundToEven(float64(100-total) / float64(unweighted)))
	for i, m := range ms {
		if m.weight == nil {
			out[i] = share
		}
	}
	return out, true
}

func failGroup(ms []*mapping, msg string) {
	for _, m := range ms {
		m.reject("spec.weight", "InvalidWeight", "%s", msg)
	}
}
