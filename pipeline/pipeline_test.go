package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/legateproxy/legate/gatewayapi"
	"github.com/legateproxy/legate/ingress"
	"github.com/legateproxy/legate/pipeline"
	"github.com/legateproxy/legate/provider/file"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/emissary"
	"github.com/legateproxy/legate/xds"
	"github.com/legateproxy/legate/xds/server"
)

func examples(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../examples")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRunExamples(t *testing.T) {
	reg := translators.NewRegistry(ingress.New(), gatewayapi.New(), emissary.New(emissary.Options{}))
	in, err := file.LoadPaths(reg, file.Options{}, examples(t))
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline.Pipeline{Registry: reg, Settings: translators.DefaultSettings()}
	out, err := p.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	// Ingress and Mapping share the HTTP listener; the Gateway has its
	// own. Ingress and HTTPRoute name the same Service ports, so they share
	// clusters; the Mapping's cluster carries Emissary's settings.
	if len(out.Resources.Listeners) != 2 || len(out.Resources.Routes) != 2 || len(out.Resources.Clusters) != 3 || len(out.Resources.Endpoints) != 3 {
		t.Fatalf("resources: %d listeners, %d route configs, %d clusters, %d endpoints",
			len(out.Resources.Listeners), len(out.Resources.Routes), len(out.Resources.Clusters), len(out.Resources.Endpoints))
	}
	if len(out.Statuses) != 5 {
		t.Fatalf("want statuses of 5 objects, got %+v", out.Statuses)
	}
	for _, st := range out.Statuses {
		if len(st.Problems) > 0 {
			t.Errorf("%s: %+v", st.Object, st.Problems)
		}
	}
}

// recorder is a Publisher that remembers what it was given and passes it on
// to a real xDS server.
type recorder struct {
	srv      *server.Server
	mu       sync.Mutex
	versions []string
}

func (r *recorder) Publish(group string, res *xds.Resources) (string, bool, error) {
	v, changed, err := r.srv.Publish(group, res)
	if err == nil && changed {
		r.mu.Lock()
		r.versions = append(r.versions, v)
		r.mu.Unlock()
	}
	return v, changed, err
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.versions)
}

// TestLoopPublishesChanges runs the loop with the real file provider and
// the real xDS server: a change of the folder publishes a new version, a
// file that breaks is reported and publishes nothing.
func TestLoopPublishesChanges(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(examples(t), "ingress.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ingress.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	reg := translators.NewRegistry(ingress.New())
	prov, err := file.New(dir, reg, file.Options{Debounce: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{srv: server.New(server.Options{})}
	var statuses sync.Map
	loop := &pipeline.Loop{
		Pipeline:  &pipeline.Pipeline{Registry: reg, Settings: translators.DefaultSettings()},
		Source:    prov,
		Publisher: rec,
		Group:     "legate",
		Metrics:   pipeline.NewMetrics(nil),
		OnStatus: func(st []*translators.ObjectStatus) {
			for _, s := range st {
				statuses.Store(s.Object.Name, s)
			}
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- loop.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("loop: %v", err)
		}
	}()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("the first publish", func() bool { return rec.count() == 1 })

	changed := strings.Replace(string(data), "path: /docs", "path: /documentation", 1)
	if err := os.WriteFile(path, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor("a second publish", func() bool { return rec.count() == 2 })

	// A new Ingress with a bad backend: reported, and the rest published.
	bad := changed + "\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: bad, namespace: default}\n" +
		"spec: {rules: [{host: bad.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {resource: {kind: Bucket, name: assets}}}]}}]}\n"
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor("the bad Ingress's status", func() bool {
		st, ok := statuses.Load("bad")
		return ok && !st.(*translators.ObjectStatus).Accepted()
	})
}
