package file

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

// testTranslator reads the kinds the Inputs hold and translates nothing: the
// provider only needs the registry's kinds and scheme.
type testTranslator struct{}

func (testTranslator) Name() string { return "test" }
func (testTranslator) Kinds() []client.Object {
	return []client.Object{
		&networkingv1.Ingress{}, &networkingv1.IngressClass{}, &corev1.Service{},
		&corev1.Secret{}, &corev1.Namespace{}, &discoveryv1.EndpointSlice{},
	}
}
func (testTranslator) AddToScheme(s *k8sruntime.Scheme) error { return clientgoscheme.AddToScheme(s) }
func (testTranslator) Translate(*translators.Inputs, translators.Settings) (*ir.Config, []*translators.ObjectStatus) {
	return &ir.Config{}, nil
}

// logBuffer collects what the provider logs, for tests that assert on it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newProvider(t *testing.T, dir string, opts Options) (*Provider, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("provider log:\n%s", logs)
		}
	})
	p, err := New(dir, translators.NewRegistry(testTranslator{}), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p, logs
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replace writes content the way editors save: a new file renamed over the
// old one.
func replace(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	write(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func service(name string, port int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %s
spec:
  ports:
  - port: %d
`, name, port)
}

// names lists "namespace/name" of objects, in the order given.
func names[T client.Object](objs []T) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetNamespace()+"/"+o.GetName())
	}
	return out
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func TestLoadReadsEveryFileKindAndDocument(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.yaml"), `# a comment before the first document
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
# only a comment: an empty document
---
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  generation: 7
spec:
  ports:
  - port: 80
--- # a separator with a comment
apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  ports:
  - port: 8080
`)
	write(t, filepath.Join(dir, "b.yml"), `apiVersion: v1
kind: List
items:
- apiVersion: networking.k8s.io/v1
  kind: IngressClass
  metadata:
    name: legate
    namespace: ignored-for-cluster-scoped
  spec:
    controller: legate.dev/ingress-controller
- apiVersion: networking.k8s.io/v1
  kind: Ingress
  metadata:
    name: shop
    namespace: shop
  spec:
    ingressClassName: legate
    defaultBackend:
      service:
        name: web
        port:
          number: 80
`)
	// JSON indented with tabs is not YAML; .json files are read as JSON.
	write(t, filepath.Join(dir, "c.json"), "{\n\t\"apiVersion\": \"v1\",\n\t\"kind\": \"Secret\",\n\t\"metadata\": {\"name\": \"tls\"},\n\t\"type\": \"kubernetes.io/tls\"\n}\n")
	write(t, filepath.Join(dir, "sub", "deeper", "slices.yaml"), `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc
  namespace: shop
  labels:
    kubernetes.io/service-name: web
addressType: IPv4
endpoints:
- addresses: ["10.0.0.1"]
ports:
- port: 8080
`)
	// None of these is read.
	write(t, filepath.Join(dir, "README.md"), "not a manifest")
	write(t, filepath.Join(dir, ".hidden.yaml"), service("hidden-file", 1))
	write(t, filepath.Join(dir, ".git", "x.yaml"), service("hidden-dir", 1))
	write(t, filepath.Join(dir, "a.yaml~"), service("backup", 1))
	write(t, filepath.Join(dir, ".#a.yaml"), service("emacs-lock", 1))

	p, _ := newProvider(t, dir, Options{})
	in, err := p.Load()
	if err != nil {
		t.Fatal(err)
	}
	if errs := p.Errors(); len(errs) != 0 {
		t.Fatalf("Errors() = %v, want none", errs)
	}
	equal(t, "namespaces", names(in.Namespaces), []string{"/shop"})
	// Sorted by namespace then name; "api" had no namespace and got "default".
	equal(t, "services", names(in.Services), []string{"default/api", "shop/web"})
	equal(t, "ingress classes", names(in.IngressClasses), []string{"/legate"})
	equal(t, "ingresses", names(in.Ingresses), []string{"shop/shop"})
	equal(t, "secrets", names(in.Secrets), []string{"default/tls"})
	equal(t, "endpoint slices", names(in.EndpointSlices), []string{"shop/web-abc"})

	if g := in.Service("shop", "web").Generation; g != 7 {
		t.Errorf("generation written in the file = %d, want 7 kept", g)
	}
	if g := in.Service("default", "api").Generation; g != 1 {
		t.Errorf("generation of an object without one = %d, want 1", g)
	}
	if port := in.Service("default", "api").Spec.Ports[0].Port; port != 8080 {
		t.Errorf("api port = %d, want 8080", port)
	}
	if c := in.IngressClasses[0].Spec.Controller; c != "legate.dev/ingress-controller" {
		t.Errorf("IngressClass controller = %q", c)
	}
	if got := in.Ingresses[0].Spec.DefaultBackend.Service.Port.Number; got != 80 {
		t.Errorf("Ingress backend port = %d, want 80", got)
	}
	if got := len(in.EndpointSlicesFor("shop", "web")); got != 1 {
		t.Errorf("EndpointSlicesFor(shop, web) = %d slices, want 1", got)
	}

	// Objects are immutable once handed over: a second Load of unchanged
	// files hands out the very same objects in a new Inputs, whose lists
	// end at their capacity so that an append cannot write into the last
	// snapshot's.
	in2, err := p.Load()
	if err != nil {
		t.Fatal(err)
	}
	if in2 == in || in2.Services[0] != in.Services[0] {
		t.Errorf("second Load: want the same objects in a new Inputs")
	}
	if len(in2.Services) != cap(in2.Services) {
		t.Errorf("Services: len %d, cap %d; want them equal", len(in2.Services), cap(in2.Services))
	}
}

func TestLoadNotRecursive(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "top.yaml"), service("top", 80))
	write(t, filepath.Join(dir, "sub", "below.yaml"), service("below", 80))
	no := false
	p, _ := newProvider(t, dir, Options{Recursive: &no})
	in, err := p.Load()
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "services", names(in.Services), []string{"default/top"})
}

func TestUnknownKindIsIgnoredWithOneInfoLine(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "mixed.yaml"), service("web", 80)+`---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  a: b
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
spec:
  anything: [1, 2]
`)
	p, logs := newProvider(t, dir, Options{})
	in, err := p.Load()
	if err != nil {
		t.Fatal(err)
	}
	if errs := p.Errors(); len(errs) != 0 {
		t.Fatalf("Errors() = %v, want none: unknown kinds are not errors", errs)
	}
	equal(t, "services", names(in.Services), []string{"default/web"})
	out := logs.String()
	for _, want := range []string{
		"at=" + filepath.Join(dir, "mixed.yaml") + ":9 apiVersion=v1 kind=ConfigMap",
		"at=" + filepath.Join(dir, "mixed.yaml") + ":16 apiVersion=example.com/v1 kind=Widget",
	} {
		if strings.Count(out, want) != 1 {
			t.Errorf("log should hold one line with %q; log:\n%s", want, out)
		}
	}
	if strings.Contains(out, "level=ERROR") || strings.Contains(out, "level=WARN") {
		t.Errorf("unknown kinds should only be logged at info; log:\n%s", out)
	}
}

// threeDocs is a file whose third document starts on line 17 (each service
// is 7 lines, and each separator one).
func threeDocs(third string) string {
	return service("one", 80) + "---\n" + service("two", 80) + "---\n" + third
}

func TestErrorsNameFileAndLine(t *testing.T) {
	cases := []struct {
		name     string
		content  string
		wantLine int
		wantMsg  string
	}{
		{
			name: "yaml syntax error in the third document",
			// Line 17 "apiVersion", 18 "kind", 19 the bad line.
			content: threeDocs("apiVersion: v1\nkind: Service\nmetadata: name: bad\n"),
			// The parser notices the bad mapping on the line it is on.
			wantLine: 19,
			wantMsg:  "mapping values are not allowed",
		},
		{
			name:     "field of the wrong type in the third document",
			content:  threeDocs("apiVersion: v1\nkind: Service\nmetadata:\n  name: three\nspec:\n  ports:\n  - port: eighty\n"),
			wantLine: 17,
			wantMsg:  "decoding Service",
		},
		{
			name:     "apiVersion the registry does not read, of a known group",
			content:  threeDocs("apiVersion: networking.k8s.io/v1beta1\nkind: Ingress\nmetadata:\n  name: old\n"),
			wantLine: 17,
			wantMsg:  "networking.k8s.io/v1beta1 Ingress is not supported; use apiVersion networking.k8s.io/v1",
		},
		{
			name:     "unknown version of a known group",
			content:  threeDocs("apiVersion: v7\nkind: Service\nmetadata:\n  name: future\n"),
			wantLine: 17,
			wantMsg:  "v7 Service is not supported; use apiVersion v1",
		},
		{
			name:     "no kind",
			content:  threeDocs("apiVersion: v1\nmetadata:\n  name: what\n"),
			wantLine: 17,
			wantMsg:  "no apiVersion or no kind",
		},
		{
			name:     "no name",
			content:  threeDocs("apiVersion: v1\nkind: Secret\nmetadata:\n  namespace: x\n"),
			wantLine: 17,
			wantMsg:  "Secret has no metadata.name",
		},
		{
			name: "second item of a List",
			content: "apiVersion: v1\nkind: List\nitems:\n" +
				"- apiVersion: v1\n  kind: Service\n  metadata:\n    name: ok\n" +
				"- apiVersion: v1\n  kind: Service\n  metadata:\n    name: bad\n  spec:\n    ports: 80\n",
			wantLine: 8,
			wantMsg:  "decoding Service",
		},
		{
			name:     "json syntax error",
			content:  "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Service\",,\n}\n",
			wantLine: 3,
			wantMsg:  "invalid character ','",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			name := "bad.yaml"
			if strings.HasPrefix(tc.content, "{") {
				name = "bad.json"
			}
			path := filepath.Join(dir, name)
			write(t, path, tc.content)
			write(t, filepath.Join(dir, "good.yaml"), service("good", 80))
			p, logs := newProvider(t, dir, Options{})
			in, err := p.Load()
			if err != nil {
				t.Fatal(err)
			}
			errs := p.Errors()
			if len(errs) != 1 {
				t.Fatalf("Errors() = %v, want one", errs)
			}
			e := errs[0]
			t.Log(e.Error())
			if e.File != path || e.Line != tc.wantLine || !strings.Contains(e.Message, tc.wantMsg) {
				t.Errorf("error = %q, want %s:%d: ...%s...", e.Error(), path, tc.wantLine, tc.wantMsg)
			}
			if want := fmt.Sprintf("%s:%d: ", path, tc.wantLine); !strings.HasPrefix(e.Error(), want) {
				t.Errorf("Error() = %q, want prefix %q", e.Error(), want)
			}
			if !strings.Contains(logs.String(), fmt.Sprintf("at=%s:%d", path, tc.wantLine)) {
				t.Errorf("the error is not logged at file:line; log:\n%s", logs.String())
			}
			// A file that never parsed contributes nothing, not even its
			// good documents; the other file is unaffected.
			equal(t, "services", names(in.Services), []string{"default/good"})
		})
	}
}

func TestUnknownFieldIsAWarningNotAnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "svc.yaml")
	write(t, path, "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  prots: []\n  ports:\n  - port: 80\n")
	p, logs := newProvider(t, dir, Options{})
	in, err := p.Load()
	if err != nil {
		t.Fatal(err)
	}
	if errs := p.Errors(); len(errs) != 0 {
		t.Fatalf("Errors() = %v, want none", errs)
	}
	if len(in.Services) != 1 || in.Services[0].Spec.Ports[0].Port != 80 {
		t.Fatalf("services = %v, want web with port 80", names(in.Services))
	}
	if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, `unknown field \"spec.prots\"`) {
		t.Errorf("want a warning naming the unknown field; log:\n%s", out)
	}
}

// A key written twice is noticed even though well-formed documents are
// parsed as YAML only once: the object is kept (the last value wins, as
// with kubectl) and the repetition is a warning.
func TestRepeatedKeyIsAWarningNotAnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "svc.yaml")
	write(t, path, "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n  ports:\n  - port: 81\n")
	p, logs := newProvider(t, dir, Options{})
	in, err := p.Load()
	if err != nil {
		t.Fatal(err)
	}
	if errs := p.Errors(); len(errs) != 0 {
		t.Fatalf("Errors() = %v, want none", errs)
	}
	if len(in.Services) != 1 || in.Services[0].Spec.Ports[0].Port != 81 {
		t.Fatalf("services = %+v, want web with port 81", in.Services)
	}
	if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, `\"ports\" already set`) {
		t.Errorf("want a warning naming the repeated key; log:\n%s", out)
	}
}

