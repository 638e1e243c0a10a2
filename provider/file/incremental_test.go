package file

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/legateproxy/legate/translators"
)

// load calls Load or fails the test.
func load(t *testing.T, p *Provider) *translators.Inputs {
	t.Helper()
	in, err := p.Load()
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestSnapshotsShareUnchangedObjects(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	write(t, a, service("a1", 80)+"---\n"+service("a2", 80))
	write(t, b, service("b1", 80)+"---\n"+service("b2", 80))
	p, _ := newProvider(t, dir, Options{})
	first := load(t, p)

	// One document of a changes and moves the other down a line.
	replace(t, a, service("a1", 81)+"# a2 moves down a line\n---\n"+service("a2", 80))
	second := load(t, p)
	equal(t, "services", names(second.Services), []string{"default/a1", "default/a2", "default/b1", "default/b2"})
	if second.Services[0] == first.Services[0] || second.Services[0].Spec.Ports[0].Port != 81 {
		t.Errorf("a1: want a new object with port 81, got the old one or port %d", second.Services[0].Spec.Ports[0].Port)
	}
	for i := 1; i < 4; i++ {
		if second.Services[i] != first.Services[i] {
			t.Errorf("%s: unchanged, but a new object was handed out", names(second.Services)[i])
		}
	}
	if first.Services[0].Spec.Ports[0].Port != 80 {
		t.Error("the first snapshot's a1 changed under it")
	}

	// Kinds without a change keep their list, kinds with one get a new
	// list: the first snapshot's stays as it was.
	if got := names(first.Services); strings.Join(got, ",") != "default/a1,default/a2,default/b1,default/b2" {
		t.Errorf("first snapshot's services = %v after the change", got)
	}

	// A file deleted takes its objects; the others stay the same.
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	third := load(t, p)
	equal(t, "services after delete", names(third.Services), []string{"default/b1", "default/b2"})
	if third.Services[0] != first.Services[2] || third.Services[1] != first.Services[3] {
		t.Error("b's objects changed when a was deleted")
	}
}

func TestFileRenamedOverAnother(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	// Same size, same modification time: only the file's identity tells
	// the new b from the old one.
	write(t, a, service("aaa", 80))
	write(t, b, service("bbb", 80))
	old := time.Now().Add(-time.Hour)
	for _, f := range []string{a, b} {
		if err := os.Chtimes(f, old, old); err != nil {
			t.Fatal(err)
		}
	}
	p, logs := newProvider(t, dir, Options{})
	first := load(t, p)
	equal(t, "services", names(first.Services), []string{"default/aaa", "default/bbb"})

	if err := os.Rename(a, b); err != nil {
		t.Fatal(err)
	}
	second := load(t, p)
	equal(t, "services after mv a.yaml b.yaml", names(second.Services), []string{"default/aaa"})
	if strings.Contains(logs.String(), "defined twice") {
		t.Errorf("a rename reported a duplicate; log:\n%s", logs)
	}
	// The object is now b.yaml's: its errors and duplicates point there.
	write(t, a, service("aaa", 90))
	third := load(t, p)
	if got := third.Services[0].Spec.Ports[0].Port; got != 90 {
		t.Errorf("with a.yaml written again, aaa has port %d, want a.yaml's 90 (the first file wins)", got)
	}
	if want := "used=" + a + ":1 ignored=" + b + ":1"; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q; log:\n%s", want, logs)
	}
}

// A write that keeps the size and lands in the same clock tick as the read
// before it leaves the metadata as it was: a file read within racyWindow of
// its last write is read again.
func TestRecentlyWrittenFileIsReadAgain(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "svc.yaml")
	write(t, path, service("web", 80))
	stamp := time.Now()
	if err := os.Chtimes(path, stamp, stamp); err != nil {
		t.Fatal(err)
	}
	p, _ := newProvider(t, dir, Options{})
	if got := load(t, p).Services[0].Spec.Ports[0].Port; got != 80 {
		t.Fatalf("port %d, want 80", got)
	}
	write(t, path, service("web", 81))
	if err := os.Chtimes(path, stamp, stamp); err != nil {
		t.Fatal(err)
	}
	if got := load(t, p).Services[0].Spec.Ports[0].Port; got != 81 {
		t.Errorf("port %d after a same-size write with the same time, want 81", got)
	}

	// Once its time is old, unchanged metadata means the file is not read
	// again: rewritten in place with the same size and its old time put
	// back (no editor does that; a write moves the time forward), the
	// change goes unseen.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	load(t, p)
	if !p.files[path].settled {
		t.Fatal("a file last written an hour ago is not settled")
	}
	write(t, path, service("web", 82))
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	if got := load(t, p).Services[0].Spec.Ports[0].Port; got != 81 {
		t.Errorf("port %d: a file whose metadata did not change was read again", got)
	}
}

