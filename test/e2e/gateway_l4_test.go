package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
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
	writeFile(t, filepath.Join(dir, "gateways.yaml"), fmt.Sprintf(gatewayClassYAML+`apiVersion: gateway.networking.k8s.io/v1
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

// TestEnvoyGatewayL4 sends real connections through Envoy's TLS, TCP and
// UDP listeners of one Gateway:
//   - a Passthrough TLS listener routes two server names to two local TLS
//     backends by SNI, each with its own certificate, which a Go TLS client
//     verifies end to end (Envoy never opens the stream); an unknown name
//     is refused;
//   - a Terminate TLS listener presents the Gateway's certificate and
//     forwards the decrypted bytes to a plain TCP echo;
//   - a TCPRoute forwards to a TCP echo, and a UDPRoute on the same port
//     number to a UDP echo.
func TestEnvoyGatewayL4(t *testing.T) {
	aCert, aKey := selfSigned(t, "a.example.com")
	bCert, bKey := selfSigned(t, "b.example.com")
	gwCert, gwKey := selfSigned(t, "term.example.com")
	tlsA := startTLSBackend(t, "tls-a", aCert, aKey)
	tlsB := startTLSBackend(t, "tls-b", bCert, bKey)
	echo := startTCPEcho(t, "tcp-echo")
	udpEcho := startUDPEcho(t, "udp-echo")
	udpHeavy, udpLight := startUDPEcho(t, "heavy"), startUDPEcho(t, "light")

	tlsPort, termPort, l4Port, weightedPort := freePort(t), freePort(t), freePort(t), freePort(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "svc.yaml"), strings.Join([]string{
		serviceYAML("tls-a", tlsA), serviceYAML("tls-b", tlsB), serviceYAML("echo", echo), serviceYAML("udp-echo", udpEcho),
		serviceYAML("heavy", udpHeavy), serviceYAML("light", udpLight),
	}, "---\n"))
	writeFile(t, filepath.Join(dir, "gateway.yaml"), fmt.Sprintf(gatewayClassYAML+`apiVersion: v1
kind: Secret
metadata: {name: term-cert, namespace: default}
type: kubernetes.io/tls
stringData:
  tls.crt: |
%[4]s
  tls.key: |
%[5]s
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  gatewayClassName: legate
  listeners:
  - {name: tls, protocol: TLS, port: %[1]d, tls: {mode: Passthrough}}
  - name: term
    protocol: TLS
    port: %[2]d
    hostname: term.example.com
    tls: {mode: Terminate, certificateRefs: [{name: term-cert}]}
  - {name: tcp, protocol: TCP, port: %[3]d}
  - {name: udp, protocol: UDP, port: %[3]d}
  - {name: udp-weighted, protocol: UDP, port: %[6]d}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: a, namespace: default}
spec:
  parentRefs: [{name: edge, sectionName: tls}]
  hostnames: [a.example.com]
  rules: [{backendRefs: [{name: tls-a, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: b, namespace: default}
spec:
  parentRefs: [{name: edge, sectionName: tls}]
  hostnames: [b.example.com]
  rules: [{backendRefs: [{name: tls-b, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: term, namespace: default}
spec:
  parentRefs: [{name: edge, sectionName: term}]
  hostnames: [term.example.com]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: echo, namespace: default}
spec:
  parentRefs: [{name: edge, sectionName: tcp}]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: UDPRoute
metadata: {name: udp-echo, namespace: default}
spec:
  parentRefs: [{name: edge, sectionName: udp}]
  rules: [{backendRefs: [{name: udp-echo, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: UDPRoute
metadata: {name: weighted, namespace: default}
spec:
  parentRefs: [{name: edge, sectionName: udp-weighted}]
  rules: [{backendRefs: [{name: heavy, port: 80, weight: 3}, {name: light, port: 80, weight: 1}]}]
`, tlsPort, termPort, l4Port, indent(gwCert, "    "), indent(gwKey, "    "), weightedPort))
	l := startLegate(t, dir)

	roots := x509.NewCertPool()
	for _, c := range []string{aCert, bCert, gwCert} {
		roots.AppendCertsFromPEM([]byte(c))
	}
	// TLS passthrough: each name reaches its own backend, which presents
	// its own certificate.
	for _, c := range []struct{ sni, backend string }{{"a.example.com", "tls-a"}, {"b.example.com", "tls-b"}} {
		start := time.Now()
		cert, reply := eventuallyTLS(t, tlsPort, c.sni, roots, "ping")
		t.Logf("%s: served by %s with a certificate for %v after %v", c.sni, reply, cert.DNSNames, time.Since(start).Round(time.Millisecond))
		if len(cert.DNSNames) != 1 || cert.DNSNames[0] != c.sni {
			t.Fatalf("SNI %s: certificate for %v, want %s's own", c.sni, cert.DNSNames, c.sni)
		}
		if reply != c.backend+" ping" {
			t.Fatalf("SNI %s: reply %q, want it from %s", c.sni, reply, c.backend)
		}
	}
	// A name no route serves is refused: no chain matches.
	if _, _, err := tlsExchange(tlsPort, "c.example.com", roots, "ping"); err == nil {
		t.Fatalf("a TLS connection for c.example.com succeeded; no route serves it")
	}
	// TLS terminated by Envoy with the Gateway's certificate, then TCP.
	cert, reply := eventuallyTLS(t, termPort, "term.example.com", roots, "hello")
	if cert.Subject.CommonName != "term.example.com" || reply != "tcp-echo hello" {
		t.Fatalf("terminate listener: certificate %q, reply %q", cert.Subject.CommonName, reply)
	}
	// TCP and UDP on one port number.
	eventuallyL4(t, "tcp", l4Port, "over tcp", "tcp-echo over tcp")
	eventuallyL4(t, "udp", l4Port, "over udp", "udp-echo over udp")

	// Weighted UDP: each new client socket is a new session, which Envoy
	// sends to an endpoint of the route's own cluster by weight: 3:1
	// between the backends, within 10 points over 400 sessions.
	eventuallyL4(t, "udp", weightedPort, "hi", "heavy hi")
	counts := map[string]int{}
	for range 400 {
		got, err := exchange("udp", weightedPort, "hi")
		if err != nil {
			t.Fatalf("weighted UDP: %v", err)
		}
		counts[strings.TrimSuffix(got, " hi")]++
	}
	heavyShare := float64(counts["heavy"]) / 400
	t.Logf("weighted UDP sessions: %v (heavy %.1f%%, want 75%%)", counts, 100*heavyShare)
	if len(counts) != 2 || heavyShare < 0.65 || heavyShare > 0.85 {
		t.Fatalf("weighted UDP: %v, want heavy:light near 3:1", counts)
	}

	if stats := l.admin(t, "/stats?filter=update_rejected"); !allZero(stats) {
		t.Fatalf("envoy rejected an update:\n%s", stats)
	}
}

// startTLSBackend serves TLS with the given certificate on loopback and
// answers each line with its name and the line.
func startTLSBackend(t *testing.T, name, certPEM, keyPEM string) int {
	t.Helper()
	pair, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	return serveLines(t, l, name)
}

// startTCPEcho answers each line with its name and the line.
func startTCPEcho(t *testing.T, name string) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveLines(t, l, name)
}

func serveLines(t *testing.T, l net.Listener, name string) int {
	return acceptEach(t, l, func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return
		}
		fmt.Fprintf(c, "%s %s", name, line)
	})
}

// acceptEach serves every connection l accepts with serve, each on its own
// goroutine and closed after, until the test ends (which closes l); it
// returns l's port.
func acceptEach(t *testing.T, l net.Listener, serve func(net.Conn)) int {
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// startUDPEcho answers each datagram with its name and the datagram.
func startUDPEcho(t *testing.T, name string) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(name+" "+string(buf[:n])), addr)
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// tlsExchange opens TLS to 127.0.0.1:port with the given SNI, verifying
// the server's certificate for that name against roots, sends msg and a
// newline, and returns the certificate and the reply line.
func tlsExchange(port int, sni string, roots *x509.CertPool, msg string) (*x509.Certificate, string, error) {
	d := &net.Dialer{Timeout: 2 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{ServerName: sni, RootCAs: roots})
	if err != nil {
		return nil, "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", msg); err != nil {
		return nil, "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return nil, "", err
	}
	return c.ConnectionState().PeerCertificates[0], strings.TrimSuffix(line, "\n"), nil
}

func eventuallyTLS(t *testing.T, port int, sni string, roots *x509.CertPool, msg string) (*x509.Certificate, string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		cert, reply, err := tlsExchange(port, sni, roots, msg)
		if err == nil {
			return cert, reply
		}
		if time.Now().After(deadline) {
			t.Fatalf("TLS to port %d with SNI %s never answered: %v", port, sni, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// eventuallyL4 sends msg over network ("tcp" or "udp") to 127.0.0.1:port
// until the reply is want.
func eventuallyL4(t *testing.T, network string, port int, msg, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		got, err := exchange(network, port, msg)
		if err == nil && got == want {
			return
		}
		last = fmt.Sprintf("%q, %v", got, err)
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s to port %d never answered %q; last: %s", network, port, want, last)
}

func exchange(network string, port int, msg string) (string, error) {
	c, err := net.DialTimeout(network, fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if network == "udp" {
		if _, err := c.Write([]byte(msg)); err != nil {
			return "", err
		}
		buf := make([]byte, 2048)
		n, err := c.Read(buf)
		return string(buf[:n]), err
	}
	if _, err := fmt.Fprintf(c, "%s\n", msg); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSuffix(line, "\n"), err
}
