package diagnostics

import (
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func vhost(name string, domains ...string) *routev3.VirtualHost {
	return &routev3.VirtualHost{Name: name, Domains: domains, Routes: []*routev3.Route{fwd("r-"+name, prefix("/"), name)}}
}

func TestSelectVirtualHost(t *testing.T) {
	rc := &routev3.RouteConfiguration{IgnorePortInHostMatching: true, VirtualHosts: []*routev3.VirtualHost{
		vhost("exact", "foo.example.com", "foo.example.com:*"),
		vhost("suffix", "*.example.com"),
		vhost("longsuffix", "*.bar.example.com"),
		vhost("prefix", "api.*"),
		vhost("default", "*"),
	}}
	noDefault := &routev3.RouteConfiguration{VirtualHosts: []*routev3.VirtualHost{vhost("exact", "foo.example.com", "foo.example.com:*")}}
	keepPort := &routev3.RouteConfiguration{VirtualHosts: []*routev3.VirtualHost{vhost("exact", "foo.example.com"), vhost("withport", "foo.example.com:*")}}
	for _, tc := range []struct {
		rc         *routev3.RouteConfiguration
		host, want string
	}{
		{rc, "foo.example.com", "exact"},
		{rc, "FOO.Example.COM", "exact"},
		{rc, "foo.example.com:8080", "exact"},
		{rc, "x.example.com", "suffix"},
		{rc, "x.bar.example.com", "longsuffix"},
		{rc, "bar.example.com", "suffix"},
		// The wildcard stands for at least one character.
		{rc, ".example.com", "default"},
		{rc, "example.com", "default"},
		{rc, "api.other.org", "prefix"},
		{rc, "api.example.com", "suffix"}, // suffix wildcards before prefix ones
		{rc, "other.org:443", "default"},
		{rc, "[::1]:80", "default"},
		{noDefault, "bar.example.com", ""},
		{keepPort, "foo.example.com:8080", "withport"},
		{keepPort, "foo.example.com", "exact"},
	} {
		vh, _ := SelectVirtualHost(tc.rc, tc.host)
		if got := vh.GetName(); got != tc.want {
			t.Errorf("host %q: virtual host %q, want %q", tc.host, got, tc.want)
		}
	}
}

func prefix(p string) *routev3.RouteMatch {
	return &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: p}}
}

func fwd(name string, m *routev3.RouteMatch, cluster string) *routev3.Route {
	return &routev3.Route{Name: name, Match: m, Action: &routev3.Route_Route{Route: &routev3.RouteAction{
		ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: cluster}}}}
}

func exact(v string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: v}}
}

