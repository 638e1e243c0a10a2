package ir

import (
	"strings"
	"testing"
	"time"
)

func policyConfig(f Filters, tls *UpstreamTLS, secrets ...*Secret) *Config {
	return &Config{
		Listeners: []*Listener{{Name: "l", Address: "0.0.0.0", Port: 80, Protocol: ProtocolHTTP,
			VirtualHosts: []*VirtualHost{{Name: "h", Hostnames: []string{"h.example.com"}, Routes: []*Route{{
				Name: "r", Match: Match{Path: PathMatch{Type: PathPrefix, Value: "/"}},
				Forward: &ForwardAction{Backends: []WeightedBackend{{Cluster: "c", Weight: 1}}},
				Filters: f,
			}}}}}},
		Clusters: []*Cluster{{Name: "c", Kind: ClusterEDS, TLS: tls}},
		Secrets:  secrets,
	}
}

func TestValidatePolicies(t *testing.T) {
	ca := &Secret{Name: "ca", CA: []byte("pem")}
	cert := &Secret{Name: "cert", Certificate: []byte("pem"), PrivateKey: []byte("key")}
	cases := []struct {
		name string
		cfg  *Config
		want string // "" for valid
	}{
		{"good CORS", policyConfig(Filters{CORS: &CORS{AllowOrigins: []string{"*", "https://*.a.com", "http://b.com:8080"},
			AllowMethods: []string{"GET"}, AllowHeaders: []string{"*"}, MaxAge: 5 * time.Second}}, nil), ""},
		{"origin with a path", policyConfig(Filters{CORS: &CORS{AllowOrigins: []string{"https://a.com/x"}}}, nil), "CORS origin"},
		{"origin port out of range", policyConfig(Filters{CORS: &CORS{AllowOrigins: []string{"https://a.com:70000"}}}, nil), "port out of range"},
		{"wildcard method among others", policyConfig(Filters{CORS: &CORS{AllowMethods: []string{"*", "GET"}}}, nil), `"*" must be the only one`},
		{"max age fraction", policyConfig(Filters{CORS: &CORS{MaxAge: 1500 * time.Millisecond}}, nil), "whole number of seconds"},
		{"good cookie session", policyConfig(Filters{SessionPersistence: &SessionPersistence{Type: SessionCookie, Name: "s", TTL: time.Hour}}, nil), ""},
		{"session name not a token", policyConfig(Filters{SessionPersistence: &SessionPersistence{Type: SessionHeader, Name: "a b"}}, nil), "not a valid token"},
		{"retry status code", policyConfig(Filters{Retry: &Retry{StatusCodes: []uint32{700}}}, nil), "not in 100-599"},
		{"good upstream TLS", policyConfig(Filters{}, &UpstreamTLS{SNI: "a.example.com", CASecret: "ca", ClientCertSecret: "cert",
			SubjectAltNames: []string{"a.example.com"}, MinVersion: "1.2", MaxVersion: "1.3"}, ca, cert), ""},
		{"missing CA secret", policyConfig(Filters{}, &UpstreamTLS{CASecret: "ca"}), `CA secret "ca" does not exist`},
		{"CA secret is a certificate", policyConfig(Filters{}, &UpstreamTLS{CASecret: "cert"}, cert), "must hold a CA bundle and no certificate"},
		{"both CAs", policyConfig(Filters{}, &UpstreamTLS{CASecret: "ca", WellKnownCA: true}, ca), "both a CA secret and the well-known CAs"},
		{"SANs without a CA", policyConfig(Filters{}, &UpstreamTLS{SubjectAltNames: []string{"a"}}), "without verifying"},
		{"versions reversed", policyConfig(Filters{}, &UpstreamTLS{MinVersion: "1.3", MaxVersion: "1.2"}), "above the maximum"},
		{"wildcard SNI", policyConfig(Filters{}, &UpstreamTLS{SNI: "*.a.com"}), "server name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := tc.cfg.Validate()
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("valid config rejected: %v", errs)
				}
				return
			}
			for _, e := range errs {
				if strings.Contains(e.Error(), tc.want) {
					// Prune must remove what Validate rejects.
					if rest := tc.cfg.Prune(); len(rest) == 0 {
						t.Fatalf("Prune kept what Validate rejects")
					}
					if again := tc.cfg.Validate(); len(again) > 0 {
						t.Fatalf("pruned config still invalid: %v", again)
					}
					return
				}
			}
			t.Fatalf("no error mentions %q: %v", tc.want, errs)
		})
	}
}