func TestDuplicateObjectsFirstFileWins(t *testing.T) {
	dir := t.TempDir()
	// Written in the opposite order of their names, so the file system's
	// order cannot be what decides.
	write(t, filepath.Join(dir, "z.yaml"), service("web", 9000))
	write(t, filepath.Join(dir, "sub", "m.yaml"), service("web", 8000))
	write(t, filepath.Join(dir, "a.yaml"), service("web", 80)+"---\n"+service("web", 81))
	p, logs := newProvider(t, dir, Options{})
	for range 3 {
		in, err := p.Load()
		if err != nil {
			t.Fatal(err)
		}
		if len(in.Services) != 1 || in.Services[0].Spec.Ports[0].Port != 80 {
			t.Fatalf("services = %v, want one web with port 80 (first document of a.yaml)", in.Services)
		}
	}
	out := logs.String()
	a := filepath.Join(dir, "a.yaml")
	for _, ignored := range []string{a + ":9", filepath.Join(dir, "sub", "m.yaml") + ":1", filepath.Join(dir, "z.yaml") + ":1"} {
		if want := "used=" + a + ":1 ignored=" + ignored; !strings.Contains(out, want) {
			t.Errorf("log lacks %q; log:\n%s", want, out)
		}
	}
}

func TestEmptyFileKeepsItsObjects(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "svc.yaml")
	write(t, path, service("web", 80))
	write(t, filepath.Join(dir, "placeholder.yaml"), "")
	p, _ := newProvider(t, dir, Options{})
	in, err := p.Load()
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "services", names(in.Services), []string{"default/web"})
	if errs := p.Errors(); len(errs) != 0 {
		t.Fatalf("Errors() = %v: a file empty from the start is no error", errs)
	}

	// Truncated, as by an editor about to write it again.
	write(t, path, "")
	if in, err = p.Load(); err != nil {
		t.Fatal(err)
	}
	equal(t, "services while empty", names(in.Services), []string{"default/web"})
	waitForErrors(t, p, path+": file is empty; keeping its last good objects until it has content again or is deleted")

	// Deleting it is how its objects go.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if in, err = p.Load(); err != nil {
		t.Fatal(err)
	}
	equal(t, "services after delete", names(in.Services), nil)
	waitForErrors(t, p)
}

