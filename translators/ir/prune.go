package ir

import (
	"fmt"
	"slices"
	"sync"
)

// Prune removes every invalid element from c, in place, and returns why each
// was removed. What is left passes Validate. Elements are removed at the
// smallest scope that makes the rest valid: a bad route loses only itself, a
// bad cluster also the routes that forward to it (their share would
// otherwise go nowhere), a bad listener its whole content.
func (c *Config) Prune() []Error {
	return c.prune(nil, nil)
}

// Pruner prunes Configs as Prune does, and remembers from one run to the
// next the routes and clusters (by pointer) that passed the checks that
// depend on nothing but themselves (their fields, their strings' UTF-8):
// the next run checks such a route only for the clusters it names, and
// such a cluster not at all. Translators hand out the same *Route and
// *Cluster for what did not change, and nobody writes into one once handed
// out, so a pointer seen valid stays valid. Only the last run's entries
// are kept. The zero Pruner is ready; it is safe for concurrent use.
type Pruner struct {
	mu   sync.Mutex
	last *pruneMemo
}

// pruneMemo holds the routes and clusters one run found valid on their
// own.
type pruneMemo struct {
	routes   map[*Route]struct{}
	clusters map[*Cluster]struct{}
	// backends is what was made of the run's secrets and clusters.
	backends *prunedBackends
	// vhosts are the virtual hosts without TLS (whose check reads the
	// secrets) that were valid on their own, with all their routes;
	// vhLists the same, by listener, of listeners whose virtual hosts
	// are in order of names (see pruneListener).
	vhosts  map[*VirtualHost]struct{}
	vhLists map[string][]*VirtualHost
}

// prunedBackends are the secrets and clusters one run was given (inSecrets,
// inClusters), those it kept, their indexes and the errors of those it
// did not. A run given the very same lists (same pointers, same order)
// reuses them all: they are never written once made.
type prunedBackends struct {
	inSecrets    []*Secret
	inClusters   []*Cluster
	keptSecrets  []*Secret
	keptClusters []*Cluster
	secretByName map[string]*Secret
	clusterNames map[string]bool
	errs         []Error
}

// Prune is c.Prune(), through the memo.
func (p *Pruner) Prune(c *Config) []Error {
	p.mu.Lock()
	prev := p.last
	p.mu.Unlock()
	n, v := 0, 0
	if prev != nil {
		n, v = len(prev.routes), len(prev.vhosts)
	}
	// next.clusters is made by prune, unless it keeps prev's.
	next := &pruneMemo{routes: make(map[*Route]struct{}, n), vhosts: make(map[*VirtualHost]struct{}, v)}
	errs := c.prune(prev, next)
	p.mu.Lock()
	p.last = next
	p.mu.Unlock()
	return errs
}

