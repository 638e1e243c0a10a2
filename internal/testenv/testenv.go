// Package testenv holds what Legate's tests share about their environment:
// where the real Envoy is, free loopback ports, throw-away certificates. It
// is imported by tests only.
package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	mathrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// Envoy returns the Envoy binary the tests run: $LEGATE_ENVOY, else envoy
// on PATH. Without one the test fails in CI (a skip there is a defect) and
// is skipped, loudly, elsewhere.
func Envoy(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("LEGATE_ENVOY"); p != "" {
		return p
	}
	if p, err := exec.LookPath("envoy"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		tb.Fatal("no Envoy: set LEGATE_ENVOY (hack/install-envoy.sh prints the path) or put envoy on PATH")
	}
	tb.Skip("SKIPPED: no Envoy; set LEGATE_ENVOY (hack/install-envoy.sh prints the path) or put envoy on PATH")
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
//
// It is taken below the kernel's range of ephemeral ports: a port from
// that range (what binding port 0 gives) can be handed by the kernel to
// any socket bound to port 0 between this call and the caller's bind (a
// server of the very process under test, asked for port 0, took an Envoy
// admin port that way). No port is handed out twice by one test binary.
func FreePort(tb testing.TB) int {
	tb.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	lo := ephemeralLow()
	for range 200 {
		if lo <= minPort {
			break
		}
		port := minPort + mathrand.IntN(lo-minPort)
		if portsGiven[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		_ = l.Close()
		portsGiven[port] = true
		return port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// minPort is the lowest port FreePort hands out: above the well-known and
// most registered services' ports.
const minPort = 10000

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's
// default, 32768, where it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil || lo <= 0 {
		return 32768
	}
	return lo
}

// SelfSigned returns a PEM certificate (its own CA) and key for hosts,
// valid from an hour ago for a day.
func SelfSigned(tb testing.TB, hosts ...string) (certPEM, keyPEM []byte) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: hosts[0]},
		DNSNames:              hosts,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}
