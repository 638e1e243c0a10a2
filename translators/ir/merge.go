package ir

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// Merge combines the fragments of several translators into one Config.
//
// The rules, applied in fragment order (the registry's translator order):
//
//   - Listeners with the same Name are one listener; they must agree on
//     address, port and protocol, or the later one is left out. The first
//     fragment's HTTPConnection settings hold for the whole listener; a
//     later fragment's that differ are reported (and a fragment without
//     any takes those of the others). The same holds for StatPrefix.
//   - VirtualHosts with the same Name in one listener are one virtual host:
//     their hostnames are united and their routes put together. If both carry
//     TLS settings and they differ, the first fragment's TLS wins and the
//     later fragment's routes of that host are reported as conflicting.
//   - Routes are then ordered by SortRoutes. A route whose name repeats one
//     already in the virtual host, or whose match is identical to a route
//     that comes before it (so it could never be reached), loses: it is left
//     out and reported.
//   - Clusters and Secrets with the same Name must be identical (two
//     translators naming the same Service port agree on it); otherwise the
//     first is kept and the later reported.
//
// Every loser is returned as an Error whose Source is the object that lost,
// never silently dropped.
//
// Merge writes into nothing it is given: listeners and their lists are
// new, and routes, clusters, secrets and virtual hosts are the
// fragments' own values, shared and never written (translators may hand
// out the same values run after run; later stages memoize by pointer). A
// virtual host is shared when its listener is the only one of its name
// and Merge need not change it; else Merge makes a new one. Prune, which
// edits the merged Config in place, keeps to the listeners and their
// lists, and copies a virtual host it changes.
func Merge(fragments ...*Config) (*Config, []Error) {
	out := &Config{}
	var errs []Error
	listeners := map[string]*Listener{}
	vhosts := map[string]*VirtualHost{}
	nc, ns, withClusters := 0, 0, 0
	for _, f := range fragments {
		if f != nil {
			nc, ns = nc+len(f.Clusters), ns+len(f.Secrets)
			if len(f.Clusters) > 0 {
				withClusters++
			}
		}
	}
	// Clusters of one fragment alone, named in strictly increasing order
	// (as translators sort them), have no name in common: they are taken
	// as they are, without indexing every one.
	var clusters map[string]*Cluster
	if withClusters > 1 {
		clusters = make(map[string]*Cluster, nc)
	}
	secrets := make(map[string]*Secret, ns)
	if nc > 0 {
		out.Clusters = make([]*Cluster, 0, nc)
	}

	// How many listeners of each name there are, over all fragments: a
	// listener that is the only one of its name keeps its fragment's
	// virtual hosts (see soleVirtualHosts).
	names := map[string]int{}
	for _, f := range fragments {
		if f != nil {
			for _, l := range f.Listeners {
				names[l.Name]++
			}
		}
	}

	for _, f := range fragments {
		if f == nil {
			continue
		}
		if clusters == nil && clustersSorted(f.Clusters) {
			out.Clusters = append(out.Clusters, f.Clusters...)
		} else if clusters == nil {
			// Not sorted: indexed after all.
			clusters = make(map[string]*Cluster, nc)
		}
		for _, c := range f.Clusters {
			if clusters == nil {
				break
			}
			if prev, ok := clusters[c.Name]; ok {
				if !reflect.DeepEqual(withoutSource(prev), withoutSource(c)) {
					errs = append(errs, Error{c.Source, "cluster " + c.Name, "conflicts with the cluster of the same name from " + prev.Source.String()})
				}
				continue
			}
			clusters[c.Name] = c
			out.Clusters = append(out.Clusters, c)
		}
		for _, s := range f.Secrets {
			if prev, ok := secrets[s.Name]; ok {
				if !slices.Equal(prev.Certificate, s.Certificate) || !slices.Equal(prev.PrivateKey, s.PrivateKey) || !slices.Equal(prev.CA, s.CA) {
					errs = append(errs, Error{s.Source, "secret " + s.Name, "conflicts with the secret of the same name from " + prev.Source.String()})
				}
				continue
			}
			secrets[s.Name] = s
			out.Secrets = append(out.Secrets, s)
		}
		for _, l := range f.Listeners {
			ml, ok := listeners[l.Name]
			if !ok {
				ml = &Listener{Name: l.Name, Address: l.Address, Port: l.Port, Protocol: l.Protocol, Source: l.Source}
				listeners[l.Name] = ml
				out.Listeners = append(out.Listeners, ml)
			} else if ml.Address != l.Address || ml.Port != l.Port || ml.Protocol != l.Protocol {
				errs = append(errs, listenerConflict(l, ml)...)
				continue
			}
			if hc := l.HTTPConnection; hc != nil {
				switch prev := ml.HTTPConnection; {
				case prev == nil:
					ml.HTTPConnection = hc
				case !sameHTTPConnection(prev, hc):
					errs = append(errs, Error{hc.Source, "listener " + l.Name,
						"its connection settings differ from those " + prev.Source.String() + " gives the same listener, which are kept"})
				}
			}
			if sp := l.StatPrefix; sp != "" {
				switch prev := ml.StatPrefix; {
				case prev == "":
					ml.StatPrefix = sp
				case prev != sp:
					src := Source{}
					if l.Source != nil {
						src = *l.Source
					}
					errs = append(errs, Error{src, "listener " + l.Name,
						fmt.Sprintf("its stat prefix %q differs from %q, which another source gives the same listener and is kept", sp, prev)})
				}
			}
			ml.TCPRoutes = append(ml.TCPRoutes, l.TCPRoutes...)
			if names[l.Name] == 1 && soleVirtualHosts(l.VirtualHosts) {
				ml.VirtualHosts = slices.Clone(l.VirtualHosts)
				continue
			}
			for _, vh := range l.VirtualHosts {
				key := l.Name + "\x00" + vh.Name
				mvh, ok := vhosts[key]
				if !ok {
					mvh = &VirtualHost{Name: vh.Name, Hostnames: slices.Clone(vh.Hostnames), TLS: vh.TLS, Group: vh.Group}
					vhosts[key] = mvh
					ml.VirtualHosts = append(ml.VirtualHosts, mvh)
					mvh.Routes = append(mvh.Routes, vh.Routes...)
					continue
				}
				if vh.TLS != nil && mvh.TLS != nil && !reflect.DeepEqual(vh.TLS, mvh.TLS) {
					for _, r := range vh.Routes {
						errs = append(errs, Error{r.Source, "route " + r.Name, fmt.Sprintf("virtual host %s already has different TLS settings", vh.Name)})
					}
					continue
				}
				if mvh.TLS == nil {
					mvh.TLS = vh.TLS
				}
				for _, h := range vh.Hostnames {
					if !slices.Contains(mvh.Hostnames, h) {
						mvh.Hostnames = append(mvh.Hostnames, h)
					}
				}
				mvh.Routes = append(mvh.Routes, vh.Routes...)
			}
		}
	}
	for _, l := range out.Listeners {
		spreadToNarrowerHosts(l)
		for i, vh := range l.VirtualHosts {
			// Copy on write: the virtual host may be a fragment's own.
			routes := vh.Routes
			if !routesSorted(routes) {
				routes = slices.Clone(routes)
				SortRoutes(routes)
			}
			kept, lost := dropUnreachable(routes)
			errs = append(errs, lost...)
			if len(kept) != len(vh.Routes) || len(kept) > 0 && &kept[0] != &vh.Routes[0] {
				cp := *vh
				cp.Routes = kept
				l.VirtualHosts[i] = &cp
			}
		}
	}
	return out, errs
}