func TestSplitDocumentsLines(t *testing.T) {
	in := "a: 1\r\n---\r\nb: 2\n--- # c\nc: 3\n...\n---\n--- {d: 4}\n"
	docs := splitDocuments([]byte(in))
	var got []string
	for _, d := range docs {
		got = append(got, fmt.Sprintf("%d:%q", d.line, d.data))
	}
	want := []string{`1:"a: 1\r\n"`, `3:"b: 2\n"`, `5:"c: 3\n\n"`, `8:""`, `8:"{d: 4}\n"`}
	equal(t, "documents", got, want)
}

// run starts Run and returns its snapshots and a function that stops it and
// returns Run's result.
func run(t *testing.T, p *Provider) (<-chan *translators.Inputs, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan *translators.Inputs)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, ch) }()
	var once sync.Once
	var result error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
		})
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return ch, stop
}

func next(t *testing.T, ch <-chan *translators.Inputs) *translators.Inputs {
	t.Helper()
	select {
	case in := <-ch:
		return in
	case <-time.After(5 * time.Second):
		t.Fatal("no snapshot within 5 s")
		return nil
	}
}

func none(t *testing.T, ch <-chan *translators.Inputs, wait time.Duration) {
	t.Helper()
	select {
	case in := <-ch:
		t.Fatalf("unexpected snapshot: services %v", names(in.Services))
	case <-time.After(wait):
	}
}