func TestRouteMatching(t *testing.T) {
	hdr := func(name string, sm *matcherv3.StringMatcher, invert bool) *routev3.HeaderMatcher {
		return &routev3.HeaderMatcher{Name: name, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: sm}, InvertMatch: invert}
	}
	present := func(name string, invert bool) *routev3.HeaderMatcher {
		return &routev3.HeaderMatcher{Name: name, HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}, InvertMatch: invert}
	}
	re := func(r string) *matcherv3.RegexMatcher { return &matcherv3.RegexMatcher{Regex: r} }
	for _, tc := range []struct {
		name  string
		match *routev3.RouteMatch
		req   Request
		want  bool
	}{
		{"prefix", prefix("/api"), Request{Path: "/apix"}, true},
		{"prefix miss", prefix("/api"), Request{Path: "/ap"}, false},
		{"prefix case", prefix("/API"), Request{Path: "/api"}, false},
		{"prefix case-insensitive", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/API"}, CaseSensitive: wrapperspb.Bool(false)}, Request{Path: "/api/x"}, true},
		{"path ignores query", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/a"}}, Request{Path: "/a?x=1"}, true},
		{"path exact miss", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/a"}}, Request{Path: "/a/"}, false},
		{"regex full match", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: re("/v[0-9]+")}}, Request{Path: "/v12"}, true},
		{"regex is anchored", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: re("/v[0-9]+")}}, Request{Path: "/v12/x"}, false},
		{"regex alternation anchored", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: re("/a|/b")}}, Request{Path: "/bc"}, false},
		{"regex without query", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: re("/v[0-9]+")}}, Request{Path: "/v1?q=2"}, true},
		{"segment prefix self", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: "/foo"}}, Request{Path: "/foo"}, true},
		{"segment prefix child", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: "/foo"}}, Request{Path: "/foo/bar"}, true},
		{"segment prefix query", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: "/foo"}}, Request{Path: "/foo?x"}, true},
		{"segment prefix not partial", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: "/foo"}}, Request{Path: "/foobar"}, false},
		{"header exact", &routev3.RouteMatch{PathSpecifier: prefix("/").PathSpecifier, Headers: []*routev3.HeaderMatcher{hdr("x-env", exact("canary"), false)}}, Request{Path: "/", Headers: []Header{{"X-Env", "canary"}}}, true},
		{"header exact miss", &routev3.RouteMatch{PathSpecifier: prefix("/").PathSpecifier, Headers: []*routev3.HeaderMatcher{hdr("x-env", exact("canary"), false)}}, Request{Path: "/", Headers: []Header{{"x-env", "prod"}}}, false},
		{"header values joined", &routev3.RouteMatch{PathSpecifier: prefix("/").PathSpecifier, Headers: []*routev3.HeaderMatcher{hdr("x-a", exact("1,2"), false)}}, Request{Path: "/", Headers: []Header{{"x-a", "1"}, {"x-a", "2"}}}, true},
		{"header inverted", &routev3.RouteMatch{PathSpecifier: prefix("/").PathSpecifier, Headers: []*routev3.HeaderMatcher{hdr("x-env", exact("canary"), true)}}, Request{Path: "/", Headers: []Header{{"x-env", "prod"}}}, true},
		{"header inverted absent", &routev3.RouteMatch{PathSpecifier: prefix("/").PathSpecifier, Headers: []*routev3.HeaderMatcher{hdr("x-env", exact("canary"), true)}}, Request{Path: "/"}, false},
		{"header present", &routev3.RouteMatch{PathSpecifier: prefix("/").PathSpecifier, Headers: []*routev3.HeaderMatcher{present("x-a", false)}}, Request{Path: "/", Headers: []Header{{"x-a", ""}}}, true},
		{"header absent inverted present", &routev3.RouteMatch{PathSpecifier: prefix("/").PathSpecifier, Headers: []*routev3.HeaderMatcher{present("x-a", true)}}, Request{Path: "/"}, true},
		{"header suffix", &routev3.RouteMatch{PathSpecifier: prefix("/").PathSpecifier, Headers: []*routev3.HeaderMatcher{hdr("x-a", &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: "Z"}, IgnoreCase: true}, false)}}, Request{Path: "/", Headers: []Header{{"x-a", "abz"}}}, true},
		{"header contains", &routev3.RouteMatch{PathSpecifier: prefix("/").PathSpecifier, Headers: []*routev3.HeaderMatcher{hdr("x-a", &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Contains{Contains: "b"}}, false)}}, Request{Path: "/", Headers: []Header{{"x-a", "abc"}}}, true},
		{"header regex", &routev3.RouteMatch{PathSpecifier: prefix("/").PathSpecifier, Headers: []*routev3.HeaderMatcher{hdr("x-a", &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: re("v[0-9]")}}, false)}}, Request{Path: "/", Headers: []Header{{"x-a", "v12"}}}, false},
		{"method", &routev3.RouteMatch{PathSpecifier: prefix("/").PathSpecifier, Headers: []*routev3.HeaderMatcher{hdr(":method", exact("POST"), false)}}, Request{Path: "/", Method: "POST"}, true},
		{"method default GET", &routev3.RouteMatch{PathSpecifier: prefix("/").PathSpecifier, Headers: []*routev3.HeaderMatcher{hdr(":method", exact("POST"), false)}}, Request{Path: "/"}, false},
		{"authority", &routev3.RouteMatch{PathSpecifier: prefix("/").PathSpecifier, Headers: []*routev3.HeaderMatcher{hdr(":authority", exact("a.b:81"), false)}}, Request{Path: "/", Host: "a.b:81"}, true},
		{"query exact", &routev3.RouteMatch{PathSpecifier: prefix("/").PathSpecifier, QueryParameters: []*routev3.QueryParameterMatcher{{Name: "v", QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_StringMatch{StringMatch: exact("a b")}}}}, Request{Path: "/?v=a%20b"}, true},
		{"query first value", &routev3.RouteMatch{PathSpecifier: prefix("/").PathSpecifier, QueryParameters: []*routev3.QueryParameterMatcher{{Name: "v", QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_StringMatch{StringMatch: exact("2")}}}}, Request{Path: "/?v=1&v=2"}, false},
		{"query present", &routev3.RouteMatch{PathSpecifier: prefix("/").PathSpecifier, QueryParameters: []*routev3.QueryParameterMatcher{{Name: "debug", QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_PresentMatch{PresentMatch: true}}}}, Request{Path: "/x?debug"}, true},
		{"query absent", &routev3.RouteMatch{PathSpecifier: prefix("/").PathSpecifier, QueryParameters: []*routev3.QueryParameterMatcher{{Name: "debug", QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_PresentMatch{PresentMatch: true}}}}, Request{Path: "/x?debugx=1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason := routeMiss(tc.match, newRequestView(tc.req))
			if got := reason == ""; got != tc.want {
				t.Fatalf("match = %v (reason %q), want %v", got, reason, tc.want)
			}
		})
	}
}

