package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const classYAML = `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: legate
spec:
  controller: legate.dev/ingress-controller
`

// serviceYAML is a Service and an EndpointSlice whose endpoint is a local
// backend.
func serviceYAML(name string, port int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  namespace: default
spec:
  ports:
    - name: http
      port: 80
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: %[1]s-1
  namespace: default
  labels:
    kubernetes.io/service-name: %[1]s
addressType: IPv4
ports:
  - name: http
    port: %[2]d
endpoints:
  - addresses: ["127.0.0.1"]
`, name, port)
}

// ingressYAML routes app.example.com: "/" to root and "/api" to api, and
// other.example.com to other.
func ingressYAML(root, api, other string) string {
	return fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: app
  namespace: default
spec:
  ingressClassName: legate
  rules:
    - host: app.example.com
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: %s, port: {number: 80}}}}
          - {path: /api, pathType: Prefix, backend: {service: {name: %s, port: {name: http}}}}
    - host: other.example.com
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: %s, port: {number: 80}}}}
`, root, api, other)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	// Write then rename, as editors and kubectl-style tools do, so the
	// provider never reads a half-written file in this test unless we mean it.
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestEnvoyEndToEnd(t *testing.T) {
	a, b, c := startBackend(t, "alpha"), startBackend(t, "beta"), startBackend(t, "gamma")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "class.yaml"), classYAML)
	writeFile(t, filepath.Join(dir, "services.yaml"),
		serviceYAML("alpha", a.port)+"---\n"+serviceYAML("beta", b.port)+"---\n"+serviceYAML("gamma", c.port))
	ingressFile := filepath.Join(dir, "ingress.yaml")
	writeFile(t, ingressFile, ingressYAML("alpha", "beta", "gamma"))

	l := startLegate(t, dir)

	// One client, one connection: every request after the first must reuse
	// it, which proves Envoy never drops the connection across changes.
	var conns, reused atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute}}
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		conns.Add(1)
		if i.Reused {
			reused.Add(1)
		}
	}}
	traced := func(ctx context.Context) context.Context { return httptrace.WithClientTrace(ctx, trace) }

	startup := eventually(t, client, l.httpPort, "app.example.com", "/", "alpha", 30*time.Second)
	t.Logf("first route served %v after start", startup)
	conns.Store(0)
	reused.Store(0)

	expect := func(host, path, want string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(traced(context.Background()), 5*time.Second)
		defer cancel()
		code, body, err := get(ctx, client, l.httpPort, host, path)
		if err != nil || code != 200 || !strings.HasPrefix(body, want) {
			t.Fatalf("%s%s: want %q, got code=%d body=%q err=%v", host, path, want, code, body, err)
		}
	}

	t.Run("routes by host and path", func(t *testing.T) {
		expect("app.example.com", "/", "alpha")
		expect("app.example.com", "/anything/else", "alpha")
		expect("app.example.com", "/api", "beta")
		expect("app.example.com", "/api/v1/users", "beta")
		expect("app.example.com", "/apiary", "alpha")  // Prefix matches whole path elements only
		expect("app.example.com:8080", "/api", "beta") // a port in Host still selects the host
		expect("other.example.com", "/api", "gamma")
		ctx, cancel := context.WithTimeout(traced(context.Background()), 5*time.Second)
		defer cancel()
		if code, _, err := get(ctx, client, l.httpPort, "unknown.example.com", "/"); err != nil || code != 404 {
			t.Fatalf("unknown host: want 404, got %d %v", code, err)
		}
	})

	t.Run("a change re-routes within a second on the same connection", func(t *testing.T) {
		// Keep the connection busy while the change lands.
		stop := make(chan struct{})
		errs := make(chan error, 1)
		go func() {
			defer close(errs)
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(traced(context.Background()), 5*time.Second)
				code, body, err := get(ctx, client, l.httpPort, "other.example.com", "/")
				cancel()
				if err != nil || code != 200 || (!strings.HasPrefix(body, "gamma") && !strings.HasPrefix(body, "alpha")) {
					errs <- fmt.Errorf("during the change: code=%d body=%q err=%v", code, body, err)
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
		changed := time.Now()
		writeFile(t, ingressFile, ingressYAML("beta", "beta", "alpha"))
		eventually(t, &http.Client{Transport: client.Transport}, l.httpPort, "app.example.com", "/", "beta", 10*time.Second)
		took := time.Since(changed)
		close(stop)
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		t.Logf("re-routed %v after the file changed", took)
		if took > time.Second {
			t.Errorf("re-routing took %v, want under 1s", took)
		}
		expect("other.example.com", "/", "alpha")
		if n, r := conns.Load(), reused.Load(); n == 0 || r != n-1 && r != n {
			t.Errorf("connection dropped: %d requests, only %d on a reused connection", n, r)
		}
	})

	t.Run("a broken file keeps the last good config", func(t *testing.T) {
		// Half-written: the document stops in the middle of a mapping.
		broken := ingressYAML("gamma", "gamma", "gamma")
		broken = broken[:strings.Index(broken, "    - host: other")] + "    - host: [other\n"
		if err := os.WriteFile(ingressFile, []byte(broken), 0o644); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(l.out.String(), "ingress.yaml:") && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if !strings.Contains(l.out.String(), "ingress.yaml:") {
			t.Fatalf("legate did not report the broken file by name and line")
		}
		time.Sleep(300 * time.Millisecond)
		expect("app.example.com", "/", "beta")
		expect("other.example.com", "/", "alpha")

		// A broken object in a good file is left out; the rest flows.
		writeFile(t, ingressFile, ingressYAML("gamma", "beta", "alpha")+`---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: bad
  namespace: default
spec:
  ingressClassName: legate
  rules:
    - host: bad.example.com
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {resource: {kind: Bucket, name: b}}}
`)
		eventually(t, client, l.httpPort, "app.example.com", "/", "gamma", 5*time.Second)
		expect("other.example.com", "/", "alpha")
	})

	t.Run("envoy rejected nothing", func(t *testing.T) {
		stats := l.admin(t, "/stats?filter=update_rejected")
		for _, line := range strings.Split(strings.TrimSpace(stats), "\n") {
			if !strings.HasSuffix(line, ": 0") {
				t.Errorf("envoy rejected an update: %s", line)
			}
		}
		if !strings.Contains(stats, "lds.update_rejected") || !strings.Contains(stats, "cds.update_rejected") {
			t.Errorf("stats lack the xDS rejection counters:\n%s", stats)
		}
		dump := l.admin(t, "/config_dump")
		if strings.Contains(dump, "error_state") {
			t.Errorf("config_dump shows a rejected resource:\n%s", dump)
		}
		if !strings.Contains(dump, "app.example.com") {
			t.Errorf("config_dump lacks the served routes")
		}
	})
}

// TestEnvoyTLS checks HTTPS termination with SNI-selected certificates
// delivered over SDS.
func TestEnvoyTLS(t *testing.T) {
	a := startBackend(t, "secure")
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t, "secure.example.com")
	writeFile(t, filepath.Join(dir, "all.yaml"), classYAML+"---\n"+serviceYAML("secure", a.port)+fmt.Sprintf(`---
apiVersion: v1
kind: Secret
metadata:
  name: secure-tls
  namespace: default
type: kubernetes.io/tls
stringData:
  tls.crt: |
%s
  tls.key: |
%s
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: secure
  namespace: default
spec:
  ingressClassName: legate
  tls:
    - hosts: [secure.example.com]
      secretName: secure-tls
  rules:
    - host: secure.example.com
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: secure, port: {number: 80}}}}
`, indent(certPEM, "    "), indent(keyPEM, "    ")))
	l := startLegate(t, dir)

	pool := certPool(t, certPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "secure.example.com"}}}
	start := time.Now()
	for {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/hello", l.httpsPort), nil)
		req.Host = "secure.example.com"
		resp, err := client.Do(req)
		if err == nil {
			body := readAll(resp)
			if resp.StatusCode == 200 && strings.HasPrefix(body, "secure /hello") {
				if resp.TLS == nil || resp.TLS.PeerCertificates[0].Subject.CommonName != "secure.example.com" {
					t.Fatalf("unexpected server certificate")
				}
				break
			}
			err = fmt.Errorf("code %d body %q", resp.StatusCode, body)
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("HTTPS never served: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Plain HTTP still serves the same rules.
	eventually(t, http.DefaultClient, l.httpPort, "secure.example.com", "/", "secure", 5*time.Second)
}
