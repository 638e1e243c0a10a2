package ir

import (
	"slices"
	"strings"
	"testing"
)

// TestValidateRefusesInvalidUTF8 checks that a string Envoy's protobufs
// could not encode is refused on the element that holds it, wherever it
// hides (here: a header value, a query parameter name, an annotation key
// and a cluster's DNS name), so that only that element is lost.
func TestValidateRefusesInvalidUTF8(t *testing.T) {
	bad := "a\xd4b"
	for name, mutate := range map[string]func(*Route){
		"path":       func(r *Route) { r.Match.Path.Value = "/" + bad },
		"header":     func(r *Route) { r.Match.Headers = []HeaderMatch{{Name: "x", Type: MatchExact, Value: bad}} },
		"query":      func(r *Route) { r.Match.QueryParams = []QueryMatch{{Name: bad, Type: MatchPresent}} },
		"annotation": func(r *Route) { r.Annotations = map[string]string{bad: "v"} },
		"set header": func(r *Route) {
			r.Filters.RequestHeaders = &HeaderModifier{Set: []Header{{Name: "x", Value: bad}}}
		},
	} {
		r := &Route{Name: "r", Match: Match{Path: PathMatch{Type: PathPrefix, Value: "/"}},
			DirectResponse: &DirectResponse{StatusCode: 200}}
		if errs := ValidateRoute(r, nil); len(errs) != 0 {
			t.Fatalf("the valid route is refused: %v", errs)
		}
		mutate(r)
		errs := ValidateRoute(r, nil)
		if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, "not valid UTF-8") }) {
			t.Errorf("%s: invalid UTF-8 not refused: %v", name, errs)
		}
	}
	c := &Cluster{Name: "c", Kind: ClusterDNS, DNSName: bad, DNSPort: 80}
	if errs := validateCluster(c, nil); !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, "DNSName is not valid UTF-8") }) {
		t.Errorf("cluster DNS name: %v", errs)
	}
}
