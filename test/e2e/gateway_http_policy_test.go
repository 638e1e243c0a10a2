package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// leaf issues a server certificate for hosts, signed by the CA.
func (ca *testCA) leaf(t *testing.T, hosts ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: hosts[0]},
		DNSNames:     hosts,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// policyHTTPBackend is a local server for the route policy tests. Paths
// containing "/fail-once/" answer 503 to the first request for each path;
// "/sleep/" waits 1.5s; every answer says the method, path, the TLS server
// name it was reached by (if TLS) and how many requests it has seen.
type policyHTTPBackend struct {
	port     int
	requests atomic.Int32
	// options counts OPTIONS requests: preflights Envoy answers itself must
	// never reach the backend.
	options atomic.Int32
	mu      sync.Mutex
	seen    map[string]int
}

func startPolicyHTTPBackend(t *testing.T, cert *tls.Certificate) *policyHTTPBackend {
	t.Helper()
	b := &policyHTTPBackend{seen: map[string]int{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.requests.Add(1)
		if r.Method == http.MethodOptions {
			b.options.Add(1)
		}
		if strings.Contains(r.URL.Path, "/fail-once/") {
			b.mu.Lock()
			b.seen[r.URL.Path]++
			n := b.seen[r.URL.Path]
			b.mu.Unlock()
			if n == 1 {
				http.Error(w, "first try fails", http.StatusServiceUnavailable)
				return
			}
		}
		if strings.Contains(r.URL.Path, "/sleep/") {
			select {
			case <-time.After(1500 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		sni := ""
		if r.TLS != nil {
			sni = r.TLS.ServerName
		}
		w.Header().Set("X-Exposed", "1")
		fmt.Fprintf(w, "%s %s sni=%s", r.Method, r.URL.Path, sni)
	})}
	// Refused handshakes are what some tests want; not worth a log line.
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if cert != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
		l = tls.NewListener(l, srv.TLSConfig)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	b.port = l.Addr().(*net.TCPAddr).Port
	return b
}

// gatewayPolicyYAML is the configuration TestEnvoyGatewayRoutePolicies
// serves: one Gateway, routes with CORS, retries and backend timeouts to
// the plain backend, and BackendTLSPolicies to the TLS backend: one with
// the CA that signed its certificate, one with another CA, one naming a
// hostname the certificate is not for, one whose CA does not exist.
func gatewayPolicyYAML(gwPort int, goodCA, wrongCA string) string {
	return fmt.Sprintf(gatewayClassYAML+httpGatewayYAML+`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: policies, namespace: default}
spec:
  parentRefs: [{name: edge}]
  hostnames: [policy.example.com]
  rules:
    - matches: [{path: {type: PathPrefix, value: /cors}}]
      filters:
        - type: CORS
          cors:
            allowOrigins: ["https://*.example.com"]
            allowMethods: [GET, PUT]
            allowHeaders: [x-custom]
            exposeHeaders: [x-exposed]
            allowCredentials: true
            maxAge: 600
      backendRefs: [{name: plain, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /cors-any}}]
      filters:
        - type: CORS
          cors:
            allowOrigins: ["*"]
            allowMethods: ["*"]
            allowHeaders: ["*"]
            allowCredentials: true
      backendRefs: [{name: plain, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /retry}}]
      retry: {codes: [503], attempts: 2, backoff: 10ms}
      backendRefs: [{name: plain, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /no-retry}}]
      backendRefs: [{name: plain, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /bounded}}]
      timeouts: {backendRequest: 300ms}
      backendRefs: [{name: plain, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /unbounded}}]
      backendRefs: [{name: plain, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /tls-good}}]
      backendRefs: [{name: secure, port: 443}]
    - matches: [{path: {type: PathPrefix, value: /tls-wrong-ca}}]
      backendRefs: [{name: secure-wrong-ca, port: 443}]
    - matches: [{path: {type: PathPrefix, value: /tls-wrong-name}}]
      backendRefs: [{name: secure-wrong-name, port: 443}]
    - matches: [{path: {type: PathPrefix, value: /tls-no-ca}}]
      backendRefs: [{name: secure-no-ca, port: 443}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: good-ca, namespace: default}
data:
  ca.crt: |
%s
---
apiVersion: v1
kind: ConfigMap
metadata: {name: wrong-ca, namespace: default}
data:
  ca.crt: |
%s
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: good, namespace: default}
spec:
  targetRefs: [{group: "", kind: Service, name: secure}]
  validation:
    caCertificateRefs: [{group: "", kind: ConfigMap, name: good-ca}]
    hostname: secure.test
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: wrong-ca, namespace: default}
spec:
  targetRefs: [{group: "", kind: Service, name: secure-wrong-ca}]
  validation:
    caCertificateRefs: [{group: "", kind: ConfigMap, name: wrong-ca}]
    hostname: secure.test
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: wrong-name, namespace: default}
spec:
  targetRefs: [{group: "", kind: Service, name: secure-wrong-name}]
  validation:
    caCertificateRefs: [{group: "", kind: ConfigMap, name: good-ca}]
    hostname: other.test
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: no-ca, namespace: default}
spec:
  targetRefs: [{group: "", kind: Service, name: secure-no-ca}]
  validation:
    caCertificateRefs: [{group: "", kind: ConfigMap, name: missing}]
    hostname: secure.test
`, gwPort, indent(goodCA, "    "), indent(wrongCA, "    "))
}

// tlsServiceYAML is a Service whose port 443 (appProtocol https) has one
// endpoint, 127.0.0.1:port.
func tlsServiceYAML(name string, port int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %[1]s, namespace: default}
spec:
  ports: [{name: https, port: 443, appProtocol: https}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: %[1]s-1
  namespace: default
  labels: {kubernetes.io/service-name: %[1]s}
addressType: IPv4
ports: [{name: https, port: %[2]d}]
endpoints: [{addresses: ["127.0.0.1"]}]
`, name, port)
}

// do sends one request through Envoy and returns the response with its
// body read.
func do(t *testing.T, c *http.Client, method string, port int, path string, headers map[string]string) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "policy.example.com"
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp, readAll(resp)
}

// TestEnvoyGatewayRoutePolicies sends real requests through Envoy for an
// HTTPRoute's CORS filter (preflights answered by Envoy, response headers
// on actual requests, "*" methods and headers echoed with credentials),
// retry (a backend failing once), timeouts.backendRequest (504) and
// BackendTLSPolicy (TLS to a backend whose certificate a test CA signed;
// refused with another CA or a hostname the certificate is not for).
func TestEnvoyGatewayRoutePolicies(t *testing.T) {
	goodCA, wrongCA := newTestCA(t, "legate e2e good CA"), newTestCA(t, "legate e2e wrong CA")
	leaf := goodCA.leaf(t, "secure.test")
	plain := startPolicyHTTPBackend(t, nil)
	secure := startPolicyHTTPBackend(t, &leaf)

	dir := t.TempDir()
	gwPort := freePort(t)
	writeFile(t, filepath.Join(dir, "services.yaml"), strings.Join([]string{
		serviceYAML("plain", plain.port),
		// The TLS Services say port 443, appProtocol https, as a TLS
		// backend's Service would.
		tlsServiceYAML("secure", secure.port), tlsServiceYAML("secure-wrong-ca", secure.port), tlsServiceYAML("secure-wrong-name", secure.port), tlsServiceYAML("secure-no-ca", secure.port),
	}, "---\n"))
	writeFile(t, filepath.Join(dir, "gateway.yaml"), gatewayPolicyYAML(gwPort, goodCA.pem, wrongCA.pem))
	l := startLegate(t, dir)
	client := &http.Client{}
	// The TLS route is the last thing to work (it needs the CA over SDS).
	waitFor := func(t *testing.T, path, want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, body := do(t, client, http.MethodGet, gwPort, path, nil)
			if resp.StatusCode == 200 && strings.HasPrefix(body, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s never answered %q; last %d %q", path, want, resp.StatusCode, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitUp := func() {
		deadline := time.Now().Add(30 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			code, _, err := get(ctx, client, gwPort, "policy.example.com", "/unbounded/up")
			cancel()
			if err == nil && code == 200 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the Gateway listener never served: code %d err %v", code, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitUp()

	t.Run("CORS preflight from an allowed origin is answered by Envoy", func(t *testing.T) {
		before := plain.options.Load()
		resp, _ := do(t, client, http.MethodOptions, gwPort, "/cors/x", map[string]string{
			"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "x-custom",
		})
		want := map[string]string{
			"Access-Control-Allow-Origin":      "https://app.example.com",
			"Access-Control-Allow-Methods":     "GET, PUT",
			"Access-Control-Allow-Headers":     "x-custom",
			"Access-Control-Max-Age":           "600",
			"Access-Control-Allow-Credentials": "true",
		}
		if resp.StatusCode != 200 {
			t.Errorf("status %d, want 200", resp.StatusCode)
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %q, want %q", k, got, v)
			}
		}
		if n := plain.options.Load() - before; n != 0 {
			t.Errorf("the preflight reached the backend (%d OPTIONS)", n)
		}
	})
	t.Run("CORS preflight from another origin gets no CORS headers and is not forwarded", func(t *testing.T) {
		before := plain.options.Load()
		resp, _ := do(t, client, http.MethodOptions, gwPort, "/cors/x", map[string]string{
			"Origin": "https://evil.test", "Access-Control-Request-Method": "PUT",
		})
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("status %d, Allow-Origin %q; want 200 and none", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		// A wildcard must not match the bare domain nor a look-alike.
		for _, o := range []string{"https://example.com", "https://example.com.evil.test", "http://app.example.com"} {
			resp, _ := do(t, client, http.MethodOptions, gwPort, "/cors/x", map[string]string{"Origin": o, "Access-Control-Request-Method": "GET"})
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("origin %s was allowed (%q)", o, got)
			}
		}
		if n := plain.options.Load() - before; n != 0 {
			t.Errorf("a refused preflight reached the backend (%d OPTIONS)", n)
		}
	})
	t.Run("actual CORS request gets Allow-Origin, credentials and exposed headers", func(t *testing.T) {
		resp, body := do(t, client, http.MethodGet, gwPort, "/cors/data", map[string]string{"Origin": "https://a.b.example.com"})
		if resp.StatusCode != 200 || !strings.HasPrefix(body, "GET /cors/data") {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		for k, v := range map[string]string{
			"Access-Control-Allow-Origin":      "https://a.b.example.com",
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Expose-Headers":    "x-exposed",
		} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %q, want %q", k, got, v)
			}
		}
		resp, _ = do(t, client, http.MethodGet, gwPort, "/cors/data", map[string]string{"Origin": "https://evil.test"})
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("a request from another origin got Allow-Origin %q", got)
		}
	})
	t.Run("wildcard methods and headers are echoed, never *, with credentials", func(t *testing.T) {
		resp, _ := do(t, client, http.MethodOptions, gwPort, "/cors-any/x", map[string]string{
			"Origin": "https://anywhere.test", "Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "x-a, x-b",
		})
		for k, v := range map[string]string{
			"Access-Control-Allow-Origin":      "https://anywhere.test",
			"Access-Control-Allow-Methods":     "PATCH",
			"Access-Control-Allow-Headers":     "x-a, x-b",
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Max-Age":           "5",
		} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %q, want %q", k, got, v)
			}
		}
	})
	t.Run("retry: a backend failing once is retried", func(t *testing.T) {
		before := plain.requests.Load()
		resp, body := do(t, client, http.MethodGet, gwPort, "/retry/fail-once/a", nil)
		if resp.StatusCode != 200 || !strings.HasPrefix(body, "GET /retry/fail-once/a") {
			t.Fatalf("got %d %q, want 200 after one retry", resp.StatusCode, body)
		}
		if n := plain.requests.Load() - before; n != 2 {
			t.Errorf("backend saw %d requests, want 2 (one failure, one retry)", n)
		}
		// Without a retry the failure reaches the client.
		resp, _ = do(t, client, http.MethodGet, gwPort, "/no-retry/fail-once/a", nil)
		if resp.StatusCode != 503 {
			t.Errorf("without retry: got %d, want 503", resp.StatusCode)
		}
	})
	t.Run("timeouts.backendRequest answers 504", func(t *testing.T) {
		start := time.Now()
		resp, _ := do(t, client, http.MethodGet, gwPort, "/bounded/sleep/x", nil)
		took := time.Since(start)
		if resp.StatusCode != 504 {
			t.Errorf("got %d, want 504", resp.StatusCode)
		}
		t.Logf("504 after %v", took)
		if took < 250*time.Millisecond || took > 1200*time.Millisecond {
			t.Errorf("answered after %v, want about 300ms", took)
		}
		if resp, body := do(t, client, http.MethodGet, gwPort, "/unbounded/sleep/x", nil); resp.StatusCode != 200 {
			t.Errorf("without a backendRequest timeout: got %d %q, want 200", resp.StatusCode, body)
		}
	})
	t.Run("BackendTLSPolicy: TLS to a backend signed by the policy's CA", func(t *testing.T) {
		waitFor(t, "/tls-good/x", "GET /tls-good/x sni=secure.test")
	})
	t.Run("BackendTLSPolicy: refused with another CA or another hostname", func(t *testing.T) {
		before := secure.requests.Load()
		for _, p := range []string{"/tls-wrong-ca/x", "/tls-wrong-name/x"} {
			resp, body := do(t, client, http.MethodGet, gwPort, p, nil)
			if resp.StatusCode != 503 {
				t.Errorf("%s: got %d %q, want 503 (the handshake must fail)", p, resp.StatusCode, body)
			}
		}
		// A policy none of whose CAs resolves: 500, never clear text.
		if resp, body := do(t, client, http.MethodGet, gwPort, "/tls-no-ca/x", nil); resp.StatusCode != 500 {
			t.Errorf("/tls-no-ca/x: got %d %q, want 500", resp.StatusCode, body)
		}
		if n := secure.requests.Load() - before; n != 0 {
			t.Errorf("the TLS backend served %d requests over unverified connections", n)
		}
	})
	if stats := l.admin(t, "/stats?filter=update_rejected"); !allZero(stats) {
		t.Fatalf("envoy rejected an update:\n%s", stats)
	}
	// Envoy says why each refused handshake failed: the chain (wrong CA)
	// or the name (a certificate for another host).
	stats := l.admin(t, "/stats?filter=ssl.fail_verify")
	t.Logf("%s", stats)
	for _, want := range []string{"wrong-ca.ssl.fail_verify_error: ", "wrong-name.ssl.fail_verify_san: "} {
		if !hasNonZero(stats, want) {
			t.Errorf("no non-zero %q in Envoy's stats", want)
		}
	}
}

// hasNonZero reports whether a stats line containing name has a value
// other than 0.
func hasNonZero(stats, name string) bool {
	for _, line := range strings.Split(stats, "\n") {
		if i := strings.Index(line, name); i >= 0 && strings.TrimSpace(line[i+len(name):]) != "0" {
			return true
		}
	}
	return false
}

// TestEnvoyGatewaySessionPersistence: with cookie session persistence,
// Envoy sets the cookie on the first answer and every request sending it
// back reaches the same endpoint, while requests without it are spread
// over both; with header persistence, the header Envoy returns does the
// same.
func TestEnvoyGatewaySessionPersistence(t *testing.T) {
	a, b := startBackend(t, "one"), startBackend(t, "two")
	dir := t.TempDir()
	gwPort := freePort(t)
	writeFile(t, filepath.Join(dir, "services.yaml"), fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: pair, namespace: default}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: pair-1, namespace: default, labels: {kubernetes.io/service-name: pair}}
addressType: IPv4
ports: [{name: http, port: %d}]
endpoints: [{addresses: ["127.0.0.1"]}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: pair-2, namespace: default, labels: {kubernetes.io/service-name: pair}}
addressType: IPv4
ports: [{name: http, port: %d}]
endpoints: [{addresses: ["127.0.0.1"]}]
`, a.port, b.port))
	writeFile(t, filepath.Join(dir, "gateway.yaml"), fmt.Sprintf(gatewayClassYAML+httpGatewayYAML+`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: sticky, namespace: default}
spec:
  parentRefs: [{name: edge}]
  hostnames: [policy.example.com]
  rules:
    - matches: [{path: {type: PathPrefix, value: /cookie}}]
      sessionPersistence: {sessionName: sticky, type: Cookie}
      backendRefs: [{name: pair, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /header}}]
      sessionPersistence: {sessionName: x-session, type: Header}
      backendRefs: [{name: pair, port: 80}]
`, gwPort))
	l := startLegate(t, dir)
	client := &http.Client{}
	served := func(body string) string { name, _, _ := strings.Cut(body, " "); return name }

	// Without the cookie, both endpoints serve (so that pinning means
	// something).
	seen := map[string]int{}
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("both endpoints never served without a session: %v", seen)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		code, body, err := get(ctx, client, gwPort, "policy.example.com", "/cookie")
		cancel()
		if err == nil && code == 200 {
			seen[served(body)]++
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}

	resp, body := do(t, client, http.MethodGet, gwPort, "/cookie", nil)
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "sticky" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatalf("no sticky cookie set; headers %v", resp.Header)
	}
	first := served(body)
	for i := range 20 {
		_, body := do(t, client, http.MethodGet, gwPort, "/cookie", map[string]string{"Cookie": cookie.Name + "=" + cookie.Value})
		if got := served(body); got != first {
			t.Fatalf("request %d with the cookie went to %s, the session is on %s", i, got, first)
		}
	}

	resp, body = do(t, client, http.MethodGet, gwPort, "/header", nil)
	session := resp.Header.Get("X-Session")
	if session == "" {
		t.Fatalf("no x-session header returned; headers %v", resp.Header)
	}
	first = served(body)
	for i := range 20 {
		_, body := do(t, client, http.MethodGet, gwPort, "/header", map[string]string{"X-Session": session})
		if got := served(body); got != first {
			t.Fatalf("request %d with the session header went to %s, the session is on %s", i, got, first)
		}
	}
	if stats := l.admin(t, "/stats?filter=update_rejected"); !allZero(stats) {
		t.Fatalf("envoy rejected an update:\n%s", stats)
	}
}