func (c *Config) prune(prev, next *pruneMemo) []Error {
	var errs []Error
	var secretByName map[string]*Secret
	var clusters map[string]bool
	same := prev != nil && prev.backends != nil && slices.Equal(prev.backends.inSecrets, c.Secrets) && slices.Equal(prev.backends.inClusters, c.Clusters)
	if same {
		// The very secrets and clusters of the last run: what was
		// made of them holds (their checks read nothing else).
		b := prev.backends
		c.Secrets, c.Clusters = slices.Clip(b.keptSecrets), slices.Clip(b.keptClusters)
		secretByName, clusters = b.secretByName, b.clusterNames
		errs = append(errs, b.errs...)
		if next != nil {
			next.backends, next.clusters = b, prev.clusters
		}
	} else {
		b := &prunedBackends{inSecrets: c.Secrets, inClusters: c.Clusters}
		if next != nil {
			next.clusters = make(map[*Cluster]struct{}, len(c.Clusters))
		}
		errs, secretByName, clusters = c.pruneBackends(prev, next)
		b.keptSecrets, b.keptClusters = c.Secrets, c.Clusters
		b.secretByName, b.clusterNames, b.errs = secretByName, clusters, slices.Clip(errs)
		if next != nil {
			next.backends = b
		}
	}

	names := map[string]bool{}
	ports := map[string]string{}
	keptListeners := c.Listeners[:0:0]
	for _, l := range c.Listeners {
		src := Source{}
		if l.Source != nil {
			src = *l.Source
		}
		msgs := validateListener(l)
		key := fmt.Sprintf("%s:%d/%s", l.Address, l.Port, udpOrTCP(l.Protocol))
		if names[l.Name] {
			msgs = append(msgs, "duplicate listener name")
		} else if other, ok := ports[key]; ok {
			msgs = append(msgs, "address and port already used by listener "+other)
		}
		if len(msgs) > 0 {
			errs = appendAll(errs, src, "listener "+l.Name, msgs)
			errs = append(errs, listenerConflict(l, &Listener{Address: "(removed)"})...)
			continue
		}
		if hmsgs := validateHTTPConnection(l); len(hmsgs) > 0 {
			// Settings that cannot be served are dropped alone: the
			// listener's routes still flow with the defaults.
			errs = appendAll(errs, l.HTTPConnection.Source, "listener "+l.Name, hmsgs)
			l.HTTPConnection = nil
		}
		if l.StatPrefix != "" {
			if err := ValidateStatPrefix(l.StatPrefix); err != nil {
				// Dropped alone, as above: statistics fall back to the
				// listener's name.
				errs = append(errs, Error{src, "listener " + l.Name, err.Error()})
				l.StatPrefix = ""
			}
		}
		names[l.Name] = true
		ports[key] = l.Name
		errs = append(errs, pruneListener(l, clusters, secretByName, same, prev, next)...)
		keptListeners = append(keptListeners, l)
	}
	c.Listeners = keptListeners
	return errs
}

// pruneBackends prunes c's secrets and clusters, and indexes those kept.
func (c *Config) pruneBackends(prev, next *pruneMemo) ([]Error, map[string]*Secret, map[string]bool) {
	var errs []Error
	secrets := map[string]bool{}
	secretByName := map[string]*Secret{}
	keptSecrets := c.Secrets[:0:0]
	for _, s := range c.Secrets {
		msgs := validateSecret(s)
		if secrets[s.Name] {
			msgs = append(msgs, "duplicate secret name")
		}
		if len(msgs) > 0 {
			errs = appendAll(errs, s.Source, "secret "+s.Name, msgs)
			continue
		}
		secrets[s.Name] = true
		secretByName[s.Name] = s
		keptSecrets = append(keptSecrets, s)
	}
	c.Secrets = keptSecrets

	clusters := make(map[string]bool, len(c.Clusters))
	keptClusters := c.Clusters[:0:0]
	if len(c.Clusters) > 0 {
		keptClusters = make([]*Cluster, 0, len(c.Clusters))
	}
	for _, cl := range c.Clusters {
		var msgs []string
		if !prev.hasCluster(cl) {
			msgs = validateCluster(cl, secretByName)
		}
		// Upstream TLS depends on the secrets: only clusters without
		// are remembered.
		if len(msgs) == 0 && cl.TLS == nil {
			next.addCluster(cl)
		}
		if clusters[cl.Name] {
			msgs = append(msgs, "duplicate cluster name")
		}
		if len(msgs) > 0 {
			errs = appendAll(errs, cl.Source, "cluster "+cl.Name, msgs)
			continue
		}
		clusters[cl.Name] = true
		keptClusters = append(keptClusters, cl)
	}
	c.Clusters = keptClusters
	return errs, secretByName, clusters
}