// waitFor polls cond, for changes that send no snapshot.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitForErrors waits until Errors() gives want (each error's Error()).
func waitForErrors(t *testing.T, p *Provider, want ...string) {
	t.Helper()
	var got []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		got = got[:0]
		for _, e := range p.Errors() {
			got = append(got, e.Error())
		}
		if strings.Join(got, "\n") == strings.Join(want, "\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Errors() = %q, want %q", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRunPicksUpChanges(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "svc.yaml")
	write(t, path, service("web", 80))
	p, _ := newProvider(t, dir, Options{})
	ch, stop := run(t, p)

	equal(t, "first snapshot", names(next(t, ch).Services), []string{"default/web"})

	// Saved in place.
	write(t, path, service("web", 81))
	if in := next(t, ch); in.Service("default", "web").Spec.Ports[0].Port != 81 {
		t.Errorf("after writing port 81: %v", in.Service("default", "web").Spec.Ports)
	}
	// Saved the way editors do: a new file renamed over the old.
	replace(t, path, service("web", 82))
	if in := next(t, ch); in.Service("default", "web").Spec.Ports[0].Port != 82 {
		t.Errorf("after replacing with port 82: %v", in.Service("default", "web").Spec.Ports)
	}
	// A new file.
	write(t, filepath.Join(dir, "api.yaml"), service("api", 80))
	equal(t, "after a new file", names(next(t, ch).Services), []string{"default/api", "default/web"})

	// Changes that leave the objects as they were send nothing: the same
	// bytes again, a file that is not a manifest, an editor's swap file.
	write(t, path, service("web", 82))
	write(t, filepath.Join(dir, "notes.txt"), "hello")
	write(t, filepath.Join(dir, ".svc.yaml.swp"), "binary junk")
	none(t, ch, 400*time.Millisecond)

	if err := stop(); err != nil {
		t.Errorf("Run returned %v after cancel, want nil", err)
	}
}

func TestRunCoalescesABurst(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "svc.yaml")
	write(t, path, service("web", 1000))
	// A debounce far longer than the writes take even on a loaded machine
	// (20 writes 2 ms apart), so the writes are always a burst.
	const debounce = time.Second
	p, _ := newProvider(t, dir, Options{Debounce: debounce, MaxDelay: 10 * debounce})
	ch, _ := run(t, p)
	next(t, ch)

	// Snapshots are taken as soon as they are sent: a consumer that is
	// slow would coalesce them by itself, which is not what is tested.
	var mu sync.Mutex
	var got []int32
	go func() {
		for {
			select {
			case in := <-ch:
				mu.Lock()
				got = append(got, in.Service("default", "web").Spec.Ports[0].Port)
				mu.Unlock()
			case <-t.Context().Done():
				return
			}
		}
	}()
	received := func() []int32 {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}

	// A burst in which one write stalled for half the debounce (a
	// machine busy with other work) proves nothing: it is said, and made
	// again, at most three times.
	for attempt := 1; ; attempt++ {
		base := int32(1000 + 100*attempt)
		var slowest time.Duration
		last := time.Now()
		start := last
		for i := int32(1); i <= 20; i++ {
			write(t, path, service("web", int(base+i)))
			now := time.Now()
			slowest = max(slowest, now.Sub(last))
			last = now
			time.Sleep(2 * time.Millisecond)
		}
		burst := time.Since(start)
		waitFor(t, "the last write's snapshot", func() bool {
			r := received()
			return len(r) > 0 && r[len(r)-1] == base+20
		})
		// Anything more would come within a debounce of the last read.
		time.Sleep(debounce + 300*time.Millisecond)
		snaps := received()
		if slowest < debounce/2 {
			if len(snaps) != 1 || snaps[0] != base+20 {
				t.Fatalf("a burst of 20 writes in %v (slowest %v) gave snapshots with ports %v, want just [%d]", burst, slowest, snaps, base+20)
			}
			return
		}
		if attempt == 3 {
			t.Fatalf("a write took %v, half the debounce, in each of 3 bursts: the machine is too slow for this test to mean anything", slowest)
		}
		t.Logf("burst %d: a write took %v, half the debounce; trying again", attempt, slowest)
		mu.Lock()
		got = nil
		mu.Unlock()
	}
}

