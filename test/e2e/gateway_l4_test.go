package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEnvoyGatewayAddressPool runs two Gateways that both listen on one
// port, each on a loopback address of its own from --gateway-address-pool
// (one asked for in spec.addresses, one allocated), and checks that each
// HTTPRoute answers only through its own Gateway's address.
func TestEnvoyGatewayAddressPool(t *testing.T) {
	red, blue := startBackend(t, "red"), startBackend(t, "blue")
	dir := t.TempDir()
	// All of 127/8 is loopback on Linux; a pool of its own per run keeps
	// this test apart from others running beside it.
	pool := fmt.Sprintf("127.%d.0.0/16", 100+rand.IntN(100))
	pinned := strings.Replace(pool, ".0.0/16", fmt.Sprintf(".%d.%d", 1+rand.IntN(200), 1+rand.IntN(200)), 1)
	port := freePort(t)
	writeFile(t, filepath.Join(dir, "svc.yaml"), serviceYAML("red", red.port)+"---\n"+serviceYAML("blue", blue.port))
	writeFile(t, filepath.Join(dir, "gateways.yaml"), fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: legate}
spec: {controllerName: legate.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: red, namespace: default}
spec:
  gatewayClassName: legate
  addresses: [{type: IPAddress, value: %[2]s}]
  listeners: [{name: http, protocol: HTTP, port: %[1]d}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: blue, namespace: default}
spec:
  gatewayClassName: legate
  listeners: [{name: http, protocol: HTTP, port: %[1]d}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: red, namespace: default}
spec:
  parentRefs: [{name: red}]
  rules: [{backendRefs: [{name: red, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: blue, namespace: default}
spec:
  parentRefs: [{name: blue}]
  rules: [{backendRefs: [{name: blue, port: 80}]}]
`, port, pinned))

	// Where the blue Gateway is: what `legate translate --to status`
	// reports for it, the same translation serve runs.
	out, err := exec.Command(legateBinary(t), "translate", "-f", dir, "--to", "status", "-o", "json", "--gateway-address-pool", pool).Output()
	if err != nil {
		t.Fatalf("legate translate: %v", err)
	}
	addrs := gatewayAddresses(t, out)
	if addrs["red"] != pinned {
		t.Fatalf("red Gateway is at %q, want the address it asked for, %s", addrs["red"], pinned)
	}
	blueAddr := addrs["blue"]
	if blueAddr == "" || blueAddr == pinned || !strings.HasPrefix(blueAddr, strings.TrimSuffix(pool, "0.0/16")) {
		t.Fatalf("blue Gateway is at %q, want an address of %s other than red's", blueAddr, pool)
	}
	t.Logf("red at %s:%d, blue at %s:%d", pinned, port, blueAddr, port)

	l := startLegate(t, dir, "--gateway-address-pool", pool)
	client := &http.Client{Timeout: 2 * time.Second}
	eventuallyAt(t, client, pinned, port, "red ", 30*time.Second)
	eventuallyAt(t, client, blueAddr, port, "blue ", 30*time.Second)
	for range 20 {
		for addr, want := range map[string]string{pinned: "red ", blueAddr: "blue "} {
			code, body, err := getAt(client, addr, port, "any.example.com", "/")
			if err != nil || code != 200 || !strings.HasPrefix(body, want) {
				t.Fatalf("%s:%d answered %d %q (%v), want only %q", addr, port, code, body, err, want)
			}
		}
	}
	// Nothing listens on that port at the shared address.
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		c.Close()
		t.Fatalf("something accepts connections on 127.0.0.1:%d: the Gateways must bind only their own addresses", port)
	}
	if stats := l.admin(t, "/stats?filter=update_rejected"); !allZero(stats) {
		t.Fatalf("envoy rejected an update:\n%s", stats)
	}
}

// gatewayAddresses reads the load balancer addresses of the Gateways of
// namespace default from `legate translate --to status -o json`.
func gatewayAddresses(t *testing.T, statusJSON []byte) map[string]string {
	t.Helper()
	var sts []struct {
		Object struct {
			Kind, Namespace, Name string
		} `json:"object"`
		LoadBalancer []string `json:"loadBalancer"`
	}
	if err := json.Unmarshal(statusJSON, &sts); err != nil {
		t.Fatalf("status output: %v\n%s", err, statusJSON)
	}
	out := map[string]string{}
	for _, s := range sts {
		if s.Object.Kind == "Gateway" && len(s.LoadBalancer) > 0 {
			out[s.Object.Name] = s.LoadBalancer[0]
		}
	}
	return out
}

// getAt sends one GET to addr:port with the given Host.
func getAt(c *http.Client, addr string, port int, host, path string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+net.JoinHostPort(addr, fmt.Sprint(port))+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// eventuallyAt polls addr:port until it answers 200 with a body starting
// with want.
func eventuallyAt(t *testing.T, c *http.Client, addr string, port int, want string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	last := ""
	for ctx.Err() == nil {
		code, body, err := getAt(c, addr, port, "any.example.com", "/")
		if err == nil && code == 200 && strings.HasPrefix(body, want) {
			return
		}
		last = fmt.Sprintf("code=%d body=%q err=%v", code, body, err)
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s:%d never answered %q within %v; last: %s", addr, port, want, timeout, last)
}
