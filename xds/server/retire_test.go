package server

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"

	"github.com/legateproxy/legate/xds"
)

func names(cs []*xds.Cluster) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.GetName())
	}
	return out
}

// TestRetiredClustersOutliveTheirRoutes checks make before break: a
// cluster that leaves the configuration is still published (with its
// endpoints) until its grace ends, then the group is published again
// without it; a cluster that comes back is no longer retired.
func TestRetiredClustersOutliveTheirRoutes(t *testing.T) {
	now := time.Unix(1000, 0)
	republished := make(chan string, 4)
	r := &retirement{grace: 50 * time.Millisecond, now: func() time.Time { return now }, groups: map[string]*retiredGroup{},
		republish: func(group string) { republished <- group }}
	cluster := func(n string) *xds.Cluster { return xds.NewCluster(&clusterv3.Cluster{Name: n}) }
	cla := func(n string) *xds.LoadAssignment {
		return xds.NewLoadAssignment(&endpointv3.ClusterLoadAssignment{ClusterName: n})
	}

	first := &xds.Resources{Clusters: []*xds.Cluster{cluster("a"), cluster("b")}, Endpoints: []*xds.LoadAssignment{cla("a"), cla("b")}}
	if got := names(r.apply("g", first).Clusters); len(got) != 2 {
		t.Fatalf("first publish: %v", got)
	}
	// The same clusters again, b with new endpoints (an EndpointSlice
	// changed): served as they are, and what is served, b's new endpoints
	// included, is known for the next removal.
	newB := cla("b")
	again := &xds.Resources{Clusters: first.Clusters, Endpoints: []*xds.LoadAssignment{first.Endpoints[0], newB}}
	if out := r.apply("g", again); len(out.Clusters) != 2 || out.Clusters[0] != first.Clusters[0] || out.Endpoints[1] != newB || r.requested("g") != again {
		t.Fatalf("the same clusters again: %v", names(out.Clusters))
	}
	second := &xds.Resources{Clusters: []*xds.Cluster{cluster("a")}, Endpoints: []*xds.LoadAssignment{cla("a")}}
	out := r.apply("g", second)
	if got := names(out.Clusters); len(got) != 2 || got[1] != "b" || len(out.Endpoints) != 2 {
		t.Fatalf("b must be kept through its grace, got %v and %d endpoint sets", got, len(out.Endpoints))
	}
	if out.Endpoints[1] != newB {
		t.Fatal("b must be kept with the endpoints it last had")
	}
	if len(second.Clusters) != 1 {
		t.Fatal("apply modified its argument")
	}
	select {
	case group := <-republished:
		if group != "g" || r.requested("g") != second {
			t.Fatal("the republish must be of the group's last request")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no republish after the grace")
	}
	now = now.Add(time.Second)
	if got := names(r.apply("g", second).Clusters); len(got) != 1 {
		t.Fatalf("after the grace b must be gone, got %v", got)
	}
	// Retire a again, then bring it back: it is no longer retired.
	r.apply("g", &xds.Resources{})
	back := r.apply("g", second)
	if got := names(back.Clusters); len(got) != 1 || len(r.groups["g"].retired) != 0 {
		t.Fatalf("a came back: %v, retired %v", got, r.groups["g"].retired)
	}
}