func TestRunMaxDelayBoundsTheWait(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "svc.yaml")
	write(t, path, service("web", 1000))
	// A debounce far longer than the test: only MaxDelay can make a
	// snapshot while the writes go on.
	p, _ := newProvider(t, dir, Options{Debounce: time.Minute, MaxDelay: 200 * time.Millisecond})
	ch, _ := run(t, p)
	next(t, ch)

	stopWriting := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 1; ; i++ {
			select {
			case <-stopWriting:
				return
			case <-time.After(50 * time.Millisecond):
				_ = os.WriteFile(path, []byte(service("web", 1000+i)), 0o644)
			}
		}
	}()
	defer func() {
		close(stopWriting)
		<-writerDone
	}()
	first := next(t, ch).Service("default", "web").Spec.Ports[0].Port
	second := next(t, ch).Service("default", "web").Spec.Ports[0].Port
	if first <= 1000 || second <= first {
		t.Errorf("ports of the snapshots during the writes: %d then %d, want newer writes each time", first, second)
	}
}

func TestRunKeepsLastGoodObjectsOfABadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "three.yaml")
	good := threeDocs(service("three", 80))
	write(t, path, good)
	write(t, filepath.Join(dir, "other.yaml"), service("other", 80))
	p, _ := newProvider(t, dir, Options{})
	ch, _ := run(t, p)
	equal(t, "first", names(next(t, ch).Services), []string{"default/one", "default/other", "default/three", "default/two"})

	// Half written: the third document stops in the middle of a line.
	half := strings.TrimSuffix(good, "  - port: 80\n") + "  - port: [80\n"
	write(t, path, half)
	// Line 17 starts the third document; its line 7, the unclosed "[80",
	// is line 23 of the file.
	waitForErrors(t, p, path+":23: yaml: did not find expected ',' or ']'")
	// Nothing changed for the translators, so nothing is sent.
	none(t, ch, 300*time.Millisecond)

	// Other files' changes still flow, with the bad file's last good objects.
	write(t, filepath.Join(dir, "other.yaml"), service("other2", 80))
	equal(t, "while bad", names(next(t, ch).Services), []string{"default/one", "default/other2", "default/three", "default/two"})

	// Fixing the file clears the error and sends its new objects.
	write(t, path, threeDocs(service("fixed", 80)))
	equal(t, "fixed", names(next(t, ch).Services), []string{"default/fixed", "default/one", "default/other2", "default/two"})
	if errs := p.Errors(); len(errs) != 0 {
		t.Errorf("Errors() after the fix = %v, want none", errs)
	}
}

