package workload

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/legateproxy/legate/gatewayapi"
	"github.com/legateproxy/legate/ingress"
	"github.com/legateproxy/legate/pipeline"
	"github.com/legateproxy/legate/provider/file"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/emissary"
)

func newPipeline() *pipeline.Pipeline {
	return &pipeline.Pipeline{
		Registry: translators.NewRegistry(ingress.New(), gatewayapi.New(), emissary.New(emissary.Options{AmbassadorID: "default"})),
		Settings: translators.DefaultSettings(),
	}
}

// TestEveryShapeTranslatesCompletely proves the workload is what the
// benchmarks claim to measure: every route object is accepted without a
// problem, and becomes one virtual host of two routes over two clusters'
// worth of endpoints.
func TestEveryShapeTranslatesCompletely(t *testing.T) {
	const n = 31 // not a multiple of 3, so mixed has uneven thirds
	for _, shape := range Shapes {
		t.Run(string(shape), func(t *testing.T) {
			in, err := Inputs(shape, n)
			if err != nil {
				t.Fatal(err)
			}
			out, err := newPipeline().Run(in)
			if err != nil {
				t.Fatalf("pipeline: %v", err)
			}
			for _, st := range out.Statuses {
				for _, p := range st.Problems {
					t.Errorf("%s/%s: %s %s: %s", st.Object.Kind, st.Object.Name, p.Severity, p.Reason, p.Message)
				}
			}
			vhosts, routes := 0, 0
			hosts := map[string]bool{}
			for _, l := range out.IR.Listeners {
				for _, vh := range l.VirtualHosts {
					// A Gateway listener without a hostname also has an
					// empty catch-all virtual host.
					if len(vh.Routes) == 0 {
						continue
					}
					vhosts++
					routes += len(vh.Routes)
					for _, h := range vh.Hostnames {
						hosts[h] = true
					}
				}
			}
			if vhosts != n || routes != 2*n {
				t.Errorf("got %d virtual hosts and %d routes, want %d and %d", vhosts, routes, n, 2*n)
			}
			for i := range n {
				if !hosts[Hostname(i)] {
					t.Errorf("no virtual host for %s", Hostname(i))
				}
			}
			eps := 0
			for _, c := range out.IR.Clusters {
				eps += len(c.Endpoints)
			}
			// Mixed: Ingress and HTTPRoute share cluster names, Mappings
			// have their own, so a Service can back two clusters there.
			if shape != Mixed && (len(out.IR.Clusters) != n || eps != n*EndpointsPer) {
				t.Errorf("got %d clusters with %d endpoints, want %d with %d", len(out.IR.Clusters), eps, n, n*EndpointsPer)
			}
		})
	}
}

func TestMixedSplitsIntoThirds(t *testing.T) {
	count := map[Shape]int{}
	for i := range 10 {
		count[RouteShape(Mixed, 10, i)]++
	}
	want := map[Shape]int{Ingress: 4, Gateway: 4, Mapping: 2}
	if !reflect.DeepEqual(count, want) {
		t.Errorf("mixed split of 10: got %v, want %v", count, want)
	}
	objs, err := Objects(Mixed, 2)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, fmt.Sprintf("%T", o))
	}
	// Two routes: one Ingress, one HTTPRoute; no Mapping, so no class
	// objects beyond the two needed.
	want2 := []string{"*v1.Namespace", "*v1.IngressClass", "*v1.GatewayClass", "*v1.Gateway",
		"*v1.Service", "*v1.EndpointSlice", "*v1.Ingress", "*v1.Service", "*v1.EndpointSlice", "*v1.HTTPRoute"}
	if !reflect.DeepEqual(kinds, want2) {
		t.Errorf("mixed n=2 objects:\n got %v\nwant %v", kinds, want2)
	}
}

func TestObjectsAreDeterministic(t *testing.T) {
	a, err := Objects(Mixed, 50)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Objects(Mixed, 50)
	if !reflect.DeepEqual(a, b) {
		t.Error("two calls built different objects")
	}
	if _, err := Objects(Shape("nope"), 1); err == nil {
		t.Error("unknown shape accepted")
	}
	if _, err := Objects(Ingress, 0); err == nil {
		t.Error("n = 0 accepted")
	}
}

// TestWriteDirRoundTrips proves the YAML the end-to-end benchmark feeds
// Legate is the workload itself: the file provider reads back every object,
// split over files of at most the given size, and a second write is byte for
// byte the same.
func TestWriteDirRoundTrips(t *testing.T) {
	dir := t.TempDir()
	// A stale file of a bigger earlier run must disappear.
	if err := os.WriteFile(filepath.Join(dir, "workload-0099.yaml"), []byte("---\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	paths, err := WriteDir(Mixed, 40, dir, 25)
	if err != nil {
		t.Fatal(err)
	}
	objs, _ := Objects(Mixed, 40)
	if want := (len(objs) + 24) / 25; len(paths) != want {
		t.Errorf("got %d files, want %d", len(paths), want)
	}
	if _, err := os.Stat(filepath.Join(dir, "workload-0099.yaml")); !os.IsNotExist(err) {
		t.Errorf("stale file kept: %v", err)
	}
	first, _ := os.ReadFile(paths[0])
	in, err := file.LoadPaths(newPipeline().Registry, file.Options{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(in.All()); got != len(objs) {
		t.Errorf("read back %d objects, want %d", got, len(objs))
	}
	want, _ := Inputs(Mixed, 40)
	a, err := newPipeline().Run(in)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newPipeline().Run(want)
	ya, _ := a.Resources.RenderYAML(false)
	yb, _ := b.Resources.RenderYAML(false)
	if !bytes.Equal(ya, yb) {
		t.Error("Envoy resources from the YAML differ from those of the in-memory objects")
	}
	if _, err := WriteDir(Mixed, 40, dir, 25); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(paths[0])
	if !bytes.Equal(first, again) {
		t.Error("second write differs")
	}
}