// TestIncrementalEqualsFresh makes random edits (new, changed, deleted,
// renamed, bad and empty files; objects defined twice; unchanged
// documents) and checks after each that the incremental snapshot equals
// what a new provider reads from the same folder.
func TestIncrementalEqualsFresh(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 8))
			dir := t.TempDir()
			files := []string{"a.yaml", "b.yaml", "c.yaml", filepath.Join("sub", "d.yaml"), "e.yml"}
			// Times go forward from an hour ago, a second per edit, so the
			// provider trusts unchanged metadata as it would on a live
			// folder.
			clock := time.Now().Add(-time.Hour)
			put := func(name, content string) {
				path := filepath.Join(dir, name)
				write(t, path, content)
				clock = clock.Add(time.Second)
				if err := os.Chtimes(path, clock, clock); err != nil {
					t.Fatal(err)
				}
			}
			doc := func() string {
				name := fmt.Sprintf("s%d", rng.IntN(8))
				ns := []string{"", "ns-a", "ns-b"}[rng.IntN(3)]
				port := 80 + rng.IntN(3)
				switch rng.IntN(5) {
				case 0:
					return fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: ns-%d}\n", rng.IntN(3))
				case 1:
					return fmt.Sprintf("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: %s-1, namespace: %q, labels: {kubernetes.io/service-name: %s}}\naddressType: IPv4\nendpoints: [{addresses: [10.0.0.%d]}]\n", name, ns, name, port)
				case 2:
					return fmt.Sprintf("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: %s, namespace: %q}, spec: {ports: [{port: %d}]}}\n- {apiVersion: v1, kind: Service, metadata: {name: %s-x}, spec: {ports: [{port: %d}]}}\n", name, ns, port, name, port)
				}
				return fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: %q}\nspec: {ports: [{port: %d}]}\n", name, ns, port)
			}
			content := func() string {
				var docs []string
				for range rng.IntN(5) {
					docs = append(docs, doc())
				}
				return strings.Join(docs, "---\n")
			}
			for _, f := range files[:3] {
				put(f, content())
			}
			p, _ := newProvider(t, dir, Options{})
			load(t, p)
			for step := range 80 {
				f := files[rng.IntN(len(files))]
				path := filepath.Join(dir, f)
				var what string
				switch op := rng.IntN(10); {
				case op < 4:
					what = "write " + f
					put(f, content())
				case op == 4:
					// Edit one document of the file, keeping the others.
					what = "edit one document of " + f
					data, _ := os.ReadFile(path)
					docs := strings.Split(string(data), "---\n")
					docs[rng.IntN(len(docs))] = doc()
					put(f, strings.Join(docs, "---\n"))
				case op == 5:
					what = "remove " + f
					_ = os.Remove(path)
				case op == 6:
					to := files[rng.IntN(len(files))]
					what = "rename " + f + " over " + to
					if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
						t.Fatal(err)
					}
					_ = os.Rename(path, filepath.Join(dir, to))
				case op == 7:
					what = "break " + f
					put(f, doc()+"---\nkind: [\n")
				case op == 8:
					what = "empty " + f
					put(f, "")
				default:
					what = "nothing"
				}
				got := load(t, p)
				// The same file states, indexed from nothing.
				kept := p.index
				p.index = snapshotIndex{}
				full := p.snapshot()
				p.index = kept
				if diff := compareInputs(got, full); diff != "" {
					t.Fatalf("step %d (%s): incremental snapshot differs from a full one: %s", step, what, diff)
				}
				if len(p.Errors()) > 0 {
					// A bad or emptied file keeps its last good objects in
					// the running provider only.
					continue
				}
				fresh, _ := newProvider(t, dir, Options{})
				if diff := compareInputs(got, load(t, fresh)); diff != "" {
					t.Fatalf("step %d (%s): incremental snapshot differs from a fresh read: %s", step, what, diff)
				}
				if errs := fresh.Errors(); len(errs) > 0 {
					t.Fatalf("step %d (%s): a fresh read has errors %v, the running provider none", step, what, errs)
				}
			}
		})
	}
}

