package xds

import (
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/legateproxy/legate/translators/ir"
)

// TestInvalidBackendStatus: the share of an invalid backend is answered
// 500 by default (HTTPRoute) and 503 where the IR asks (GRPCRoute, whose
// clients read 503 as UNAVAILABLE); both pass validation, 404 does not.
func TestInvalidBackendStatus(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   routev3.RouteAction_ClusterNotFoundResponseCode
	}{
		{0, routev3.RouteAction_INTERNAL_SERVER_ERROR},
		{500, routev3.RouteAction_INTERNAL_SERVER_ERROR},
		{503, routev3.RouteAction_SERVICE_UNAVAILABLE},
	} {
		cfg := &ir.Config{
			Listeners: []*ir.Listener{{Name: "l", Address: "0.0.0.0", Port: 8080, Protocol: ir.ProtocolHTTP,
				VirtualHosts: []*ir.VirtualHost{{Name: "*", Hostnames: []string{"*"}, Routes: []*ir.Route{{
					Name:  "r",
					Match: ir.Match{Path: ir.PathMatch{Type: ir.PathPrefix, Value: "/"}},
					Forward: &ir.ForwardAction{Backends: []ir.WeightedBackend{{Cluster: "c", Weight: 1}, {Weight: 1}},
						InvalidBackendStatus: tc.status},
				}}}}}},
			Clusters: []*ir.Cluster{{Name: "c", Kind: ir.ClusterStatic, Endpoints: []ir.Endpoint{{Address: "127.0.0.1", Port: 9, Ready: true}}}},
		}
		res, err := Build(cfg)
		if err != nil {
			t.Fatalf("status %d: %v", tc.status, err)
		}
		if err := Validate(res); err != nil {
			t.Fatalf("status %d: %v", tc.status, err)
		}
		a := routeIn(t, res, "r").GetRoute()
		if got := a.GetClusterNotFoundResponseCode(); got != tc.want {
			t.Errorf("status %d: cluster_not_found_response_code %s, want %s", tc.status, got, tc.want)
		}
		a.ClusterNotFoundResponseCode = routev3.RouteAction_NOT_FOUND
		keepRouteEdits(res)
		if err := Validate(res); err == nil || !strings.Contains(err.Error(), "cluster_not_found_response_code") {
			t.Errorf("status %d: a 404 for the unavailable share passed validation: %v", tc.status, err)
		}
	}
}
