package ir

import (
	"strings"
	"testing"
)

// TestTCPRouteTLSValidation checks the rules of a TCP route that
// terminates TLS: only on a TLS listener, with a certificate, each one a
// Secret of the Config; Prune drops exactly the routes breaking them.
func TestTCPRouteTLSValidation(t *testing.T) {
	tr := func(name string, tls *TLSConfig, sni ...string) *TCPRoute {
		return &TCPRoute{Name: name, Source: Source{Kind: "Test", Name: name}, SNI: sni, TLS: tls,
			Backends: []WeightedBackend{{Cluster: "c", Weight: 1}}}
	}
	cfg := &Config{
		Clusters: []*Cluster{cluster("c")},
		Secrets:  []*Secret{{Name: "cert", Source: Source{Kind: "Secret", Name: "cert"}, Certificate: []byte("c"), PrivateKey: []byte("k")}},
		Listeners: []*Listener{
			{Name: "tls", Address: "0.0.0.0", Port: 9443, Protocol: ProtocolTLS, TCPRoutes: []*TCPRoute{
				tr("ok", &TLSConfig{SecretNames: []string{"cert"}}, "a.example.com"),
				tr("missing", &TLSConfig{SecretNames: []string{"cert", "nope"}}, "b.example.com"),
				tr("empty", &TLSConfig{}, "c.example.com"),
				tr("version", &TLSConfig{SecretNames: []string{"cert"}, MinVersion: "1.4"}, "d.example.com"),
				tr("passthrough", nil, "e.example.com"),
			}},
			{Name: "tcp", Address: "0.0.0.0", Port: 9000, Protocol: ProtocolTCP, TCPRoutes: []*TCPRoute{
				tr("on-tcp", &TLSConfig{SecretNames: []string{"cert"}}),
			}},
		},
	}
	var bad []string
	for _, e := range cfg.Validate() {
		bad = append(bad, e.Source.Name+": "+e.Message)
	}
	want := []string{`missing: secret "nope" does not exist`, "empty: TLS termination needs a certificate",
		`version: TLS version "1.4" is not one of 1.0, 1.1, 1.2, 1.3`, "on-tcp: only a route of a TLS listener can terminate TLS"}
	if strings.Join(bad, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Validate:\n%s\nwant:\n%s", strings.Join(bad, "\n"), strings.Join(want, "\n"))
	}
	cfg.Prune()
	if v := cfg.Validate(); len(v) != 0 {
		t.Fatalf("pruned config still invalid: %v", v)
	}
	var kept []string
	for _, l := range cfg.Listeners {
		for _, r := range l.TCPRoutes {
			kept = append(kept, r.Name)
		}
	}
	if strings.Join(kept, ",") != "ok,passthrough" {
		t.Fatalf("kept %v, want ok and passthrough", kept)
	}
}
