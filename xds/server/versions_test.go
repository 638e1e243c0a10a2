package server_test

import (
	"slices"
	"testing"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/legateproxy/legate/xds"
)

// Resources validated before they are published carry their versions,
// which Publish gives the cache as delta xDS's per-resource versions: they
// must be the versions the cache puts on the wire (or a reconnecting Envoy
// presenting them would be sent everything again), and a wildcard delta
// stream is sent the one assignment that changed, not the other.
func TestDeltaSendsOnlyWhatChangedWithValidatedResources(t *testing.T) {
	ts := startServer(t)
	validated := func(appPort, otherPort uint32) *xds.Resources {
		res := site{routeTo: "app", clusters: twoClusters(appPort, otherPort)}.build(t)
		if err := xds.Validate(res); err != nil {
			t.Fatal(err)
		}
		if res.Versions() == nil {
			t.Fatal("validated resources carry no versions")
		}
		return res
	}
	first := validated(80, 81)
	ts.publish(t, "", first)

	st := openDelta(t, ts.addr, "envoy-v", "")
	st.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.EndpointType})
	eds := st.recv(resource.EndpointType)
	if got := sorted(deltaNames(eds)); !slices.Equal(got, []string{"app", "other"}) {
		t.Fatalf("first delta EDS sent %v", got)
	}
	for _, r := range eds.GetResources() {
		if want, _ := first.Versions().Endpoints.Get(r.GetName()); r.GetVersion() != want {
			t.Errorf("assignment %s: version %q on the wire, %q recorded by validation", r.GetName(), r.GetVersion(), want)
		}
	}
	st.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.EndpointType, ResponseNonce: eds.GetNonce()})
	st.none(quiet)

	ts.publish(t, "", validated(90, 81))
	eds2 := st.recv(resource.EndpointType)
	if got := deltaNames(eds2); !slices.Equal(got, []string{"app"}) {
		t.Fatalf("delta EDS after changing app only sent %v", got)
	}
	st.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.EndpointType, ResponseNonce: eds2.GetNonce()})
	st.none(quiet)
}
