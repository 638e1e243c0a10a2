package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/legateproxy/legate/internal/testenv"
)

// tlsSecretYAML is a kubernetes.io/tls Secret holding certPEM and keyPEM.
func tlsSecretYAML(name, certPEM, keyPEM string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: %s, namespace: default}
type: kubernetes.io/tls
stringData:
  tls.crt: |
%s
  tls.key: |
%s
`, name, indent(certPEM, "    "), indent(keyPEM, "    "))
}

// noRedirects is a client that returns redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// TestEnvoyEmissaryHostTLS serves Emissary Hosts through real Envoy: a Host
// with a tlsSecret terminates TLS with that certificate, and its insecure
// requests are redirected to HTTPS (the default action, 301); a Host with
// action Reject answers cleartext requests with 400; a Host with Route
// serves them.
func TestEnvoyEmissaryHostTLS(t *testing.T) {
	be := startBackend(t, "app")
	dir := t.TempDir()
	c, k := testenv.SelfSigned(t, "secure.example.com", "strict.example.com", "open.example.com")
	certPEM, keyPEM := string(c), string(k)
	writeFile(t, filepath.Join(dir, "all.yaml"), serviceYAML("app", be.port)+"---\n"+tlsSecretYAML("site-cert", certPEM, keyPEM)+`---
apiVersion: getambassador.io/v3alpha1
kind: Host
metadata: {name: secure, namespace: default}
spec:
  hostname: secure.example.com
  tlsSecret: {name: site-cert}
  requestPolicy:
    insecure: {action: Redirect}
---
apiVersion: getambassador.io/v3alpha1
kind: Host
metadata: {name: strict, namespace: default}
spec:
  hostname: strict.example.com
  tlsSecret: {name: site-cert}
  requestPolicy:
    insecure: {action: Reject}
---
apiVersion: getambassador.io/v3alpha1
kind: Host
metadata: {name: open, namespace: default}
spec:
  hostname: open.example.com
  tlsSecret: {name: site-cert}
  requestPolicy:
    insecure: {action: Route}
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: app, namespace: default}
spec: {prefix: /app/, service: app}
`)
	l := startLegate(t, dir)
	pool := certPool(t, certPEM)
	httpsGet := func(host, path string) (*http.Response, string, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: host}}}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d%s", l.httpsPort, path), nil)
		if err != nil {
			return nil, "", err
		}
		req.Host = host
		resp, err := c.Do(req)
		if err != nil {
			return nil, "", err
		}
		return resp, readAll(resp), nil
	}
	start := time.Now()
	for {
		resp, body, err := httpsGet("secure.example.com", "/app/x")
		if err == nil && resp.StatusCode == 200 && body == "app /x" {
			if cn := resp.TLS.PeerCertificates[0].DNSNames; len(cn) == 0 || cn[0] != "secure.example.com" {
				t.Fatalf("served certificate names %v, want the Host's tlsSecret", cn)
			}
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("HTTPS for the Host never served: %v %v", err, body)
		}
		time.Sleep(50 * time.Millisecond)
	}

	send := func(host, path string) *http.Response {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", l.httpPort, path), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(resp)
		return resp
	}
	t.Run("insecure requests are redirected to HTTPS", func(t *testing.T) {
		resp := send("secure.example.com", "/app/x?q=1")
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "https://secure.example.com/app/x?q=1" {
			t.Fatalf("want 301 to https://secure.example.com/app/x?q=1, got %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		// Every path, not only those with a Mapping.
		if resp := send("secure.example.com", "/nothing-here"); resp.StatusCode != http.StatusMovedPermanently {
			t.Fatalf("an unmapped path: want 301, got %d", resp.StatusCode)
		}
	})
	t.Run("Reject answers insecure requests with 400", func(t *testing.T) {
		if resp := send("strict.example.com", "/app/x"); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("want 400, got %d", resp.StatusCode)
		}
		resp, body, err := httpsGet("strict.example.com", "/app/y")
		if err != nil || resp.StatusCode != 200 || body != "app /y" {
			t.Fatalf("over HTTPS: want 200 \"app /y\", got %v %q %v", resp, body, err)
		}
	})
	t.Run("Route serves insecure requests", func(t *testing.T) {
		code, body, err := get(t.Context(), http.DefaultClient, l.httpPort, "open.example.com", "/app/z")
		if err != nil || code != 200 || body != "app /z" {
			t.Fatalf("want 200 \"app /z\", got %d %q %v", code, body, err)
		}
	})
}

// TestEnvoyEmissaryCORS sends CORS preflight and actual requests through
// Envoy to a Mapping with cors: Envoy answers the preflight of an allowed
// origin itself, gives other origins no CORS headers, and adds the headers
// to actual responses.
func TestEnvoyEmissaryCORS(t *testing.T) {
	be := startBackend(t, "api")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "all.yaml"), serviceYAML("api", be.port)+`---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: api, namespace: default}
