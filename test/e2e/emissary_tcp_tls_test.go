package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/legateproxy/legate/internal/testenv"
)

// lineEcho serves each accepted connection by answering every line with
// prefix, the connection's TLS server name (for a TLS listener) and the
// line upper-cased; it returns the port.
func lineEcho(t *testing.T, l net.Listener, prefix string) int {
	t.Helper()
	return acceptEach(t, l, func(c net.Conn) {
		tag := prefix
		if tc, ok := c.(*tls.Conn); ok {
			if err := tc.Handshake(); err != nil {
				return
			}
			tag += " sni=" + tc.ConnectionState().ServerName
		}
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if _, err := io.WriteString(c, tag+" "+strings.ToUpper(line)); err != nil {
				return
			}
		}
	})
}

// tlsLineRoundTrip dials addr with TLS (server name sni, certificates
// checked against roots; with nil roots not checked at all), sends line and returns the line read back, or
// the error as text.
func tlsLineRoundTrip(addr, sni string, roots *x509.CertPool, line string) string {
	d := &net.Dialer{Timeout: 2 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: sni, RootCAs: roots, InsecureSkipVerify: roots == nil, MinVersion: tls.VersionTLS12})
	if err != nil {
		return "dial: " + err.Error()
	}
	return lineRoundTrip(c, line)
}

func pool(t *testing.T, pems ...[]byte) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	for _, pem := range pems {
		if !p.AppendCertsFromPEM(pem) {
			t.Fatal("bad PEM certificate")
		}
	}
	return p
}

