package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/legateproxy/legate/bench/workload"
	"github.com/legateproxy/legate/gatewayapi"
	"github.com/legateproxy/legate/provider/file"
	"github.com/legateproxy/legate/translators"
)

// TestEnvoyWorkloadPatchesOnlyWhatItSays reads the patched first file of
// a real workload back as objects: the Gateway listens on the new port,
// Service 0's endpoints are local, every slice of the file uses the
// backend's port, and nothing else changed.
func TestEnvoyWorkloadPatchesOnlyWhatItSays(t *testing.T) {
	dir := t.TempDir()
	paths, err := workload.WriteDir(workload.Gateway, 50, dir, 1000)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	patched, err := envoyWorkload(orig, "18080", "19090")
	if err != nil {
		t.Fatal(err)
	}
	before, after := load(t, orig), load(t, patched)
	if got := after.Gateways[0].Spec.Listeners[0].Port; got != 18080 {
		t.Errorf("Gateway listener port %d, want 18080", got)
	}
	if len(after.HTTPRoutes) != len(before.HTTPRoutes) || len(after.EndpointSlices) != len(before.EndpointSlices) {
		t.Fatalf("objects lost: %d routes and %d slices, had %d and %d",
			len(after.HTTPRoutes), len(after.EndpointSlices), len(before.HTTPRoutes), len(before.EndpointSlices))
	}
	for i, es := range after.EndpointSlices {
		if got := *es.Ports[0].Port; got != 19090 {
			t.Errorf("slice %s port %d, want 19090", es.Name, got)
		}
		want := addresses(before.EndpointSlices[i])
		if es.Name == workload.SliceName(0) {
			want = []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}
		}
		if got := addresses(es); !slices.Equal(got, want) {
			t.Errorf("slice %s addresses %v, want %v", es.Name, got, want)
		}
	}
	if _, err := envoyWorkload([]byte("kind: Service\n"), "1", "2"); err == nil {
		t.Error("a file without the Gateway was patched")
	}
}

func load(t *testing.T, content []byte) *translators.Inputs {
	t.Helper()
	p := filepath.Join(t.TempDir(), "w.yaml")
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := file.LoadPaths(translators.NewRegistry(gatewayapi.New()), file.Options{}, p)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func addresses(es *discoveryv1.EndpointSlice) []string {
	var out []string
	for _, e := range es.Endpoints {
		out = append(out, e.Addresses...)
	}
	return out
}

// TestEnvoyUpdateDurationsReadsAdminJSON reads the quantiles of the RDS,
// LDS and CDS update_duration histograms from Envoy's JSON stats (the
// shape Envoy 1.40's admin /stats?format=json gives), and ignores the
// per-cluster EDS ones.
func TestEnvoyUpdateDurationsReadsAdminJSON(t *testing.T) {
	const stats = `{"stats":[{"histograms":{"supported_quantiles":[0,25,50,75,90,95,99,99.5,99.9,100],"computed_quantiles":[
{"name":"cluster.bench/svc-00000/80.update_duration","values":[{"cumulative":9,"interval":0},{"cumulative":9},{"cumulative":9},{"cumulative":9},{"cumulative":9},{"cumulative":9},{"cumulative":9},{"cumulative":9},{"cumulative":9},{"cumulative":9}]},
{"name":"cluster_manager.cds.update_duration","values":[{"cumulative":1},{"cumulative":2},{"cumulative":3},{"cumulative":4},{"cumulative":5},{"cumulative":6},{"cumulative":7},{"cumulative":8},{"cumulative":9},{"cumulative":10}]},
{"name":"http.gw.rds.gw.update_duration","values":[{"cumulative":1},{"cumulative":2},{"cumulative":30},{"cumulative":4},{"cumulative":5},{"cumulative":6},{"cumulative":70},{"cumulative":8},{"cumulative":9},{"cumulative":100}]},
{"name":"listener_manager.lds.update_duration","values":[{"cumulative":null},{"cumulative":null},{"cumulative":null},{"cumulative":null},{"cumulative":null},{"cumulative":null},{"cumulative":null},{"cumulative":null},{"cumulative":null},{"cumulative":null}]}]}}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(stats)) }))
	defer srv.Close()
	got, err := envoyUpdateDurations(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]envoyQuantiles{"cds": {p50: 3, p99: 7, max: 10}, "rds": {p50: 30, p99: 70, max: 100}, "lds": {}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %+v, want %+v", k, got[k], w)
		}
	}
}