// soleVirtualHosts reports whether the virtual hosts of a listener are
// named in strictly increasing order, so that no two share a name: then,
// when no other listener has the listener's name, Merge has nothing to
// join, and keeps the virtual hosts themselves (copying only one whose
// routes it reorders, extends or drops). A Gateway listener of 10k
// routes has 10k virtual hosts: copying each on every run was most of
// Merge's work, and the same pointers run after run let Prune and the
// xDS stages reuse what they made of them.
func soleVirtualHosts(vhs []*VirtualHost) bool {
	for i := 1; i < len(vhs); i++ {
		if vhs[i-1].Name >= vhs[i].Name {
			return false
		}
	}
	return true
}

// clustersSorted reports whether cs are named in strictly increasing
// order.
func clustersSorted(cs []*Cluster) bool {
	for i := 1; i < len(cs); i++ {
		if cs[i-1].Name >= cs[i].Name {
			return false
		}
	}
	return true
}

// routesSorted reports whether SortRoutes would leave routes as they are.
func routesSorted(routes []*Route) bool {
	for i := 1; i < len(routes); i++ {
		if routeBefore(routes[i], routes[i-1]) {
			return false
		}
	}
	return true
}

// spreadToNarrowerHosts copies every route marked MatchesNarrowerHosts
// into each other virtual host of l that claims a hostname narrower than
// one of the route's own virtual host (an exact name under its wildcard,
// anything under "*"), and that its :authority match, if any, admits.
// Envoy gives a request to the most specific virtual host only, so without
// the copy such a route would go dark for that hostname as soon as another
// source claimed it. A virtual host where the route's own translator put
// routes is left alone: that translator already chose what serves it.
func spreadToNarrowerHosts(l *Listener) {
	type spread struct {
		from   *VirtualHost
		routes []*Route
	}
	// Only a wildcard name covers another (an exact name covers only
	// itself): virtual hosts with none spread nothing, and skipping them
	// keeps this linear in the virtual hosts. With every Mapping of its
	// own hostname, comparing each with each other took 1.4 s at 10k.
	var all []spread
	for _, w := range l.VirtualHosts {
		if !slices.ContainsFunc(w.Hostnames, isWildcardHost) {
			continue
		}
		var rs []*Route
		for _, r := range w.Routes {
			if r.MatchesNarrowerHosts {
				rs = append(rs, r)
			}
		}
		if len(rs) > 0 {
			all = append(all, spread{w, rs})
		}
	}
	if len(all) == 0 {
		return
	}
	// filled says whether translator put routes into v (before any copy:
	// v is the listener's own, copies go into vhs).
	filled := func(v *VirtualHost, translator string) bool {
		return slices.ContainsFunc(v.Routes, func(r *Route) bool { return r.Source.Translator == translator })
	}
	// The copies are added to copies of the virtual hosts (which may be
	// a fragment's own), made at the first one.
	vhs := slices.Clone(l.VirtualHosts)
	for _, s := range all {
		for i, v := range l.VirtualHosts {
			if v == s.from {
				continue
			}
			for _, r := range s.routes {
				if !narrowerHostFor(v.Hostnames, s.from.Hostnames, r) || filled(v, r.Source.Translator) {
					continue
				}
				if vhs[i] == v {
					cp := *v
					cp.Routes = slices.Clip(v.Routes)
					vhs[i] = &cp
				}
				vhs[i].Routes = append(vhs[i].Routes, r)
			}
		}
	}
	l.VirtualHosts = vhs
}

