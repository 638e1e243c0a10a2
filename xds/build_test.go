package xds

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/legateproxy/legate/translators/ir"
)

var update = flag.Bool("update", false, "rewrite the golden *.out.yaml files from the current output")

// goldenInput is the shape of testdata/<case>.in.yaml: an ir.Config, plus
// which secrets are CA bundles. Secret bytes are not part of the IR's YAML
// form, so the test fills them in: a generated certificate and key for
// every secret, or a generated CA certificate for those named in caSecrets.
type goldenInput struct {
	ir.Config `json:",inline"`
	CASecrets []string `json:"caSecrets,omitempty"`
}

type testPEM struct {
	cert, key []byte
}

var (
	testCertOnce sync.Once
	testCert     testPEM
	testCertErr  error
)

// generatedCert is a self-signed ECDSA certificate for *.example.com, made
// once per test run; its bytes never reach a golden file.
func generatedCert(t *testing.T) testPEM {
	t.Helper()
	testCertOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			testCertErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "example.com"},
			DNSNames:              []string{"example.com", "*.example.com"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			testCertErr = err
			return
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			testCertErr = err
			return
		}
		testCert = testPEM{
			cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			key:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		}
	})
	if testCertErr != nil {
		t.Fatalf("generating test certificate: %v", testCertErr)
	}
	return testCert
}

// goldenCases lists the names of testdata/<case>.in.yaml.
func goldenCases(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.in.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden cases in testdata")
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".in.yaml"))
	}
	return names
}

// loadCase reads one golden input; the IR in it must be valid, as Build's
// input always is.
func loadCase(t *testing.T, name string) *ir.Config {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".in.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var in goldenInput
	if err := yaml.UnmarshalStrict(data, &in); err != nil {
		t.Fatalf("%s.in.yaml: %v", name, err)
	}
	pemData := generatedCert(t)
	for _, s := range in.Secrets {
		if slices.Contains(in.CASecrets, s.Name) {
			s.CA = pemData.cert
		} else {
			s.Certificate, s.PrivateKey = pemData.cert, pemData.key
		}
	}
	cfg := in.Config
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatalf("%s.in.yaml is not valid IR: %v", name, errs)
	}
	return &cfg
}

// buildCase builds one golden case and checks that the result passes the
// deep validator.
func buildCase(t *testing.T, name string) *Resources {
	t.Helper()
	res, err := Build(loadCase(t, name))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if err := Validate(res); err != nil {
		t.Fatalf("golden output does not pass Validate:\n%v", err)
	}
	return res
}

func TestBuildGolden(t *testing.T) {
	for _, name := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			res := buildCase(t, name)
			got, err := res.RenderYAML(true)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join("testdata", name+".out.yaml")
			if *update {
				if err := os.WriteFile(out, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run with -update to accept):\n%s", out, lineDiff(string(want), string(got)))
			}
		})
	}
}

// TestBuildDeterministic builds every case twice, the second time from an
// IR whose lists are reversed, and expects byte-identical output: resource
// lists are sorted by name, not kept in input order.
func TestBuildDeterministic(t *testing.T) {
	for _, name := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			cfg := loadCase(t, name)
			first, err := Build(cfg)
			if err != nil {
				t.Fatal(err)
			}
			slices.Reverse(cfg.Listeners)
			slices.Reverse(cfg.Clusters)
			slices.Reverse(cfg.Secrets)
			for _, l := range cfg.Listeners {
				slices.Reverse(l.VirtualHosts)
			}
			second, err := Build(cfg)
			if err != nil {
				t.Fatal(err)
			}
			a, err := first.RenderYAML(false)
			if err != nil {
				t.Fatal(err)
			}
			b, err := second.RenderYAML(false)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("output depends on input order:\n%s", lineDiff(string(a), string(b)))
			}
		})
	}
}