// sameClusters says clusters are the last run's (prunedBackends): a
// virtual host valid then names only clusters that exist.
func pruneListener(l *Listener, clusters map[string]bool, secrets map[string]*Secret, sameClusters bool, prev, next *pruneMemo) []Error {
	var errs []Error
	// Virtual hosts each serving its name alone, in strictly increasing
	// order of names (as a Gateway listener's are), repeat no name nor
	// hostname: then neither needs an index.
	var hosts map[string]string
	var vhNames map[string]bool
	named := namedByHostname(l.VirtualHosts)
	if !named {
		hosts = make(map[string]string, len(l.VirtualHosts))
		vhNames = make(map[string]bool, len(l.VirtualHosts))
	}
	// The valid virtual hosts of such a listener are remembered as a
	// list in order of names, walked beside this run's (no index of
	// pointers); other listeners' in the memo's set.
	var vl *vhList
	if named && next != nil {
		vl = &vhList{valid: make([]*VirtualHost, 0, len(l.VirtualHosts))}
		if prev != nil {
			vl.prev = prev.vhLists[l.Name]
		}
	}
	remember := func(vh *VirtualHost) {
		if vl != nil {
			if vh.TLS == nil {
				vl.valid = append(vl.valid, vh)
			}
			return
		}
		next.addVirtualHost(vh)
	}
	defer func() {
		if vl != nil {
			if next.vhLists == nil {
				next.vhLists = map[string][]*VirtualHost{}
			}
			next.vhLists[l.Name] = vl.valid
		}
	}()
	// keptVH stays nil, and the list is kept as it is, until a virtual
	// host is dropped or changed.
	var keptVH []*VirtualHost
	for i, vh := range l.VirtualHosts {
		var remembered bool
		if vl != nil {
			remembered = vl.has(vh)
		} else {
			remembered = prev.hasVirtualHost(vh)
		}
		var msgs []string
		if !remembered {
			msgs = validateVirtualHost(vh, l.Protocol, secrets)
		}
		if vhNames[vh.Name] {
			msgs = append(msgs, "duplicate virtual host name")
		}
		for _, h := range vh.Hostnames {
			if other, ok := hosts[h]; ok {
				msgs = append(msgs, fmt.Sprintf("hostname %q already served by virtual host %s", h, other))
			}
		}
		if len(msgs) > 0 {
			el := "listener " + l.Name + " virtual host " + vh.Name
			for _, r := range vh.Routes {
				errs = appendAll(errs, r.Source, "route "+r.Name, prefixAll(el+": ", msgs))
			}
			if len(vh.Routes) == 0 {
				errs = appendAll(errs, Source{}, el, msgs)
			}
			if keptVH == nil {
				keptVH = append(make([]*VirtualHost, 0, len(l.VirtualHosts)), l.VirtualHosts[:i]...)
			}
			continue
		}
		if hosts != nil {
			// With no problem, no hostname was served already.
			for _, h := range vh.Hostnames {
				hosts[h] = vh.Name
			}
			vhNames[vh.Name] = true
		}
		if remembered && (sameClusters || allClustersExist(vh.Routes, clusters)) {
			// Valid on its own last run (so its routes too, and their
			// names distinct), and every cluster it names is here.
			remember(vh)
			if len(vh.Routes) > 16 {
				// Should a large virtual host change, its routes are
				// found unchanged one by one; a small one's few
				// routes are checked again in full.
				for _, r := range vh.Routes {
					next.addRoute(r)
				}
			}
			if keptVH != nil {
				keptVH = append(keptVH, vh)
			}
			continue
		}
		// As in dropUnreachable: names in a map only for long lists, and
		// a new slice only once a route is dropped.
		var routeNames map[string]bool
		if len(vh.Routes) > 16 {
			routeNames = make(map[string]bool, len(vh.Routes))
		}
		var keptRoutes []*Route
		for i, r := range vh.Routes {
			var rmsgs []string
			if !prev.hasRoute(r) || !clustersExist(r, clusters) {
				// Any problem at all: the full check, for its messages.
				rmsgs = ValidateRoute(r, clusters)
			}
			if len(rmsgs) == 0 {
				next.addRoute(r)
			}
			before := keptRoutes
			if before == nil {
				before = vh.Routes[:i]
			}
			if routeNames != nil && routeNames[r.Name] || routeNames == nil && slices.ContainsFunc(before, func(k *Route) bool { return k.Name == r.Name }) {
				rmsgs = append(rmsgs, "duplicate route name")
			}
			if len(rmsgs) > 0 {
				errs = appendAll(errs, r.Source, "route "+r.Name, rmsgs)
				if keptRoutes == nil {
					keptRoutes = append(make([]*Route, 0, len(vh.Routes)), vh.Routes[:i]...)
				}
				continue
			}
			if routeNames != nil {
				routeNames[r.Name] = true
			}
			if keptRoutes != nil {
				keptRoutes = append(keptRoutes, r)
			}
		}
		if keptRoutes != nil {
			// Copy on write: the virtual host may be a translator's own.
			cp := *vh
			cp.Routes = keptRoutes
			vh = &cp
		} else if vh.TLS == nil {
			remember(vh)
		}
		if keptVH == nil && vh != l.VirtualHosts[i] {
			keptVH = append(make([]*VirtualHost, 0, len(l.VirtualHosts)), l.VirtualHosts[:i]...)
		}
		if keptVH != nil {
			keptVH = append(keptVH, vh)
		}
	}
	if keptVH != nil {
		l.VirtualHosts = keptVH
	}

	keptTCP := l.TCPRoutes[:0:0]
	sni := map[string]string{}
	for _, t := range l.TCPRoutes {
		msgs := append(validateTCPBackends(t.Backends, clusters), validateTCPRouteTLS(l, t, secrets)...)
		if len(msgs) == 0 {
			// Position among the kept routes: a dropped route frees its place.
			kept := &Listener{Protocol: l.Protocol, TCPRoutes: append(keptTCP, t)}
			msgs = validateTCPRoute(kept, len(keptTCP), t, sni)
		}
		if len(msgs) > 0 {
			errs = appendAll(errs, t.Source, "tcp route "+t.Name, msgs)
			continue
		}
		keptTCP = append(keptTCP, t)
	}
	l.TCPRoutes = keptTCP
	return errs
}

