package diagnostics

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds the headless browser the page tests drive:
// LEGATE_CHROMIUM, else chromium on PATH. hack/install-chromium.sh installs
// it; without it the test fails rather than skips, since CI must run it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LEGATE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium: set LEGATE_CHROMIUM or run hack/install-chromium.sh")
	return ""
}

// artifactDir is where screenshots go: LEGATE_ARTIFACTS (CI keeps it), else
// the repository's .artifacts folder (ignored by git).
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("LEGATE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", ".artifacts")
	}
	dir = filepath.Join(dir, "diagnostics")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// consoleProblems collects what a page reported as an error: console.error
// calls, uncaught exceptions and browser log entries of level error (a
// failed resource load shows up there).
type consoleProblems struct {
	mu   sync.Mutex
	msgs []string
}

func (c *consoleProblems) watch(ctx context.Context) {
	for m, err := range chromedp.Console(ctx) {
		if err != nil {
			return
		}
		if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException {
			continue
		}
		c.mu.Lock()
		c.msgs = append(c.msgs, fmt.Sprintf("%s %s: %s %s", m.Type, m.Source, m.Text, m.URL))
		c.mu.Unlock()
	}
}

func (c *consoleProblems) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.msgs
	c.msgs = nil
	return out
}

// TestPagesInBrowser loads every page of the admin server in a real
// headless Chromium: each must render its heading without a console error,
// and the explainer form, filled in and submitted like a person would, must
// name the route the JSON API names for the same request. A screenshot of
// every page is written as an artifact.
func TestPagesInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	shots := artifactDir(t)

	out, _, _ := tlsCase(t)
	s := New(Options{})
	s.Update(out, "v1")
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // the test may run as root, where Chromium refuses its sandbox
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	problems := &consoleProblems{}
	go problems.watch(ctx)

	for _, p := range []struct{ path, name, heading, contains string }{
		{"/", "overview", "Overview", "Snapshot v1"},
		{"/routes", "routes", "Routes", "mapping/default/m-search"},
		{"/problems", "problems", "Problems", "Ingress/default/broken"},
		{"/clusters", "clusters", "Clusters", "default/api/80"},
		{"/diff", "diff", "Snapshot diff", "added"},
		{"/metrics-help", "metrics", "Metrics", "No metrics registry attached."},
		{"/explain", "explain", "Route explainer", "Explain"},
	} {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+p.path), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
			t.Fatalf("%s: %v", p.path, err)
		}
		h1 := mustRun(t, ctx, chromedp.Text(chromedp.CSS("h1")))
		body := mustRun(t, ctx, chromedp.Text(chromedp.CSS("body")))
		png := mustRun(t, ctx, chromedp.FullScreenshot(90))
		if h1 != p.heading {
			t.Errorf("%s: heading %q, want %q", p.path, h1, p.heading)
		}
		if !strings.Contains(body, p.contains) {
			t.Errorf("%s: page text lacks %q:\n%s", p.path, p.contains, body)
		}
		if err := os.WriteFile(filepath.Join(shots, p.name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
		if msgs := problems.take(); len(msgs) > 0 {
			t.Errorf("%s: console errors:\n%s", p.path, strings.Join(msgs, "\n"))
		}
	}

	// The explainer form, driven through the page. The expected route is
	// the one the differential configuration gives a canary request under
	// /m/items/ (the Mapping with the header match comes first).
	err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/explain"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="host"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="host"]`), "mapping.example.com"),
		chromedp.SendKeys(chromedp.CSS(`input[name="path"]`), "/m/items/12"),
		chromedp.SendKeys(chromedp.CSS(`textarea[name="headers"]`), "x-canary: true"),
		chromedp.Click(chromedp.CSS("#explain")),
		chromedp.WaitVisible(chromedp.CSS("#route")),
	)
	if err != nil {
		t.Fatalf("explainer form: %v", err)
	}
	route := mustRun(t, ctx, chromedp.Text(chromedp.CSS("#route")))
	outcome := mustRun(t, ctx, chromedp.Text(chromedp.CSS("#outcome")))
	png := mustRun(t, ctx, chromedp.FullScreenshot(90))
	if err := os.WriteFile(filepath.Join(shots, "explain-result.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := s.explain(ExplainQuery{Request: Request{Method: "GET", Scheme: "http", Host: "mapping.example.com", Path: "/m/items/12",
		Headers: []Header{{Name: "x-canary", Value: "true"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if route != "mapping/default/m-items" || route != want.Route {
		t.Errorf("explainer form matched %q (outcome %q); want mapping/default/m-items, which the API names %q", route, outcome, want.Route)
	}
	if !strings.Contains(outcome, "emissary/default/m-items/80") {
		t.Errorf("explainer outcome lacks the backend: %q", outcome)
	}
	if msgs := problems.take(); len(msgs) > 0 {
		t.Errorf("explainer form: console errors:\n%s", strings.Join(msgs, "\n"))
	}
}

// mustRun runs one browser action and returns its value, failing the test
// on error.
func mustRun[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}
