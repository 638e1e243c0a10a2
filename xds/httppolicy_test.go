package xds

import (
	"regexp"
	"testing"
	"time"

	"github.com/legateproxy/legate/translators/ir"
)

// TestOriginMatcher checks the origins each IR origin pattern admits,
// with Go's regexp (RE2 syntax, as Envoy's safe_regex).
func TestOriginMatcher(t *testing.T) {
	cases := []struct {
		pattern string
		match   []string
		noMatch []string
	}{
		{"https://www.foo.com",
			[]string{"https://www.foo.com", "HTTPS://WWW.FOO.COM", "https://www.foo.com:443"},
			[]string{"http://www.foo.com", "https://www.foo.com:8443", "https://www.foo.com.evil.net", "https://xwww.foo.com"}},
		{"https://*.bar.com",
			[]string{"https://www.bar.com", "https://xpto.www.bar.com", "https://a-b.bar.com:443"},
			[]string{"https://bar.com", "https://.bar.com", "https://www.bar.com:8443", "http://www.bar.com", "https://www.bar.com/x", "https://evil.net/.bar.com"}},
		{"http://local.test:8080",
			[]string{"http://local.test:8080"},
			[]string{"http://local.test", "http://local.test:80"}},
		{"http://local.test:80",
			[]string{"http://local.test", "http://local.test:80"},
			[]string{"http://local.test:8080"}},
		{"https://*",
			[]string{"https://anything.example", "https://x"},
			[]string{"http://x", "https://x:1234"}},
	}
	for _, tc := range cases {
		m, err := OriginMatcher(tc.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tc.pattern, err)
		}
		re := regexp.MustCompile(m.GetSafeRegex().GetRegex())
		for _, o := range tc.match {
			if !re.MatchString(o) {
				t.Errorf("%s (regex %s) does not match %s", tc.pattern, re, o)
			}
		}
		for _, o := range tc.noMatch {
			if re.MatchString(o) {
				t.Errorf("%s (regex %s) matches %s", tc.pattern, re, o)
			}
		}
	}
	if m, err := OriginMatcher("*"); err != nil || m.GetExact() != "*" {
		t.Errorf(`"*" gives %v, %v; want the exact matcher "*"`, m, err)
	}
	for _, bad := range []string{"www.foo.com", "https://foo.com/path", "https://foo.com:0", "https://foo.com:99999", "https://"} {
		if _, err := OriginMatcher(bad); err == nil {
			t.Errorf("OriginMatcher(%q) accepted a malformed origin", bad)
		}
	}
}

// TestCORSPolicyOnlyWhereUsed: the CORS and stateful session filters are in
// a connection manager's chain exactly when one of its routes uses them.
func TestCORSPolicyOnlyWhereUsed(t *testing.T) {
	res := buildCase(t, "route-policies")
	want := map[string][]string{
		"http-80":                 {corsFilterName, statefulSessionFilterName, routerFilterName},
		"https-443/a.example.com": {corsFilterName, routerFilterName},
		"https-443/b.example.com": {routerFilterName},
	}
	v := &validator{httpFilters: map[string]map[string]bool{}}
	for _, l := range res.Listeners {
		v.collectHTTPFilters(l)
	}
	for rc, names := range want {
		got := v.httpFilters[rc]
		if len(got) != len(names) {
			t.Errorf("%s: filters %v, want %v", rc, got, names)
		}
		for _, n := range names {
			if !got[n] {
				t.Errorf("%s: filter %s missing (have %v)", rc, n, got)
			}
		}
	}
}

func TestRetryPolicy(t *testing.T) {
	rp := retryPolicy(&ir.Retry{StatusCodes: []uint32{503}, NumRetries: 2, Backoff: 50 * time.Millisecond})
	if rp.GetRetryOn() != "retriable-status-codes" || len(rp.GetRetriableStatusCodes()) != 1 {
		t.Errorf("status codes alone: retry_on %q codes %v", rp.GetRetryOn(), rp.GetRetriableStatusCodes())
	}
	if rp.GetRetryBackOff().GetBaseInterval().AsDuration() != 50*time.Millisecond {
		t.Errorf("back-off %v", rp.GetRetryBackOff())
	}
	if rp := retryPolicy(&ir.Retry{}); rp.GetRetryOn() != defaultRetryOn {
		t.Errorf("no conditions: retry_on %q, want %q", rp.GetRetryOn(), defaultRetryOn)
	}
}