// isWildcardHost says whether a virtual host name is "*" or "*.suffix".
func isWildcardHost(h string) bool { return strings.HasPrefix(h, "*") }

// narrowerHostFor reports whether one of narrow is strictly narrower than
// one of wide and, when it is an exact name, admitted by r's :authority
// match.
func narrowerHostFor(narrow, wide []string, r *Route) bool {
	for _, h := range narrow {
		for _, w := range wide {
			if h == w || !hostCovers(w, h) {
				continue
			}
			if strings.HasPrefix(h, "*") || authorityAdmits(r, h) {
				return true
			}
		}
	}
	return false
}

// hostCovers reports whether the virtual host name w ("*", "*.suffix" or
// exact) covers h.
func hostCovers(w, h string) bool {
	switch {
	case w == "*":
		return true
	case strings.HasPrefix(w, "*."):
		return strings.HasSuffix(h, w[1:]) && len(h) > len(w)-1
	}
	return w == h
}

// authorityAdmits reports whether r's :authority matches, if any, accept
// host h (without a port).
func authorityAdmits(r *Route, h string) bool {
	for _, m := range r.Match.Headers {
		if m.Name != ":authority" || m.Invert {
			continue
		}
		switch m.Type {
		case MatchExact:
			if !strings.EqualFold(m.Value, h) {
				return false
			}
		case MatchRegex:
			re, err := regexp.Compile(m.Value)
			if err != nil || !re.MatchString(h) {
				return false
			}
		}
	}
	return true
}

// sameHTTPConnection reports whether a and b are the same settings,
// wherever they came from.
func sameHTTPConnection(a, b *HTTPConnection) bool {
	ca, cb := *a, *b
	ca.Source, cb.Source = Source{}, Source{}
	return reflect.DeepEqual(ca, cb)
}

func withoutSource(c *Cluster) Cluster {
	cp := *c
	cp.Source = Source{}
	return cp
}