// TestGoldenHasNoKeyMaterial makes sure the redaction works: no PEM block
// reaches a golden file.
func TestGoldenHasNoKeyMaterial(t *testing.T) {
	for _, name := range goldenCases(t) {
		res := buildCase(t, name)
		out, err := res.RenderYAML(true)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range res.Secrets {
			for _, ds := range [][]byte{
				s.GetTlsCertificate().GetPrivateKey().GetInlineBytes(),
				s.GetTlsCertificate().GetCertificateChain().GetInlineBytes(),
				s.GetValidationContext().GetTrustedCa().GetInlineBytes(),
			} {
				if len(ds) == 0 {
					continue
				}
				if !bytes.Contains(ds, []byte("-----BEGIN")) {
					t.Errorf("%s: secret %s: inline bytes are not the PEM given", name, s.GetName())
				}
			}
		}
		if bytes.Contains(out, []byte("BEGIN")) || bytes.Contains(out, []byte("LS0tLS1CRUdJT")) {
			t.Errorf("%s: rendered output contains PEM data", name)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  *ir.Config
		want string
	}{
		{
			name: "weighted UDP backends",
			cfg: &ir.Config{Listeners: []*ir.Listener{{
				Name: "udp-53", Address: "0.0.0.0", Port: 53, Protocol: ir.ProtocolUDP,
				TCPRoutes: []*ir.TCPRoute{{Name: "UDPRoute/default/dns/0", Backends: []ir.WeightedBackend{{Cluster: "a", Weight: 1}, {Cluster: "b", Weight: 1}}}},
			}}},
			want: "listener udp-53: udp route UDPRoute/default/dns/0: UDP proxying supports exactly one backend, has 2",
		},
		{
			name: "two default chains",
			cfg: &ir.Config{Listeners: []*ir.Listener{{
				Name: "https-443", Address: "0.0.0.0", Port: 443, Protocol: ir.ProtocolHTTPS,
				VirtualHosts: []*ir.VirtualHost{
					{Name: "a", Hostnames: []string{"*"}, TLS: &ir.TLSConfig{SecretNames: []string{"s"}}},
					{Name: "b", Hostnames: []string{"*", "b.example.com"}, TLS: &ir.TLSConfig{SecretNames: []string{"s"}}},
				},
			}}},
			want: "listener https-443: virtual hosts a and b both match any server name",
		},
		{
			name: "bad TLS version",
			cfg: &ir.Config{Listeners: []*ir.Listener{{
				Name: "https-443", Address: "0.0.0.0", Port: 443, Protocol: ir.ProtocolHTTPS,
				VirtualHosts: []*ir.VirtualHost{
					{Name: "a", Hostnames: []string{"a.example.com"}, TLS: &ir.TLSConfig{SecretNames: []string{"s"}, MinVersion: "1.4"}},
				},
			}}},
			want: `virtual host a: TLS minimum version: unsupported TLS version "1.4"`,
		},
		{
			name: "secret without key",
			cfg:  &ir.Config{Secrets: []*ir.Secret{{Name: "s", Certificate: []byte("x")}}},
			want: "secret s: certificate without a private key",
		},
		{
			// proto3 strings must be UTF-8; the stat prefix is packed into
			// the connection manager's Any, where marshalling fails.
			name: "invalid UTF-8",
			cfg:  &ir.Config{Listeners: []*ir.Listener{{Name: "http-\xff", Address: "0.0.0.0", Port: 80, Protocol: ir.ProtocolHTTP}}},
			want: "packing envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Build(tc.cfg)
			if err == nil {
				t.Fatalf("Build succeeded, want error %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
			if res != nil {
				t.Fatal("Build returned resources with an error")
			}
		})
	}
}

func TestDomains(t *testing.T) {
	got := Domains([]string{"foo.example.com", "*.example.com", "*", "foo.example.com"})
	want := []string{"foo.example.com", "foo.example.com:*", "*.example.com", "*"}
	if !slices.Equal(got, want) {
		t.Fatalf("Domains = %q, want %q", got, want)
	}
}

func TestRouteConfigName(t *testing.T) {
	if got := RouteConfigName("https-443", "foo.example.com"); got != "https-443/foo.example.com" {
		t.Fatalf("RouteConfigName = %q", got)
	}
	if got := HTTPRouteConfigName("http-80"); got != "http-80" {
		t.Fatalf("HTTPRouteConfigName = %q", got)
	}
}

// lineDiff shows the first lines where a and b differ, enough to see what
// changed without a diff library.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out strings.Builder
	shown := 0
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x == y {
			continue
		}
		fmt.Fprintf(&out, "line %d:\n  want: %s\n  got:  %s\n", i+1, x, y)
		if shown++; shown == 10 {
			out.WriteString("...\n")
			break
		}
	}
	return out.String()
}