spec:
  hostname: cors.example.com
  prefix: /api/
  service: api
  cors:
    origins: [http://foo.example, http://bar.example]
    methods: [GET, POST]
    headers: [Content-Type]
    exposed_headers: [X-Custom-Header]
    credentials: true
    max_age: "600"
`)
	l := startLegate(t, dir)
	eventually(t, http.DefaultClient, l.httpPort, "cors.example.com", "/api/x", "api /x", 30*time.Second)
	do := func(method, origin string, hdr map[string]string) *http.Response {
		req, err := http.NewRequestWithContext(t.Context(), method, fmt.Sprintf("http://127.0.0.1:%d/api/x", l.httpPort), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "cors.example.com"
		req.Header.Set("Origin", origin)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(resp)
		return resp
	}
	t.Run("preflight from an allowed origin", func(t *testing.T) {
		resp := do(http.MethodOptions, "http://foo.example", map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
		h := resp.Header
		if resp.StatusCode != 200 || h.Get("Access-Control-Allow-Origin") != "http://foo.example" {
			t.Fatalf("want 200 with Allow-Origin http://foo.example, got %d %v", resp.StatusCode, h)
		}
		if !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || h.Get("Access-Control-Max-Age") != "600" ||
			h.Get("Access-Control-Allow-Credentials") != "true" || !strings.EqualFold(h.Get("Access-Control-Allow-Headers"), "Content-Type") {
			t.Fatalf("preflight headers: %v", h)
		}
	})
	t.Run("preflight from another origin gets no CORS headers", func(t *testing.T) {
		resp := do(http.MethodOptions, "http://evil.example", map[string]string{"Access-Control-Request-Method": "POST"})
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Fatalf("Allow-Origin %q for an origin not allowed", got)
		}
	})
	t.Run("actual request from an allowed origin", func(t *testing.T) {
		resp := do(http.MethodGet, "http://bar.example", nil)
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "http://bar.example" ||
			resp.Header.Get("Access-Control-Expose-Headers") != "X-Custom-Header" {
			t.Fatalf("want 200 with Allow-Origin and Expose-Headers, got %d %v", resp.StatusCode, resp.Header)
		}
	})
}

// TestEnvoyMappingIngressHTTPRoute serves one hostname from an Ingress, an
// Emissary Mapping and a Gateway API HTTPRoute at once, each to its own
// backend. The Ingress and the Mapping share one Envoy listener (and one
// virtual host); the HTTPRoute is served on its Gateway's listener, on a
// port of its own (TestEnvoySharedListenerThreeSources has a Gateway join
// the shared listener instead).
func TestEnvoyMappingIngressHTTPRoute(t *testing.T) {
	ing, mp, rt := startBackend(t, "ingress"), startBackend(t, "mapping"), startBackend(t, "httproute")
	dir := t.TempDir()
	gwPort := freePort(t)
	writeFile(t, filepath.Join(dir, "svc.yaml"), serviceYAML("ing", ing.port)+"---\n"+serviceYAML("mp", mp.port)+"---\n"+serviceYAML("rt", rt.port))
	writeFile(t, filepath.Join(dir, "routes.yaml"), classYAML+fmt.Sprintf(`---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: default}
spec:
  ingressClassName: legate
  rules:
    - host: shop.example.com
      http:
        paths:
          - {path: /cart, pathType: Prefix, backend: {service: {name: ing, port: {number: 80}}}}
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: shop, namespace: default}
spec: {hostname: shop.example.com, prefix: /catalog/, rewrite: "", service: mp}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: legate-gw}
spec: {controllerName: legate.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  gatewayClassName: legate-gw
  listeners: [{name: http, protocol: HTTP, port: %d}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: default}
spec:
  parentRefs: [{name: edge}]
  hostnames: [shop.example.com]
  rules:
    - matches: [{path: {type: PathPrefix, value: /checkout}}]
      backendRefs: [{name: rt, port: 80}]
`, gwPort))
	l := startLegate(t, dir)
	eventually(t, http.DefaultClient, l.httpPort, "shop.example.com", "/cart", "ingress /cart", 30*time.Second)
	eventually(t, http.DefaultClient, l.httpPort, "shop.example.com", "/catalog/x", "mapping /catalog/x", 5*time.Second)
	eventually(t, http.DefaultClient, gwPort, "shop.example.com", "/checkout", "httproute /checkout", 10*time.Second)
	// The shared listener's route table holds one virtual host for the
	// name, with the routes of both sources.
	// With ?resource=, each entry of configs is one dynamic route config.
	var dump struct {
		Configs []struct {
			RouteConfig struct {
				Name         string `json:"name"`
				VirtualHosts []struct {
					Domains []string `json:"domains"`
					Routes  []struct {
						Name string `json:"name"`
					} `json:"routes"`
				} `json:"virtual_hosts"`
			} `json:"route_config"`
		} `json:"configs"`
	}
	if err := json.Unmarshal([]byte(l.admin(t, "/config_dump?resource=dynamic_route_configs")), &dump); err != nil {
		t.Fatal(err)
	}
	shared := fmt.Sprintf("http-%d", l.httpPort)
	found := 0
	for _, d := range dump.Configs {
		if d.RouteConfig.Name != shared {
			continue
		}
		for _, vh := range d.RouteConfig.VirtualHosts {
			if !slices.Contains(vh.Domains, "shop.example.com") {
				continue
			}
			found++
			var names []string
			for _, r := range vh.Routes {
				names = append(names, r.Name)
			}
			if !slices.Contains(names, "mapping/default/shop") || !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "ingress/default/shop/") }) {
				t.Fatalf("the shop.example.com virtual host lacks the Mapping's or the Ingress's route: %v", names)
			}
		}
	}
	if found != 1 {
		t.Fatalf("want one virtual host for shop.example.com in route table %s, found %d", shared, found)
	}
}