// TestEnvoyEmissaryTCPMappingTLS sends real connections through Envoy to
// TCPMappings that terminate TLS (a client does TLS with SNI to Envoy and
// talks to a plain TCP echo server behind it), that originate TLS (a plain
// client reaches a TLS echo server, which sees the TLSContext's SNI), and
// that do both; that idle_timeout_ms closes an idle connection; and the
// TLS Listener's statsPrefix in Envoy's own statistics.
func TestEnvoyEmissaryTCPMappingTLS(t *testing.T) {
	plainL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	plainPort := lineEcho(t, plainL, "plain")

	backendCert, backendKey := testenv.SelfSigned(t, "backend.internal")
	bc, err := tls.X509KeyPair(backendCert, backendKey)
	if err != nil {
		t.Fatal(err)
	}
	tlsL, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{bc}})
	if err != nil {
		t.Fatal(err)
	}
	tlsPort := lineEcho(t, tlsL, "tls")

	// db.example.com and both.example.com have the certificate of the
	// TLSContext listing them; *.apps.example that of a Host.
	dbCert, dbKey := testenv.SelfSigned(t, "db.example.com", "both.example.com")
	appsCert, appsKey := testenv.SelfSigned(t, "*.apps.example")
	edgePort, originPort, idlePort := freePort(t), freePort(t), freePort(t)

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "all.yaml"), serviceYAML("plainecho", plainPort)+"---\n"+serviceYAML("tlsecho", tlsPort)+"---\n"+
		tlsSecretYAML("db-cert", string(dbCert), string(dbKey))+"---\n"+tlsSecretYAML("apps-cert", string(appsCert), string(appsKey))+fmt.Sprintf(`---
apiVersion: v1
kind: Secret
metadata: {name: backend-ca, namespace: default}
stringData:
  tls.crt: |
%s
---
apiVersion: getambassador.io/v3alpha1
kind: Listener
metadata: {name: edge, namespace: default}
spec:
  port: %[2]d
  protocol: TLS
  securityModel: SECURE
  statsPrefix: edge_tls
  hostBinding: {namespace: {from: SELF}}
---
apiVersion: getambassador.io/v3alpha1
kind: TLSContext
metadata: {name: db, namespace: default}
spec:
  hosts: [db.example.com, both.example.com]
  secret: db-cert
  min_tls_version: v1.2
---
apiVersion: getambassador.io/v3alpha1
kind: Host
metadata: {name: apps, namespace: default}
spec:
  hostname: "*.apps.example"
  tlsSecret: {name: apps-cert}
---
apiVersion: getambassador.io/v3alpha1
kind: TLSContext
metadata: {name: to-backend, namespace: default}
spec:
  ca_secret: backend-ca
  sni: backend.internal
---
apiVersion: getambassador.io/v3alpha1
kind: TCPMapping
metadata: {name: db, namespace: default}
spec: {port: %[2]d, host: db.example.com, service: "plainecho:80"}
---
apiVersion: getambassador.io/v3alpha1
kind: TCPMapping
metadata: {name: apps, namespace: default}
spec: {port: %[2]d, host: echo.apps.example, service: "plainecho:80"}
---
apiVersion: getambassador.io/v3alpha1
kind: TCPMapping
metadata: {name: both, namespace: default}
spec: {port: %[2]d, host: both.example.com, service: "tlsecho:80", tls: to-backend}
---
apiVersion: getambassador.io/v3alpha1
kind: TCPMapping
metadata: {name: origin, namespace: default}
spec: {port: %[3]d, service: "tlsecho:80", tls: to-backend}
---
apiVersion: getambassador.io/v3alpha1
kind: TCPMapping
metadata: {name: idle, namespace: default}
spec: {port: %[4]d, service: "plainecho:80", idle_timeout_ms: "300"}
`, indent(string(backendCert), "    "), edgePort, originPort, idlePort))
	l := startLegate(t, dir)
	edge := fmt.Sprintf("127.0.0.1:%d", edgePort)

	waitLine := func(t *testing.T, want string, try func() string) {
		t.Helper()
		var got string
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if got = try(); got == want {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("got %q, want %q", got, want)
	}

	t.Run("host with a TLSContext: TLS terminated with its certificate, plain bytes to the backend", func(t *testing.T) {
		waitLine(t, "plain HELLO DB\n", func() string { return tlsLineRoundTrip(edge, "db.example.com", pool(t, dbCert), "hello db\n") })
	})
	t.Run("host covered by a Host's hostname: that Host's certificate", func(t *testing.T) {
		waitLine(t, "plain HELLO APPS\n", func() string {
			return tlsLineRoundTrip(edge, "echo.apps.example", pool(t, appsCert), "hello apps\n")
		})
	})
	t.Run("a server name no TCPMapping has fails the handshake", func(t *testing.T) {
		// Certificates are not checked: only a refused handshake fails.
		got := tlsLineRoundTrip(edge, "nope.example.com", nil, "x\n")
		if !strings.HasPrefix(got, "dial: ") || strings.Contains(got, "certificate") {
			t.Fatalf("want the TLS handshake refused, got %q", got)
		}
	})
	t.Run("terminate and originate: TLS both ways, the backend sees the TLSContext's SNI", func(t *testing.T) {
		waitLine(t, "tls sni=backend.internal HELLO BOTH\n", func() string {
			return tlsLineRoundTrip(edge, "both.example.com", pool(t, dbCert), "hello both\n")
		})
	})
	t.Run("tls originates TLS from a plain client's connection", func(t *testing.T) {
		waitLine(t, "tls sni=backend.internal HELLO ORIGIN\n", func() string {
			return tcpRoundTrip(fmt.Sprintf("127.0.0.1:%d", originPort), "hello origin\n")
		})
	})
	t.Run("idle_timeout_ms: Envoy closes a connection idle that long", func(t *testing.T) {
		addr := fmt.Sprintf("127.0.0.1:%d", idlePort)
		waitLine(t, "plain HELLO IDLE\n", func() string { return tcpRoundTrip(addr, "hello idle\n") })
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "once\n"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		if got, err := br.ReadString('\n'); err != nil || got != "plain ONCE\n" {
			t.Fatalf("got %q %v", got, err)
		}
		start := time.Now()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("want the connection closed by Envoy (EOF), got %v after %v", err, time.Since(start))
		}
		if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
			t.Fatalf("closed after %v, want about 300ms", d)
		}
	})
	t.Run("the TLS Listener's statsPrefix names Envoy's TCP proxy statistics", func(t *testing.T) {
		stats := l.admin(t, "/stats?filter=^tcp\\.")
		m := regexp.MustCompile(`(?m)^tcp\.edge_tls\.downstream_cx_total: (\d+)$`).FindStringSubmatch(stats)
		if m == nil || m[1] == "0" {
			t.Fatalf("want tcp.edge_tls.downstream_cx_total above 0, stats:\n%s", stats)
		}
	})
}

