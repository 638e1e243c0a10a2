package ir

import (
	"strings"
	"testing"
)

func route(name string, t PathMatchType, v string) *Route {
	return &Route{
		Name:    name,
		Source:  Source{Kind: "Test", Name: name},
		Match:   Match{Path: PathMatch{Type: t, Value: v}},
		Forward: &ForwardAction{Backends: []WeightedBackend{{Cluster: "c", Weight: 1}}},
	}
}

func names(rs []*Route) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return strings.Join(out, ",")
}

func TestSortRoutesPrecedence(t *testing.T) {
	withHeaders := route("hdr2", PathPrefix, "/a")
	withHeaders.Match.Headers = []HeaderMatch{{Name: "x", Type: MatchExact, Value: "1"}, {Name: "y", Type: MatchPresent}}
	oneHeader := route("hdr1", PathPrefix, "/a")
	oneHeader.Match.Headers = []HeaderMatch{{Name: "x", Type: MatchExact, Value: "1"}}
	method := route("method", PathPrefix, "/a")
	method.Match.Method = "GET"
	query := route("query", PathPrefix, "/a")
	query.Match.QueryParams = []QueryMatch{{Name: "q", Type: MatchExact, Value: "1"}}
	high := route("precedence", PathPrefix, "/")
	high.Precedence = 10

	routes := []*Route{
		route("root", PathPrefix, "/"),
		route("prefix-a", PathPrefix, "/a"),
		query,
		oneHeader,
		route("regex", PathRegex, "/a.*"),
		route("seg-a", PathSegmentPrefix, "/a"),
		route("prefix-long", PathPrefix, "/a/b/c"),
		method,
		withHeaders,
		route("exact", PathExact, "/a"),
		high,
	}
	SortRoutes(routes)
	want := "precedence,exact,regex,prefix-long,seg-a,method,hdr2,hdr1,query,prefix-a,root"
	if got := names(routes); got != want {
		t.Fatalf("order:\n got %s\nwant %s", got, want)
	}
}

func TestSortRoutesIsStableForTies(t *testing.T) {
	routes := []*Route{route("first", PathPrefix, "/x"), route("second", PathPrefix, "/y"), route("third", PathPrefix, "/z")}
	SortRoutes(routes)
	if got := names(routes); got != "first,second,third" {
		t.Fatalf("ties reordered: %s", got)
	}
}

func cluster(name string) *Cluster {
	return &Cluster{Name: name, Kind: ClusterStatic, Source: Source{Kind: "Service", Name: name},
		Endpoints: []Endpoint{{Address: "127.0.0.1", Port: 80, Ready: true}}}
}

func httpListener(vhs ...*VirtualHost) *Listener {
	return &Listener{Name: "http", Address: "0.0.0.0", Port: 8080, Protocol: ProtocolHTTP, VirtualHosts: vhs}
}

func TestMergeUnitesHostsAndReportsLosers(t *testing.T) {
	a := &Config{
		Listeners: []*Listener{httpListener(&VirtualHost{Name: "foo", Hostnames: []string{"foo"}, Routes: []*Route{route("a/1", PathPrefix, "/api")}})},
		Clusters:  []*Cluster{cluster("c")},
	}
	dup := route("b/1", PathPrefix, "/api") // same match as a/1: unreachable
	b := &Config{
		Listeners: []*Listener{httpListener(&VirtualHost{Name: "foo", Hostnames: []string{"foo"}, Routes: []*Route{
			route("b/2", PathExact, "/api/x"), dup,
		}})},
		Clusters: []*Cluster{cluster("c")},
	}
	other := cluster("c")
	other.Endpoints[0].Port = 81
	c := &Config{Clusters: []*Cluster{other}}
	c.Clusters[0].Source.Name = "other"

	merged, errs := Merge(a, b, c)
	if len(merged.Listeners) != 1 || len(merged.Listeners[0].VirtualHosts) != 1 {
		t.Fatalf("want one listener with one virtual host, got %+v", merged.Listeners)
	}
	if got := names(merged.Listeners[0].VirtualHosts[0].Routes); got != "b/2,a/1" {
		t.Fatalf("merged routes = %s", got)
	}
	if len(merged.Clusters) != 1 || merged.Clusters[0].Endpoints[0].Port != 80 {
		t.Fatalf("first cluster must win: %+v", merged.Clusters)
	}
	var lost []string
	for _, e := range errs {
		lost = append(lost, e.Source.Name)
	}
	if strings.Join(lost, ",") != "other,b/1" {
		t.Fatalf("losers = %v (%v)", lost, errs)
	}
	if errs := merged.Validate(); len(errs) != 0 {
		t.Fatalf("merged config invalid: %v", errs)
	}
}

