package e2e

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// policyBackend is one local server with the behaviours the policy tests
// need, chosen by path: /slow/ sleeps, /flaky/<key> fails the first request
// for each key, /headers echoes request headers and sets some of its own,
// /ws upgrades to an echoing byte stream.
type policyBackend struct {
	port int
	// attempts counts requests per flaky key.
	mu       sync.Mutex
	attempts map[string]int
	upgrades atomic.Int32
}

func startPolicyBackend(t *testing.T) *policyBackend {
	t.Helper()
	b := &policyBackend{attempts: map[string]int{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/slow/", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(1500 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "slow done")
	})
	mux.HandleFunc("/flaky/", func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.attempts[r.URL.Path]++
		n := b.attempts[r.URL.Path]
		b.mu.Unlock()
		if n == 1 {
			http.Error(w, "first attempt fails", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "flaky ok after %d", n)
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend-Secret", "leak")
		w.Header().Set("X-Backend-Kept", "yes")
		fmt.Fprintf(w, "x-added=%q x-drop=%q x-client=%q", r.Header.Get("X-Added"), r.Header.Get("X-Drop"), r.Header.Get("X-Client"))
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "want an upgrade", http.StatusBadRequest)
			return
		}
		b.upgrades.Add(1)
		h, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "no hijack", http.StatusInternalServerError)
			return
		}
		conn, rw, err := h.Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", base64.StdEncoding.EncodeToString(sum[:]))
		if err := rw.Flush(); err != nil {
			return
		}
		// After the handshake the stream is opaque to Envoy: echo each
		// line back in upper case, which shows bytes flow both ways.
		for {
			line, err := rw.ReadString('\n')
			if err != nil {
				return
			}
			if _, err := rw.WriteString(strings.ToUpper(line)); err != nil {
				return
			}
			if err := rw.Flush(); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "path %s", r.URL.RequestURI())
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	b.port = l.Addr().(*net.TCPAddr).Port
	return b
}

func (b *policyBackend) attemptsFor(path string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.attempts[path]
}

// request sends one request through Envoy and returns the response (body
// read) or an error.
func request(t *testing.T, port int, host, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s%s: %v", host, path, err)
	}
	return resp, readAll(resp)
}

