package ir

import (
	"strings"
	"testing"
	"time"
)

// shared is a fragment's view of the shared HTTP listener.
func shared(hc *HTTPConnection, vhost string, r *Route) *Config {
	l := &Listener{Name: "http-8080", Address: "0.0.0.0", Port: 8080, Protocol: ProtocolHTTP, HTTPConnection: hc}
	if r != nil {
		l.VirtualHosts = []*VirtualHost{{Name: vhost, Hostnames: []string{vhost}, Routes: []*Route{r}}}
	}
	return &Config{Listeners: []*Listener{l}}
}

// TestMergeHTTPConnection: the listener's connection settings come from
// whichever fragment has them (an Ingress fragment has none); a later
// fragment with different settings is reported and the first ones kept,
// whatever the fragments' order within a role; identical ones are not a
// conflict.
func TestMergeHTTPConnection(t *testing.T) {
	off := false
	module := &HTTPConnection{Source: Source{Kind: "Module", Namespace: "default", Name: "ambassador"}, ServerName: "edge", UseRemoteAddress: &off, IdleTimeout: 30 * time.Second}
	other := &HTTPConnection{Source: Source{Kind: "Module", Namespace: "blue", Name: "ambassador"}, ServerName: "blue"}
	same := *module
	same.Source = Source{Kind: "Module", Namespace: "green", Name: "ambassador"}

	for _, order := range [][2]*Config{
		{shared(nil, "a.example", route("ingress", PathPrefix, "/i")), shared(module, "a.example", route("mapping", PathPrefix, "/m"))},
		{shared(module, "a.example", route("mapping", PathPrefix, "/m")), shared(nil, "a.example", route("ingress", PathPrefix, "/i"))},
	} {
		out, errs := Merge(order[0], order[1])
		if len(errs) != 0 {
			t.Fatalf("unexpected merge errors: %v", errs)
		}
		if len(out.Listeners) != 1 || out.Listeners[0].HTTPConnection != module {
			t.Fatalf("the merged listener must carry the Module's settings, got %+v", out.Listeners)
		}
		if got := names(out.Listeners[0].VirtualHosts[0].Routes); got != "mapping,ingress" && got != "ingress,mapping" {
			t.Fatalf("routes of both fragments must share the virtual host, got %s", got)
		}
	}

	out, errs := Merge(shared(module, "a.example", nil), shared(other, "b.example", route("b", PathPrefix, "/b")))
	if out.Listeners[0].HTTPConnection != module {
		t.Fatalf("the first fragment's settings must be kept, got %+v", out.Listeners[0].HTTPConnection)
	}
	if len(errs) != 1 || errs[0].Source != other.Source || !strings.Contains(errs[0].Message, "Module/default/ambassador") {
		t.Fatalf("want one error on the later settings naming the kept ones, got %v", errs)
	}

	if _, errs := Merge(shared(module, "a.example", nil), shared(&same, "a.example", nil)); len(errs) != 0 {
		t.Fatalf("identical settings from two objects are no conflict, got %v", errs)
	}
}

// TestPruneHTTPConnection: settings Envoy would refuse are dropped alone,
// reported on their source; the listener and its routes stay.
func TestPruneHTTPConnection(t *testing.T) {
	bad := &HTTPConnection{Source: Source{Kind: "Module", Name: "ambassador"}, ServerName: "a\r\nb"}
	c := shared(bad, "a.example", &Route{Name: "r", Match: Match{Path: PathMatch{Type: PathPrefix, Value: "/"}}, DirectResponse: &DirectResponse{StatusCode: 200}})
	if errs := c.Validate(); len(errs) != 1 || errs[0].Source != bad.Source {
		t.Fatalf("Validate: want one error on the Module, got %v", errs)
	}
	errs := c.Prune()
	if len(errs) != 1 || errs[0].Source != bad.Source || !strings.Contains(errs[0].Message, "control character") {
		t.Fatalf("Prune: want one error on the Module, got %v", errs)
	}
	if len(c.Listeners) != 1 || c.Listeners[0].HTTPConnection != nil || len(c.Listeners[0].VirtualHosts[0].Routes) != 1 {
		t.Fatalf("Prune must drop only the settings, got %+v", c.Listeners)
	}
	if errs := c.Validate(); len(errs) != 0 {
		t.Fatalf("pruned config does not validate: %v", errs)
	}
	tcp := &Config{Listeners: []*Listener{{Name: "tcp", Address: "0.0.0.0", Port: 9000, Protocol: ProtocolTCP, HTTPConnection: &HTTPConnection{ServerName: "x"}}}}
	if errs := tcp.Validate(); len(errs) != 1 || !strings.Contains(errs[0].Message, "TCP listener") {
		t.Fatalf("settings on a TCP listener must be refused, got %v", errs)
	}
}
