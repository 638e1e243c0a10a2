package e2e

import (
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/legateproxy/legate/internal/testenv"
)

// selfSigned makes a certificate and key for host, PEM encoded.
func selfSigned(t *testing.T, host string) (string, string) {
	c, k := testenv.SelfSigned(t, host)
	return string(c), string(k)
}

func certPool(t *testing.T, certPEM string) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM([]byte(certPEM)) {
		t.Fatal("bad test certificate")
	}
	return p
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
