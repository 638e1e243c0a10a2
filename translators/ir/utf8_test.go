package ir

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
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

// walkAll is the walk before it skipped types that hold no string: every
// exported field, element and map entry.
func walkAll(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		return !utf8.ValidString(v.String())
	case reflect.Pointer, reflect.Interface:
		return !v.IsNil() && walkAll(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() && walkAll(v.Field(i)) {
				return true
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return false
		}
		for i := range v.Len() {
			if walkAll(v.Index(i)) {
				return true
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if walkAll(it.Key()) || walkAll(it.Value()) {
				return true
			}
		}
	}
	return false
}

// fill sets v to a random value: each string valid or, rarely, not
// (byte slices get invalid UTF-8 too, which must not count), pointers
// set or nil, slices and maps of zero to two entries.
func fill(v reflect.Value, rnd *rand.Rand, depth int) {
	if depth > 8 {
		return
	}
	switch v.Kind() {
	case reflect.String:
		if rnd.IntN(40) == 0 {
			v.SetString("x\xffy")
		} else {
			v.SetString("ok")
		}
	case reflect.Pointer:
		if rnd.IntN(2) == 0 {
			p := reflect.New(v.Type().Elem())
			fill(p.Elem(), rnd, depth+1)
			v.Set(p)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), rnd, depth+1)
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte("\xff"))
			return
		}
		n := rnd.IntN(3)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fill(s.Index(i), rnd, depth+1)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for range rnd.IntN(2) {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(k, rnd, depth+1)
			fill(e, rnd, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	}
}

// TestUTF8WalkSkipsOnlyStringFreeTypes: the walk, which skips the fields
// whose types cannot hold a string, finds exactly what a walk of every
// field finds, on thousands of random routes, clusters, listeners and
// TCP routes.
func TestUTF8WalkSkipsOnlyStringFreeTypes(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	found := 0
	for i := range 4000 {
		for _, typ := range []reflect.Type{reflect.TypeFor[Route](), reflect.TypeFor[Cluster](), reflect.TypeFor[Listener](), reflect.TypeFor[TCPRoute]()} {
			v := reflect.New(typ)
			fill(v.Elem(), rnd, 0)
			want := walkAll(v)
			if got := hasInvalidUTF8(v); got != want {
				t.Fatalf("%s %d: the walk says %v, a walk of every field %v", typ, i, got, want)
			}
			if want {
				found++
			}
		}
	}
	if found < 100 {
		t.Fatalf("only %d random values held invalid UTF-8: the test looks at too little", found)
	}
}