func listenerConflict(l, kept *Listener) []Error {
	msg := fmt.Sprintf("listener %s is already %s:%d/%s", l.Name, kept.Address, kept.Port, kept.Protocol)
	var errs []Error
	for _, vh := range l.VirtualHosts {
		for _, r := range vh.Routes {
			errs = append(errs, Error{r.Source, "route " + r.Name, msg})
		}
	}
	for _, t := range l.TCPRoutes {
		errs = append(errs, Error{t.Source, "tcp route " + t.Name, msg})
	}
	return errs
}

// dropUnreachable removes routes whose name repeats an earlier route's, or
// whose match equals an earlier route's match; routes must already be sorted.
func dropUnreachable(routes []*Route) ([]*Route, []Error) {
	var errs []Error
	// A virtual host mostly has a few routes: names are looked up among
	// the kept routes then, and in a map only for long lists.
	var names map[string]bool
	if len(routes) > 16 {
		names = make(map[string]bool, len(routes))
	}
	// kept stays nil, and routes is returned as it is, until a route is
	// dropped: most virtual hosts lose none.
	var kept []*Route
	for i, r := range routes {
		before := kept
		if before == nil {
			before = routes[:i]
		}
		var why string
		switch {
		case names != nil && names[r.Name], names == nil && slices.ContainsFunc(before, func(k *Route) bool { return k.Name == r.Name }):
			why = "another route has the same name"
		default:
			if winner := findSameMatch(before, r); winner != nil {
				why = fmt.Sprintf("its match is identical to that of route %s from %s, which takes precedence", winner.Name, winner.Source)
			}
		}
		if why != "" {
			errs = append(errs, Error{r.Source, "route " + r.Name, why})
			if kept == nil {
				kept = append(make([]*Route, 0, len(routes)), routes[:i]...)
			}
			continue
		}
		if names != nil {
			names[r.Name] = true
		}
		if kept != nil {
			kept = append(kept, r)
		}
	}
	if kept == nil {
		return routes, errs
	}
	return kept, errs
}

func findSameMatch(kept []*Route, r *Route) *Route {
	m := &r.Match
	for _, k := range kept {
		// What tells most matches apart first, without reflection:
		// this runs on every route of every run.
		km := &k.Match
		if km.Path.Type != m.Path.Type || km.Path.Value != m.Path.Value || km.Method != m.Method ||
			len(km.Headers) != len(m.Headers) || len(km.QueryParams) != len(m.QueryParams) {
			continue
		}
		if reflect.DeepEqual(km, m) {
			return k
		}
	}
	return nil
}

// SortRoutes orders routes within one virtual host for first-match-wins
// evaluation. The order, from the most to the least decisive key:
//
//  1. Precedence, higher first (Emissary's Mapping precedence; 0 elsewhere).
//  2. Path match kind: Exact, then RegularExpression, then prefixes
//     (Prefix and SegmentPrefix alike).
//  3. Longer path value first (so the longest prefix wins, as both the
//     Ingress and Gateway API specs require); at equal length a
//     SegmentPrefix comes before a plain Prefix.
//  4. A route with a method match before one without.
//  5. More header matches first.
//  6. More query parameter matches first.
//
// The sort is stable: routes equal on every key keep the order their
// translators gave them (each translator orders its own objects by its spec's
// tie-breakers, e.g. creation time then namespace/name), and translators keep
// registry order.
func SortRoutes(routes []*Route) {
	if len(routes) < 2 {
		return
	}
	slices.SortStableFunc(routes, func(a, b *Route) int {
		switch {
		case routeBefore(a, b):
			return -1
		case routeBefore(b, a):
			return 1
		}
		return 0
	})
}

func routeBefore(a, b *Route) bool {
	if a.Precedence != b.Precedence {
		return a.Precedence > b.Precedence
	}
	ra, rb := pathRank(a.Match.Path.Type), pathRank(b.Match.Path.Type)
	if ra != rb {
		return ra < rb
	}
	la, lb := len(a.Match.Path.Value), len(b.Match.Path.Value)
	if la != lb {
		return la > lb
	}
	if a.Match.Path.Type != b.Match.Path.Type {
		return a.Match.Path.Type == PathSegmentPrefix
	}
	if (a.Match.Method != "") != (b.Match.Method != "") {
		return a.Match.Method != ""
	}
	if len(a.Match.Headers) != len(b.Match.Headers) {
		return len(a.Match.Headers) > len(b.Match.Headers)
	}
	return len(a.Match.QueryParams) > len(b.Match.QueryParams)
}

func pathRank(t PathMatchType) int {
	switch t {
	case PathExact:
		return 0
	case PathRegex:
		return 1
	default:
		return 2
	}
}
