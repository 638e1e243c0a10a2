package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEnvoySharedListenerThreeSources serves one hostname from an Ingress
// (path /ingress), an HTTPRoute of a Gateway that joins the shared HTTP
// listener (PathPrefix /route/) and an Emissary Mapping (prefix /mapping/),
// each to its own backend, all through the one Envoy listener on the shared
// HTTP port; the Gateway gets no Envoy listener of its own.
func TestEnvoySharedListenerThreeSources(t *testing.T) {
	ing, mp, rt := startBackend(t, "ingress"), startBackend(t, "mapping"), startBackend(t, "httproute")
	dir := t.TempDir()
	l := startLegate(t, dir)
	// The Gateway's port is the shared HTTP port, known once legate runs:
	// the folder is watched, so the objects can come now.
	writeFile(t, filepath.Join(dir, "svc.yaml"), serviceYAML("ing", ing.port)+"---\n"+serviceYAML("mp", mp.port)+"---\n"+serviceYAML("rt", rt.port))
	writeFile(t, filepath.Join(dir, "routes.yaml"), classYAML+"---\n"+gatewayClassYAML+fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  gatewayClassName: legate
  listeners: [{name: http, protocol: HTTP, port: %d}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: default}
spec:
  parentRefs: [{name: edge}]
  hostnames: [shop.example.com]
  rules:
    - matches: [{path: {type: PathPrefix, value: /route/}}]
      backendRefs: [{name: rt, port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: default}
spec:
  ingressClassName: legate
  rules:
    - host: shop.example.com
      http:
        paths:
          - {path: /ingress, pathType: Prefix, backend: {service: {name: ing, port: {number: 80}}}}
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: shop, namespace: default}
spec: {hostname: shop.example.com, prefix: /mapping/, rewrite: "", service: mp}
`, l.httpPort))

	first := eventually(t, http.DefaultClient, l.httpPort, "shop.example.com", "/route/a", "httproute /route/a", 30*time.Second)
	t.Logf("first request routed %v after the files were written", first.Round(time.Millisecond))
	eventually(t, http.DefaultClient, l.httpPort, "shop.example.com", "/ingress/b", "ingress /ingress/b", 5*time.Second)
	eventually(t, http.DefaultClient, l.httpPort, "shop.example.com", "/mapping/c", "mapping /mapping/c", 5*time.Second)
	// Each prefix reaches only its own backend, many times over.
	for i := range 30 {
		for _, c := range []struct{ path, want string }{
			{"/route/x", "httproute "}, {"/ingress", "ingress "}, {"/mapping/y", "mapping "},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			code, body, err := get(ctx, http.DefaultClient, l.httpPort, "shop.example.com", c.path)
			cancel()
			if err != nil || code != 200 || !strings.HasPrefix(body, c.want) {
				t.Fatalf("request %d to %s: code=%d body=%q err=%v, want %q from its own backend", i, c.path, code, body, err, c.want)
			}
		}
	}
	// A path none of them matches is not found, and another hostname has
	// no virtual host of its own.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if code, body, err := get(ctx, http.DefaultClient, l.httpPort, "shop.example.com", "/other"); err != nil || code != 404 {
		t.Fatalf("/other: code=%d body=%q err=%v, want 404", code, body, err)
	}

	// One Envoy listener on the port, whose route table holds one virtual
	// host for the name with the routes of all three sources.
	// With ?resource=, each entry of configs is one dynamic listener.
	var lds struct {
		Configs []struct {
			Name string `json:"name"`
		} `json:"configs"`
	}
	if err := json.Unmarshal([]byte(l.admin(t, "/config_dump?resource=dynamic_listeners")), &lds); err != nil {
		t.Fatal(err)
	}
	var listeners []string
	for _, c := range lds.Configs {
		listeners = append(listeners, c.Name)
	}
	shared := fmt.Sprintf("http-%d", l.httpPort)
	if !slices.Equal(listeners, []string{shared}) {
		t.Fatalf("Envoy listeners %v, want only the shared %s", listeners, shared)
	}
	var rds struct {
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
	if err := json.Unmarshal([]byte(l.admin(t, "/config_dump?resource=dynamic_route_configs")), &rds); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, c := range rds.Configs {
		for _, vh := range c.RouteConfig.VirtualHosts {
			if c.RouteConfig.Name != shared || !slices.Contains(vh.Domains, "shop.example.com") {
				continue
			}
			found++
			var names []string
			for _, r := range vh.Routes {
				names = append(names, r.Name)
			}
			want := []string{"mapping/default/shop", "ingress/default/shop/rules[0]/paths[0]", "httproute/default/shop/rules[0]/matches[0]"}
			if !slices.Equal(names, want) {
				t.Fatalf("routes of shop.example.com: %v, want %v (longest path first)", names, want)
			}
		}
	}
	if found != 1 {
		t.Fatalf("want one virtual host for shop.example.com in route table %s, found %d", shared, found)
	}
	if stats := l.admin(t, "/stats?filter=update_rejected"); !allZero(stats) {
		t.Fatalf("envoy rejected an update:\n%s", stats)
	}
}

// hostEcho is a backend that answers with the Host header it received.
func hostEcho(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "host=%s", r.Host)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// TestEnvoyEmissaryModuleConnection checks the ambassador Module's
// connection settings on real Envoy: server_name is the Server header of
// every response of the shared listener (an Ingress's too, and Envoy's own
// 404), strip_matching_host_port removes the listener's port from Host
// before the backend sees it, and listener_idle_timeout_ms closes an idle
// client connection.
func TestEnvoyEmissaryModuleConnection(t *testing.T) {
	echo := hostEcho(t)
	ing := startBackend(t, "ingress")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "svc.yaml"), serviceYAML("echo", echo)+"---\n"+serviceYAML("ing", ing.port))
	writeFile(t, filepath.Join(dir, "routes.yaml"), classYAML+`---
apiVersion: getambassador.io/v3alpha1
kind: Module
metadata: {name: ambassador, namespace: default}
spec:
  config:
    server_name: legate-e2e
    strip_matching_host_port: true
    listener_idle_timeout_ms: 500
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: echo, namespace: default}
spec: {hostname: "*", prefix: /echo/, service: echo}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: other, namespace: default}
spec:
  ingressClassName: legate
  rules:
    - host: other.example.com
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: ing, port: {number: 80}}}}
`)
	l := startLegate(t, dir)
	eventually(t, http.DefaultClient, l.httpPort, "shop.example.com", "/echo/", "host=", 30*time.Second)
	eventually(t, http.DefaultClient, l.httpPort, "other.example.com", "/", "ingress /", 5*time.Second)

	do := func(host, path string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", l.httpPort, path), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, c := range []struct{ host, path string }{
		{"shop.example.com", "/echo/"}, {"other.example.com", "/"}, {"nowhere.example.com", "/nothing"},
	} {
		resp, _ := do(c.host, c.path)
		if got := resp.Header.Get("Server"); got != "legate-e2e" {
			t.Errorf("%s%s: Server %q (status %d), want legate-e2e", c.host, c.path, got, resp.StatusCode)
		}
	}
	// The listener's own port is removed from Host; another port is not.
	if _, body := do(fmt.Sprintf("shop.example.com:%d", l.httpPort), "/echo/"); body != "host=shop.example.com" {
		t.Errorf("Host with the listener's port: backend saw %q, want host=shop.example.com", body)
	}
	if _, body := do("shop.example.com:1234", "/echo/"); body != "host=shop.example.com:1234" {
		t.Errorf("Host with another port: backend saw %q, want it kept", body)
	}

	// An idle client connection times out after 500 ms: Envoy counts the
	// idle timeout then, and closes an HTTP/1.1 connection once its drain
	// period (Envoy's default, 5 s) has passed.
	stat := fmt.Sprintf("http.http-%d.downstream_cx_idle_timeout", l.httpPort)
	if got := statValue(t, l, stat); got != 0 {
		t.Fatalf("%s is %d before any idle connection", stat, got)
	}
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", l.httpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "GET /echo/ HTTP/1.1\r\nHost: shop.example.com\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	idleSince := time.Now()
	time.Sleep(250 * time.Millisecond)
	if got := statValue(t, l, stat); got != 0 {
		t.Fatalf("%s is %d after 250ms idle, want 0 before the 500ms timeout", stat, got)
	}
	for statValue(t, l, stat) == 0 {
		if time.Since(idleSince) > 3*time.Second {
			t.Fatalf("%s still 0 after 3s idle, want 1 after about 500ms", stat)
		}
		time.Sleep(20 * time.Millisecond)
	}
	timedOut := time.Since(idleSince)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = br.ReadByte()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the idle connection was still open 10s after its idle timeout")
	}
	if err == nil {
		t.Fatalf("read a byte from an idle connection, want it closed")
	}
	t.Logf("idle timeout counted after %v, connection closed after %v (listener_idle_timeout_ms 500)",
		timedOut.Round(time.Millisecond), time.Since(idleSince).Round(time.Millisecond))
	if stats := l.admin(t, "/stats?filter=update_rejected"); !allZero(stats) {
		t.Fatalf("envoy rejected an update:\n%s", stats)
	}
}

// statValue reads one counter of Envoy's admin /stats.
func statValue(t *testing.T, l *legate, name string) int {
	t.Helper()
	for _, line := range strings.Split(l.admin(t, "/stats?filter=^"+name+"$"), "\n") {
		if v, ok := strings.CutPrefix(line, name+": "); ok {
			var n int
			if _, err := fmt.Sscan(v, &n); err != nil {
				t.Fatalf("stat %s: %q: %v", name, v, err)
			}
			return n
		}
	}
	return 0
}
