package gatewayapi

import (
	"slices"

	"github.com/legateproxy/legate/translators/ir"
)

// The clusters of a run.
//
// Each HTTP or GRPC route registers the clusters its backends need by
// name, the first registered of a name being the one kept; a remembered
// route registers the clusters its memo entry lists (restore), a route
// translated anew those it made or found (backend), which its new entry
// lists. The clusters of a run are thus a function of those lists taken
// in the order of the routes. Registering the ~20k clusters of 10k
// remembered routes into a new map was most of a run in which one route
// changed, though when every route lists, at its place among the routes,
// the very clusters the route at that place listed last run, the
// clusters are the last run's: that map is then taken as it is, and
// never written.
//
// Until a route's list is known, the clusters it looks up are read from
// the last run's, where a cluster of the name it would register itself
// (sameCluster) is the answer whether or not a route before it
// registered that name. Any other answer depends on the routes before it:
// the run then registers into a map of its own, filled from the lists of
// the routes so far, as it would have been without reuse. So does it as
// soon as a route lists other clusters than the one at its place did.
//
// Only runs that remember, without TLS, TCP or UDP routes (which register
// clusters of their own after the HTTP and GRPC routes, some anew every
// run), keep their clusters for the next.

// startClusters picks, once the routes are in order, where they register
// their clusters: the last run's clusters when they may be reused, else a
// map of the run's own.
func (t *translation) startClusters() {
	if t.next == nil || len(t.in.TLSRoutes)+len(t.in.TCPRoutes)+len(t.in.UDPRoutes) > 0 {
		t.ensureClusters()
		return
	}
	t.keepClusters = true
	if last := t.prev; last != nil && last.clusterMap != nil && len(last.order) == len(t.routes) {
		t.clusters, t.sharedClusters = last.clusterMap, true
		return
	}
	// Kept for the next run: not the scratch's, which is cleared.
	t.clusters = make(map[string]*ir.Cluster, t.clusterHint())
}

// ensureClusters gives the run a map of its own to register into: the
// scratch's when there is one (cleared after the run), else a new one.
func (t *translation) ensureClusters() {
	if t.clusters != nil {
		return
	}
	if sc := t.scratch; sc != nil {
		if sc.clusters == nil {
			sc.clusters = make(map[string]*ir.Cluster, t.clusterHint())
		}
		t.clusters = sc.clusters
		return
	}
	t.clusters = make(map[string]*ir.Cluster, t.clusterHint())
}

// clusterHint is how many clusters the run will likely register: as
// many as the last run, rather than a map grown to it on every run.
func (t *translation) clusterHint() int {
	if t.last != nil {
		return t.last.clusters
	}
	return 0
}

// register registers cl, a cluster the route being translated needs, and
// returns the cluster of its name: the one registered first.
func (t *translation) register(cl *ir.Cluster) *ir.Cluster {
	if t.sharedClusters {
		if had, ok := t.clusters[cl.Name]; ok && t.sameCluster(cl) == had {
			return had
		}
		t.ownClusters()
	}
	if _, ok := t.clusters[cl.Name]; !ok {
		t.clusters[cl.Name] = t.sameCluster(cl)
	}
	return t.clusters[cl.Name]
}

// placedClusters checks, after the route at place i registered its clusters,
// that they are the ones the route at that place registered last run;
// else the run registers into a map of its own from then on.
func (t *translation) placedClusters(i int, rs *routeState) {
	if !t.sharedClusters {
		return
	}
	if old := t.prev.order[i].memo; rs.memo != old && (rs.memo == nil || old == nil || !slices.Equal(rs.memo.clusters, old.clusters)) {
		t.placing = i + 1
		t.ownClusters()
	}
}

// unlistedRoute is called before the route at place i is translated
// without a memo entry: what it registers is listed nowhere, so the run
// registers into a map of its own, and keeps it for no other.
func (t *translation) unlistedRoute(i int) {
	t.keepClusters = false
	if t.sharedClusters {
		t.placing = i
		t.ownClusters()
	}
}

// ownClusters ends the reuse of the last run's clusters: the run goes on
// with a map of its own, holding what the routes before t.placing and
// the route being translated so far registered.
func (t *translation) ownClusters() {
	own := make(map[string]*ir.Cluster, len(t.clusters))
	add := func(cs []*ir.Cluster) {
		for _, c := range cs {
			if _, ok := own[c.Name]; !ok {
				own[c.Name] = c
			}
		}
	}
	for _, rs := range t.routes[:t.placing] {
		add(rs.memo.clusters)
	}
	if t.rec != nil {
		add(t.rec.clusters)
	}
	t.clusters, t.sharedClusters = own, false
}