// TestEnvoyEmissaryPolicies sends real traffic through Envoy for Mapping
// timeouts, retries, header changes and websocket upgrades.
func TestEnvoyEmissaryPolicies(t *testing.T) {
	be := startPolicyBackend(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "svc.yaml"), serviceYAML("policy", be.port))
	writeFile(t, filepath.Join(dir, "mappings.yaml"), `apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: ready, namespace: default}
spec: {hostname: policy.example.com, prefix: /headers, rewrite: "", service: policy}
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: slow-short, namespace: default}
spec: {hostname: policy.example.com, prefix: /slow/short, rewrite: "", service: policy, timeout_ms: 300}
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: slow-default, namespace: default}
spec: {hostname: policy.example.com, prefix: /slow/default, rewrite: "", service: policy}
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: flaky-retried, namespace: default}
spec:
  hostname: policy.example.com
  prefix: /flaky/retried/
  rewrite: ""
  service: policy
  retry_policy: {retry_on: 5xx, num_retries: 2}
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: flaky-plain, namespace: default}
spec: {hostname: policy.example.com, prefix: /flaky/plain/, rewrite: "", service: policy}
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: header-changes, namespace: default}
spec:
  hostname: headers.example.com
  prefix: /
  rewrite: /headers
  service: policy
  add_request_headers:
    x-added: from-legate
  remove_request_headers: [x-drop]
  add_response_headers:
    x-response-added: {value: "yes", append: false}
  remove_response_headers: [x-backend-secret]
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: ws, namespace: default}
spec: {hostname: policy.example.com, prefix: /ws, rewrite: "", service: policy, allow_upgrade: [websocket]}
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: regex-rewrite, namespace: default}
spec:
  hostname: policy.example.com
  prefix: /foo/
  service: policy
  regex_rewrite: {pattern: '/foo/([0-9]*)/list', substitution: '/bar/\1'}
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: regex-redirect, namespace: default}
spec:
  hostname: policy.example.com
  prefix: /old/
  service: new.example.com
  host_redirect: true
  regex_redirect: {pattern: '/old/([a-z]+)', substitution: '/new/\1'}
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: ws-not-allowed, namespace: default}
spec: {hostname: nows.example.com, prefix: /ws, rewrite: "", service: policy}
`)
	l := startLegate(t, dir)
	// One file, one snapshot: when one route answers, all are there.
	eventually(t, http.DefaultClient, l.httpPort, "policy.example.com", "/headers", "x-added", 30*time.Second)

	t.Run("a backend slower than timeout_ms answers 504", func(t *testing.T) {
		start := time.Now()
		resp, body := request(t, l.httpPort, "policy.example.com", "/slow/short", nil)
		took := time.Since(start)
		t.Logf("timeout_ms 300 against a 1.5 s backend: %d %q after %v", resp.StatusCode, body, took)
		if resp.StatusCode != http.StatusGatewayTimeout {
			t.Fatalf("want 504, got %d %q", resp.StatusCode, body)
		}
		if took > time.Second {
			t.Fatalf("the 504 took %v; the 300 ms timeout did not cut the request short", took)
		}
		// Emissary's default, 3000 ms, lets the same backend finish.
		resp, body = request(t, l.httpPort, "policy.example.com", "/slow/default", nil)
		if resp.StatusCode != 200 || body != "slow done" {
			t.Fatalf("with the default timeout: want 200 \"slow done\", got %d %q", resp.StatusCode, body)
		}
	})

	t.Run("a request that fails once is retried", func(t *testing.T) {
		resp, body := request(t, l.httpPort, "policy.example.com", "/flaky/retried/a", nil)
		if resp.StatusCode != 200 || body != "flaky ok after 2" {
			t.Fatalf("with retry_policy: want 200 \"flaky ok after 2\", got %d %q", resp.StatusCode, body)
		}
		if n := be.attemptsFor("/flaky/retried/a"); n != 2 {
			t.Fatalf("backend saw %d attempts, want 2", n)
		}
		// Without a retry policy the first failure reaches the client.
		resp, body = request(t, l.httpPort, "policy.example.com", "/flaky/plain/a", nil)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("without retry_policy: want the backend's 503, got %d %q", resp.StatusCode, body)
		}
		if n := be.attemptsFor("/flaky/plain/a"); n != 1 {
			t.Fatalf("without retry_policy the backend saw %d attempts, want 1", n)
		}
	})

	t.Run("headers are added and removed both ways", func(t *testing.T) {
		resp, body := request(t, l.httpPort, "headers.example.com", "/", map[string]string{"X-Drop": "secret", "X-Client": "kept"})
		want := `x-added="from-legate" x-drop="" x-client="kept"`
		if resp.StatusCode != 200 || body != want {
			t.Fatalf("want 200 %q, got %d %q", want, resp.StatusCode, body)
		}
		if got := resp.Header.Get("X-Response-Added"); got != "yes" {
			t.Errorf("X-Response-Added = %q, want yes", got)
		}
		if got := resp.Header.Get("X-Backend-Secret"); got != "" {
			t.Errorf("X-Backend-Secret = %q, want it removed", got)
		}
		if got := resp.Header.Get("X-Backend-Kept"); got != "yes" {
			t.Errorf("X-Backend-Kept = %q, want the backend's header kept", got)
		}
	})

	t.Run("regex_rewrite and regex_redirect rewrite the path", func(t *testing.T) {
		// rewrite is ignored when regex_rewrite is set; the query stays.
		resp, body := request(t, l.httpPort, "policy.example.com", "/foo/12345/list?q=1", nil)
		if resp.StatusCode != 200 || body != "path /bar/12345?q=1" {
			t.Fatalf("regex_rewrite: want 200 \"path /bar/12345?q=1\", got %d %q", resp.StatusCode, body)
		}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/old/page", l.httpPort), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "policy.example.com"
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err = noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(resp)
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "http://new.example.com/new/page" {
			t.Fatalf("regex_redirect: want 301 to http://new.example.com/new/page, got %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("websocket upgrades only where allow_upgrade lists it", func(t *testing.T) {
		before := be.upgrades.Load()
		status, echo := websocketEcho(t, l.httpPort, "policy.example.com", "/ws", "hello through envoy\n")
		if status != 101 || echo != "HELLO THROUGH ENVOY\n" {
			t.Fatalf("with allow_upgrade: want 101 and the echo, got %d %q", status, echo)
		}
		if be.upgrades.Load() != before+1 {
			t.Fatalf("the backend did not see the upgrade")
		}
		status, _ = websocketEcho(t, l.httpPort, "nows.example.com", "/ws", "x\n")
		if status == 101 {
			t.Fatalf("without allow_upgrade the upgrade went through")
		}
		t.Logf("without allow_upgrade Envoy answers %d", status)
		if be.upgrades.Load() != before+1 {
			t.Fatalf("without allow_upgrade the backend saw an upgrade")
		}
	})
}

// websocketEcho opens a raw connection to Envoy, asks for a websocket
// upgrade, and on 101 sends line and reads one line back. It returns the
// status code and the line read.
func websocketEcho(t *testing.T, port int, host, path, line string) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path, host)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the upgrade response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, ""
	}
	if _, err := io.WriteString(conn, line); err != nil {
		t.Fatal(err)
	}
	got, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the echo: %v", err)
	}
	return resp.StatusCode, got
}
