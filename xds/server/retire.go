package server

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/legateproxy/legate/xds"
)

// retirement keeps clusters a group no longer uses for a while after they
// left its configuration: make before break. The xDS types travel on
// separate streams (and, over ADS, as separate responses in no fixed
// order), so Envoy may get the CDS update that removes a cluster before the
// RDS update that stops routing to it; in between, requests to it would be
// answered 503. Kept for a grace period, the cluster outlives every route
// that pointed at it.
type retirement struct {
	grace time.Duration
	now   func() time.Time
	// republish is called, without locks held, when a retired cluster's
	// grace ends, to publish the group's latest request again without it.
	republish func(group string)

	mu     sync.Mutex
	groups map[string]*retiredGroup
}

type retiredGroup struct {
	// served is what was last published, retired clusters (and their
	// endpoints) included; only its clusters and endpoints are read.
	served *xds.Resources
	// retired are clusters kept past their removal, until a time.
	retired map[string]retiredCluster
	// requested is the last configuration asked for, without retirees.
	requested *xds.Resources
	timer     *time.Timer
}

type clusterWithEndpoints struct {
	cluster   *xds.Cluster
	endpoints *xds.LoadAssignment
}

type retiredCluster struct {
	clusterWithEndpoints
	until time.Time
}

// apply returns res with the group's retired clusters (and their
// endpoints) added, and remembers what is now served. res itself is not
// modified.
func (r *retirement) apply(group string, res *xds.Resources) *xds.Resources {
	if r == nil || r.grace <= 0 {
		return res
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.groups[group]
	if g == nil {
		g = &retiredGroup{retired: map[string]retiredCluster{}}
		r.groups[group] = g
	}
	// The same clusters as last time, with none retired: nothing leaves,
	// so res is served as it is, new endpoints and all (at 10k clusters,
	// working it out again took milliseconds of every publish, and most
	// publishes change routes or endpoints, not clusters).
	if last := g.requested; last != nil && len(g.retired) == 0 && slices.Equal(last.Clusters, res.Clusters) {
		g.requested, g.served = res, res
		return res
	}
	now := r.now()
	wanted := map[string]bool{}
	for _, c := range res.Clusters {
		wanted[c.GetName()] = true
	}
	for name, c := range servedClusters(g.served) {
		if _, done := g.retired[name]; !wanted[name] && !done {
			g.retired[name] = retiredCluster{c, now.Add(r.grace)}
		}
	}
	for name, rc := range g.retired {
		if wanted[name] || !now.Before(rc.until) {
			delete(g.retired, name)
		}
	}
	g.requested = res

	out := *res
	out.Clusters = slices.Clone(res.Clusters)
	out.Endpoints = slices.Clone(res.Endpoints)
	for _, name := range slices.Sorted(maps.Keys(g.retired)) {
		rc := g.retired[name]
		out.Clusters = append(out.Clusters, rc.cluster)
		if rc.endpoints != nil {
			out.Endpoints = append(out.Endpoints, rc.endpoints)
		}
	}
	sortByName(out.Clusters, (*xds.Cluster).GetName)
	sortByName(out.Endpoints, (*xds.LoadAssignment).GetName)

	g.served = &out
	r.schedule(group, g, now)
	return &out
}

// servedClusters are the clusters of what was published, with their
// endpoints, by name (none before the first publish).
func servedClusters(served *xds.Resources) map[string]clusterWithEndpoints {
	if served == nil {
		return nil
	}
	cla := make(map[string]*xds.LoadAssignment, len(served.Endpoints))
	for _, e := range served.Endpoints {
		cla[e.GetName()] = e
	}
	out := make(map[string]clusterWithEndpoints, len(served.Clusters))
	for _, c := range served.Clusters {
		out[c.GetName()] = clusterWithEndpoints{c, cla[c.GetName()]}
	}
	return out
}

// schedule arms the group's timer for the earliest end of a grace.
func (r *retirement) schedule(group string, g *retiredGroup, now time.Time) {
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	if len(g.retired) == 0 {
		return
	}
	first := time.Time{}
	for _, rc := range g.retired {
		if first.IsZero() || rc.until.Before(first) {
			first = rc.until
		}
	}
	g.timer = time.AfterFunc(first.Sub(now), func() { r.republish(group) })
}

// requested returns the last resources asked for in group, without the
// retired clusters; nil if none.
func (r *retirement) requested(group string) *xds.Resources {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if g := r.groups[group]; g != nil {
		return g.requested
	}
	return nil
}

func sortByName[T any](items []T, name func(T) string) {
	slices.SortFunc(items, func(a, b T) int { return strings.Compare(name(a), name(b)) })
}
