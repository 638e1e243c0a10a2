package e2e

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/legateproxy/legate/internal/testenv"
)

// TestEnvoyEmissaryOriginationAndTCP sends real traffic through Envoy to a
// Mapping that originates TLS with a TLSContext (the backend's certificate
// checked against ca_secret, SNI from the TLSContext), and through a
// TCPMapping to a raw TCP echo server.
func TestEnvoyEmissaryOriginationAndTCP(t *testing.T) {
	certPEM, keyPEM := testenv.SelfSigned(t, "backend.internal")
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	// A TLS backend that says which server name the client asked for.
	tl, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls backend sni=%s path=%s", r.TLS.ServerName, r.URL.Path)
	})}
	go func() { _ = srv.Serve(tl) }()
	t.Cleanup(func() { _ = srv.Close() })
	tlsPort := tl.Addr().(*net.TCPAddr).Port

	// A TCP server that upper-cases each line.
	el, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	echoPort := lineEcho(t, el, "echo")
	tcpPort := freePort(t)
	otherCA, _ := testenv.SelfSigned(t, "someone.else")

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "all.yaml"), serviceYAML("secure", tlsPort)+"---\n"+serviceYAML("echo", echoPort)+fmt.Sprintf(`---
apiVersion: v1
kind: Secret
metadata: {name: backend-ca, namespace: default}
stringData:
  tls.crt: |
%s
---
apiVersion: getambassador.io/v3alpha1
kind: TLSContext
metadata: {name: to-backend, namespace: default}
spec:
  ca_secret: backend-ca
  sni: backend.internal
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: secure, namespace: default}
spec: {hostname: "*", prefix: /secure/, service: secure:80, tls: to-backend}
---
apiVersion: v1
kind: Secret
metadata: {name: other-ca, namespace: default}
stringData:
  tls.crt: |
%s
---
apiVersion: getambassador.io/v3alpha1
kind: TLSContext
metadata: {name: wrong-ca, namespace: default}
spec:
  ca_secret: other-ca
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: untrusted, namespace: default}
spec: {hostname: "*", prefix: /untrusted/, service: secure:80, tls: wrong-ca}
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: plain, namespace: default}
spec: {hostname: "*", prefix: /plain/, service: "https://secure:80"}
---
apiVersion: getambassador.io/v3alpha1
kind: TCPMapping
metadata: {name: echo, namespace: default}
spec: {port: %d, service: "echo:80"}
`, indent(string(certPEM), "    "), indent(string(otherCA), "    "), tcpPort))
	l := startLegate(t, dir)

	t.Run("tls names a TLSContext: TLS to the backend, its certificate checked, SNI sent", func(t *testing.T) {
		eventually(t, http.DefaultClient, l.httpPort, "any.example.com", "/secure/x", "tls backend sni=backend.internal path=/x", 30*time.Second)
	})
	t.Run("a backend certificate the CA did not sign is refused", func(t *testing.T) {
		code, body, err := get(t.Context(), http.DefaultClient, l.httpPort, "any.example.com", "/untrusted/x")
		if err != nil || code != http.StatusServiceUnavailable {
			t.Fatalf("want 503 (TLS handshake refused), got %d %q %v", code, body, err)
		}
	})
	t.Run("https:// originates TLS without a TLSContext", func(t *testing.T) {
		eventually(t, http.DefaultClient, l.httpPort, "any.example.com", "/plain/y", "tls backend", 5*time.Second)
	})
	t.Run("a TCPMapping forwards raw TCP", func(t *testing.T) {
		var got string
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			got = tcpRoundTrip(fmt.Sprintf("127.0.0.1:%d", tcpPort), "hello tcp\n")
			if got == "echo HELLO TCP\n" {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("through the TCPMapping: got %q, want the echo", got)
	})
}

// tcpRoundTrip sends line and returns the line read back, or the error as
// text.
func tcpRoundTrip(addr, line string) string {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err.Error()
	}
	return lineRoundTrip(c, line)
}

// lineRoundTrip writes line on c, reads one line back and closes c; it
// returns what it read, or the error as text.
func lineRoundTrip(c net.Conn, line string) string {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, line); err != nil {
		return err.Error()
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err.Error()
	}
	return got
}
