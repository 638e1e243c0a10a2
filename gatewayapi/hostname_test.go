package gatewayapi

import (
	"slices"
	"testing"
)

func TestIntersect(t *testing.T) {
	for _, tc := range []struct{ listener, route, want string }{
		{"", "foo.example.com", "foo.example.com"},
		{"", "*.example.com", "*.example.com"},
		{"foo.example.com", "foo.example.com", "foo.example.com"},
		{"foo.example.com", "bar.example.com", ""},
		{"*.example.com", "foo.example.com", "foo.example.com"},
		{"*.example.com", "a.b.example.com", "a.b.example.com"},
		{"*.example.com", "example.com", ""},
		{"*.example.com", "fooexample.com", ""},
		{"foo.example.com", "*.example.com", "foo.example.com"},
		{"a.b.example.com", "*.example.com", "a.b.example.com"},
		{"example.com", "*.example.com", ""},
		{"*.example.com", "*.example.com", "*.example.com"},
		{"*.example.com", "*.foo.example.com", "*.foo.example.com"},
		{"*.foo.example.com", "*.example.com", "*.foo.example.com"},
		{"*.example.com", "*.example.org", ""},
		{"*.example.com", "*.myexample.com", ""},
	} {
		if got := intersect(tc.listener, tc.route); got != tc.want {
			t.Errorf("intersect(%q, %q) = %q, want %q", tc.listener, tc.route, got, tc.want)
		}
	}
}

func TestRouteHostnames(t *testing.T) {
	for _, tc := range []struct {
		listener string
		route    []string
		want     []string
	}{
		{"", nil, []string{"*"}},
		{"foo.example.com", nil, []string{"foo.example.com"}},
		{"*.example.com", []string{"a.example.com", "b.other.org", "*.example.com", "a.example.com"},
			[]string{"a.example.com", "*.example.com"}},
		{"a.example.com", []string{"*.example.com", "a.example.com"}, []string{"a.example.com"}},
		{"a.example.com", []string{"b.example.com"}, nil},
	} {
		if got := routeHostnames(tc.listener, tc.route); !slices.Equal(got, tc.want) {
			t.Errorf("routeHostnames(%q, %q) = %q, want %q", tc.listener, tc.route, got, tc.want)
		}
	}
}

func TestMostSpecific(t *testing.T) {
	ls := []*listenerState{{hostname: ""}, {hostname: "*.example.com"}, {hostname: "*.foo.example.com"}, {hostname: "a.foo.example.com"}}
	for h, want := range map[string]string{
		"a.foo.example.com": "a.foo.example.com",
		"b.foo.example.com": "*.foo.example.com",
		"*.foo.example.com": "*.foo.example.com",
		"x.example.com":     "*.example.com",
		"other.org":         "",
		"*":                 "",
	} {
		if got := mostSpecific(ls, h); got == nil || got.hostname != want {
			t.Errorf("mostSpecific(%q) = %v, want the listener %q", h, got, want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for s, ok := range map[string]bool{
		"10s": true, "1h30m": true, "500ms": true, "0s": true, "1h2m3s4ms": true,
		"1.5s": false, "": false, "10": false, "-1s": false, "1us": false, "123456s": false, "1h1h1h1h1h": false,
	} {
		if _, err := parseDuration(s); (err == nil) != ok {
			t.Errorf("parseDuration(%q) error = %v, want ok %v", s, err, ok)
		}
	}
}