func TestExplainOrderAndActions(t *testing.T) {
	rc := &routev3.RouteConfiguration{Name: "http-8080", IgnorePortInHostMatching: true, VirtualHosts: []*routev3.VirtualHost{{
		Name: "a", Domains: []string{"a.example.com"},
		Routes: []*routev3.Route{
			fwd("first", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/exact"}}, "c1"),
			{Name: "redirect", Match: prefix("/old"), Action: &routev3.Route_Redirect{Redirect: &routev3.RedirectAction{
				SchemeRewriteSpecifier: &routev3.RedirectAction_HttpsRedirect{HttpsRedirect: true}}}},
			{Name: "direct", Match: prefix("/gone"), Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{Status: 410}}},
			{Name: "split", Match: prefix("/"), Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_WeightedClusters{
				WeightedClusters: &routev3.WeightedCluster{Clusters: []*routev3.WeightedCluster_ClusterWeight{
					{Name: "c2", Weight: wrapperspb.UInt32(90)}, {Name: "c3", Weight: wrapperspb.UInt32(10)}}}}}}},
		},
	}}}
	ex := Explain(rc, Request{Host: "a.example.com:8080", Path: "/x"})
	if ex.Route != "split" || ex.RouteIndex != 3 || len(ex.Skipped) != 3 || ex.Action.Kind != ActionForward ||
		len(ex.Action.Clusters) != 2 || ex.Action.Clusters[0].Weight != 90 {
		t.Fatalf("explanation: %+v", ex)
	}
	if ex.Skipped[0].Reason != `path is not "/exact"` || ex.Skipped[1].Reason != `path does not start with "/old"` {
		t.Fatalf("reasons: %+v", ex.Skipped)
	}
	if ex := Explain(rc, Request{Host: "a.example.com", Path: "/old/x"}); ex.Action.Kind != ActionRedirect || ex.Action.Status != 301 || ex.Action.RedirectScheme != "https" {
		t.Fatalf("redirect: %+v", ex.Action)
	}
	if ex := Explain(rc, Request{Host: "a.example.com", Path: "/gone"}); ex.Action.Kind != ActionDirect || ex.Action.Status != 410 {
		t.Fatalf("direct: %+v", ex.Action)
	}
	if ex := Explain(rc, Request{Host: "b.example.com", Path: "/"}); ex.Action.Kind != ActionNotFound || ex.VirtualHost != "" {
		t.Fatalf("no vhost: %+v", ex)
	}
}

func TestNormalizePath(t *testing.T) {
	for in, want := range map[string]string{
		"/":              "/",
		"/a/b":           "/a/b",
		"/a/./b":         "/a/b",
		"/a/../b":        "/b",
		"/../a":          "/a",
		"/a/..":          "/",
		"/a/b/.":         "/a/b/",
		"/a/b/..?x=/../": "/a/?x=/../",
		"/a/.b/..c":      "/a/.b/..c",
		"/a/%2e%2e/b":    "/b",
		"/%61bc?%61":     "/abc?%61",
		"/a%2Fb/%2e%2e":  "/",
		"/caf%C3%A9":     "/caf%C3%A9",
	} {
		if got := NormalizePath(in); got != want {
			t.Errorf("NormalizePath(%q) = %q, want %q", in, got, want)
		}
	}
}
