package ir

import (
	"strings"
	"testing"
)

func TestValidateStatPrefix(t *testing.T) {
	for p, ok := range map[string]bool{
		"ingress_http": true, "edge-http.v2": true, "A1": true, strings.Repeat("a", 128): true,
		"": false, strings.Repeat("a", 129): false, "edge:http": false, "edge http": false, "ïngress": false,
		".edge": false, "edge.": false, "edge..http": false, "a/b": false,
	} {
		if err := ValidateStatPrefix(p); (err == nil) != ok {
			t.Errorf("ValidateStatPrefix(%q) = %v, want ok=%v", p, err, ok)
		}
	}
}

// statListener is a fragment's view of the shared HTTP listener with a
// stat prefix.
func statListener(prefix, name string) *Config {
	return &Config{Listeners: []*Listener{{Name: "http-8080", Address: "0.0.0.0", Port: 8080, Protocol: ProtocolHTTP,
		StatPrefix: prefix, Source: &Source{Kind: "Listener", Name: name}}}}
}

// TestMergeStatPrefix: a fragment without a prefix takes another's, in
// either order; a different one from a later fragment is reported on its
// source and the first kept.
func TestMergeStatPrefix(t *testing.T) {
	for _, order := range [][2]*Config{
		{statListener("", "ingress"), statListener("ingress_http", "emissary")},
		{statListener("ingress_http", "emissary"), statListener("", "ingress")},
	} {
		out, errs := Merge(order[0], order[1])
		if len(errs) != 0 || out.Listeners[0].StatPrefix != "ingress_http" {
			t.Fatalf("got prefix %q, errors %v; want ingress_http and none", out.Listeners[0].StatPrefix, errs)
		}
	}
	out, errs := Merge(statListener("ingress_http", "a"), statListener("edge", "b"))
	if out.Listeners[0].StatPrefix != "ingress_http" {
		t.Fatalf("the first prefix must be kept, got %q", out.Listeners[0].StatPrefix)
	}
	if len(errs) != 1 || errs[0].Source.Name != "b" || !strings.Contains(errs[0].Message, `"edge"`) {
		t.Fatalf("want one error on b naming its prefix, got %v", errs)
	}
}

// TestPruneStatPrefix: an invalid prefix is reported by Validate and
// dropped alone by Prune; the listener and its routes stay.
func TestPruneStatPrefix(t *testing.T) {
	cfg := statListener("bad:prefix", "l")
	cfg.Clusters = []*Cluster{cluster("c")}
	cfg.Listeners[0].VirtualHosts = []*VirtualHost{{Name: "a", Hostnames: []string{"a.example"}, Routes: []*Route{route("r", PathPrefix, "/")}}}
	v := cfg.Validate()
	if len(v) != 1 || !strings.Contains(v[0].Message, `"bad:prefix"`) {
		t.Fatalf("Validate = %v, want one error on the prefix", v)
	}
	errs := cfg.Prune()
	if len(errs) != 1 || len(cfg.Listeners) != 1 || cfg.Listeners[0].StatPrefix != "" || len(cfg.Listeners[0].VirtualHosts[0].Routes) != 1 {
		t.Fatalf("Prune: errors %v, listeners %+v; want the prefix alone dropped", errs, cfg.Listeners)
	}
	if v := cfg.Validate(); len(v) != 0 {
		t.Fatalf("pruned config still invalid: %v", v)
	}
}