func appendAll(errs []Error, src Source, el string, msgs []string) []Error {
	for _, m := range msgs {
		errs = append(errs, Error{Source: src, Element: el, Message: m})
	}
	return errs
}

func prefixAll(p string, msgs []string) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = p + m
	}
	return out
}

func (m *pruneMemo) hasRoute(r *Route) bool {
	if m == nil {
		return false
	}
	_, ok := m.routes[r]
	return ok
}

func (m *pruneMemo) addRoute(r *Route) {
	if m != nil {
		m.routes[r] = struct{}{}
	}
}

func (m *pruneMemo) hasCluster(c *Cluster) bool {
	if m == nil || c.TLS != nil {
		return false
	}
	_, ok := m.clusters[c]
	return ok
}

// vhList is the memo of the virtual hosts of a listener in strictly
// increasing order of names: prev are those the last run found valid, in
// that order, walked from at; valid are this run's.
type vhList struct {
	prev, valid []*VirtualHost
	at          int
}

// has reports whether vh is one of prev; it is asked for virtual hosts
// in increasing order of names.
func (v *vhList) has(vh *VirtualHost) bool {
	if vh.TLS != nil {
		return false
	}
	for v.at < len(v.prev) && v.prev[v.at].Name < vh.Name {
		v.at++
	}
	return v.at < len(v.prev) && v.prev[v.at] == vh
}

func (m *pruneMemo) hasVirtualHost(vh *VirtualHost) bool {
	if m == nil || vh.TLS != nil {
		return false
	}
	_, ok := m.vhosts[vh]
	return ok
}

func (m *pruneMemo) addVirtualHost(vh *VirtualHost) {
	if m != nil {
		m.vhosts[vh] = struct{}{}
	}
}

func (m *pruneMemo) addCluster(c *Cluster) {
	if m != nil {
		m.clusters[c] = struct{}{}
	}
}

// namedByHostname reports whether every virtual host of vhs has one
// hostname, its name, and their names strictly increase.
func namedByHostname(vhs []*VirtualHost) bool {
	for i, vh := range vhs {
		if len(vh.Hostnames) != 1 || vh.Hostnames[0] != vh.Name || i > 0 && vhs[i-1].Name >= vh.Name {
			return false
		}
	}
	return true
}

// allClustersExist is clustersExist for every route.
func allClustersExist(routes []*Route, clusters map[string]bool) bool {
	for _, r := range routes {
		if !clustersExist(r, clusters) {
			return false
		}
	}
	return true
}

// clustersExist is the part of ValidateRoute that depends on the clusters
// of the Config: every cluster the route forwards or mirrors to exists.
func clustersExist(r *Route, clusters map[string]bool) bool {
	if r.Forward != nil {
		for _, b := range r.Forward.Backends {
			if b.Cluster != "" && !clusters[b.Cluster] {
				return false
			}
		}
	}
	for _, m := range r.Filters.Mirrors {
		if !clusters[m.Cluster] {
			return false
		}
	}
	return true
}