func TestRunDeletedFileTakesItsObjects(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.yaml"), service("a", 80))
	write(t, filepath.Join(dir, "b.yaml"), service("b", 80))
	// A bad file's error goes with it too.
	write(t, filepath.Join(dir, "bad.yaml"), "kind: [\n")
	p, _ := newProvider(t, dir, Options{})
	ch, _ := run(t, p)
	equal(t, "first", names(next(t, ch).Services), []string{"default/a", "default/b"})
	if len(p.Errors()) != 1 {
		t.Fatalf("Errors() = %v, want the bad file's", p.Errors())
	}

	if err := os.Remove(filepath.Join(dir, "b.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "bad.yaml")); err != nil {
		t.Fatal(err)
	}
	equal(t, "after delete", names(next(t, ch).Services), []string{"default/a"})
	if errs := p.Errors(); len(errs) != 0 {
		t.Errorf("Errors() = %v after deleting the bad file, want none", errs)
	}
}

func TestRunSeesNewSubFolders(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.yaml"), service("a", 80))
	p, _ := newProvider(t, dir, Options{})
	ch, _ := run(t, p)
	equal(t, "first", names(next(t, ch).Services), []string{"default/a"})

	// Folders and a file made in one go, faster than a watch can be added.
	deep := filepath.Join(dir, "x", "y", "z", "svc.yaml")
	write(t, deep, service("deep", 80))
	equal(t, "after mkdir -p", names(next(t, ch).Services), []string{"default/a", "default/deep"})

	// The new folders are watched: a later change inside them is seen.
	write(t, deep, service("deep", 81))
	if port := next(t, ch).Service("default", "deep").Spec.Ports[0].Port; port != 81 {
		t.Errorf("port = %d after editing a file in a new folder, want 81", port)
	}
	write(t, filepath.Join(dir, "x", "y", "second.yaml"), service("second", 80))
	equal(t, "a second file", names(next(t, ch).Services), []string{"default/a", "default/deep", "default/second"})

	// Removing the folder removes its objects.
	if err := os.RemoveAll(filepath.Join(dir, "x")); err != nil {
		t.Fatal(err)
	}
	equal(t, "after rm -r", names(next(t, ch).Services), []string{"default/a"})
}

// A ConfigMap mounted as a volume is a folder of symlinks into a hidden
// timestamped folder, updated by swapping the "..data" symlink at once.
func TestRunFollowsAConfigMapVolumeSwap(t *testing.T) {
	dir := t.TempDir()
	version := func(name, content string) {
		write(t, filepath.Join(dir, name, "svc.yaml"), content)
		if err := os.Symlink(name, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..2026_11_25_01", service("web", 80))
	if err := os.Symlink(filepath.Join("..data", "svc.yaml"), filepath.Join(dir, "svc.yaml")); err != nil {
		t.Fatal(err)
	}
	p, _ := newProvider(t, dir, Options{})
	ch, _ := run(t, p)
	equal(t, "first", names(next(t, ch).Services), []string{"default/web"})

	version("..2026_11_25_02", service("web", 81))
	if err := os.RemoveAll(filepath.Join(dir, "..2026_11_25_01")); err != nil {
		t.Fatal(err)
	}
	in := next(t, ch)
	equal(t, "after the swap", names(in.Services), []string{"default/web"})
	if port := in.Services[0].Spec.Ports[0].Port; port != 81 {
		t.Errorf("port = %d after the swap, want 81", port)
	}
}

func TestRunStopsWithoutLeakingGoroutines(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.yaml"), service("a", 80))
	write(t, filepath.Join(dir, "sub", "b.yaml"), service("b", 80))
	before := runtime.NumGoroutine()

	for range 3 {
		p, _ := newProvider(t, dir, Options{})
		ch, stop := run(t, p)
		next(t, ch)
		// Leave a change pending in the debounce, and one unread snapshot.
		write(t, filepath.Join(dir, "a.yaml"), service("a", 81))
		time.Sleep(20 * time.Millisecond)
		if err := stop(); err != nil {
			t.Fatalf("Run returned %v, want nil", err)
		}
		write(t, filepath.Join(dir, "a.yaml"), service("a", 80))
	}
	// Also when cancelled while still sending the first snapshot.
	p, _ := newProvider(t, dir, Options{})
	_, stop := run(t, p)
	time.Sleep(50 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatalf("Run returned %v, want nil", err)
	}

	waitFor(t, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= before })
}

func TestNewRejectsAMissingFolder(t *testing.T) {
	reg := translators.NewRegistry(testTranslator{})
	if _, err := New(filepath.Join(t.TempDir(), "nope"), reg, Options{}); err == nil {
		t.Error("New of a missing folder: no error")
	}
	f := filepath.Join(t.TempDir(), "file.yaml")
	write(t, f, service("a", 80))
	if _, err := New(f, reg, Options{}); err == nil {
		t.Error("New of a file: no error")
	}
}