func TestMergeListenerConflict(t *testing.T) {
	a := &Config{Listeners: []*Listener{httpListener()}}
	moved := httpListener(&VirtualHost{Name: "x", Hostnames: []string{"x"}, Routes: []*Route{route("r", PathPrefix, "/")}})
	moved.Port = 9090
	_, errs := Merge(a, &Config{Listeners: []*Listener{moved}})
	if len(errs) != 1 || errs[0].Source.Name != "r" || !strings.Contains(errs[0].Message, "already 0.0.0.0:8080") {
		t.Fatalf("want the route of the moved listener reported, got %v", errs)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	bad := route("bad", PathRegex, "([")
	bad.Forward.Backends = []WeightedBackend{{Cluster: "missing", Weight: 0}}
	bad.Redirect = &Redirect{StatusCode: 305}
	cfg := &Config{Listeners: []*Listener{httpListener(
		&VirtualHost{Name: "v", Hostnames: []string{"UPPER.example.com"}, Routes: []*Route{bad}},
	)}}
	msgs := ""
	for _, e := range cfg.Validate() {
		msgs += e.Error() + "\n"
	}
	for _, want := range []string{
		`does not compile`, `cluster "missing" does not exist`, `every backend weight is zero`,
		`redirect status 305`, `exactly one action, has 2`, `hostname "UPPER.example.com"`,
	} {
		if !strings.Contains(msgs, want) {
			t.Errorf("missing %q in:\n%s", want, msgs)
		}
	}
}

func TestPruneKeepsTheValidRest(t *testing.T) {
	good := route("good", PathPrefix, "/")
	badRegex := route("bad-regex", PathRegex, "")
	dangling := route("dangling", PathExact, "/d")
	dangling.Forward.Backends[0].Cluster = "nope"
	badCluster := &Cluster{Name: "bad", Kind: ClusterEDS, Source: Source{Kind: "Service", Name: "bad"},
		Endpoints: []Endpoint{{Address: "not-an-ip", Port: 1}}}
	toBad := route("to-bad", PathExact, "/b")
	toBad.Forward.Backends[0].Cluster = "bad"
	cfg := &Config{
		Listeners: []*Listener{httpListener(
			&VirtualHost{Name: "v", Hostnames: []string{"v.example.com"}, Routes: []*Route{good, badRegex, dangling, toBad}},
			&VirtualHost{Name: "dup", Hostnames: []string{"v.example.com"}, Routes: []*Route{route("in-dup", PathPrefix, "/")}},
		)},
		Clusters: []*Cluster{cluster("c"), badCluster},
	}
	errs := cfg.Prune()
	if v := cfg.Validate(); len(v) != 0 {
		t.Fatalf("pruned config still invalid: %v", v)
	}
	if got := names(cfg.Listeners[0].VirtualHosts[0].Routes); got != "good" {
		t.Fatalf("kept routes = %s", got)
	}
	if len(cfg.Listeners[0].VirtualHosts) != 1 || len(cfg.Clusters) != 1 {
		t.Fatalf("duplicate host or bad cluster kept: %d vhosts, %d clusters", len(cfg.Listeners[0].VirtualHosts), len(cfg.Clusters))
	}
	reported := map[string]bool{}
	for _, e := range errs {
		reported[e.Source.Name] = true
	}
	for _, n := range []string{"bad-regex", "dangling", "bad", "to-bad", "in-dup"} {
		if !reported[n] {
			t.Errorf("%s not reported: %v", n, errs)
		}
	}
}

func TestPruneTCPListeners(t *testing.T) {
	tcp := func(name string, sni ...string) *TCPRoute {
		return &TCPRoute{Name: name, Source: Source{Kind: "Test", Name: name}, SNI: sni,
			Backends: []WeightedBackend{{Cluster: "c", Weight: 1}, {Cluster: "c", Weight: 2}}}
	}
	cfg := &Config{
		Clusters: []*Cluster{cluster("c")},
		Listeners: []*Listener{
			{Name: "tcp", Address: "0.0.0.0", Port: 9000, Protocol: ProtocolTCP, TCPRoutes: []*TCPRoute{tcp("t1"), tcp("t2")}},
			{Name: "udp", Address: "0.0.0.0", Port: 9000, Protocol: ProtocolUDP, TCPRoutes: []*TCPRoute{tcp("u1")}},
			{Name: "tls", Address: "0.0.0.0", Port: 9443, Protocol: ProtocolTLS, TCPRoutes: []*TCPRoute{
				tcp("s1", "a.example.com"), tcp("s2", "b.example.com", "a.example.com"), tcp("s3", "b.example.com")}},
		},
	}
	if n := len(cfg.Validate()); n != 3 {
		t.Fatalf("want 3 problems (second TCP route, UDP with two backends, repeated SNI), got %d: %v", n, cfg.Validate())
	}
	errs := cfg.Prune()
	if v := cfg.Validate(); len(v) != 0 {
		t.Fatalf("pruned config still invalid: %v", v)
	}
	var lost []string
	for _, e := range errs {
		lost = append(lost, e.Source.Name)
	}
	if strings.Join(lost, ",") != "t2,u1,s2" {
		t.Fatalf("lost %v: %v", lost, errs)
	}
	if got := cfg.Listeners[2].TCPRoutes; len(got) != 2 || got[1].Name != "s3" {
		t.Fatalf("s3 must survive once s2 is gone: %+v", got)
	}
}

// TestMergeSpreadsHostPredicates: routes marked MatchesNarrowerHosts (a
// Mapping under a wildcard Host) keep serving a hostname another source
// claims with a virtual host of its own, where Envoy would send the
// request; their :authority match decides which exact names they reach;
// unmarked routes and virtual hosts their own translator filled stay as
// they were.
func TestMergeSpreadsHostPredicates(t *testing.T) {
	mark := func(r *Route, translator, authority string) *Route {
		r.Source.Translator = translator
		r.MatchesNarrowerHosts = translator == "a"
		if authority != "" {
			r.Match.Headers = []HeaderMatch{{Name: ":authority", Type: MatchRegex, Value: "(?i)^" + authority + "(:[0-9]+)?$"}}
		}
		return r
	}
	shared := mark(route("a-shared", PathPrefix, "/mapping/"), "a", `shared\.x`)
	any := mark(route("a-any", PathPrefix, "/any/"), "a", "")
	plain := route("a-plain", PathPrefix, "/plain/")
	plain.Source.Translator = "a"
	own := mark(route("a-own", PathPrefix, "/own/"), "a", "")
	fa := &Config{Listeners: []*Listener{{Name: "http", Port: 8080, Protocol: ProtocolHTTP, VirtualHosts: []*VirtualHost{
		{Name: "*.x", Hostnames: []string{"*.x"}, Routes: []*Route{shared, any, plain}},
		{Name: "mine.x", Hostnames: []string{"mine.x"}, Routes: []*Route{own}},
	}}}}
	fb := &Config{Listeners: []*Listener{{Name: "http", Port: 8080, Protocol: ProtocolHTTP, VirtualHosts: []*VirtualHost{
		{Name: "shared.x", Hostnames: []string{"shared.x"}, Routes: []*Route{mark(route("b-shared", PathPrefix, "/"), "b", "")}},
		{Name: "other.x", Hostnames: []string{"other.x"}, Routes: []*Route{mark(route("b-other", PathPrefix, "/"), "b", "")}},
		{Name: "mine.x", Hostnames: []string{"mine.x"}, Routes: []*Route{mark(route("b-mine", PathPrefix, "/b/"), "b", "")}},
		{Name: "y", Hostnames: []string{"y"}, Routes: []*Route{mark(route("b-y", PathPrefix, "/"), "b", "")}},
	}}}}
	cfg, errs := Merge(fa, fb)
	if len(errs) != 0 {
		t.Fatalf("merge errors: %v", errs)
	}
	got := map[string]string{}
	for _, vh := range cfg.Listeners[0].VirtualHosts {
		got[vh.Name] = names(vh.Routes)
	}
	want := map[string]string{
		"*.x":      "a-shared,a-plain,a-any",
		"shared.x": "a-shared,a-any,b-shared",
		"other.x":  "a-any,b-other",
		"mine.x":   "a-own,b-mine",
		"y":        "b-y",
	}
	for vh, w := range want {
		if got[vh] != w {
			t.Errorf("virtual host %s: routes %s, want %s", vh, got[vh], w)
		}
	}
}

// TestMergeClustersOfOneFragment: the clusters of the only fragment
// having any are taken as they are when their names strictly increase,
// and checked for repeated names otherwise.
func TestMergeClustersOfOneFragment(t *testing.T) {
	a, b := cluster("a"), cluster("b")
	other := cluster("a")
	other.Endpoints = []Endpoint{{Address: "127.0.0.2", Port: 80, Ready: true}}
	out, errs := Merge(&Config{}, &Config{Clusters: []*Cluster{a, b}})
	if len(errs) != 0 || len(out.Clusters) != 2 || out.Clusters[0] != a || out.Clusters[1] != b {
		t.Errorf("sorted clusters: got %v, errors %v", out.Clusters, errs)
	}
	out, errs = Merge(&Config{Clusters: []*Cluster{b, a, other}})
	if len(out.Clusters) != 2 || out.Clusters[0] != b || out.Clusters[1] != a || len(errs) != 1 || errs[0].Element != "cluster a" {
		t.Errorf("unsorted clusters with a conflict: got %v, errors %v", out.Clusters, errs)
	}
}