// compareInputs describes the first difference between two snapshots:
// lists, order, objects and their versions.
func compareInputs(got, want *translators.Inputs) string {
	g, w := got.All(), want.All()
	key := func(o client.Object) string {
		return fmt.Sprintf("%T %s/%s@%s", o, o.GetNamespace(), o.GetName(), o.GetResourceVersion())
	}
	for i := range max(len(g), len(w)) {
		switch {
		case i >= len(g):
			return "missing " + key(w[i])
		case i >= len(w):
			return "extra " + key(g[i])
		case key(g[i]) != key(w[i]):
			return fmt.Sprintf("at %d: %s, want %s", i, key(g[i]), key(w[i]))
		case !reflect.DeepEqual(g[i], w[i]):
			return fmt.Sprintf("at %d: %s has other content", i, key(g[i]))
		}
	}
	// Lookups agree too: got's indexes are patched from the last
	// snapshot's (Inputs.IndexFrom), want's built from nothing.
	for _, s := range append(got.Services, want.Services...) {
		if !reflect.DeepEqual(got.Service(s.Namespace, s.Name), want.Service(s.Namespace, s.Name)) {
			return "Service lookups differ for " + s.Namespace + "/" + s.Name
		}
		if !reflect.DeepEqual(got.EndpointSlicesFor(s.Namespace, s.Name), want.EndpointSlicesFor(s.Namespace, s.Name)) {
			return "EndpointSlicesFor differs for " + s.Namespace + "/" + s.Name
		}
	}
	for _, es := range append(got.EndpointSlices, want.EndpointSlices...) {
		svc := es.Labels["kubernetes.io/service-name"]
		if !reflect.DeepEqual(got.EndpointSlicesFor(es.Namespace, svc), want.EndpointSlicesFor(es.Namespace, svc)) {
			return "EndpointSlicesFor differs for " + es.Namespace + "/" + svc
		}
	}
	for _, n := range append(got.Namespaces, want.Namespaces...) {
		if !reflect.DeepEqual(got.Namespace(n.Name), want.Namespace(n.Name)) {
			return "Namespace lookups differ for " + n.Name
		}
	}
	return ""
}

// Files are read into one buffer, reused by the next read: the objects
// decoded from a file must hold none of its bytes, whichever way they were
// decoded (YAML, JSON, items of a List, a Secret's data).
func TestObjectsKeepNoBytesOfTheReadBuffer(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.yaml"), service("yaml-svc", 80)+`---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: listed, labels: {app: listed}, annotations: {note: "kept as written"}}
  spec: {ports: [{name: http, port: 81}]}
---
apiVersion: v1
kind: Secret
metadata: {name: cert}
data: {tls.crt: aGVsbG8=}
stringData: {extra: plain}
`)
	write(t, filepath.Join(dir, "b.json"), `{"apiVersion": "v1", "kind": "Service",
  "metadata": {"name": "json-svc", "labels": {"app": "json"}},
  "spec": {"ports": [{"name": "grpc", "port": 82, "appProtocol": "kubernetes.io/h2c"}]}}`)
	p, _ := newProvider(t, dir, Options{})
	in := load(t, p)
	if len(in.Services) != 3 || len(in.Secrets) != 1 {
		t.Fatalf("loaded %d Services and %d Secrets, want 3 and 1", len(in.Services), len(in.Secrets))
	}
	// Encoded, not deep-copied: a copy of a string shares its bytes.
	encode := func() []byte {
		t.Helper()
		b, err := json.Marshal([]any{in.Services, in.Secrets})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	want := encode()

	scribble := func() {
		buf := p.readBuf[:cap(p.readBuf)]
		if len(buf) == 0 {
			t.Fatal("the provider kept no read buffer")
		}
		for i := range buf {
			buf[i] = 'x'
		}
	}
	check := func(when string) {
		t.Helper()
		if got := encode(); !bytes.Equal(got, want) {
			t.Errorf("%s: objects changed with the read buffer:\n got %s\nwant %s", when, got, want)
		}
	}
	scribble()
	check("buffer overwritten")
	// Another file read into the buffer, and a file read again.
	write(t, filepath.Join(dir, "c.yaml"), service("other", 90))
	replace(t, filepath.Join(dir, "b.json"), `{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "json-svc"}, "spec": {"ports": [{"port": 83}]}}`)
	load(t, p)
	scribble()
	check("after more reads")
}