// TestEnvoyEmissaryListenerL7Depth: behind a proxy that terminated TLS
// (l7Depth 1, securityModel XFP), Envoy keeps the X-Forwarded-Proto the
// proxy set, so a request it marked https is routed to the Mapping while
// one marked http gets the Host's redirect to HTTPS; the listener's
// connection manager trusts one hop and its statistics carry the
// Listener's statsPrefix.
func TestEnvoyEmissaryListenerL7Depth(t *testing.T) {
	b := startBackend(t, "behind-lb")
	cert, key := testenv.SelfSigned(t, "app.example.com")
	dir := t.TempDir()
	port := freePort(t)
	writeFile(t, filepath.Join(dir, "all.yaml"), serviceYAML("app", b.port)+"---\n"+tlsSecretYAML("app-cert", string(cert), string(key))+fmt.Sprintf(`---
apiVersion: getambassador.io/v3alpha1
kind: Listener
metadata: {name: behind-lb, namespace: default}
spec:
  port: %d
  protocol: HTTP
  securityModel: XFP
  l7Depth: 1
  statsPrefix: lb_http
  hostBinding: {namespace: {from: ALL}}
---
apiVersion: getambassador.io/v3alpha1
kind: Host
metadata: {name: app, namespace: default}
spec:
  hostname: app.example.com
  tlsSecret: {name: app-cert}
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: app, namespace: default}
spec: {hostname: app.example.com, prefix: /app/, service: "app:80"}
`, port))
	l := startLegate(t, dir)
	send := func(proto string) (int, string, string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/app/x", port), nil)
		if err != nil {
			return 0, "", "", err
		}
		req.Host = "app.example.com"
		req.Header.Set("X-Forwarded-Proto", proto)
		resp, err := noRedirects.Do(req)
		if err != nil {
			return 0, "", "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), resp.Header.Get("Location"), err
	}
	t.Run("marked https by the proxy in front: routed", func(t *testing.T) {
		var last string
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			code, body, _, err := send("https")
			if err == nil && code == 200 && body == "behind-lb /x" {
				return
			}
			last = fmt.Sprintf("%d %q %v", code, body, err)
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("want 200 from the backend, last %s", last)
	})
	t.Run("marked http: redirected to HTTPS", func(t *testing.T) {
		code, _, loc, err := send("http")
		if err != nil || code != http.StatusMovedPermanently || loc != "https://app.example.com/app/x" {
			t.Fatalf("want 301 to https://app.example.com/app/x, got %d %q %v", code, loc, err)
		}
	})
	t.Run("statsPrefix and xff_num_trusted_hops reach Envoy", func(t *testing.T) {
		stats := l.admin(t, "/stats?filter=^http\\.lb_http\\.downstream_rq_total")
		if !regexp.MustCompile(`(?m)^http\.lb_http\.downstream_rq_total: [1-9]`).MatchString(stats) {
			t.Fatalf("want http.lb_http.downstream_rq_total above 0, got:\n%s", stats)
		}
		dump := l.admin(t, "/config_dump?resource=dynamic_listeners")
		if !strings.Contains(dump, `"xff_num_trusted_hops": 1`) {
			t.Fatalf("the listener's connection manager does not trust one hop:\n%s", dump)
		}
	})
}
